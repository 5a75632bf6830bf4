//! Small helpers the collectors share: reading files under the roots with errors that
//! name the file, and building families.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches};
use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::CollectorError;
use regex::Regex;

/// Reads a whole file as UTF-8, naming the file in the error.
pub fn read_string(path: &Path) -> Result<String, CollectorError> {
    let io = |source| CollectorError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    read_to_end(&mut file, &mut buf).map_err(io)?;
    String::from_utf8(buf).map_err(|_| io(invalid_utf8()))
}

/// The error `std::fs::read_to_string` gives for a file that is not UTF-8.
fn invalid_utf8() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

/// Reads `file` to its end into `buf` (cleared first), one `read` per 4 KiB or more.
///
/// Unlike `std::fs::read_to_string`, this does not `statx` the file to size the buffer
/// first: procfs and sysfs report sizes of 0 or 4096 whatever they hold, so for them
/// the call is pure cost (one of the five system calls a small file took).
pub fn read_to_end(file: &mut std::fs::File, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    loop {
        let len = buf.len();
        if buf.capacity() - len < 1024 {
            buf.reserve(4096.max(len));
        }
        buf.resize(buf.capacity(), 0);
        match file.read(&mut buf[len..]) {
            Ok(0) => {
                buf.truncate(len);
                return Ok(());
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(len),
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
}

/// A regular expression applied to the names of a kernel table's fields (`/proc/vmstat`,
/// `/proc/net/netstat`): a fixed set of a few hundred names, asked about on every scrape.
///
/// Each name's answer is remembered, so after the first scrape the regex does not run;
/// when it must, it runs on a clone that is dropped after the scrape, so that its
/// lazy-DFA cache (a quarter of a megabyte per thread for netstat's default pattern)
/// does not stay resident. At most [`NameFilter::MAX_REMEMBERED`] names are remembered.
#[derive(Debug)]
pub struct NameFilter {
    regex: Regex,
    seen: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl NameFilter {
    /// The most names remembered; beyond, the regex runs for the new names each time.
    pub const MAX_REMEMBERED: usize = 4096;

    /// A filter matching what `regex` matches.
    pub fn new(regex: Regex) -> NameFilter {
        NameFilter {
            regex,
            seen: std::sync::Mutex::default(),
        }
    }

    /// Runs `f` with a function telling whether a name matches.
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn FnMut(&str) -> bool) -> R) -> R {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut regex: Option<Regex> = None;
        let mut is_match = |name: &str| {
            if let Some(m) = seen.get(name) {
                return *m;
            }
            let m = regex
                .get_or_insert_with(|| self.regex.clone())
                .is_match(name);
            if seen.len() < NameFilter::MAX_REMEMBERED {
                seen.insert(name.to_owned(), m);
            }
            m
        };
        f(&mut is_match)
    }
}

/// A directory opened once, whose files are then opened relative to it (`openat`).
///
/// A collector reading many attributes of one device (`/sys/class/net/eth0/...`) makes
/// the kernel walk one path component per file instead of the whole path, and resolve
/// the device's symlink once instead of per file: in a profile of a node_exporter_rs
/// scrape, the path walks of the net class attributes were a fifth of its CPU time.
#[derive(Debug)]
pub struct Dir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the directory `path` (following symlinks); fails if it is not one.
    pub fn open(path: PathBuf) -> std::io::Result<Dir> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir { fd, path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file `name` in this directory into `buf` (cleared first).
    ///
    /// Meant for sysfs attributes: a first read that returns less than the page it asked
    /// for is taken as the whole file, without the read that would return 0. A sysfs
    /// attribute is produced whole by one `show()` call of at most a page, and
    /// kernfs hands it out in one read; a regular file (the fixture trees) returns less
    /// than asked only at its end.
    pub fn read_into(&self, name: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        const PAGE: usize = 4096;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut file = std::fs::File::from(fd);
        buf.clear();
        buf.resize(PAGE, 0);
        let n = loop {
            match file.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match n {
            Ok(n) if n < PAGE => {
                buf.truncate(n);
                Ok(())
            }
            // A full page: there may be more.
            Ok(_) => {
                let mut rest = Vec::new();
                read_to_end(&mut file, &mut rest)?;
                buf.extend_from_slice(&rest);
                Ok(())
            }
            Err(e) => {
                buf.clear();
                Err(e)
            }
        }
    }

    /// The file `name` in this directory as UTF-8 with surrounding white space trimmed,
    /// `None` if it cannot be read or is not UTF-8; `buf` is scratch space.
    pub fn read_trimmed<'b>(&self, name: &str, buf: &'b mut Vec<u8>) -> Option<&'b str> {
        self.read_into(name, buf).ok()?;
        std::str::from_utf8(buf).ok().map(str::trim)
    }
}

/// A parse error naming the file and what was wrong.
pub fn parse_error(path: &Path, reason: impl Into<String>) -> CollectorError {
    CollectorError::Parse {
        what: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A family under construction: name, HELP, type, and its samples in insertion order.
#[derive(Debug)]
pub struct Family(MetricFamily);

impl Family {
    /// An empty family.
    pub fn new(name: impl Into<String>, help: impl Into<String>, metric_type: MetricType) -> Self {
        Family(MetricFamily {
            name: name.into(),
            help: help.into(),
            metric_type,
            unit: None,
            metrics: Vec::new(),
        })
    }

    /// An empty gauge family.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Gauge)
    }

    /// An empty counter family.
    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Counter)
    }

    /// An empty untyped family.
    pub fn untyped(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Unknown)
    }

    /// Adds one sample with the given labels; the value's kind follows the family type.
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let value = match self.0.metric_type {
            MetricType::Counter => MetricValue::Counter {
                value,
                exemplar: None,
            },
            MetricType::Gauge => MetricValue::Gauge(value),
            _ => MetricValue::Unknown(value),
        };
        self.0.metrics.push(Metric {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            value,
            timestamp_ms: None,
            created: None,
        });
        self
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.0.metrics.is_empty()
    }

    /// Pushes the family to `out` if it has samples.
    pub fn push_to(self, out: &mut Vec<MetricFamily>) {
        if !self.0.metrics.is_empty() {
            out.push(self.0);
        }
    }

    /// The finished family.
    pub fn into_inner(self) -> MetricFamily {
        self.0
    }
}

/// Reads a file and trims surrounding whitespace (sysfs attributes end in a newline).
pub fn read_trimmed(path: &Path) -> Result<String, CollectorError> {
    read_string(path).map(|s| s.trim().to_string())
}

/// Reads a file holding one unsigned integer, as sysfs attributes do.
pub fn read_u64(path: &Path) -> Result<u64, CollectorError> {
    let text = read_trimmed(path)?;
    text.parse()
        .map_err(|_| parse_error(path, format!("expected an integer, found {text:?}")))
}

/// Parses a number as node_exporter does with `strconv.ParseFloat`, naming the file in
/// the error.
pub fn parse_f64(path: &Path, text: &str) -> Result<f64, CollectorError> {
    text.parse()
        .map_err(|_| parse_error(path, format!("expected a number, found {text:?}")))
}

/// The names of the entries of a directory, sorted; a missing directory is an I/O error
/// naming it.
pub fn dir_names(path: &Path) -> Result<Vec<String>, CollectorError> {
    let io = |source| CollectorError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A `--collector.X.flag=VALUE` argument with a default, spelled as upstream.
pub fn value_arg(name: &'static str, default: Option<&'static str>, help: &'static str) -> Arg {
    let arg = Arg::new(name).long(name).value_name("VALUE").help(help);
    match default {
        Some(d) => arg.default_value(d),
        None => arg,
    }
}

/// A boolean `--collector.X.flag` switch and its `--no-collector.X.flag` negation, as
/// kingpin offers for every bool flag. Read it with [`arg_flag`].
pub fn bool_args(name: &'static str, help: &'static str) -> Vec<Arg> {
    let no = format!("no-{name}");
    vec![
        Arg::new(name)
            .long(name)
            .action(ArgAction::SetTrue)
            .overrides_with(no.clone())
            .help(help),
        Arg::new(no.clone())
            .long(no)
            .action(ArgAction::SetTrue)
            .overrides_with(name)
            .hide(true),
    ]
}

/// Whether a switch built with [`bool_args`] is on: the last of `--NAME` / `--no-NAME`
/// given wins, else `default`.
pub fn arg_flag(matches: &ArgMatches, name: &str, default: bool) -> bool {
    let set = |id: &str| {
        matches
            .try_get_one::<bool>(id)
            .ok()
            .flatten()
            .copied()
            .unwrap_or(false)
    };
    if set(&format!("no-{name}")) {
        false
    } else if set(name) {
        true
    } else {
        default
    }
}

/// The string value of an argument built with [`value_arg`], if set.
pub fn arg_str<'a>(matches: &'a ArgMatches, name: &str) -> Option<&'a str> {
    matches
        .try_get_one::<String>(name)
        .ok()
        .flatten()
        .map(String::as_str)
}

/// Compiles the regular expression given to argument `name`, if it is set and not empty.
pub fn arg_regex(matches: &ArgMatches, name: &str) -> Result<Option<Regex>, String> {
    match arg_str(matches, name) {
        Some(text) if !text.is_empty() => Regex::new(text)
            .map(Some)
            .map_err(|e| format!("--{name}: {e}")),
        _ => Ok(None),
    }
}

/// node_exporter's device filter: an include or an exclude pattern (not both).
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl DeviceFilter {
    /// A filter from two patterns; both set is an error, as upstream.
    pub fn new(include: Option<Regex>, exclude: Option<Regex>) -> Result<Self, String> {
        if include.is_some() && exclude.is_some() {
            return Err("device-include and device-exclude are mutually exclusive".into());
        }
        Ok(DeviceFilter { include, exclude })
    }

    /// A filter from the arguments `<prefix>.device-include` and `<prefix>.device-exclude`.
    /// An exclude pattern that only has its default value is dropped when an include
    /// pattern is given, as node_exporter does.
    pub fn from_args(matches: &ArgMatches, prefix: &str) -> Result<Self, String> {
        DeviceFilter::from_args_with_aliases(matches, prefix, None, None)
    }

    /// Like [`DeviceFilter::from_args`], also honouring upstream's deprecated hidden
    /// spellings of the two flags (for example `--collector.netdev.device-whitelist`):
    /// an old flag stands in for its new one unless both are given, which is an error.
    pub fn from_args_with_aliases(
        matches: &ArgMatches,
        prefix: &str,
        old_include: Option<&str>,
        old_exclude: Option<&str>,
    ) -> Result<Self, String> {
        let include_name = format!("{prefix}.device-include");
        let exclude_name = format!("{prefix}.device-exclude");
        let include = aliased_regex(matches, &include_name, old_include)?;
        let old_exclude_used =
            old_exclude.is_some_and(|o| arg_str(matches, o).is_some_and(|v| !v.is_empty()));
        let exclude_is_default = !old_exclude_used
            && matches.value_source(&exclude_name) == Some(clap::parser::ValueSource::DefaultValue);
        let exclude = if include.is_some() && exclude_is_default {
            None
        } else {
            aliased_regex(matches, &exclude_name, old_exclude)?
        };
        DeviceFilter::new(include, exclude)
    }

    /// Whether a device is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        if let Some(exclude) = &self.exclude {
            return exclude.is_match(name);
        }
        if let Some(include) = &self.include {
            return !include.is_match(name);
        }
        false
    }
}

/// Parses a Go duration as kingpin flags take it: `5s`, `500ms`, `1m30s`, `2h`.
pub fn parse_go_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("invalid duration {text:?}");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    std::time::Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Whether an argument was given on the command line (not only defaulted).
pub fn arg_given(matches: &ArgMatches, name: &str) -> bool {
    matches.value_source(name) == Some(clap::parser::ValueSource::CommandLine)
}

/// The regular expression of argument `name`, or of its deprecated spelling `old` when
/// only that one is given (upstream logs a deprecation warning and uses it); both given
/// is an error, as upstream.
pub fn aliased_regex(
    matches: &ArgMatches,
    name: &str,
    old: Option<&str>,
) -> Result<Option<Regex>, String> {
    if let Some(old) = old {
        if arg_str(matches, old).is_some_and(|v| !v.is_empty()) {
            if arg_given(matches, name) {
                return Err(format!("--{old} and --{name} are mutually exclusive"));
            }
            tracing::warn!("--{old} is DEPRECATED and will be removed in 2.0.0, use --{name}");
            return arg_regex(matches, old);
        }
    }
    arg_regex(matches, name)
}

/// A hidden argument for a deprecated flag spelling kept for compatibility.
pub fn deprecated_arg(name: &'static str, help: &'static str) -> Arg {
    value_arg(name, None, help).hide(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_reads_small_and_large_files_whole() {
        let dir = std::env::temp_dir().join(format!("ner-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big: String = (0..3000).map(|i| format!("{i}\n")).collect();
        assert!(big.len() > 4096);
        std::fs::write(dir.join("small"), " 42\n").unwrap();
        std::fs::write(dir.join("big"), &big).unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        let d = Dir::open(dir.clone()).unwrap();
        assert_eq!(d.path(), dir.as_path());
        let mut buf = b"left over".to_vec();
        assert_eq!(d.read_trimmed("small", &mut buf), Some("42"));
        d.read_into("big", &mut buf).unwrap();
        assert_eq!(buf, big.as_bytes());
        assert_eq!(d.read_trimmed("empty", &mut buf), Some(""));
        assert_eq!(d.read_trimmed("missing", &mut buf), None);
        assert!(Dir::open(dir.join("small")).is_err(), "not a directory");
        let mut file = std::fs::File::open(dir.join("big")).unwrap();
        read_to_end(&mut file, &mut buf).unwrap();
        assert_eq!(buf, big.as_bytes());
        assert_eq!(read_string(&dir.join("big")).unwrap(), big);
        std::fs::write(dir.join("latin1"), b"caf\xe9").unwrap();
        assert!(read_string(&dir.join("latin1")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn name_filter_remembers_answers() {
        let filter = NameFilter::new(Regex::new("^(a|b)_").unwrap());
        let ask = |names: &[&str]| -> Vec<bool> {
            filter.with(|is_match| names.iter().map(|n| is_match(n)).collect())
        };
        assert_eq!(ask(&["a_x", "c_x", "b_y"]), [true, false, true]);
        // Remembered answers are the same answers.
        assert_eq!(
            ask(&["c_x", "a_x", "b_y", "bb"]),
            [false, true, true, false]
        );
        assert_eq!(filter.seen.lock().unwrap().len(), 4);
    }

    fn parse(args: &[&str]) -> ArgMatches {
        clap::Command::new("t")
            .arg(value_arg("x.device-include", None, "i"))
            .arg(value_arg("x.device-exclude", Some("^lo$"), "e"))
            .arg(deprecated_arg("x.device-whitelist", "old i"))
            .arg(deprecated_arg("x.device-blacklist", "old e"))
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
    }

    fn filter(args: &[&str]) -> Result<DeviceFilter, String> {
        DeviceFilter::from_args_with_aliases(
            &parse(args),
            "x",
            Some("x.device-whitelist"),
            Some("x.device-blacklist"),
        )
    }

    #[test]
    fn default_exclude_applies_until_an_include_is_given() {
        let f = filter(&[]).unwrap();
        assert!(f.ignored("lo") && !f.ignored("eth0"));
        let f = filter(&["--x.device-include=^eth"]).unwrap();
        assert!(f.ignored("lo") && !f.ignored("eth0") && f.ignored("wlan0"));
        assert!(filter(&["--x.device-include=^eth", "--x.device-exclude=^lo$"]).is_err());
    }

    #[test]
    fn deprecated_spellings_stand_in_for_the_new_flags() {
        let f = filter(&["--x.device-blacklist=^wlan"]).unwrap();
        assert!(f.ignored("wlan0") && !f.ignored("lo"));
        let f = filter(&["--x.device-whitelist=^wlan"]).unwrap();
        assert!(!f.ignored("wlan0") && f.ignored("eth0"));
        assert!(filter(&["--x.device-blacklist=a", "--x.device-exclude=b"]).is_err());
    }

    #[test]
    fn bool_flags_have_a_negation_and_the_last_wins() {
        let cmd = || clap::Command::new("t").args(bool_args("x.on", "h"));
        let m = cmd().try_get_matches_from(["t"]).unwrap();
        assert!(arg_flag(&m, "x.on", true));
        assert!(!arg_flag(&m, "x.on", false));
        let m = cmd().try_get_matches_from(["t", "--no-x.on"]).unwrap();
        assert!(!arg_flag(&m, "x.on", true));
        let m = cmd()
            .try_get_matches_from(["t", "--no-x.on", "--x.on"])
            .unwrap();
        assert!(arg_flag(&m, "x.on", false));
    }
}

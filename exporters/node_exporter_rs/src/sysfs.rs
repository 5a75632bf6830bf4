//! Helpers for collectors that read many small sysfs/procfs attribute files: reading one
//! attribute trimmed or as a number, listing a class directory, telling "absent" from
//! other errors, and [`Families`], which merges samples of the same metric name coming
//! from many devices into one family (the text format needs each family once).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use ember_expfmt::{MetricFamily, MetricType};
use ember_exporter::CollectorError;

use crate::util::{Family, parse_error, read_string};

/// Reads an attribute file and trims surrounding white space (procfs's `SysReadFile`).
pub fn read_trim(path: &Path) -> Result<String, CollectorError> {
    Ok(read_string(path)?.trim().to_string())
}

/// Reads an attribute file as an unsigned integer.
pub fn read_u64(path: &Path) -> Result<u64, CollectorError> {
    let text = read_trim(path)?;
    text.parse()
        .map_err(|_| parse_error(path, format!("{text:?} is not an unsigned integer")))
}

/// Reads an attribute file as a signed integer.
pub fn read_i64(path: &Path) -> Result<i64, CollectorError> {
    let text = read_trim(path)?;
    text.parse()
        .map_err(|_| parse_error(path, format!("{text:?} is not an integer")))
}

/// Reads an attribute file as a float.
pub fn read_f64(path: &Path) -> Result<f64, CollectorError> {
    let text = read_trim(path)?;
    parse_f64(&text).ok_or_else(|| parse_error(path, format!("{text:?} is not a number")))
}

/// Parses a number as Go's `strconv.ParseFloat` does for the inputs sysfs produces.
pub fn parse_f64(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// An optional attribute: `Ok(None)` when the file does not exist (or cannot be read for
/// lack of permission, as procfs treats optional attributes).
pub fn optional<T>(result: Result<T, CollectorError>) -> Result<Option<T>, CollectorError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the error is a read of something that does not exist (or is not readable by
/// us): the "subsystem absent on this host" case.
///
/// ```
/// use node_exporter_rs::sysfs::{is_absent, read_u64};
///
/// let err = read_u64(std::path::Path::new("/nonexistent/energy_uj")).unwrap_err();
/// assert!(is_absent(&err));
/// ```
pub fn is_absent(err: &CollectorError) -> bool {
    match err {
        CollectorError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
        ),
        _ => false,
    }
}

/// Whether the error is "not found" only.
pub fn is_not_found(err: &CollectorError) -> bool {
    matches!(err, CollectorError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// The entry names of a directory, sorted; an error names the directory.
pub fn list_dir(dir: &Path) -> Result<Vec<String>, CollectorError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CollectorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CollectorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The entries of a class directory whose name is `prefix` followed by digits, as Go's
/// `filepath.Glob("prefix[0-9]*")` picks them, sorted.
pub fn list_prefixed(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectorError> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|n| {
            n.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect())
}

/// Families keyed by metric name, emitted in name order: collectors that report the same
/// metric for many devices add samples here instead of building one family per device.
///
/// ```
/// use node_exporter_rs::sysfs::Families;
///
/// let mut f = Families::new();
/// f.gauge("node_b", "B.", &[("dev", "sda")], 1.0);
/// f.counter("node_a_total", "A.", &[], 2.0);
/// f.gauge("node_b", "B.", &[("dev", "sdb")], 3.0);
/// let mut out = Vec::new();
/// f.push_to(&mut out);
/// let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
/// assert_eq!(names, ["node_a_total", "node_b"]);
/// assert_eq!(out[1].metrics.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Families(BTreeMap<String, Family>);

impl Families {
    /// No families yet.
    pub fn new() -> Self {
        Families::default()
    }

    /// Adds a sample to the family `name`, creating it with `help` and `metric_type` the
    /// first time.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.0
            .entry(name.to_string())
            .or_insert_with(|| Family::new(name, help, metric_type))
            .add(labels, value);
    }

    /// Adds a gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Gauge, labels, value);
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Counter, labels, value);
    }

    /// Adds an untyped sample.
    pub fn untyped(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Unknown, labels, value);
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the families, in name order, to `out`.
    pub fn push_to(self, out: &mut Vec<MetricFamily>) {
        for (_, family) in self.0 {
            family.push_to(out);
        }
    }
}

/// A `--collector.*` flag holding a regular expression (Go's RE2 syntax is a subset of
/// the `regex` crate's), spelled and defaulted as upstream.
pub fn regex_arg(name: &'static str, default: &'static str, help: &'static str) -> clap::Arg {
    clap::Arg::new(name)
        .long(name)
        .value_name("REGEX")
        .default_value(default)
        .help(help)
}

/// Compiles the regular expression given to a flag built with [`regex_arg`].
pub fn regex_value(matches: &clap::ArgMatches, name: &str) -> Result<regex::Regex, String> {
    let pattern = matches
        .get_one::<String>(name)
        .map(String::as_str)
        .unwrap_or("^$");
    regex::Regex::new(pattern).map_err(|e| format!("--{name}: {e}"))
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then a
/// `0x`, `0o`, `0b` or leading-`0` (octal) prefix selects the base.
///
/// ```
/// use node_exporter_rs::sysfs::parse_go_int;
///
/// assert_eq!(parse_go_int("-350000"), Some(-350000));
/// assert_eq!(parse_go_int("0x8180"), Some(0x8180));
/// assert_eq!(parse_go_int("N/A"), None);
/// ```
pub fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Parses an unsigned integer as Go's `strconv.ParseUint(s, 0, 64)` (see
/// [`parse_go_int`] for the prefixes).
///
/// ```
/// use node_exporter_rs::sysfs::parse_go_uint;
///
/// assert_eq!(parse_go_uint("0xffffffffffffffff"), Some(u64::MAX));
/// assert_eq!(parse_go_uint("-1"), None);
/// ```
pub fn parse_go_uint(text: &str) -> Option<u64> {
    if text.starts_with(['+', '-']) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Input generators for the parsers' property tests: text made of lines of tokens
/// drawn from a format's own vocabulary, mixed with arbitrary characters, so that the
/// parsers' deeper branches are reached with malformed values.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;

    /// Lines of 0..12 tokens, each a vocabulary word, a number or arbitrary text.
    pub(crate) fn text(vocabulary: &'static [&'static str]) -> impl Strategy<Value = String> {
        let token = prop_oneof![
            4 => proptest::sample::select(vocabulary).prop_map(str::to_string),
            2 => any::<u64>().prop_map(|n| n.to_string()),
            1 => any::<i64>().prop_map(|n| format!("{n:x}")),
            1 => "\\PC{0,12}",
        ];
        let separator = proptest::sample::select(&[" ", "  ", "\t", "", ":", "/"][..]);
        let line = proptest::collection::vec((token, separator), 0..12).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(t, s)| format!("{t}{s}"))
                .collect::<String>()
        });
        proptest::collection::vec(line, 0..10).prop_map(|lines| lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base_zero_integers() {
        assert_eq!(parse_go_int("42"), Some(42));
        assert_eq!(parse_go_int("-7"), Some(-7));
        assert_eq!(parse_go_int("0x1f"), Some(31));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("0b101"), Some(5));
        assert_eq!(parse_go_int("N/A"), None);
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("--1"), None);
        assert_eq!(parse_go_uint("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_go_uint("-1"), None);
    }

    #[test]
    fn prefixed_entries_are_listed_in_order() {
        let dir = std::env::temp_dir().join(format!("sysfs-list-{}", std::process::id()));
        for name in [
            "thermal_zone10",
            "thermal_zone2",
            "thermal_zonex",
            "cooling_device0",
        ] {
            std::fs::create_dir_all(dir.join(name)).expect("mkdir");
        }
        let got = list_prefixed(&dir, "thermal_zone").expect("lists");
        assert_eq!(got, ["thermal_zone10", "thermal_zone2"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! `bcache`: cache set, backing device and cache device statistics from
//! `/sys/fs/bcache/<uuid>/`, as node_exporter's `bcache_linux.go` over procfs's `bcache`
//! parser, which reads the kernel's human-readable sizes (`2.5M`, `1.1k`).
//! `--collector.bcache.priorityStats` adds the (expensive to read) `priority_stats`.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::sysfs::{Families, is_absent, list_dir, list_prefixed};
use crate::util::parse_error;

const PRIORITY_FLAG: &str = "collector.bcache.priorityStats";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(PRIORITY_FLAG)
            .long(PRIORITY_FLAG)
            .action(ArgAction::SetTrue)
            .help("Expose expensive priority stats."),
    ]
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "bcache",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Bcache {
            dir: ctx.paths.sys("fs/bcache"),
            priority_stats: ctx.matches.get_flag(PRIORITY_FLAG),
        }))
    },
};

#[derive(Debug)]
struct Bcache {
    dir: PathBuf,
    priority_stats: bool,
}

/// `12.5` where the fraction is in 1/1024ths as the kernel prints it: 12 + 5/10.24.
fn parse_pseudo_float(s: &str) -> Option<f64> {
    let mut parts = s.split('.');
    let int: f64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(int),
        Some(frac) => Some(int + frac.parse::<f64>().ok()? / 10.24),
    }
}

/// The kernel's human-readable size (`2.5M`, `512`, `1.1k`) in units; an unknown suffix
/// gives 0, as procfs's multiplier lookup does.
pub(crate) fn dehumanize(s: &str) -> Option<u64> {
    let last = *s.as_bytes().last()?;
    if last > b'9' {
        let multiplier: f64 = match last {
            b'k' => 1024.0,
            b'M' => 1024f64.powi(2),
            b'G' => 1024f64.powi(3),
            b'T' => 1024f64.powi(4),
            b'P' => 1024f64.powi(5),
            b'E' => 1024f64.powi(6),
            b'Z' => 1024f64.powi(7),
            b'Y' => 1024f64.powi(8),
            _ => 0.0,
        };
        // A non-ASCII last byte leaves no valid number in front of it.
        let mantissa = parse_pseudo_float(s.get(..s.len() - 1)?)?;
        Some((mantissa * multiplier) as u64)
    } else {
        Some(s.parse::<f64>().ok()? as u64)
    }
}

fn dehumanize_signed(s: &str) -> Option<i64> {
    let value = dehumanize(s.strip_prefix('-').unwrap_or(s))? as i64;
    Some(if s.starts_with('-') {
        value.wrapping_neg()
    } else {
        value
    })
}

/// procfs's reader: the first error sticks and later reads return 0; a missing file
/// reads as 0.
struct Reader {
    err: Option<CollectorError>,
}

impl Reader {
    fn value(&mut self, dir: &Path, file: &str) -> u64 {
        if self.err.is_some() {
            return 0;
        }
        let path = dir.join(file);
        match std::fs::read(&path) {
            Ok(raw) => {
                // procfs drops the last byte (the newline) whatever it is.
                let text =
                    String::from_utf8_lossy(&raw[..raw.len().saturating_sub(1)]).into_owned();
                match dehumanize(&text) {
                    Some(v) => v,
                    None => {
                        self.err = Some(parse_error(&path, format!("{text:?} is not a size")));
                        0
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => {
                self.err = Some(CollectorError::Io { path, source });
                0
            }
        }
    }

    /// Reads a `key: value` debug file; `None` after an error.
    fn lines(&mut self, path: &Path) -> Option<String> {
        if self.err.is_some() {
            return None;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(source) => {
                self.err = Some(CollectorError::Io {
                    path: path.to_path_buf(),
                    source,
                });
                None
            }
        }
    }

    fn fail(&mut self, path: &Path, line: &str) {
        self.err = Some(parse_error(path, format!("cannot parse {line:?}")));
    }
}

/// The last whitespace-separated field of a line.
fn last_field(line: &str) -> &str {
    line.split_whitespace().last().unwrap_or("")
}

#[derive(Default)]
struct WritebackRateDebug {
    rate: u64,
    target: u64,
    proportional: i64,
    integral: i64,
    change: i64,
}

fn writeback_rate_debug(r: &mut Reader, dir: &Path) -> WritebackRateDebug {
    let mut w = WritebackRateDebug::default();
    let path = dir.join("writeback_rate_debug");
    let Some(text) = r.lines(&path) else {
        return w;
    };
    for line in text.lines() {
        let field = last_field(line);
        let ok = if line.starts_with("rate:") {
            dehumanize(field.trim_end_matches("/sec")).map(|v| w.rate = v)
        } else if line.starts_with("dirty:") {
            dehumanize(field).map(|_| ())
        } else if line.starts_with("target:") {
            dehumanize(field).map(|v| w.target = v)
        } else if line.starts_with("proportional:") {
            dehumanize_signed(field).map(|v| w.proportional = v)
        } else if line.starts_with("integral:") {
            dehumanize_signed(field).map(|v| w.integral = v)
        } else if line.starts_with("change:") {
            dehumanize_signed(field.trim_end_matches("/sec")).map(|v| w.change = v)
        } else if line.starts_with("next io:") {
            field.trim_end_matches("ms").parse::<i64>().ok().map(|_| ())
        } else {
            Some(())
        };
        if ok.is_none() {
            r.fail(&path, line);
            break;
        }
    }
    w
}

/// (unused percent, metadata percent) from `priority_stats`.
fn priority_stats(r: &mut Reader, dir: &Path) -> (u64, u64) {
    let mut out = (0, 0);
    let path = dir.join("priority_stats");
    let Some(text) = r.lines(&path) else {
        return out;
    };
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut out.0
        } else if line.starts_with("Metadata:") {
            &mut out.1
        } else {
            continue;
        };
        match last_field(line).trim_end_matches('%').parse::<u64>() {
            Ok(v) => *slot = v,
            Err(_) => {
                r.fail(&path, line);
                break;
            }
        }
    }
    out
}

/// (file, metric name after `node_bcache_`, HELP) of a `stats_total` directory.
const PERIOD_STATS: [(&str, &str, &str); 7] = [
    (
        "bypassed",
        "bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "cache_hits",
        "cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "cache_misses",
        "cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "cache_bypass_hits",
        "cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "cache_bypass_misses",
        "cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "cache_miss_collisions",
        "cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "cache_readaheads",
        "cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

/// (subdirectory, file, metric, HELP, scale, counter) of the cache set itself.
const SET_STATS: [(&str, &str, &str, &str, f64, bool); 10] = [
    (
        "",
        "average_key_size",
        "average_key_size_sectors",
        "Average data per key in the btree (sectors).",
        1.0,
        false,
    ),
    (
        "",
        "btree_cache_size",
        "btree_cache_size_bytes",
        "Amount of memory currently used by the btree cache.",
        1.0,
        false,
    ),
    (
        "",
        "cache_available_percent",
        "cache_available_percent",
        "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
        1.0,
        false,
    ),
    ("", "congested", "congested", "Congestion.", 1.0, false),
    (
        "",
        "root_usage_percent",
        "root_usage_percent",
        "Percentage of the root btree node in use (tree depth increases if too high).",
        1.0,
        false,
    ),
    (
        "",
        "tree_depth",
        "tree_depth",
        "Depth of the btree.",
        1.0,
        false,
    ),
    (
        "internal",
        "active_journal_entries",
        "active_journal_entries",
        "Number of journal entries that are newer than the index.",
        1.0,
        false,
    ),
    (
        "internal",
        "btree_nodes",
        "btree_nodes",
        "Total nodes in the btree.",
        1.0,
        false,
    ),
    (
        "internal",
        "btree_read_average_duration_us",
        "btree_read_average_duration_seconds",
        "Average btree read duration.",
        1e-9,
        false,
    ),
    (
        "internal",
        "cache_read_races",
        "cache_read_races_total",
        "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.",
        1.0,
        true,
    ),
];

/// A sample waiting for the uuid-wide error check: (name, HELP, counter, labels, value).
type Pending = (String, &'static str, bool, Vec<(&'static str, String)>, f64);

impl Bcache {
    /// Everything of one cache set, or its first error.
    fn read_set(&self, uuid: &str) -> Result<Vec<Pending>, CollectorError> {
        let dir = self.dir.join(uuid);
        let mut r = Reader { err: None };
        let mut out: Vec<Pending> = Vec::new();
        let uuid_label = || vec![("uuid", uuid.to_string())];
        for (sub, file, name, help, scale, counter) in SET_STATS {
            let v = r.value(&dir.join(sub), file);
            out.push((
                name.to_string(),
                help,
                counter,
                uuid_label(),
                v as f64 * scale,
            ));
        }
        // procfs also reads the set's own period statistics (unreported).
        for sub in ["stats_five_minute", "stats_total"] {
            for (file, ..) in PERIOD_STATS {
                r.value(&dir.join(sub), file);
            }
        }
        if let Some(e) = r.err.take() {
            return Err(e);
        }
        for bdev in list_prefixed(&dir, "bdev")? {
            let bdir = dir.join(&bdev);
            let labels = || vec![("uuid", uuid.to_string()), ("backing_device", bdev.clone())];
            let dirty = r.value(&bdir, "dirty_data");
            let w = writeback_rate_debug(&mut r, &bdir);
            for (file, ..) in PERIOD_STATS {
                r.value(&bdir.join("stats_five_minute"), file);
            }
            let mut totals = Vec::new();
            for (file, name, help) in PERIOD_STATS {
                totals.push((name, help, r.value(&bdir.join("stats_total"), file)));
            }
            for (name, help, v) in [
                (
                    "dirty_data_bytes",
                    "Amount of dirty data for this backing device in the cache.",
                    dirty as f64,
                ),
                (
                    "dirty_target_bytes",
                    "Current dirty data target threshold for this backing device in bytes.",
                    w.target as f64,
                ),
                (
                    "writeback_rate",
                    "Current writeback rate for this backing device in bytes.",
                    w.rate as f64,
                ),
                (
                    "writeback_rate_proportional_term",
                    "Current result of proportional controller, part of writeback rate",
                    w.proportional as f64,
                ),
                (
                    "writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    w.integral as f64,
                ),
                (
                    "writeback_change",
                    "Last writeback rate change step for this backing device.",
                    w.change as f64,
                ),
            ] {
                out.push((name.to_string(), help, false, labels(), v));
            }
            for (name, help, v) in totals {
                out.push((name.to_string(), help, true, labels(), v as f64));
            }
        }
        if let Some(e) = r.err.take() {
            return Err(e);
        }
        for cache in list_prefixed(&dir, "cache")? {
            let cdir = dir.join(&cache);
            let labels = || vec![("uuid", uuid.to_string()), ("cache_device", cache.clone())];
            let io_errors = r.value(&cdir, "io_errors");
            let metadata = r.value(&cdir, "metadata_written");
            let written = r.value(&cdir, "written");
            out.push((
                "io_errors".to_string(),
                "Number of errors that have occurred, decayed by io_error_halflife.",
                false,
                labels(),
                io_errors as f64,
            ));
            out.push((
                "metadata_written_bytes_total".to_string(),
                "Sum of all non data writes (btree writes and all other metadata).",
                true,
                labels(),
                metadata as f64,
            ));
            out.push((
                "written_bytes_total".to_string(),
                "Sum of all data that has been written to the cache.",
                true,
                labels(),
                written as f64,
            ));
            if self.priority_stats {
                let (unused, meta) = priority_stats(&mut r, &cdir);
                out.push((
                    "priority_stats_unused_percent".to_string(),
                    "The percentage of the cache that doesn't contain any data.",
                    false,
                    labels(),
                    unused as f64,
                ));
                out.push((
                    "priority_stats_metadata_percent".to_string(),
                    "Bcache's metadata overhead.",
                    false,
                    labels(),
                    meta as f64,
                ));
            }
        }
        if let Some(e) = r.err.take() {
            return Err(e);
        }
        Ok(out)
    }
}

impl Collector for Bcache {
    fn name(&self) -> &str {
        "bcache"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // Cache sets are the `*-*` entries (UUIDs); a missing directory has none.
        let entries = match list_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for uuid in entries.iter().filter(|e| e.contains('-')) {
            let samples = self.read_set(uuid)?;
            for (name, help, counter, labels, value) in samples {
                let labels: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let name = format!("node_bcache_{name}");
                if counter {
                    f.counter(&name, help, &labels, value);
                } else {
                    f.gauge(&name, help, &labels, value);
                }
            }
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_use_binary_units_and_tenths_of_1024() {
        assert_eq!(dehumanize("542"), Some(542));
        assert_eq!(dehumanize("1.1k"), Some(1124));
        assert_eq!(
            dehumanize("2.5M"),
            Some(((2.0 + 5.0 / 10.24) * 1048576.0) as u64)
        );
        assert_eq!(
            dehumanize("20.4G"),
            Some(((20.0 + 4.0 / 10.24) * 1073741824.0) as u64)
        );
        assert_eq!(dehumanize("7x"), Some(0));
        assert_eq!(dehumanize(""), None);
        assert_eq!(dehumanize("abc"), None);
        assert_eq!(dehumanize("1é"), None);
        assert_eq!(dehumanize_signed("-3.0k"), Some(-3072));
    }

    proptest::proptest! {
        #[test]
        fn any_size_text_parses_or_errs_without_panicking(s in "\\PC{0,16}") {
            let _ = dehumanize(&s);
            let _ = dehumanize_signed(&s);
        }
    }
}

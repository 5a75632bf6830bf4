//! `tapestats`: SCSI tape drive statistics from `/sys/class/scsi_tape/st*/stats`, as
//! node_exporter's `tapestats_linux.go` over procfs's `SCSITapeClass`.
//! `--collector.tapestats.ignored-devices` drops drives by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::sysfs::{
    Families, is_not_found, list_dir, parse_go_uint, read_trim, regex_arg, regex_value,
};
use crate::util::parse_error;

const IGNORED: &str = "collector.tapestats.ignored-devices";

fn args() -> Vec<Arg> {
    vec![regex_arg(
        IGNORED,
        "^$",
        "Regexp of devices to ignore for tapestats.",
    )]
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "tapestats",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Tapestats {
            class: ctx.paths.sys("class/scsi_tape"),
            ignored: regex_value(ctx.matches, IGNORED)?,
        }))
    },
};

/// (stats file, metric name after `node_tape_`, HELP, scale, counter).
const STATS: [(&str, &str, &str, f64, bool); 10] = [
    (
        "in_flight",
        "io_now",
        "The number of I/Os currently outstanding to this device.",
        1.0,
        false,
    ),
    (
        "io_ns",
        "io_time_seconds_total",
        "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.",
        0.000000001,
        true,
    ),
    (
        "other_cnt",
        "io_others_total",
        "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
        1.0,
        true,
    ),
    (
        "read_byte_cnt",
        "read_bytes_total",
        "The number of bytes read from the tape drive.",
        1.0,
        true,
    ),
    (
        "read_cnt",
        "reads_completed_total",
        "The number of read requests issued to the tape drive.",
        1.0,
        true,
    ),
    (
        "read_ns",
        "read_time_seconds_total",
        "The amount of time spent waiting for read requests to complete.",
        0.000000001,
        true,
    ),
    (
        "resid_cnt",
        "residual_total",
        "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.",
        1.0,
        true,
    ),
    (
        "write_byte_cnt",
        "written_bytes_total",
        "The number of bytes written to the tape drive.",
        1.0,
        true,
    ),
    (
        "write_cnt",
        "writes_completed_total",
        "The number of write requests issued to the tape drive.",
        1.0,
        true,
    ),
    (
        "write_ns",
        "write_time_seconds_total",
        "The amount of time spent waiting for write requests to complete.",
        0.000000001,
        true,
    ),
];

#[derive(Debug)]
struct Tapestats {
    class: PathBuf,
    ignored: Regex,
}

/// `st0`, `st12`: the rewinding devices; `nst0`, `st0a`, ... are other views of them.
fn is_tape_device(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn read_stats(dir: &Path) -> Result<BTreeMap<String, u64>, CollectorError> {
    let mut out = BTreeMap::new();
    for file in list_dir(dir)? {
        let path = dir.join(&file);
        let value = read_trim(&path)?;
        if STATS.iter().any(|(f, ..)| *f == file) {
            let v = parse_go_uint(&value)
                .ok_or_else(|| parse_error(&path, format!("{value:?} is not a counter")))?;
            out.insert(file, v);
        }
    }
    Ok(out)
}

impl Collector for Tapestats {
    fn name(&self) -> &str {
        "tapestats"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = match list_dir(&self.class) {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut tapes = Vec::new();
        for name in names.into_iter().filter(|n| is_tape_device(n)) {
            let stats_dir = self.class.join(&name).join("stats");
            match read_stats(&stats_dir) {
                Ok(stats) => tapes.push((name, stats)),
                // A drive without `stats/` reads as no tape statistics at all upstream.
                Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
                Err(e) => return Err(e),
            }
        }
        let mut f = Families::new();
        for (name, stats) in tapes.iter().filter(|(n, _)| !self.ignored.is_match(n)) {
            for (file, metric, help, scale, counter) in STATS {
                let v = stats.get(file).copied().unwrap_or(0) as f64 * scale;
                let metric = format!("node_tape_{metric}");
                let labels = [("device", name.as_str())];
                if counter {
                    f.counter(&metric, help, &labels, v);
                } else {
                    f.gauge(&metric, help, &labels, v);
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
    fn only_plain_st_devices_count() {
        assert!(is_tape_device("st0"));
        assert!(is_tape_device("st12"));
        for other in ["nst0", "st0a", "st0l", "st", "nst0m"] {
            assert!(!is_tape_device(other), "{other}");
        }
    }
}

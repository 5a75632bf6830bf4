//! `schedstat`: per-CPU scheduler statistics from `/proc/schedstat` (version 15 layout:
//! the last three numbers of each `cpuN` line are the nanoseconds spent running, the
//! nanoseconds spent waiting, and the timeslices run).

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "schedstat",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Schedstat {
            path: ctx.paths.proc("schedstat"),
        }))
    },
};

#[derive(Debug)]
struct Schedstat {
    path: PathBuf,
}

/// `(cpu, running ns, waiting ns, timeslices)` per CPU line.
pub(crate) fn parse_schedstat(
    path: &Path,
    text: &str,
) -> Result<Vec<(String, u64, u64, u64)>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(cpu) = fields.first().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if fields.len() != 10 {
            return Err(parse_error(path, format!("expected 10 fields in {line:?}")));
        }
        let num = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| parse_error(path, format!("bad number in {line:?}")))
        };
        out.push((
            cpu.to_string(),
            num(fields[7])?,
            num(fields[8])?,
            num(fields[9])?,
        ));
    }
    Ok(out)
}

impl Collector for Schedstat {
    fn name(&self) -> &str {
        "schedstat"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            // Kernel built without CONFIG_SCHEDSTATS.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectorError::NoData);
            }
            Err(source) => {
                return Err(CollectorError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let mut running = Family::counter(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
        );
        let mut waiting = Family::counter(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
        );
        let mut timeslices = Family::counter(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
        );
        for (cpu, run, wait, slices) in parse_schedstat(&self.path, &text)? {
            running.add(&[("cpu", &cpu)], run as f64 / 1e9);
            waiting.add(&[("cpu", &cpu)], wait as f64 / 1e9);
            timeslices.add(&[("cpu", &cpu)], slices as f64);
        }
        running.push_to(out);
        waiting.push_to(out);
        timeslices.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lines_need_ten_fields() {
        let text = "version 15\ntimestamp 1\ncpu0 0 0 0 0 0 0 2000000000 300 40\ndomain0 3 1\n";
        assert_eq!(
            parse_schedstat(Path::new("s"), text).unwrap(),
            [("0".to_string(), 2_000_000_000, 300, 40)]
        );
        assert!(parse_schedstat(Path::new("s"), "cpu0 1 2\n").is_err());
    }
}

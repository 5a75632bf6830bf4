//! `pressure`: pressure stall information from `/proc/pressure/{cpu,io,memory}`
//! (Linux 4.20+ with PSI): the `total=` microsecond counters as seconds.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "pressure",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Pressure {
            dir: ctx.paths.proc("pressure"),
        }))
    },
};

#[derive(Debug)]
struct Pressure {
    dir: PathBuf,
}

/// The `total=` values of the `some` and `full` lines, in microseconds.
pub(crate) fn parse_psi(
    path: &Path,
    text: &str,
) -> Result<(Option<f64>, Option<f64>), CollectorError> {
    let mut some = None;
    let mut full = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let kind = words.next().unwrap_or("");
        let total = words
            .find_map(|w| w.strip_prefix("total="))
            .ok_or_else(|| parse_error(path, format!("no total in {line:?}")))?;
        let total: f64 = total
            .parse()
            .map_err(|_| parse_error(path, format!("bad total in {line:?}")))?;
        match kind {
            "some" => some = Some(total),
            "full" => full = Some(total),
            _ => return Err(parse_error(path, format!("unknown line {line:?}"))),
        }
    }
    Ok((some, full))
}

impl Collector for Pressure {
    fn name(&self) -> &str {
        "pressure"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for resource in ["cpu", "io", "memory"] {
            let path = self.dir.join(resource);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                // Kernel older than 4.20 or without CONFIG_PSI.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(CollectorError::NoData);
                }
                Err(source) => return Err(CollectorError::Io { path, source }),
            };
            let (some, full) = parse_psi(&path, &text)?;
            let some = some.ok_or_else(|| parse_error(&path, "no some line"))?;
            let mut emit = |name: &str, help: &str, micros: f64| {
                let mut family = Family::counter(name, help);
                // Upstream divides twice by 1000; the same steps give the same rounding.
                family.add(&[], micros / 1000.0 / 1000.0);
                family.push_to(out);
            };
            match resource {
                "cpu" => emit(
                    "node_pressure_cpu_waiting_seconds_total",
                    "Total time in seconds that processes have waited for CPU time",
                    some,
                ),
                "io" => {
                    emit(
                        "node_pressure_io_waiting_seconds_total",
                        "Total time in seconds that processes have waited due to IO congestion",
                        some,
                    );
                    emit(
                        "node_pressure_io_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to IO congestion",
                        full.unwrap_or(0.0),
                    );
                }
                _ => {
                    emit(
                        "node_pressure_memory_waiting_seconds_total",
                        "Total time in seconds that processes have waited for memory",
                        some,
                    );
                    emit(
                        "node_pressure_memory_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to memory congestion",
                        full.unwrap_or(0.0),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_lines_give_some_and_full_totals() {
        let text = "some avg10=1.02 avg60=1.31 avg300=1.16 total=16313628\n\
                    full avg10=0.00 avg60=0.02 avg300=0.37 total=8695614\n";
        assert_eq!(
            parse_psi(Path::new("p"), text).unwrap(),
            (Some(16313628.0), Some(8695614.0))
        );
        assert!(parse_psi(Path::new("p"), "some avg10=1\n").is_err());
        assert!(parse_psi(Path::new("p"), "weird total=1\n").is_err());
    }
}

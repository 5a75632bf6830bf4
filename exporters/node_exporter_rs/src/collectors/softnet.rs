//! `softnet`: per-CPU packet processing from `/proc/net/softnet_stat` (hexadecimal
//! columns: processed, dropped, time squeezed, ...), one line per online CPU.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "softnet",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Softnet {
            path: ctx.paths.proc("net/softnet_stat"),
        }))
    },
};

#[derive(Debug)]
struct Softnet {
    path: PathBuf,
}

/// The first three columns of each line: processed, dropped, time squeezed.
pub(crate) fn parse_softnet(path: &Path, text: &str) -> Result<Vec<[u32; 3]>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 9 {
            return Err(parse_error(
                path,
                format!("expected at least 9 columns in {line:?}"),
            ));
        }
        let hex = |s: &str| {
            u32::from_str_radix(s, 16).map_err(|_| parse_error(path, format!("bad hex {s:?}")))
        };
        out.push([hex(cols[0])?, hex(cols[1])?, hex(cols[2])?]);
    }
    Ok(out)
}

impl Collector for Softnet {
    fn name(&self) -> &str {
        "softnet"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let stats = parse_softnet(&self.path, &read_string(&self.path)?)?;
        let mut processed = Family::counter(
            "node_softnet_processed_total",
            "Number of processed packets",
        );
        let mut dropped =
            Family::counter("node_softnet_dropped_total", "Number of dropped packets");
        let mut squeezed = Family::counter(
            "node_softnet_times_squeezed_total",
            "Number of times processing packets ran out of quota",
        );
        for (cpu, [p, d, s]) in stats.iter().enumerate() {
            let cpu = cpu.to_string();
            processed.add(&[("cpu", &cpu)], f64::from(*p));
            dropped.add(&[("cpu", &cpu)], f64::from(*d));
            squeezed.add(&[("cpu", &cpu)], f64::from(*s));
        }
        processed.push_to(out);
        dropped.push_to(out);
        squeezed.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_hexadecimal() {
        let line = "0000078c 00000001 0000000a 0 0 0 0 0 0 0 0\n";
        assert_eq!(
            parse_softnet(Path::new("s"), line).unwrap(),
            [[0x78c, 1, 10]]
        );
        assert!(parse_softnet(Path::new("s"), "zz 0 0 0 0 0 0 0 0\n").is_err());
        assert!(parse_softnet(Path::new("s"), "1 2 3\n").is_err());
    }
}

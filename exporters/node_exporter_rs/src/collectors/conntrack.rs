//! `conntrack`: netfilter connection tracking: table use and size from
//! `/proc/sys/net/netfilter/nf_conntrack_{count,max}`, and the per-CPU counters of
//! `/proc/net/stat/nf_conntrack` summed over CPUs.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, read_string, read_u64};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "conntrack",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Conntrack {
            count: ctx.paths.proc("sys/net/netfilter/nf_conntrack_count"),
            max: ctx.paths.proc("sys/net/netfilter/nf_conntrack_max"),
            stat: ctx.paths.proc("net/stat/nf_conntrack"),
        }))
    },
};

#[derive(Debug)]
struct Conntrack {
    count: PathBuf,
    max: PathBuf,
    stat: PathBuf,
}

/// The per-CPU counters node_exporter exports: column name, metric suffix, HELP.
const STATS: [(&str, &str, &str); 8] = [
    (
        "found",
        "found",
        "Number of searched entries which were successful.",
    ),
    (
        "invalid",
        "invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        "ignore",
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    (
        "insert",
        "insert",
        "Number of entries inserted into the list.",
    ),
    (
        "insert_failed",
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        "drop",
        "drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        "early_drop",
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

/// Sums the hexadecimal per-CPU columns of `/proc/net/stat/nf_conntrack` by header name.
pub(crate) fn parse_stat(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CollectorError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| parse_error(path, "empty file"))?
        .split_whitespace()
        .collect();
    let mut sums = vec![0u64; header.len()];
    for line in lines {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != header.len() {
            return Err(parse_error(
                path,
                format!("column count differs in {line:?}"),
            ));
        }
        for (sum, col) in sums.iter_mut().zip(&cols) {
            let v = u64::from_str_radix(col, 16)
                .map_err(|_| parse_error(path, format!("bad hex {col:?}")))?;
            *sum = sum.wrapping_add(v);
        }
    }
    Ok(header.iter().map(|h| (*h).to_string()).zip(sums).collect())
}

impl Collector for Conntrack {
    fn name(&self) -> &str {
        "conntrack"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // No nf_conntrack module loaded: nothing to report, as upstream.
        let Ok(count) = read_u64(&self.count) else {
            return Err(CollectorError::NoData);
        };
        let mut family = Family::gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
        );
        family.add(&[], count as f64);
        family.push_to(out);
        let Ok(max) = read_u64(&self.max) else {
            return Err(CollectorError::NoData);
        };
        let mut family = Family::gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
        );
        family.add(&[], max as f64);
        family.push_to(out);

        let text = match std::fs::read_to_string(&self.stat) {
            Ok(text) => text,
            // nf_conntrack not loaded: upstream reports no data.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectorError::NoData);
            }
            Err(_) => read_string(&self.stat)?,
        };
        let sums = parse_stat(&self.stat, &text)?;
        for (column, suffix, help) in STATS {
            let value = sums
                .iter()
                .find(|(h, _)| h == column)
                .map_or(0, |(_, v)| *v);
            let mut family = Family::gauge(format!("node_nf_conntrack_stat_{suffix}"), help);
            family.add(&[], value as f64);
            family.push_to(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_hex_columns_are_summed() {
        let text = "entries found drop\n00000010 0000000a 00000001\n00000010 00000005 00000002\n";
        let sums = parse_stat(Path::new("s"), text).unwrap();
        assert_eq!(sums[1], ("found".to_string(), 15));
        assert_eq!(sums[2], ("drop".to_string(), 3));
        assert!(parse_stat(Path::new("s"), "a b\n1\n").is_err());
    }
}

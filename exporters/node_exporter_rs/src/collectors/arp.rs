//! `arp`: the number of neighbour entries per interface in `/proc/net/arp`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::util::{DeviceFilter, Family, parse_error, read_string, value_arg};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "arp",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Arp {
            path: ctx.paths.proc("net/arp"),
            filter: DeviceFilter::from_args(ctx.matches, "collector.arp")?,
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![
        value_arg(
            "collector.arp.device-include",
            None,
            "Regexp of arp devices to include (mutually exclusive to device-exclude).",
        ),
        value_arg(
            "collector.arp.device-exclude",
            None,
            "Regexp of arp devices to exclude (mutually exclusive to device-include).",
        ),
    ]
}

#[derive(Debug)]
struct Arp {
    path: PathBuf,
    filter: DeviceFilter,
}

/// Counts the entries per device (the sixth column; the first line is a header).
pub(crate) fn count_entries(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<String, u64>, CollectorError> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 {
            return Err(parse_error(path, format!("invalid line {line:?}")));
        }
        *out.entry(cols[5].to_string()).or_default() += 1;
    }
    Ok(out)
}

impl Collector for Arp {
    fn name(&self) -> &str {
        "arp"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let counts = count_entries(&self.path, &read_string(&self.path)?)?;
        let mut family = Family::gauge("node_arp_entries", "ARP entries by device");
        for (device, n) in counts.iter().filter(|(d, _)| !self.filter.ignored(d)) {
            family.add(&[("device", device)], *n as f64);
        }
        family.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_counted_per_device() {
        let text = "IP address HW type Flags HW address Mask Device\n\
                    10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n\
                    10.0.0.2 0x1 0x2 aa:bb:cc:dd:ee:00 * eth0\n\
                    10.0.1.1 0x1 0x2 aa:bb:cc:dd:ee:01 * eth1\n";
        let counts = count_entries(Path::new("a"), text).unwrap();
        assert_eq!(counts["eth0"], 2);
        assert_eq!(counts["eth1"], 1);
        assert!(count_entries(Path::new("a"), "h\n1 2 3\n").is_err());
    }
}

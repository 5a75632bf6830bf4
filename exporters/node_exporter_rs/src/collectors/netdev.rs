//! `netdev`: per-interface traffic counters as `node_network_<stat>_total{device}`.
//!
//! node_exporter 1.5 reads them over rtnetlink by default (`--collector.netdev.netlink`,
//! on) and from `/proc/net/dev` with `--no-collector.netdev.netlink`. Netlink's
//! `IFLA_STATS64` are the same kernel counters that `/sys/class/net/<dev>/statistics/`
//! shows one per file, so the default mode here reads those files (same names, same
//! values, including `receive_nohandler`) through `--path.sysfs`; the `/proc/net/dev`
//! mode is kept as upstream's. `--collector.netdev.device-exclude` defaults to `^lo$` as in
//! Debian's 1.5 build.
//!
//! Unless `--collector.netdev.enable-detailed-metrics`, the default mode folds those 24
//! counters into `/proc/net/dev`'s 16 (upstream's `legacy()`, the kernel's
//! `net-procfs.c`), plus `receive_nohandler`. `/proc/net/dev` holds exactly those 16,
//! folded by the kernel from the same `rtnl_link_stats64`, so for each device of
//! `/sys/class/net/` that `/proc/net/dev` lists, they are taken from that one file and
//! only `statistics/rx_nohandler` is read from sysfs: 2 files per device instead of 24
//! (the 24 opens were a sixth of a scrape's CPU time). A device `/proc/net/dev` does not
//! list (sysfs of another network namespace) is still read file by file. Both files
//! describe the process's network namespace when, as documented for the container,
//! the host's `/sys` is mounted with the host's network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::util::{
    DeviceFilter, Dir, Family, arg_flag, bool_args, deprecated_arg, dir_names, parse_error,
    read_string, value_arg,
};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "netdev",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Netdev {
            proc_net_dev: ctx.paths.proc("net/dev"),
            sys_class_net: ctx.paths.sys("class/net"),
            netlink: arg_flag(ctx.matches, "collector.netdev.netlink", true),
            detailed: arg_flag(
                ctx.matches,
                "collector.netdev.enable-detailed-metrics",
                false,
            ),
            filter: DeviceFilter::from_args_with_aliases(
                ctx.matches,
                "collector.netdev",
                Some("collector.netdev.device-whitelist"),
                Some("collector.netdev.device-blacklist"),
            )?,
        }))
    },
};

fn args() -> Vec<Arg> {
    let mut args = vec![
        value_arg(
            "collector.netdev.device-include",
            None,
            "Regexp of net devices to include (mutually exclusive to device-exclude).",
        ),
        value_arg(
            "collector.netdev.device-exclude",
            Some("^lo$"),
            "Regexp of net devices to exclude (mutually exclusive to device-include).",
        ),
    ];
    args.push(deprecated_arg(
        "collector.netdev.device-whitelist",
        "DEPRECATED: Use collector.netdev.device-include",
    ));
    args.push(deprecated_arg(
        "collector.netdev.device-blacklist",
        "DEPRECATED: Use collector.netdev.device-exclude",
    ));
    args.extend(bool_args(
        "collector.netdev.enable-detailed-metrics",
        "Use (incompatible) metric names that provide more detailed stats on Linux",
    ));
    args.extend(bool_args(
        "collector.netdev.netlink",
        "Use netlink to gather stats instead of /proc/net/dev.",
    ));
    args
}

/// `/proc/net/dev` columns, in order.
const PROC_COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// node_exporter's netlink names for the `rtnl_link_stats64` fields, with the sysfs
/// statistics file holding each.
const STATS64: [(&str, &str); 24] = [
    ("receive_packets", "rx_packets"),
    ("transmit_packets", "tx_packets"),
    ("receive_bytes", "rx_bytes"),
    ("transmit_bytes", "tx_bytes"),
    ("receive_errors", "rx_errors"),
    ("transmit_errors", "tx_errors"),
    ("receive_dropped", "rx_dropped"),
    ("transmit_dropped", "tx_dropped"),
    ("multicast", "multicast"),
    ("collisions", "collisions"),
    ("receive_length_errors", "rx_length_errors"),
    ("receive_over_errors", "rx_over_errors"),
    ("receive_crc_errors", "rx_crc_errors"),
    ("receive_frame_errors", "rx_frame_errors"),
    ("receive_fifo_errors", "rx_fifo_errors"),
    ("receive_missed_errors", "rx_missed_errors"),
    ("transmit_aborted_errors", "tx_aborted_errors"),
    ("transmit_carrier_errors", "tx_carrier_errors"),
    ("transmit_fifo_errors", "tx_fifo_errors"),
    ("transmit_heartbeat_errors", "tx_heartbeat_errors"),
    ("transmit_window_errors", "tx_window_errors"),
    ("receive_compressed", "rx_compressed"),
    ("transmit_compressed", "tx_compressed"),
    ("receive_nohandler", "rx_nohandler"),
];

/// Folds the detailed netlink counters into `/proc/net/dev`'s names and sums, as the
/// kernel's `net-procfs.c` and upstream's `legacy()` do (unless
/// `--collector.netdev.enable-detailed-metrics`).
pub(crate) fn legacy(stats: &mut BTreeMap<String, u64>) {
    let mut pop = |k: &str| stats.remove(k);
    let mut renamed: Vec<(&str, u64)> = Vec::new();
    let errs = pop("receive_errors");
    let dropped = pop("receive_dropped");
    let missed = pop("receive_missed_errors").unwrap_or(0);
    let fifo = pop("receive_fifo_errors");
    let frame = pop("receive_frame_errors");
    let rx_other = [
        "receive_length_errors",
        "receive_over_errors",
        "receive_crc_errors",
    ]
    .iter()
    .map(|k| pop(k).unwrap_or(0))
    .sum::<u64>();
    let multicast = pop("multicast");
    let tx_errs = pop("transmit_errors");
    let tx_drop = pop("transmit_dropped");
    let tx_fifo = pop("transmit_fifo_errors");
    let colls = pop("collisions");
    let carrier = pop("transmit_carrier_errors");
    let tx_other = [
        "transmit_aborted_errors",
        "transmit_heartbeat_errors",
        "transmit_window_errors",
    ]
    .iter()
    .map(|k| pop(k).unwrap_or(0))
    .sum::<u64>();
    let mut put = |k: &'static str, v: Option<u64>| {
        if let Some(v) = v {
            renamed.push((k, v));
        }
    };
    put("receive_errs", errs);
    put("receive_drop", dropped.map(|d| d + missed));
    put("receive_fifo", fifo);
    put("receive_frame", frame.map(|f| f + rx_other));
    put("receive_multicast", multicast);
    put("transmit_errs", tx_errs);
    put("transmit_drop", tx_drop);
    put("transmit_fifo", tx_fifo);
    put("transmit_colls", colls);
    put("transmit_carrier", carrier.map(|c| c + tx_other));
    for (k, v) in renamed {
        stats.insert(k.to_string(), v);
    }
}

#[derive(Debug)]
struct Netdev {
    proc_net_dev: PathBuf,
    sys_class_net: PathBuf,
    netlink: bool,
    detailed: bool,
    filter: DeviceFilter,
}

/// One device's counters by stat name.
type DevStats = (String, BTreeMap<String, u64>);

/// Parses `/proc/net/dev` (two header lines, then `name: 16 counters`).
pub(crate) fn parse_proc_net_dev(path: &Path, text: &str) -> Result<Vec<DevStats>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| parse_error(path, format!("invalid line {line:?}")))?;
        let values: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| parse_error(path, format!("invalid line {line:?}")))?;
        if values.len() != PROC_COLUMNS.len() {
            return Err(parse_error(
                path,
                format!("expected 16 counters in {line:?}"),
            ));
        }
        out.push((
            name.trim().to_string(),
            PROC_COLUMNS
                .iter()
                .map(|c| (*c).to_string())
                .zip(values)
                .collect(),
        ));
    }
    Ok(out)
}

impl Netdev {
    fn sysfs_stats(&self) -> Result<Vec<DevStats>, CollectorError> {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(64);
        // The folded counters of every device /proc/net/dev lists (see the module docs).
        let mut folded: BTreeMap<String, BTreeMap<String, u64>> = if self.detailed {
            BTreeMap::new()
        } else {
            read_string(&self.proc_net_dev)
                .ok()
                .and_then(|text| parse_proc_net_dev(&self.proc_net_dev, &text).ok())
                .unwrap_or_default()
                .into_iter()
                .collect()
        };
        for dev in dir_names(&self.sys_class_net)? {
            // Opened once: its files are then opened relative to it.
            let Ok(dir) = Dir::open(self.sys_class_net.join(&dev).join("statistics")) else {
                continue;
            };
            if let Some(mut stats) = folded.remove(&dev) {
                if let Some(v) = dir
                    .read_trimmed("rx_nohandler", &mut buf)
                    .and_then(|t| t.parse().ok())
                {
                    stats.insert("receive_nohandler".to_string(), v);
                }
                out.push((dev, stats));
                continue;
            }
            let mut stats: BTreeMap<String, u64> = STATS64
                .iter()
                .filter_map(|(name, file)| {
                    let value = dir.read_trimmed(file, &mut buf)?.parse().ok()?;
                    Some(((*name).to_string(), value))
                })
                .collect();
            if !self.detailed {
                legacy(&mut stats);
            }
            out.push((dev, stats));
        }
        Ok(out)
    }
}

impl Collector for Netdev {
    fn name(&self) -> &str {
        "netdev"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = if self.netlink {
            self.sysfs_stats()?
        } else {
            parse_proc_net_dev(&self.proc_net_dev, &read_string(&self.proc_net_dev)?)?
        };
        let mut families: BTreeMap<&str, Family> = BTreeMap::new();
        for (dev, stats) in devices.iter().filter(|(d, _)| !self.filter.ignored(d)) {
            for (name, value) in stats {
                families
                    .entry(name.as_str())
                    .or_insert_with(|| {
                        Family::counter(
                            format!("node_network_{name}_total"),
                            format!("Network device statistic {name}."),
                        )
                    })
                    .add(&[("device", dev)], *value as f64);
            }
        }
        for family in families.into_values() {
            family.push_to(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Paths;

    #[test]
    fn proc_net_dev_needs_sixteen_counters() {
        let head = "Inter-|   Receive\n face |bytes\n";
        let ok = format!("{head}  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
        let devs = parse_proc_net_dev(Path::new("d"), &ok).unwrap();
        assert_eq!(devs[0].0, "eth0");
        assert_eq!(devs[0].1["transmit_bytes"], 9);
        let short = format!("{head}  eth0: 1 2 3\n");
        assert!(parse_proc_net_dev(Path::new("d"), &short).is_err());
    }

    /// The folded counters taken from /proc/net/dev equal those folded from the 24
    /// sysfs files, on the fixture tree (whose two files describe the same devices).
    #[test]
    fn folded_from_proc_net_dev_equals_folded_from_sysfs() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netdev");
        let paths = Paths::fixture(&dir);
        let netdev = |proc_net_dev: PathBuf| Netdev {
            proc_net_dev,
            sys_class_net: paths.sys("class/net"),
            netlink: true,
            detailed: false,
            filter: DeviceFilter::new(None, None).unwrap(),
        };
        let with_proc = netdev(paths.proc("net/dev")).sysfs_stats().unwrap();
        let sysfs_only = netdev(dir.join("no/such/file")).sysfs_stats().unwrap();
        assert_eq!(with_proc.len(), 3, "{with_proc:?}");
        assert_eq!(with_proc, sysfs_only);
        for (_, stats) in &with_proc {
            assert_eq!(stats.len(), 17, "{stats:?}");
        }
    }

    #[test]
    fn default_mode_reads_sysfs_statistics_with_nohandler() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netdev");
        let paths = Paths::fixture(&dir);
        let c = Netdev {
            proc_net_dev: paths.proc("net/dev"),
            sys_class_net: paths.sys("class/net"),
            netlink: true,
            detailed: false,
            filter: DeviceFilter::new(None, regex::Regex::new("^lo$").ok()).unwrap(),
        };
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        let nohandler = out
            .iter()
            .find(|f| f.name == "node_network_receive_nohandler_total")
            .unwrap();
        assert_eq!(nohandler.metrics.len(), 2);
        let bytes = out
            .iter()
            .find(|f| f.name == "node_network_receive_bytes_total")
            .unwrap();
        let eth0 = bytes
            .metrics
            .iter()
            .find(|m| m.labels[0].1 == "eth0")
            .unwrap();
        assert_eq!(
            eth0.value,
            ember_expfmt::MetricValue::Counter {
                value: 241424193.0,
                exemplar: None
            }
        );
    }
}

#[cfg(test)]
mod legacy_tests {
    use super::*;

    #[test]
    fn legacy_names_sum_the_detailed_errors_as_proc_net_dev_does() {
        let mut stats: BTreeMap<String, u64> = STATS64
            .iter()
            .enumerate()
            .map(|(i, (name, _))| ((*name).to_string(), i as u64 + 1))
            .collect();
        legacy(&mut stats);
        // receive_dropped (7) + receive_missed_errors (16)
        assert_eq!(stats["receive_drop"], 23);
        // receive_frame_errors (14) + length (11) + over (12) + crc (13)
        assert_eq!(stats["receive_frame"], 50);
        // transmit_carrier_errors (18) + aborted (17) + heartbeat (20) + window (21)
        assert_eq!(stats["transmit_carrier"], 76);
        assert_eq!(stats["transmit_colls"], 10);
        assert_eq!(stats["receive_nohandler"], 24);
        assert_eq!(stats.len(), 17);
        assert!(!stats.contains_key("receive_errors"));
    }
}

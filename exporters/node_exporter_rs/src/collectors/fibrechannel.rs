//! `fibrechannel`: Fibre Channel host adapters under `/sys/class/fc_host`, as
//! node_exporter's `fibrechannel_linux.go` over procfs's `FibreChannelClass`:
//! `node_fibrechannel_info` with the port attributes as labels and the
//! `statistics/` counters (a counter the firmware does not implement reads as all ones
//! and is left out).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found, list_dir, parse_go_uint, read_trim};
use crate::util::parse_error;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "fibrechannel",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(FibreChannel {
            class: ctx.paths.sys("class/fc_host"),
        }))
    },
};

/// Host attributes, all required, in the order procfs reads them.
const ATTRIBUTES: [&str; 11] = [
    "speed",
    "port_state",
    "port_type",
    "node_name",
    "port_id",
    "port_name",
    "fabric_name",
    "dev_loss_tmo",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
];

/// (statistics file, metric name after `node_fibrechannel_`, HELP), in reporting order.
const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

#[derive(Debug)]
struct FibreChannel {
    class: PathBuf,
}

struct Host {
    name: String,
    attrs: BTreeMap<&'static str, String>,
    /// Counters not present in `statistics/` read as 0, as procfs leaves them.
    counters: BTreeMap<&'static str, u64>,
}

fn read_host(dir: &Path, name: &str) -> Result<Host, CollectorError> {
    let mut attrs = BTreeMap::new();
    for attr in ATTRIBUTES {
        let mut value = read_trim(&dir.join(attr))?;
        // WWNs and the port id are printed as `0x...`; procfs drops the prefix.
        if matches!(attr, "node_name" | "port_id" | "port_name" | "fabric_name") && value.len() > 2
        {
            value = String::from_utf8_lossy(&value.as_bytes()[2..]).into_owned();
        }
        attrs.insert(attr, value);
    }
    let stats = dir.join("statistics");
    let mut counters = BTreeMap::new();
    for file in list_dir(&stats)? {
        let Some((key, ..)) = COUNTERS.iter().find(|(f, ..)| *f == file) else {
            continue;
        };
        let path = stats.join(&file);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            continue;
        }
        let value = match std::fs::read(&path) {
            Ok(raw) => String::from_utf8_lossy(&raw).trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if matches!(e.raw_os_error(), Some(22 | 95)) => continue,
            Err(source) => return Err(CollectorError::Io { path, source }),
        };
        let v = parse_go_uint(&value)
            .ok_or_else(|| parse_error(&path, format!("{value:?} is not a counter")))?;
        counters.insert(*key, v);
    }
    Ok(Host {
        name: name.to_string(),
        attrs,
        counters,
    })
}

impl Collector for FibreChannel {
    fn name(&self) -> &str {
        "fibrechannel"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = match list_dir(&self.class) {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut hosts = Vec::new();
        for name in &names {
            match read_host(&self.class.join(name), name) {
                Ok(h) => hosts.push(h),
                // procfs returns a missing `statistics/` unwrapped, which upstream takes
                // for "no Fibre Channel here".
                Err(CollectorError::Io { path, source })
                    if source.kind() == std::io::ErrorKind::NotFound
                        && path.ends_with("statistics") =>
                {
                    return Err(CollectorError::NoData);
                }
                Err(e) => return Err(e),
            }
        }
        let mut f = Families::new();
        for h in &hosts {
            let attr = |k: &str| h.attrs.get(k).map(String::as_str).unwrap_or("");
            f.gauge(
                "node_fibrechannel_info",
                "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
                &[
                    ("fc_host", &h.name),
                    ("speed", attr("speed")),
                    ("port_state", attr("port_state")),
                    ("port_type", attr("port_type")),
                    ("port_id", attr("port_id")),
                    ("port_name", attr("port_name")),
                    ("fabric_name", attr("fabric_name")),
                    ("symbolic_name", attr("symbolic_name")),
                    ("supported_classes", attr("supported_classes")),
                    ("supported_speeds", attr("supported_speeds")),
                    ("dev_loss_tmo", attr("dev_loss_tmo")),
                ],
                1.0,
            );
            for (file, name, help) in COUNTERS {
                let v = h.counters.get(file).copied().unwrap_or(0);
                if v != u64::MAX {
                    f.counter(
                        &format!("node_fibrechannel_{name}"),
                        help,
                        &[("fc_host", &h.name)],
                        v as f64,
                    );
                }
            }
        }
        f.push_to(out);
        Ok(())
    }
}

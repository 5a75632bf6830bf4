//! `infiniband`: port state, rate and counters of InfiniBand (and RoCE) devices under
//! `/sys/class/infiniband/<device>/ports/<n>`, as node_exporter's `infiniband_linux.go`
//! over procfs's `InfiniBandClass`. Data counters count 32-bit words, reported in bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found, list_dir, read_trim};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "infiniband",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Infiniband {
            class: ctx.paths.sys("class/infiniband"),
        }))
    },
};

/// (directory, counter file, metric name after `node_infiniband_`, HELP, multiplier).
const COUNTERS: [(&str, &str, &str, &str, u64); 30] = [
    (
        "counters_ext",
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
        1,
    ),
    (
        "counters_ext",
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
        1,
    ),
    (
        "counters_ext",
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
        4,
    ),
    (
        "counters_ext",
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        "Number of data packets received on all links",
        1,
    ),
    (
        "counters_ext",
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
        1,
    ),
    (
        "counters_ext",
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
        1,
    ),
    (
        "counters_ext",
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        4,
    ),
    (
        "counters_ext",
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
        1,
    ),
    (
        "counters",
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.",
        1,
    ),
    (
        "counters",
        "link_downed",
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down",
        1,
    ),
    (
        "counters",
        "link_error_recovery",
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state",
        1,
    ),
    (
        "counters",
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.",
        1,
    ),
    (
        "counters",
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)",
        1,
    ),
    (
        "counters",
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)",
        1,
    ),
    (
        "counters",
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded",
        1,
    ),
    (
        "counters",
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port",
        1,
    ),
    (
        "counters",
        "port_rcv_data",
        "port_data_received_bytes_total",
        "Number of data octets received on all links",
        4,
    ),
    (
        "counters",
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        4,
    ),
    (
        "counters",
        "port_rcv_discards",
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or congested",
        1,
    ),
    (
        "counters",
        "port_xmit_discards",
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or congested",
        1,
    ),
    (
        "counters",
        "port_rcv_errors",
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port",
        1,
    ),
    (
        "counters",
        "port_rcv_packets",
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)",
        1,
    ),
    (
        "counters",
        "port_xmit_packets",
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)",
        1,
    ),
    (
        "counters",
        "port_xmit_wait",
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent during the entire tick",
        1,
    ),
    (
        "counters",
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.",
        1,
    ),
    (
        "counters",
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch.",
        1,
    ),
    (
        "counters",
        "symbol_error",
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes.",
        1,
    ),
    (
        "counters",
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        "Number of unicast packets received (including errors)",
        1,
    ),
    (
        "counters",
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)",
        1,
    ),
    (
        "counters",
        "VL15_dropped",
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations.",
        1,
    ),
];

#[derive(Debug)]
struct Infiniband {
    class: PathBuf,
}

struct Port {
    number: String,
    state_id: u64,
    phys_state_id: u64,
    rate: u64,
    /// (directory, file) -> value, multiplier applied.
    counters: BTreeMap<(&'static str, &'static str), u64>,
}

struct Device {
    name: String,
    board_id: String,
    firmware: String,
    hca_type: String,
    ports: Vec<Port>,
}

/// `4: ACTIVE` -> 4.
fn parse_state(path: &Path, text: &str) -> Result<u64, CollectorError> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 2 {
        return Err(parse_error(
            path,
            format!("failed to split {text:?} into 'ID: NAME'"),
        ));
    }
    parts[0].trim().parse::<u32>().map(u64::from).map_err(|_| {
        parse_error(
            path,
            format!("failed to convert {:?} into uint", parts[0].trim()),
        )
    })
}

/// `100 Gb/sec (4X EDR)` -> bytes per second.
fn parse_rate(path: &Path, text: &str) -> Result<u64, CollectorError> {
    let (gbps, _) = text
        .split_once(' ')
        .ok_or_else(|| parse_error(path, format!("failed to split {text:?}")))?;
    let value: f32 = gbps
        .trim()
        .parse()
        .map_err(|_| parse_error(path, format!("failed to convert {gbps:?} into uint")))?;
    // procfs parses the rate as a 32-bit float before scaling.
    Ok((f64::from(value) * 125_000_000.0) as u64)
}

/// Reads the listed counters of one `counters` or `counters_ext` directory.
fn read_counters(
    dir: &Path,
    kind: &'static str,
    out: &mut BTreeMap<(&'static str, &'static str), u64>,
) -> Result<(), CollectorError> {
    for file in list_dir(dir)? {
        let path = dir.join(&file);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            continue;
        }
        let value = match std::fs::read(&path) {
            Ok(raw) => String::from_utf8_lossy(&raw).trim().to_string(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) || matches!(e.raw_os_error(), Some(22 | 95)) =>
            {
                continue;
            }
            Err(source) => return Err(CollectorError::Io { path, source }),
        };
        let known = COUNTERS.iter().find(|(d, f, ..)| *d == kind && *f == file);
        if known.is_none() {
            continue;
        }
        let parsed = crate::sysfs::parse_go_int(&value).filter(|v| *v >= 0);
        let Some(v) = parsed else {
            // Ports without a performance management agent answer this for every counter.
            if value.contains("N/A (no PMA)") {
                continue;
            }
            return Err(parse_error(&path, format!("{value:?} is not a counter")));
        };
        if let Some((d, f, _, _, multiplier)) = known {
            out.insert((d, f), (v as u64).wrapping_mul(*multiplier));
        }
    }
    Ok(())
}

fn read_port(dir: &Path, number: &str) -> Result<Port, CollectorError> {
    number
        .parse::<u32>()
        .map_err(|_| parse_error(dir, format!("failed to convert {number} into uint")))?;
    let state_path = dir.join("state");
    let state_id = parse_state(&state_path, &read_string(&state_path)?)?;
    let phys_path = dir.join("phys_state");
    let phys_state_id = parse_state(&phys_path, &read_string(&phys_path)?)?;
    let rate_path = dir.join("rate");
    let rate = parse_rate(&rate_path, &read_string(&rate_path)?)?;
    let mut counters = BTreeMap::new();
    read_counters(&dir.join("counters"), "counters", &mut counters)?;
    match read_counters(&dir.join("counters_ext"), "counters_ext", &mut counters) {
        Err(e) if is_not_found(&e) => {}
        other => other?,
    }
    Ok(Port {
        number: number.to_string(),
        state_id,
        phys_state_id,
        rate,
        counters,
    })
}

fn read_device(dir: &Path, name: &str) -> Result<Device, CollectorError> {
    let board_id = read_trim(&dir.join("board_id"))?;
    let firmware = read_trim(&dir.join("fw_ver"))?;
    let hca_type = match read_trim(&dir.join("hca_type")) {
        Err(e) if is_not_found(&e) => String::new(),
        other => other?,
    };
    let ports_dir = dir.join("ports");
    let mut ports = Vec::new();
    for port in list_dir(&ports_dir)? {
        ports.push(read_port(&ports_dir.join(&port), &port)?);
    }
    Ok(Device {
        name: name.to_string(),
        board_id,
        firmware,
        hca_type,
        ports,
    })
}

impl Collector for Infiniband {
    fn name(&self) -> &str {
        "infiniband"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = match list_dir(&self.class) {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut devices = Vec::new();
        for name in &names {
            devices.push(read_device(&self.class.join(name), name)?);
        }
        let mut f = Families::new();
        for d in &devices {
            f.gauge(
                "node_infiniband_info",
                "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                &[
                    ("device", &d.name),
                    ("board_id", &d.board_id),
                    ("firmware_version", &d.firmware),
                    ("hca_type", &d.hca_type),
                ],
                1.0,
            );
            for p in &d.ports {
                let labels = [("device", d.name.as_str()), ("port", p.number.as_str())];
                f.gauge(
                    "node_infiniband_state_id",
                    "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
                    &labels,
                    p.state_id as f64,
                );
                f.gauge(
                    "node_infiniband_physical_state_id",
                    "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
                    &labels,
                    p.phys_state_id as f64,
                );
                f.gauge(
                    "node_infiniband_rate_bytes_per_second",
                    "Maximum signal transfer rate",
                    &labels,
                    p.rate as f64,
                );
                for (dir, file, name, help, _) in COUNTERS {
                    if let Some(v) = p.counters.get(&(dir, file)) {
                        f.counter(&format!("node_infiniband_{name}"), help, &labels, *v as f64);
                    }
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
    fn states_and_rates_parse_as_procfs() {
        let p = Path::new("state");
        assert_eq!(parse_state(p, "4: ACTIVE\n").expect("parses"), 4);
        assert!(parse_state(p, "ACTIVE").is_err());
        assert_eq!(
            parse_rate(p, "100 Gb/sec (4X EDR)\n").expect("parses"),
            12_500_000_000
        );
        assert_eq!(
            parse_rate(p, "2.5 Gb/sec (1X SDR)").expect("parses"),
            312_500_000
        );
        assert!(parse_rate(p, "fast").is_err());
    }
}

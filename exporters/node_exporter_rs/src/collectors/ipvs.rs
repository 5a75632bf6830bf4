//! `ipvs`: IP Virtual Server totals from `/proc/net/ip_vs_stats` and per-backend
//! connection counts and weights from `/proc/net/ip_vs`, as node_exporter's
//! `ipvs_linux.go` over procfs's parsers. `--collector.ipvs.backend-labels` picks the
//! backend labels; backends that share the chosen label values are summed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::sysfs::{Families, is_not_found};
use crate::util::{parse_error, read_string};

const LABELS_FLAG: &str = "collector.ipvs.backend-labels";

/// Every backend label, in the order they are reported.
const ALL_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

fn args() -> Vec<Arg> {
    vec![
        Arg::new(LABELS_FLAG)
            .long(LABELS_FLAG)
            .value_name("LABELS")
            .default_value("local_address,local_port,remote_address,remote_port,proto,local_mark")
            .help("Comma separated list for IPVS backend stats labels."),
    ]
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "ipvs",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        let given = ctx
            .matches
            .get_one::<String>(LABELS_FLAG)
            .map(String::as_str)
            .unwrap_or_default();
        Ok(Box::new(Ipvs {
            stats: ctx.paths.proc("net/ip_vs_stats"),
            backends: ctx.paths.proc("net/ip_vs"),
            labels: parse_labels(given)?,
        }))
    },
};

/// The chosen labels in reporting order; unknown names are an error.
fn parse_labels(given: &str) -> Result<Vec<&'static str>, String> {
    let mut wanted: Vec<&str> = given.split(',').filter(|l| !l.is_empty()).collect();
    let chosen: Vec<&'static str> = ALL_LABELS
        .iter()
        .copied()
        .filter(|l| wanted.contains(l))
        .collect();
    wanted.retain(|l| !ALL_LABELS.contains(l));
    if !wanted.is_empty() {
        wanted.sort_unstable();
        wanted.dedup();
        return Err(format!(
            "unknown IPVS backend labels: {:?}",
            wanted.join(", ")
        ));
    }
    Ok(chosen)
}

#[derive(Debug)]
struct Ipvs {
    stats: PathBuf,
    backends: PathBuf,
    labels: Vec<&'static str>,
}

/// Totals of `ip_vs_stats`: connections, packets in/out, bytes in/out (hex columns of
/// its third line).
pub(crate) fn parse_stats(text: &str) -> Result<[u64; 5], String> {
    let lines: Vec<&str> = text.splitn(4, '\n').collect();
    if lines.len() != 4 {
        return Err("ip_vs_stats corrupt: too short".to_string());
    }
    let fields: Vec<&str> = lines[2].split_whitespace().collect();
    if fields.len() != 5 {
        return Err("ip_vs_stats corrupt: unexpected number of fields".to_string());
    }
    let mut out = [0; 5];
    for (slot, field) in out.iter_mut().zip(&fields) {
        *slot = u64::from_str_radix(field, 16).map_err(|e| format!("{field:?}: {e}"))?;
    }
    Ok(out)
}

/// One `->` line with the service it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backend {
    local_address: Option<IpAddr>,
    local_port: u16,
    local_mark: String,
    remote_address: IpAddr,
    remote_port: u16,
    proto: String,
    weight: u64,
    active: u64,
    inactive: u64,
}

/// `C0A80016:0CEA` or `[2620:0000:...:0001]:0050`.
fn parse_ip_port(s: &str) -> Result<(IpAddr, u16), String> {
    let ip = match s.len() {
        13 => {
            let hex = s
                .get(..8)
                .ok_or_else(|| format!("unexpected IP:Port: {s}"))?;
            let raw = u32::from_str_radix(hex, 16).map_err(|e| format!("{s:?}: {e}"))?;
            IpAddr::V4(Ipv4Addr::from(raw))
        }
        46 => {
            let text = s
                .get(1..40)
                .ok_or_else(|| format!("unexpected IP:Port: {s}"))?;
            let v6: Ipv6Addr = text
                .parse()
                .map_err(|_| format!("invalid IPv6 address: {text}"))?;
            IpAddr::V6(v6)
        }
        _ => return Err(format!("unexpected IP:Port: {s}")),
    };
    let port = s
        .get(s.len() - 4..)
        .ok_or_else(|| format!("unexpected port string format: {s}"))?;
    let port = u16::from_str_radix(port, 16).map_err(|e| format!("{s:?}: {e}"))?;
    Ok((ip, port))
}

/// Go's `net.IP.String()`: IPv4-mapped IPv6 addresses print as IPv4.
fn go_ip_string(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

pub(crate) fn parse_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut out = Vec::new();
    let mut proto = String::new();
    let mut local_mark = String::new();
    let mut local: (Option<IpAddr>, u16) = (None, 0);
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = fields.first() else {
            continue;
        };
        if *first == "IP" || *first == "Prot" || fields.get(1) == Some(&"RemoteAddress:Port") {
            continue;
        }
        match *first {
            "TCP" | "UDP" if fields.len() >= 2 => {
                proto = (*first).to_string();
                local_mark.clear();
                let (ip, port) = parse_ip_port(fields[1])?;
                local = (Some(ip), port);
            }
            "FWM" if fields.len() >= 2 => {
                proto = (*first).to_string();
                local_mark = fields[1].to_string();
                local = (None, 0);
            }
            "->" if fields.len() >= 6 => {
                let (remote_address, remote_port) = parse_ip_port(fields[1])?;
                let number = |i: usize| {
                    fields[i]
                        .parse::<u64>()
                        .map_err(|e| format!("{:?}: {e}", fields[i]))
                };
                out.push(Backend {
                    local_address: local.0,
                    local_port: local.1,
                    local_mark: local_mark.clone(),
                    remote_address,
                    remote_port,
                    proto: proto.clone(),
                    weight: number(3)?,
                    active: number(4)?,
                    inactive: number(5)?,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

impl Ipvs {
    fn label_values(&self, b: &Backend) -> Vec<String> {
        self.labels
            .iter()
            .map(|label| match *label {
                "local_address" => b
                    .local_address
                    .as_ref()
                    .map(go_ip_string)
                    .unwrap_or_default(),
                "local_port" => b.local_port.to_string(),
                "remote_address" => go_ip_string(&b.remote_address),
                "remote_port" => b.remote_port.to_string(),
                "proto" => b.proto.clone(),
                _ => b.local_mark.clone(),
            })
            .collect()
    }
}

impl Collector for Ipvs {
    fn name(&self) -> &str {
        "ipvs"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = match read_string(&self.stats) {
            Ok(t) => t,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let totals = parse_stats(&text).map_err(|r| parse_error(&self.stats, r))?;
        let mut f = Families::new();
        for (value, name, help) in [
            (
                totals[0],
                "connections_total",
                "The total number of connections made.",
            ),
            (
                totals[1],
                "incoming_packets_total",
                "The total number of incoming packets.",
            ),
            (
                totals[2],
                "outgoing_packets_total",
                "The total number of outgoing packets.",
            ),
            (
                totals[3],
                "incoming_bytes_total",
                "The total amount of incoming data.",
            ),
            (
                totals[4],
                "outgoing_bytes_total",
                "The total amount of outgoing data.",
            ),
        ] {
            f.counter(&format!("node_ipvs_{name}"), help, &[], value as f64);
        }
        let text = read_string(&self.backends)?;
        let backends = parse_backends(&text).map_err(|r| parse_error(&self.backends, r))?;
        // Label values -> (active, inactive, weight), summed over backends sharing them.
        let mut sums: BTreeMap<Vec<String>, (u64, u64, u64)> = BTreeMap::new();
        for b in &backends {
            let sum = sums.entry(self.label_values(b)).or_default();
            // Go's unsigned sums wrap rather than fail.
            sum.0 = sum.0.wrapping_add(b.active);
            sum.1 = sum.1.wrapping_add(b.inactive);
            sum.2 = sum.2.wrapping_add(b.weight);
        }
        for (values, (active, inactive, weight)) in &sums {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            f.gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
                &labels,
                *active as f64,
            );
            f.gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
                &labels,
                *inactive as f64,
            );
            f.gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
                &labels,
                *weight as f64,
            );
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_flag_keeps_canonical_order_and_rejects_unknown_names() {
        assert_eq!(
            parse_labels("proto,local_port"),
            Ok(vec!["local_port", "proto"])
        );
        assert_eq!(parse_labels(""), Ok(vec![]));
        assert!(parse_labels("proto,bogus").is_err());
    }

    #[test]
    fn backends_sharing_the_chosen_labels_are_summed() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipvs");
        let collector = super::super::build_one(
            "ipvs",
            &crate::Paths::fixture(&dir),
            &["--collector.ipvs.backend-labels=proto,local_port".into()],
        )
        .expect("builds");
        let mut out = Vec::new();
        collector.update(&mut out).expect("updates");
        let active = out
            .iter()
            .find(|f| f.name == "node_ipvs_backend_connections_active")
            .expect("family");
        // TCP:443 (two v4 services' backends and the v6 ones), TCP:80, UDP:53, FWM:0.
        assert_eq!(active.metrics.len(), 4);
        let tcp443 = active
            .metrics
            .iter()
            .find(|m| {
                m.labels
                    == [
                        ("local_port".into(), "443".into()),
                        ("proto".into(), "TCP".into()),
                    ]
            })
            .expect("TCP 443");
        assert_eq!(
            tcp443.value,
            ember_expfmt::MetricValue::Gauge(312.0 + 298.0 + 7.0 + 6.0)
        );
    }

    #[test]
    fn addresses_parse_and_print_as_go() {
        let (ip, port) = parse_ip_port("C0A80016:0CEA").expect("v4");
        assert_eq!(
            (go_ip_string(&ip), port),
            ("192.168.0.22".to_string(), 3306)
        );
        let (ip, port) =
            parse_ip_port("[2620:0000:0000:0000:0000:0000:0000:0001]:0050").expect("v6");
        assert_eq!((go_ip_string(&ip), port), ("2620::1".to_string(), 80));
        let (ip, _) = parse_ip_port("[0000:0000:0000:0000:0000:ffff:0a00:0001]:0050").expect("v6");
        assert_eq!(go_ip_string(&ip), "10.0.0.1");
        assert!(parse_ip_port("C0A80016:CEA").is_err());
        // Lengths match but a multi-byte character straddles the slices: an error, not a panic.
        assert!(parse_ip_port("C0A8001é:CEA").is_err());
        assert!(parse_ip_port("C0A80016:0Cé").is_err());
    }

    #[test]
    fn stats_need_their_third_line() {
        assert!(parse_stats("a\nb\n").is_err());
        let text = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n 16AA370 E33656E5        0     51D8C8883AB3                0\n\n";
        assert_eq!(
            parse_stats(text),
            Ok([0x16AA370, 0xE33656E5, 0, 0x51D8C8883AB3, 0])
        );
    }

    proptest::proptest! {
        #[test]
        fn any_ipvs_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&[
                "TCP", "UDP", "FWM", "->", "IP", "Prot", "RemoteAddress:Port", "C0A80016:0CEA",
                "[2620:0000:0000:0000:0000:0000:0000:0001]:0050", "Masq", "1", "0", "wlc",
                "C0A8é016:0CEA", "[2620:0000:0000:0000:0000:0000:0000:00é]:0050",
            ])
        ) {
            let _ = parse_backends(&text);
            let _ = parse_stats(&text);
        }
    }
}

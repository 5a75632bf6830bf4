//! `netclass`: the attributes of each interface under `<sysfs>/class/net/<iface>/` as
//! `node_network_*` (info, up, carrier, mtu, speed, ...).
//!
//! A missing or unreadable attribute (the kernel answers `EINVAL` for `speed` or
//! `carrier` of a down link) leaves that metric out for the interface, as upstream does.
//! `--collector.netclass.netlink` is accepted for compatibility; the attributes are the
//! same kernel values either way and are read from sysfs.

use std::path::PathBuf;

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::util::{Dir, Family, arg_flag, arg_regex, bool_args, dir_names, value_arg};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "netclass",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Netclass {
            dir: ctx.paths.sys("class/net"),
            ignored: arg_regex(ctx.matches, "collector.netclass.ignored-devices")?,
            ignore_invalid_speed: arg_flag(
                ctx.matches,
                "collector.netclass.ignore-invalid-speed",
                false,
            ),
        }))
    },
};

fn args() -> Vec<Arg> {
    let mut args = vec![value_arg(
        "collector.netclass.ignored-devices",
        Some("^$"),
        "Regexp of net devices to ignore for netclass collector.",
    )];
    args.extend(bool_args(
        "collector.netclass.ignore-invalid-speed",
        "Ignore devices where the speed is invalid. This will be the default behavior in 2.x.",
    ));
    args.extend(bool_args(
        "collector.netclass.netlink",
        "Use netlink to gather stats instead of /proc/net/dev.",
    ));
    args
}

#[derive(Debug)]
struct Netclass {
    dir: PathBuf,
    ignored: Option<Regex>,
    ignore_invalid_speed: bool,
}

/// The numeric attributes in upstream's order: metric suffix, sysfs file, counter?
const NUMERIC: [(&str, &str, bool); 15] = [
    ("address_assign_type", "addr_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes_total", "carrier_changes", true),
    ("carrier_up_changes_total", "carrier_up_count", true),
    ("carrier_down_changes_total", "carrier_down_count", true),
    ("device_id", "dev_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("iface_id", "ifindex", false),
    ("iface_link", "iflink", false),
    ("iface_link_mode", "link_mode", false),
    ("mtu_bytes", "mtu", false),
    ("name_assign_type", "name_assign_type", false),
    ("net_dev_group", "netdev_group", false),
    ("speed_bytes", "speed", false),
];

/// Parses an integer attribute as Go's `ParseInt(s, 0, 64)`: decimal, or `0x` hex.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

impl Collector for Netclass {
    fn name(&self) -> &str {
        "netclass"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = match dir_names(&self.dir) {
            Ok(d) => d,
            Err(_) => return Err(CollectorError::NoData),
        };
        let mut up = Family::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = Family::gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        let mut numeric: Vec<Family> = NUMERIC
            .iter()
            .map(|(name, _, counter)| {
                let full = format!("node_network_{name}");
                let help = format!("Network device property: {name}");
                if *counter {
                    Family::counter(full, help)
                } else {
                    Family::gauge(full, help)
                }
            })
            .collect();
        let mut queue = Family::gauge(
            "node_network_transmit_queue_length",
            "Network device property: transmit_queue_length",
        );
        let mut protocol = Family::gauge(
            "node_network_protocol_type",
            "Network device property: protocol_type",
        );
        for dev in devices {
            if self.ignored.as_ref().is_some_and(|r| r.is_match(&dev)) {
                continue;
            }
            // Opened once: its attributes are then opened relative to it.
            let Ok(iface) = Dir::open(self.dir.join(&dev)) else {
                continue;
            };
            let buf = std::cell::RefCell::new(Vec::with_capacity(64));
            let text = |file: &str| {
                iface
                    .read_trimmed(file, &mut buf.borrow_mut())
                    .map(str::to_string)
            };
            let int = |file: &str| {
                iface
                    .read_trimmed(file, &mut buf.borrow_mut())
                    .and_then(parse_int)
            };
            let operstate = text("operstate").unwrap_or_default();
            up.add(
                &[("device", &dev)],
                if operstate == "up" { 1.0 } else { 0.0 },
            );
            info.add(
                &[
                    ("device", &dev),
                    ("address", &text("address").unwrap_or_default()),
                    ("broadcast", &text("broadcast").unwrap_or_default()),
                    ("duplex", &text("duplex").unwrap_or_default()),
                    ("operstate", &operstate),
                    ("ifalias", &text("ifalias").unwrap_or_default()),
                ],
                1.0,
            );
            for (family, (name, file, _)) in numeric.iter_mut().zip(NUMERIC.iter()) {
                let Some(mut v) = int(file) else { continue };
                if *name == "speed_bytes" {
                    // Some devices report -1 when the speed is unknown.
                    if v < 0 && self.ignore_invalid_speed {
                        continue;
                    }
                    v = v * 1000 * 1000 / 8;
                }
                family.add(&[("device", &dev)], v as f64);
            }
            if let Some(v) = int("tx_queue_len") {
                queue.add(&[("device", &dev)], v as f64);
            }
            if let Some(v) = int("type") {
                protocol.add(&[("device", &dev)], v as f64);
            }
        }
        up.push_to(out);
        info.push_to(out);
        for family in numeric {
            family.push_to(out);
        }
        queue.push_to(out);
        protocol.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_go_base_zero() {
        assert_eq!(parse_int("0x1003\n"), Some(0x1003));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("1500"), Some(1500));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("up"), None);
    }
}

//! `udp_queues`: bytes queued in the kernel for UDP sockets, summed over
//! `/proc/net/udp` and `/proc/net/udp6`, as node_exporter's `udp_queues_linux.go` over
//! procfs's `NetUDPSummary`. Every socket line is validated as procfs does, so a
//! malformed file fails the update rather than giving a wrong sum.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found, parse_go_int};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "udp_queues",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(UdpQueues {
            v4: ctx.paths.proc("net/udp"),
            v6: ctx.paths.proc("net/udp6"),
        }))
    },
};

#[derive(Debug)]
struct UdpQueues {
    v4: PathBuf,
    v6: PathBuf,
}

fn hex_u64(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

/// A `hex:hexport` address: 4 or 16 address bytes.
fn valid_address(field: &str) -> bool {
    let Some((ip, port)) = field.split_once(':') else {
        return false;
    };
    if port.contains(':') || hex_u64(port).is_none() {
        return false;
    }
    let hex_ok = ip.len() % 2 == 0 && ip.bytes().all(|b| b.is_ascii_hexdigit());
    hex_ok && matches!(ip.len() / 2, 4 | 16)
}

/// (tx_queue, rx_queue) of one socket line.
fn parse_socket_line(line: &str) -> Result<(u64, u64), String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 10 {
        return Err(format!(
            "cannot parse net socket line as it has less then 10 columns {line:?}"
        ));
    }
    let sl = fields[0]
        .split_once(':')
        .filter(|(_, rest)| rest.is_empty())
        .and_then(|(n, _)| parse_go_int(n));
    if sl.is_none() {
        return Err(format!(
            "cannot parse sl field in socket line {:?}",
            fields[0]
        ));
    }
    for address in &fields[1..3] {
        if !valid_address(address) {
            return Err(format!(
                "cannot parse address field in socket line {address:?}"
            ));
        }
    }
    if hex_u64(fields[3]).is_none() {
        return Err(format!(
            "cannot parse st value in socket line {:?}",
            fields[3]
        ));
    }
    let (tx, rx) = fields[4]
        .split_once(':')
        .and_then(|(tx, rx)| Some((hex_u64(tx)?, hex_u64(rx)?)))
        .ok_or_else(|| format!("cannot parse tx/rx queues in socket line {:?}", fields[4]))?;
    if parse_go_int(fields[7]).is_none() || parse_go_int(fields[9]).is_none() {
        return Err(format!("cannot parse uid or inode in socket line {line:?}"));
    }
    Ok((tx, rx))
}

/// Sums the queues of a `/proc/net/udp{,6}` file (its first line is the header).
pub(crate) fn summarize(text: &str) -> Result<(u64, u64), String> {
    let mut sums = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let (tx, rx) = parse_socket_line(line)?;
        // Go's unsigned sums wrap rather than fail.
        sums.0 = sums.0.wrapping_add(tx);
        sums.1 = sums.1.wrapping_add(rx);
    }
    Ok(sums)
}

/// `Ok(None)` when the file does not exist (no IPv6, for example).
fn read_summary(path: &Path) -> Result<Option<(u64, u64)>, CollectorError> {
    match read_string(path) {
        Ok(text) => summarize(&text).map(Some).map_err(|r| parse_error(path, r)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Collector for UdpQueues {
    fn name(&self) -> &str {
        "udp_queues"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let v4 = read_summary(&self.v4)?;
        let v6 = read_summary(&self.v6)?;
        if v4.is_none() && v6.is_none() {
            return Err(CollectorError::NoData);
        }
        let mut f = Families::new();
        let help = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
        for (ip, sums) in [("v4", v4), ("v6", v6)] {
            if let Some((tx, rx)) = sums {
                f.gauge(
                    "node_udp_queues",
                    help,
                    &[("queue", "tx"), ("ip", ip)],
                    tx as f64,
                );
                f.gauge(
                    "node_udp_queues",
                    help,
                    &[("queue", "rx"), ("ip", ip)],
                    rx as f64,
                );
            }
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";

    #[test]
    fn queues_are_summed_from_hex_columns() {
        let text = format!(
            "{HEADER}  \
             335: 00000000:14E9 00000000:0000 07 00000000:00000A00 00:00000000 00000000   104        0 19714 2 0000000000000000 0\n  \
             793: 3500007F:0035 00000000:0000 07 00000100:00000000 00:00000000 00000000   101        0 18520 2 0000000000000000 0\n"
        );
        assert_eq!(summarize(&text), Ok((0x100, 0xA00)));
    }

    #[test]
    fn ipv6_addresses_and_malformed_lines() {
        let v6 = format!(
            "{HEADER} 1073: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000001 00:00000000 00000000     0        0 21877 2 0000000000000000 0\n"
        );
        assert_eq!(summarize(&v6), Ok((0, 1)));
        let short = format!("{HEADER}   1: 00000000:0016 00000000:0000 07 00000000:00000000\n");
        assert!(summarize(&short).is_err());
        let bad_ip = format!(
            "{HEADER}   1: 000000:0016 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1\n"
        );
        assert!(summarize(&bad_ip).is_err());
        let no_colon = format!(
            "{HEADER}   1: 00000000:0016 00000000:0000 07 0000000000000000 00:00000000 00000000 0 0 1\n"
        );
        assert!(summarize(&no_colon).is_err());
        assert_eq!(summarize(HEADER), Ok((0, 0)));
    }

    proptest::proptest! {
        #[test]
        fn any_socket_table_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&[
                "sl", "0:", "0100007F:0035", "00000000:0000", "07", "00000000:00000A00",
                "00:00000000", "00000000", "104", "0", "19714", "2", "ffff", "0x1",
            ])
        ) {
            let _ = summarize(&text);
        }
    }
}

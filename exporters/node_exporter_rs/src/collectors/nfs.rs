//! `nfs`: NFS client RPC statistics from `/proc/net/rpc/nfs`, as node_exporter's
//! `nfs_linux.go` over procfs's `ClientRPCStats`. Also holds the line parsing shared with
//! [`nfsd`](super::nfsd): both files are `label value...` lines and the `procN` lines start
//! with their own count.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "nfs",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Nfs {
            path: ctx.paths.proc("net/rpc/nfs"),
        }))
    },
};

/// NFSv2 procedures, in the order of the `proc2` line (procfs's `V2Stats` fields).
pub(crate) const V2_PROCS: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures, in the order of the `proc3` line (procfs's `V3Stats` fields).
pub(crate) const V3_PROCS: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// NFSv4 client operations, in the order of the `proc4` line (procfs's `ClientV4Stats`).
const CLIENT_V4_PROCS: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// One `label v1 v2 ...` line with its values parsed as unsigned integers.
pub(crate) fn parse_line(line: &str) -> Result<(&str, Vec<u64>), String> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    if parts.len() < 2 {
        return Err(format!("invalid NFS metric line {line:?}"));
    }
    let label = parts[0];
    // The `th` line ends with floats on old kernels; only the first two values are used.
    let raw = if label == "th" {
        if parts.len() < 3 {
            return Err(format!("invalid NFSd th metric line {line:?}"));
        }
        &parts[1..3]
    } else {
        &parts[1..]
    };
    let values = raw
        .iter()
        .map(|v| v.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("error parsing NFS metric line {line:?}: {e}"))?;
    Ok((label, values))
}

/// Checks a `procN` line whose first value is the count of those that follow.
pub(crate) fn counted(values: &[u64], min: usize, what: &str) -> Result<Vec<u64>, String> {
    let count = values.first().copied().unwrap_or(0) as usize;
    if values.len().saturating_sub(1) != count || count < min || values.is_empty() {
        return Err(format!("invalid {what} line {values:?}"));
    }
    Ok(values.get(1..).unwrap_or_default().to_vec())
}

/// Checks that a line has exactly `n` values.
pub(crate) fn exactly(values: Vec<u64>, n: usize, what: &str) -> Result<Vec<u64>, String> {
    if values.len() != n {
        return Err(format!("invalid {what} line {values:?}"));
    }
    Ok(values)
}

/// `/proc/net/rpc/nfs`, parsed. Missing lines leave zeros, as procfs does.
#[derive(Debug, PartialEq)]
pub(crate) struct ClientStats {
    /// net: count, udp, tcp, tcp connections.
    pub(crate) network: [u64; 4],
    /// rpc: calls, retransmissions, auth refreshes.
    pub(crate) rpc: [u64; 3],
    pub(crate) v2: [u64; 18],
    pub(crate) v3: [u64; 22],
    pub(crate) v4: [u64; 59],
}

fn fill<const N: usize>(dst: &mut [u64; N], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

pub(crate) fn parse_client(text: &str) -> Result<ClientStats, String> {
    let mut s = ClientStats {
        network: [0; 4],
        rpc: [0; 3],
        v2: [0; 18],
        v3: [0; 22],
        v4: [0; 59],
    };
    for line in text.lines() {
        let (label, values) = parse_line(line)?;
        match label {
            "net" => fill(&mut s.network, &exactly(values, 4, "Network")?),
            "rpc" => fill(&mut s.rpc, &exactly(values, 3, "RPC")?),
            "proc2" => fill(&mut s.v2, &counted(&values, 18, "V2Stats")?),
            "proc3" => fill(&mut s.v3, &counted(&values, 22, "V3Stats")?),
            // Older kernels report fewer operations; the rest stay zero.
            "proc4" => fill(&mut s.v4, &counted(&values, 0, "ClientV4Stats")?),
            other => return Err(format!("unknown NFS metric line {other:?}")),
        }
    }
    Ok(s)
}

#[derive(Debug)]
struct Nfs {
    path: PathBuf,
}

impl Collector for Nfs {
    fn name(&self) -> &str {
        "nfs"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = match read_string(&self.path) {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let s = parse_client(&text).map_err(|r| parse_error(&self.path, r))?;
        let mut f = Families::new();
        let packets = "Total NFSd network packets (sent+received) by protocol type.";
        f.counter(
            "node_nfs_packets_total",
            packets,
            &[("protocol", "udp")],
            s.network[1] as f64,
        );
        f.counter(
            "node_nfs_packets_total",
            packets,
            &[("protocol", "tcp")],
            s.network[2] as f64,
        );
        f.counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            s.network[3] as f64,
        );
        f.counter(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            &[],
            s.rpc[0] as f64,
        );
        f.counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            &[],
            s.rpc[1] as f64,
        );
        f.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            &[],
            s.rpc[2] as f64,
        );
        let help = "Number of NFS procedures invoked.";
        let mut requests = |proto: &str, names: &[&str], values: &[u64]| {
            for (method, v) in names.iter().zip(values) {
                f.counter(
                    "node_nfs_requests_total",
                    help,
                    &[("proto", proto), ("method", method)],
                    *v as f64,
                );
            }
        };
        requests("2", &V2_PROCS, &s.v2);
        requests("3", &V3_PROCS, &s.v3);
        requests("4", &CLIENT_V4_PROCS, &s.v4);
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_file_parses_with_short_proc4_line_padded() {
        let s = parse_client(
            "net 70 0 70 12\nrpc 4329785 3 4338291\n\
             proc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2\n\
             proc3 22 1 4084749 29200 94754 32580 186 47747 7981 8639 0 6356 0 6962 0 7958 0 0 241 4 4 2 39\n\
             proc4 3 1 2 3\n",
        )
        .expect("parses");
        assert_eq!(s.network, [70, 0, 70, 12]);
        assert_eq!(s.rpc, [4329785, 3, 4338291]);
        assert_eq!(s.v2[17], 2);
        assert_eq!(s.v3[1], 4084749);
        assert_eq!(&s.v4[..4], &[1, 2, 3, 0]);
    }

    #[test]
    fn bad_counts_and_unknown_lines_are_errors() {
        assert!(parse_client("proc3 22 1 2 3\n").is_err());
        assert!(parse_client("proc2 3 1 2 3\n").is_err());
        assert!(parse_client("rpc 1 2\n").is_err());
        assert!(parse_client("bogus 1 2\n").is_err());
        assert!(parse_client("net\n").is_err());
        assert!(parse_client("net 1 2 x 4\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_client_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&["net", "rpc", "proc2", "proc3", "proc4", "18", "22", "0", "3"])
        ) {
            let _ = parse_client(&text);
        }
    }
}

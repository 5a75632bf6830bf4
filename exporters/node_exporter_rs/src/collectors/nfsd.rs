//! `nfsd`: NFS server statistics from `/proc/net/rpc/nfsd`, as node_exporter's
//! `nfsd_linux.go` over procfs's `ServerRPCStats`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::nfs::{V2_PROCS, V3_PROCS, counted, exactly, parse_line};
use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "nfsd",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Nfsd {
            path: ctx.paths.proc("net/rpc/nfsd"),
        }))
    },
};

/// NFSv4 server operations of the `proc4ops` line (procfs's `V4Ops` fields, in order).
const V4_OPS: [&str; 38] = [
    "Op0Unused",
    "Op1Unused",
    "Op2Future",
    "Access",
    "Close",
    "Commit",
    "Create",
    "DelegPurge",
    "DelegReturn",
    "GetAttr",
    "GetFH",
    "Link",
    "Lock",
    "Lockt",
    "Locku",
    "Lookup",
    "LookupRoot",
    "Nverify",
    "Open",
    "OpenAttr",
    "OpenConfirm",
    "OpenDgrd",
    "PutFH",
    "PutPubFH",
    "PutRootFH",
    "Read",
    "ReadDir",
    "ReadLink",
    "Remove",
    "Rename",
    "Renew",
    "RestoreFH",
    "SaveFH",
    "SecInfo",
    "SetAttr",
    "Verify",
    "Write",
    "RelLockOwner",
];

/// The NFSv4 operations node_exporter reports (unused slots, PutPubFH and PutRootFH are
/// left out).
const V4_REPORTED: [&str; 33] = [
    "Access",
    "Close",
    "Commit",
    "Create",
    "DelegPurge",
    "DelegReturn",
    "GetAttr",
    "GetFH",
    "Link",
    "Lock",
    "Lockt",
    "Locku",
    "Lookup",
    "LookupRoot",
    "Nverify",
    "Open",
    "OpenAttr",
    "OpenConfirm",
    "OpenDgrd",
    "PutFH",
    "Read",
    "ReadDir",
    "ReadLink",
    "Remove",
    "Rename",
    "Renew",
    "RestoreFH",
    "SaveFH",
    "SecInfo",
    "SetAttr",
    "Verify",
    "Write",
    "RelLockOwner",
];

/// `/proc/net/rpc/nfsd`, parsed. Missing lines leave zeros, as procfs does.
#[derive(Debug, PartialEq)]
pub(crate) struct ServerStats {
    /// rc: hits, misses, nocache.
    pub(crate) reply_cache: [u64; 3],
    /// fh: stale, total lookups, anon lookups, dir nocache, nondir nocache.
    pub(crate) file_handles: [u64; 5],
    /// io: read, write (bytes).
    pub(crate) io: [u64; 2],
    /// th: threads, fullcnt.
    pub(crate) threads: [u64; 2],
    /// ra: cache size, histogram (10), not found.
    pub(crate) read_ahead: [u64; 12],
    /// net: count, udp, tcp, tcp connections.
    pub(crate) network: [u64; 4],
    /// rpc: count, bad, badfmt, badauth, badclnt.
    pub(crate) rpc: [u64; 5],
    pub(crate) v2: [u64; 18],
    pub(crate) v3: [u64; 22],
    /// proc4: null, compound.
    pub(crate) v4: [u64; 2],
    pub(crate) v4_ops: [u64; 38],
}

fn fill<const N: usize>(dst: &mut [u64; N], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

pub(crate) fn parse_server(text: &str) -> Result<ServerStats, String> {
    let mut s = ServerStats {
        reply_cache: [0; 3],
        file_handles: [0; 5],
        io: [0; 2],
        threads: [0; 2],
        read_ahead: [0; 12],
        network: [0; 4],
        rpc: [0; 5],
        v2: [0; 18],
        v3: [0; 22],
        v4: [0; 2],
        v4_ops: [0; 38],
    };
    for line in text.lines() {
        let (label, v) = parse_line(line)?;
        match label {
            "rc" => fill(&mut s.reply_cache, &exactly(v, 3, "ReplyCache")?),
            "fh" => fill(&mut s.file_handles, &exactly(v, 5, "FileHandles")?),
            "io" => fill(&mut s.io, &exactly(v, 2, "InputOutput")?),
            "th" => fill(&mut s.threads, &exactly(v, 2, "Threads")?),
            "ra" => fill(&mut s.read_ahead, &exactly(v, 12, "ReadAheadCache")?),
            "net" => fill(&mut s.network, &exactly(v, 4, "Network")?),
            "rpc" => fill(&mut s.rpc, &exactly(v, 5, "RPC")?),
            "proc2" => fill(&mut s.v2, &counted(&v, 18, "V2Stats")?),
            "proc3" => fill(&mut s.v3, &counted(&v, 22, "V3Stats")?),
            "proc4" => {
                let ops = counted(&v, 2, "V4Stats")?;
                if ops.len() != 2 {
                    return Err(format!("invalid V4Stats line {v:?}"));
                }
                fill(&mut s.v4, &ops);
            }
            "proc4ops" => fill(&mut s.v4_ops, &counted(&v, 39, "V4Ops")?),
            other => return Err(format!("unknown NFSd metric line {other:?}")),
        }
    }
    Ok(s)
}

#[derive(Debug)]
struct Nfsd {
    path: PathBuf,
}

impl Collector for Nfsd {
    fn name(&self) -> &str {
        "nfsd"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = match read_string(&self.path) {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let s = parse_server(&text).map_err(|r| parse_error(&self.path, r))?;
        let mut f = Families::new();
        let mut counter = |name: &str, help: &str, labels: &[(&str, &str)], v: u64| {
            f.counter(&format!("node_nfsd_{name}"), help, labels, v as f64);
        };
        counter(
            "reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            &[],
            s.reply_cache[0],
        );
        counter(
            "reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            &[],
            s.reply_cache[1],
        );
        counter(
            "reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            &[],
            s.reply_cache[2],
        );
        counter(
            "file_handles_stale_total",
            "Total number of NFSd stale file handles",
            &[],
            s.file_handles[0],
        );
        counter(
            "disk_bytes_read_total",
            "Total NFSd bytes read.",
            &[],
            s.io[0],
        );
        counter(
            "disk_bytes_written_total",
            "Total NFSd bytes written.",
            &[],
            s.io[1],
        );
        counter(
            "read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            &[],
            s.read_ahead[11],
        );
        let packets = "Total NFSd network packets (sent+received) by protocol type.";
        counter("packets_total", packets, &[("proto", "udp")], s.network[1]);
        counter("packets_total", packets, &[("proto", "tcp")], s.network[2]);
        counter(
            "connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            s.network[3],
        );
        let errors = "Total number of NFSd RPC errors by error type.";
        counter("rpc_errors_total", errors, &[("error", "fmt")], s.rpc[2]);
        counter("rpc_errors_total", errors, &[("error", "auth")], s.rpc[3]);
        counter("rpc_errors_total", errors, &[("error", "cInt")], s.rpc[4]);
        counter(
            "server_rpcs_total",
            "Total number of NFSd RPCs.",
            &[],
            s.rpc[0],
        );
        let help = "Total number NFSd Requests by method and protocol.";
        for (method, v) in V2_PROCS.iter().zip(&s.v2).skip(1) {
            counter(
                "requests_total",
                help,
                &[("proto", "2"), ("method", method)],
                *v,
            );
        }
        for (method, v) in V3_PROCS.iter().zip(&s.v3).skip(1) {
            counter(
                "requests_total",
                help,
                &[("proto", "3"), ("method", method)],
                *v,
            );
        }
        for method in V4_REPORTED {
            let idx = V4_OPS.iter().position(|m| *m == method).unwrap_or(0);
            counter(
                "requests_total",
                help,
                &[("proto", "4"), ("method", method)],
                s.v4_ops[idx],
            );
        }
        f.gauge(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            &[],
            s.threads[0] as f64,
        );
        f.gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            &[],
            s.read_ahead[0] as f64,
        );
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_file_with_float_thread_histogram_parses() {
        let s = parse_server(
            "rc 0 6 18622\nfh 0 0 0 0 0\nio 157286400 0\n\
             th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000\n\
             ra 32 0 0 0 0 0 0 0 0 0 0 0\nnet 18628 0 18628 6\nrpc 18628 0 0 0 0\n\
             proc4 2 2 10853\n",
        )
        .expect("parses");
        assert_eq!(s.threads, [8, 0]);
        assert_eq!(s.io, [157286400, 0]);
        assert_eq!(s.v4, [2, 10853]);
    }

    #[test]
    fn modern_th_line_and_short_proc4ops_are_handled() {
        let s = parse_server("th 16 0\n").expect("two-value th parses");
        assert_eq!(s.threads, [16, 0]);
        assert!(parse_server("proc4ops 3 0 0 0\n").is_err());
        assert!(parse_server("proc4 3 1 2 3\n").is_err());
        assert!(parse_server("th 8\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_server_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&[
                "rc", "fh", "io", "th", "ra", "net", "rpc", "proc2", "proc3", "proc4", "proc4ops",
                "2", "39", "0.000", "0",
            ])
        ) {
            let _ = parse_server(&text);
        }
    }
}

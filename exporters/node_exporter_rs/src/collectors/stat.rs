//! `stat`: the system-wide counters of `/proc/stat` (interrupts, context switches,
//! forks, boot time, running and blocked processes), and per-vector softirq counts with
//! `--collector.stat.softirq`.

use std::path::PathBuf;

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::util::{Family, arg_flag, bool_args, parse_error, parse_f64, read_string};

/// The softirq vectors in `/proc/stat` column order.
const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "stat",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Stat {
            path: ctx.paths.proc("stat"),
            softirq: arg_flag(ctx.matches, "collector.stat.softirq", false),
        }))
    },
};

fn args() -> Vec<Arg> {
    bool_args("collector.stat.softirq", "Export softirq calls per vector")
}

#[derive(Debug)]
struct Stat {
    path: PathBuf,
    softirq: bool,
}

impl Collector for Stat {
    fn name(&self) -> &str {
        "stat"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let first = |key: &str| -> Result<f64, CollectorError> {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(key))
                .ok_or_else(|| parse_error(&self.path, format!("no {key} line")))?;
            let field = line.split_whitespace().nth(1).unwrap_or("");
            parse_f64(&self.path, field)
        };
        let values = [
            (
                "node_intr_total",
                "Total number of interrupts serviced.",
                true,
                first("intr")?,
            ),
            (
                "node_context_switches_total",
                "Total number of context switches.",
                true,
                first("ctxt")?,
            ),
            (
                "node_forks_total",
                "Total number of forks.",
                true,
                first("processes")?,
            ),
            (
                "node_boot_time_seconds",
                "Node boot time, in unixtime.",
                false,
                first("btime")?,
            ),
            (
                "node_procs_running",
                "Number of processes in runnable state.",
                false,
                first("procs_running")?,
            ),
            (
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                false,
                first("procs_blocked")?,
            ),
        ];
        for (name, help, counter, value) in values {
            let mut family = if counter {
                Family::counter(name, help)
            } else {
                Family::gauge(name, help)
            };
            family.add(&[], value);
            family.push_to(out);
        }
        if self.softirq {
            let line = text
                .lines()
                .find(|l| l.starts_with("softirq "))
                .ok_or_else(|| parse_error(&self.path, "no softirq line"))?;
            let mut family = Family::counter("node_softirqs_total", "Number of softirq calls.");
            for (vector, field) in SOFTIRQ_VECTORS.iter().zip(line.split_whitespace().skip(2)) {
                family.add(&[("vector", vector)], parse_f64(&self.path, field)?);
            }
            family.push_to(out);
        }
        Ok(())
    }
}

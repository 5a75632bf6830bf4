//! A whole exporter in one file: one real collector (`loadavg`, reading
//! `<procfs>/loadavg` as node_exporter does) and one off by default (`uptime`), the shared
//! flags plus an exporter-specific `--path.procfs`, all wired by `ember_exporter::run`.
//!
//! ```text
//! cargo run -p ember-exporter --example loadavg_exporter -- --web.listen-address=127.0.0.1:9100
//! curl -s localhost:9100/metrics | grep -E '^node_(load|scrape)'
//! ```
#![allow(missing_docs)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, value_parser};
use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::{Collector, CollectorError, CollectorFlag, ExporterInfo};

const INFO: ExporterInfo = ExporterInfo {
    name: "loadavg_exporter",
    description: "Example exporter: load average from /proc",
    version: env!("CARGO_PKG_VERSION"),
    namespace: "node",
    default_listen_address: ":9100",
};

const COLLECTORS: &[CollectorFlag] = &[
    CollectorFlag {
        name: "loadavg",
        enabled_by_default: true,
    },
    CollectorFlag {
        name: "uptime",
        enabled_by_default: false,
    },
];

fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: help.into(),
        metric_type: MetricType::Gauge,
        unit: None,
        metrics: vec![Metric {
            labels: vec![],
            value: MetricValue::Gauge(value),
            timestamp_ms: None,
            created: None,
        }],
    }
}

fn read_floats(path: PathBuf, n: usize) -> Result<Vec<f64>, CollectorError> {
    let text = std::fs::read_to_string(&path).map_err(|source| CollectorError::Io {
        path: path.clone(),
        source,
    })?;
    let values: Vec<f64> = text
        .split_whitespace()
        .take(n)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| CollectorError::Parse {
            what: path.display().to_string(),
            reason: format!("{e}"),
        })?;
    if values.len() < n {
        return Err(CollectorError::Parse {
            what: path.display().to_string(),
            reason: format!("expected {n} numbers"),
        });
    }
    Ok(values)
}

#[derive(Debug)]
struct Loadavg {
    procfs: PathBuf,
}

impl Collector for Loadavg {
    fn name(&self) -> &str {
        "loadavg"
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let v = read_floats(self.procfs.join("loadavg"), 3)?;
        out.push(gauge("node_load1", "1m load average.", v[0]));
        out.push(gauge("node_load5", "5m load average.", v[1]));
        out.push(gauge("node_load15", "15m load average.", v[2]));
        Ok(())
    }
}

#[derive(Debug)]
struct Uptime {
    procfs: PathBuf,
}

impl Collector for Uptime {
    fn name(&self) -> &str {
        "uptime"
    }
    fn enabled_by_default(&self) -> bool {
        false
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let v = read_floats(self.procfs.join("uptime"), 1)?;
        out.push(gauge(
            "node_uptime_seconds",
            "Seconds since boot (example).",
            v[0],
        ));
        Ok(())
    }
}

fn main() -> ExitCode {
    let procfs = Arg::new("path.procfs")
        .long("path.procfs")
        .value_name("PATH")
        .value_parser(value_parser!(PathBuf))
        .default_value("/proc")
        .help("procfs mountpoint");
    ember_exporter::run(INFO, COLLECTORS, vec![procfs], |flags, matches| {
        let procfs = matches
            .get_one::<PathBuf>("path.procfs")
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/proc"));
        let mut collectors: Vec<Box<dyn Collector>> = Vec::new();
        for name in flags.enabled_collectors() {
            match name {
                "loadavg" => collectors.push(Box::new(Loadavg {
                    procfs: procfs.clone(),
                })),
                "uptime" => collectors.push(Box::new(Uptime {
                    procfs: procfs.clone(),
                })),
                other => return Err(format!("unknown collector {other}")),
            }
        }
        Ok(collectors)
    })
}

//! A custom collector: the number and total size of files in a spool directory, read
//! when Prometheus scrapes, served on `/metrics` by the blocking server.
//!
//! Run with: `cargo run -p examples --bin custom_collector -- --dir /var/spool --listen 127.0.0.1:9185`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ember::serve::MetricsServer;
use ember::{Collector, ProcessCollector, Registry};
use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};

/// Reads a directory at every scrape.
#[derive(Debug)]
struct SpoolCollector {
    dir: PathBuf,
}

fn gauge(
    name: &str,
    help: &str,
    unit: Option<&str>,
    labels: &[(&str, &str)],
    v: f64,
) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: help.into(),
        metric_type: MetricType::Gauge,
        unit: unit.map(str::to_string),
        metrics: vec![Metric {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: MetricValue::Gauge(v),
            timestamp_ms: None,
            created: None,
        }],
    }
}

fn scan(dir: &Path) -> std::io::Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

impl Collector for SpoolCollector {
    fn collect(&self) -> Vec<MetricFamily> {
        let dir = self.dir.display().to_string();
        let labels = [("dir", dir.as_str())];
        match scan(&self.dir) {
            Ok((files, bytes)) => vec![
                gauge(
                    "spool_files",
                    "Files waiting in the spool directory.",
                    None,
                    &labels,
                    files as f64,
                ),
                gauge(
                    "spool_size_bytes",
                    "Total size of the files waiting.",
                    Some("bytes"),
                    &labels,
                    bytes as f64,
                ),
                gauge(
                    "spool_scan_success",
                    "Whether the last scan of the directory worked.",
                    None,
                    &labels,
                    1.0,
                ),
            ],
            // A directory that cannot be read is reported, never a failed scrape.
            Err(_) => vec![gauge(
                "spool_scan_success",
                "Whether the last scan of the directory worked.",
                None,
                &labels,
                0.0,
            )],
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = examples::flag(&args, "dir").unwrap_or_else(|| ".".into());
    let listen = examples::flag(&args, "listen").unwrap_or_else(|| "127.0.0.1:9185".into());
    let registry = Registry::new();
    registry.register_collector(SpoolCollector { dir: dir.into() });
    registry.register_collector(ProcessCollector::new());
    let server = match MetricsServer::start(listen.as_str(), registry) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("custom_collector: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving http://{}/metrics", server.local_addr());
    // Serve until killed.
    loop {
        std::thread::park();
    }
}

//! The exporter's metrics about itself, as node_exporter exposes them unless
//! `--web.disable-exporter-metrics`: `<name>_build_info`, the `process_*` families and
//! promhttp's `promhttp_metric_handler_requests_total{code}` and
//! `promhttp_metric_handler_requests_in_flight`.
//!
//! Go's `go_*` runtime families have no Rust counterpart and are not emitted.

use std::sync::atomic::{AtomicU64, Ordering};

use ember::Collector as _;
use ember::ProcessCollector;
use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};

use crate::ExporterInfo;

/// A scrape being served; dropping it without [`finished`](InFlight::finished) (the
/// client went away) only lowers the in-flight gauge.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a SelfMetrics);

impl InFlight<'_> {
    /// Counts the scrape under its status code.
    pub(crate) fn finished(self, code: u16) {
        self.0.count(code);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The codes promhttp pre-initialises, so that they exist before the first error.
const CODES: [u16; 3] = [200, 500, 503];

/// Counters and collectors behind the exporter's own families.
#[derive(Debug)]
pub(crate) struct SelfMetrics {
    build_info: MetricFamily,
    process: ProcessCollector,
    in_flight: AtomicU64,
    /// Requests by code, in the order of [`CODES`], then any other code in `other`.
    by_code: [AtomicU64; 3],
    other: parking_lot::Mutex<Vec<(u16, u64)>>,
}

fn gauge(labels: Vec<(String, String)>, v: f64) -> Metric {
    Metric {
        labels,
        value: MetricValue::Gauge(v),
        timestamp_ms: None,
        created: None,
    }
}

/// Go's name for the architecture, so dashboards that show `goarch` keep working.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

impl SelfMetrics {
    pub(crate) fn new(info: &ExporterInfo) -> SelfMetrics {
        let labels = [
            ("branch", ""),
            ("goarch", go_arch()),
            ("goos", std::env::consts::OS),
            ("revision", ""),
            ("version", info.version),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let name = info.name;
        SelfMetrics {
            build_info: MetricFamily {
                name: format!("{name}_build_info"),
                help: format!(
                    "A metric with a constant '1' value labeled by version, revision, branch, \
                     goversion from which {name} was built, and the goos and goarch for the build."
                ),
                metric_type: MetricType::Gauge,
                unit: None,
                metrics: vec![gauge(labels, 1.0)],
            },
            process: ProcessCollector::new(),
            in_flight: AtomicU64::new(0),
            by_code: Default::default(),
            other: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Counts a scrape in flight until the guard is dropped.
    pub(crate) fn request_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    fn count(&self, code: u16) {
        match CODES.iter().position(|c| *c == code) {
            Some(i) => {
                self.by_code[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let mut other = self.other.lock();
                match other.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => other.push((code, 1)),
                }
            }
        }
    }

    /// Appends the exporter's own families to `out`.
    pub(crate) fn collect(&self, out: &mut Vec<MetricFamily>) {
        out.push(self.build_info.clone());
        out.extend(self.process.collect());
        out.push(MetricFamily {
            name: "promhttp_metric_handler_requests_in_flight".into(),
            help: "Current number of scrapes being served.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![gauge(vec![], self.in_flight.load(Ordering::Relaxed) as f64)],
        });
        let mut counts: Vec<(u16, u64)> = CODES
            .iter()
            .zip(&self.by_code)
            .map(|(c, n)| (*c, n.load(Ordering::Relaxed)))
            .collect();
        counts.extend(self.other.lock().iter().copied());
        counts.sort_unstable();
        out.push(MetricFamily {
            name: "promhttp_metric_handler_requests".into(),
            help: "Total number of scrapes by HTTP status code.".into(),
            metric_type: MetricType::Counter,
            unit: None,
            metrics: counts
                .into_iter()
                .map(|(code, n)| Metric {
                    labels: vec![("code".into(), code.to_string())],
                    value: MetricValue::Counter {
                        value: n as f64,
                        exemplar: None,
                    },
                    timestamp_ms: None,
                    created: None,
                })
                .collect(),
        });
    }
}

//! The exporter's collector trait: one subsystem (cpu, meminfo, global_status, ...) read
//! at scrape time.

use ember_expfmt::MetricFamily;

use crate::CollectorError;

/// One subsystem of an exporter, named as its `--collector.NAME` flag.
///
/// [`update`](Collector::update) runs on the [`Scheduler`](crate::Scheduler)'s bounded
/// thread pool, so it may block on file reads or network calls; a call that outlives the
/// scrape deadline is reported as failed and its result is dropped when it arrives.
/// Families pushed before an error is returned are dropped too: a collector either
/// succeeds whole or contributes nothing, as node_exporter's collectors do.
///
/// ```
/// use ember_exporter::{Collector, CollectorError};
/// use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
///
/// #[derive(Debug)]
/// struct Loadavg;
/// impl Collector for Loadavg {
///     fn name(&self) -> &str { "loadavg" }
///     fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
///         out.push(MetricFamily {
///             name: "node_load1".into(),
///             help: "1m load average.".into(),
///             metric_type: MetricType::Gauge,
///             unit: None,
///             metrics: vec![Metric {
///                 labels: vec![],
///                 value: MetricValue::Gauge(0.5),
///                 timestamp_ms: None,
///                 created: None,
///             }],
///         });
///         Ok(())
///     }
/// }
/// let mut out = Vec::new();
/// Loadavg.update(&mut out).unwrap();
/// assert_eq!(out[0].name, "node_load1");
/// assert!(Loadavg.enabled_by_default());
/// ```
pub trait Collector: Send + Sync + std::fmt::Debug + 'static {
    /// The collector's name: the `NAME` of `--collector.NAME` and the `collector` label
    /// of `<ns>_scrape_collector_*`.
    fn name(&self) -> &str;

    /// Whether the collector runs when neither `--collector.NAME` nor
    /// `--no-collector.NAME` is given.
    fn enabled_by_default(&self) -> bool {
        true
    }

    /// Appends this collector's families for the current scrape to `out`.
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError>;
}

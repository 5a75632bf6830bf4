//! What every metric type implements so families and registries can encode it.

use ember_expfmt::{FamilyEncoder, MetricType};

/// A metric that can write its samples.
///
/// Implemented by [`Counter`](crate::Counter), [`Gauge`](crate::Gauge),
/// [`Histogram`](crate::Histogram), [`Summary`](crate::Summary), [`Info`](crate::Info),
/// [`StateSet`](crate::StateSet) and [`Family`](crate::Family). Implement it for a type of
/// your own to register it directly; for metrics computed at scrape time, implement
/// [`Collector`](crate::Collector) instead.
pub trait EncodeMetric: Send + Sync + 'static {
    /// The type written in the family's `# TYPE` line.
    fn metric_type(&self) -> MetricType;

    /// Writes this metric's samples into `family`. `labels` holds the series' labels
    /// already rendered (`a="1",b="2"`, empty for none), to be passed to
    /// [`SampleEncoder::rendered_labels`](ember_expfmt::SampleEncoder::rendered_labels)
    /// before any label the metric adds itself (`le`, `quantile`).
    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str);

    /// For a family with a series cap: how many label sets it refused. The registry
    /// exposes these as `ember_label_sets_rejected_total{family}`.
    fn rejected_label_sets(&self) -> Option<u64> {
        None
    }
}

/// Current Unix time in seconds at millisecond precision, for `_created` timestamps.
///
/// Milliseconds are what Prometheus stores timestamps in, and a value with at most three
/// decimals is written without float formatting (see `ember_expfmt::float`), which
/// keeps `_created` lines cheap to encode.
pub(crate) fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0)
}

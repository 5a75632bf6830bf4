//! Custom collectors: metrics computed when a scrape asks for them.

use ember_expfmt::MetricFamily;

/// Produces metric families at scrape time.
///
/// Use it for values that live elsewhere (a connection pool's size, `/proc` files, a
/// cache's statistics). The registry applies its prefix and constant labels to what is
/// returned.
///
/// ```
/// use ember::{Collector, Registry};
/// use ember_expfmt::{Format, Metric, MetricFamily, MetricType, MetricValue};
///
/// #[derive(Debug)]
/// struct QueueDepth;
/// impl Collector for QueueDepth {
///     fn collect(&self) -> Vec<MetricFamily> {
///         vec![MetricFamily {
///             name: "queue_depth".into(),
///             help: "Jobs waiting.".into(),
///             metric_type: MetricType::Gauge,
///             unit: None,
///             metrics: vec![Metric {
///                 labels: vec![],
///                 value: MetricValue::Gauge(4.0),
///                 timestamp_ms: None,
///                 created: None,
///             }],
///         }]
///     }
/// }
/// let registry = Registry::new();
/// registry.register_collector(QueueDepth);
/// let text = registry.encode_to_string(Format::Text);
/// assert_eq!(text, "# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\nqueue_depth 4\n");
/// ```
pub trait Collector: Send + Sync + std::fmt::Debug + 'static {
    /// The families to expose now.
    fn collect(&self) -> Vec<MetricFamily>;
}

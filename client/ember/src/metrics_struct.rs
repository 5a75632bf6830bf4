//! Structs of metrics registered in one call: the trait `#[derive(Metrics)]` implements.

use crate::{Error, Histogram, Registry};

/// A group of metrics that registers itself. Derive it with `#[derive(ember::Metrics)]`:
/// each field is a metric (any [`EncodeMetric`](crate::EncodeMetric) that is `Clone`,
/// which every metric handle and [`Family`](crate::Family) is), named after the field,
/// with the field's doc comment as HELP text. Field options:
/// `#[metric(name = "...", unit = "seconds", buckets = [0.1, 1.0])]`; `buckets` (on a
/// [`Histogram`] or a `Family<L, Histogram>` with typed labels) makes the derive also
/// write `fn new() -> Self`, which builds those fields with the buckets and every other
/// field with `Default::default()`.
///
/// ```
/// use ember::{Counter, Histogram, Metrics, RegisterMetrics, Registry};
///
/// #[derive(Debug, Metrics)]
/// struct Http {
///     /// Requests served.
///     requests: Counter,
///     /// Time to answer.
///     #[metric(unit = "seconds", buckets = [0.1, 1.0])]
///     latency: Histogram,
/// }
///
/// let http = Http::new();
/// let registry = Registry::new();
/// http.register(&registry, Some("http")).unwrap();
/// http.requests.inc();
/// http.latency.observe(0.5);
/// assert_eq!(
///     registry.encode_to_string(ember::expfmt::Format::Text),
///     "# HELP http_latency_seconds Time to answer.\n\
///      ## TYPE http_latency_seconds histogram\n\
///      http_latency_seconds_bucket{le=\"0.1\"} 0\n\
///      http_latency_seconds_bucket{le=\"1\"} 1\n\
///      http_latency_seconds_bucket{le=\"+Inf\"} 1\n\
///      http_latency_seconds_count 1\n\
///      http_latency_seconds_sum 0.5\n\
///      ## HELP http_requests_total Requests served.\n\
///      ## TYPE http_requests_total counter\n\
///      http_requests_total 1\n"
/// );
/// ```
pub trait RegisterMetrics {
    /// Registers every field in `registry`, each name prefixed with `prefix_` if given.
    /// Stops at the first error (an invalid or clashing name).
    fn register(&self, registry: &Registry, prefix: Option<&str>) -> Result<(), Error>;
}

/// The family name of a field under an optional prefix.
#[doc(hidden)]
pub fn prefixed(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}_{name}"),
        _ => name.to_string(),
    }
}

/// A histogram with buckets the derive checked at compile time (finite, strictly
/// increasing), so the fallback to the default buckets is never taken.
#[doc(hidden)]
pub fn checked_histogram(buckets: &[f64]) -> Histogram {
    Histogram::new(buckets.iter().copied()).unwrap_or_default()
}

//! Ember's client library: instrument a Rust program and expose its metrics in the
//! Prometheus text format or OpenMetrics.
//!
//! | type | what it measures |
//! |---|---|
//! | [`Counter`], [`FloatCounter`] | totals that only go up (`_total`, `_created`) |
//! | [`Gauge`], [`FloatGauge`] | values that go up and down |
//! | [`Histogram`] | distributions in cumulative buckets, with [`HistogramTimer`] |
//! | [`Summary`] | distributions as quantiles over a sliding window, with [`SummaryTimer`] |
//! | [`Info`], [`StateSet`] | facts as labels; one-of-many states |
//! | [`Family`] | one metric per label set, typed ([`LabelSet`] derive) or string arrays |
//! | [`RegisterMetrics`] | a struct of metrics registered in one call (`#[derive(Metrics)]`) |
//! | `#[metric]` | autometrics-style call metrics for a function (`function_calls_*`) |
//! | [`Registry`] | what `/metrics` exposes: prefixes, constant labels, sub-registries, [`Collector`]s |
//! | [`ProcessCollector`] | `process_*` metrics as client_golang names them |
//!
//! The core pulls in no HTTP stack or async runtime. Encoding goes through
//! [`ember_expfmt`], the one writer of both formats in Ember. Serving and pushing are
//! opt-in features:
//!
//! | feature | module | what it adds |
//! |---|---|---|
//! | `tiny-http` | `serve` | `MetricsServer`: a blocking `/metrics` server on a background thread |
//! | `hyper` | `hyper` | `metrics_response`: a scrape response for hyper 1.x and axum handlers |
//! | `push` | `push` | `Pusher`: push to a Pushgateway (`PUT`, `POST`, `DELETE`) |
//!
//! Each negotiates the format (text 0.0.4 or OpenMetrics) and gzip as Prometheus asks.
//!
//! ```
//! use ember::{Counter, Family, Histogram, LabelSet, LabelValue, Registry};
//! use ember_expfmt::Format;
//!
//! #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
//! enum Method { GET, POST }
//!
//! #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
//! struct Route { method: Method, status: u16 }
//!
//! let registry = Registry::new();
//! let requests: Family<Route, Counter> = Family::new();
//! registry.register("http_requests", "Requests served.", requests.clone()).unwrap();
//! let latency = Histogram::new([0.1, 0.5]).unwrap();
//! registry
//!     .register_with_unit("http_request_duration", "Latency.", "seconds", latency.clone())
//!     .unwrap();
//!
//! requests.get_or_create(&Route { method: Method::GET, status: 200 }).inc();
//! latency.observe(0.2);
//!
//! assert_eq!(
//!     registry.encode_to_string(Format::Text),
//!     "# HELP http_request_duration_seconds Latency.\n\
//!      ## TYPE http_request_duration_seconds histogram\n\
//!      http_request_duration_seconds_bucket{le=\"0.1\"} 0\n\
//!      http_request_duration_seconds_bucket{le=\"0.5\"} 1\n\
//!      http_request_duration_seconds_bucket{le=\"+Inf\"} 1\n\
//!      http_request_duration_seconds_count 1\n\
//!      http_request_duration_seconds_sum 0.2\n\
//!      ## HELP http_requests_total Requests served.\n\
//!      ## TYPE http_requests_total counter\n\
//!      http_requests_total{method=\"GET\",status=\"200\"} 1\n"
//! );
//! ```

mod cells;
mod collector;
mod counter;
mod discovery;
mod error;
mod family;
mod function_calls;
mod gauge;
mod histogram;
mod index;
mod info;
mod labels;
mod metric;
mod metrics_struct;
mod process;
mod registry;
mod segments;
mod stateset;
mod summary;

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "push")]
pub mod push;
#[cfg(any(feature = "tiny-http", feature = "hyper"))]
mod scrape;
#[cfg(feature = "tiny-http")]
pub mod serve;

pub use collector::Collector;
pub use counter::{Counter, FloatCounter};
pub use ember_macros::{LabelSet, LabelValue, Metrics, metric};
pub use error::Error;
pub use family::{Family, FamilyMember, OVERFLOW_LABEL_VALUE};
pub use function_calls::{FUNCTION_CALLS_BUCKETS, init_function_call};
pub use gauge::{FloatGauge, Gauge, InflightGuard};
pub use histogram::{
    DEFAULT_BUCKETS, Histogram, HistogramTimer, exponential_buckets, exponential_buckets_range,
    linear_buckets,
};
pub use info::Info;
pub use labels::{LabelSet, LabelValue, StaticLabelSet};
pub use metric::EncodeMetric;
pub use metrics_struct::RegisterMetrics;
pub use process::ProcessCollector;
pub use registry::{Registry, default_registry};
pub use stateset::StateSet;
pub use summary::{Summary, SummaryBuilder, SummaryError, SummarySnapshot, SummaryTimer};

/// Re-export of the exposition crate, so users need one dependency.
pub use ember_expfmt as expfmt;

/// What `#[metric]` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::discovery::{record, record_len};
    pub use crate::function_calls::{CallGuard, CallSite, Instrumented, IsErr, set_build_info};
    pub use crate::metrics_struct::{checked_histogram, prefixed};
}

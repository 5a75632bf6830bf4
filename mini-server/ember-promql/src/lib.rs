//! A PromQL engine that answers as Prometheus 2.42 does.
//!
//! Queries are parsed with the `promql-parser` crate and evaluated here over any store
//! that implements [`Queryable`]; [`MemStorage`] is an in-memory one. Evaluation
//! follows Prometheus 2.42's engine: 5-minute lookback with staleness markers, `offset`
//! and `@`, subqueries with step alignment, every 2.42 function and aggregation, vector
//! matching with Prometheus's error messages, and limits on samples and time with
//! Prometheus's error types.
//!
//! ```
//! use ember_promql::{Engine, Labels, MemStorage, QueryValue};
//!
//! let mut store = MemStorage::new();
//! let s = Labels::from_pairs(&[("__name__", "http_requests_total"), ("job", "api")]);
//! for i in 0..=10 {
//!     store.append(&s, i * 15_000, (i * 30) as f64); // +2/s, every 15 s
//! }
//! let engine = Engine::default();
//! let v = engine
//!     .instant_query(&store, "rate(http_requests_total[1m])", 150_000)
//!     .unwrap();
//! let QueryValue::Vector(v) = v else { panic!("a vector") };
//! assert_eq!(v[0].labels.to_string(), r#"{job="api"}"#);
//! assert!((v[0].v - 2.0).abs() < 1e-9);
//! ```
//!
//! | module | what |
//! |---|---|
//! | `engine` | [`Engine`], options, the step-wise evaluator, selectors, subqueries |
//! | `functions`, `range_functions` | the 70 functions of Prometheus 2.42 |
//! | `aggregate` | aggregation operators |
//! | `binary` | binary operators and vector matching |
//! | `quantile` | `quantile` and `histogram_quantile` maths |
//! | `labels`, `storage` | [`Labels`], matchers, the [`Queryable`] trait, [`MemStorage`], staleness markers |
//! | `tsdb` (feature `tsdb`) | [`Queryable`] for every `ember_tsdb::Querier`: blocks, the head, merges |
//! | `format`, `json` | floats, timestamps and result bodies as Prometheus's HTTP API writes them |

mod aggregate;
mod binary;
mod engine;
mod error;
mod format;
mod functions;
mod json;
mod labels;
mod quantile;
mod range_functions;
mod selector;
mod storage;
mod strings;
#[cfg(feature = "tsdb")]
mod tsdb;
mod value;

pub use engine::{CancelToken, Engine, EngineOptions};
pub use error::{Error, Result};
pub use format::{format_api_timestamp, format_api_value, format_go_float, format_go_g};
pub use json::{error_json, result_json, write_json_string};
pub use labels::{Label, LabelMatcher, Labels, METRIC_NAME, MatchOp};
/// The parser this engine evaluates the AST of (for [`Engine::exec_expr`]).
pub use promql_parser;
pub use selector::{format_query, parse_metric_selector};
pub use storage::{
    MemStorage, Queryable, STALE_NAN, STALE_NAN_BITS, Sample, SelectedSeries, is_stale_nan,
};
pub use value::{InstantSample, Point, QueryValue, Series};

//! Exposition formats for Prometheus-style metrics: the one parser and writer in Ember.
//!
//! | piece | what |
//! |---|---|
//! | [`MetricFamily`], [`Metric`], [`MetricValue`] | the structured data model writers render |
//! | [`Sample`], [`ParsedFamily`] | the flat model parsers return, one sample per line |
//! | [`Encoder`] | streaming writer for the text format 0.0.4 and OpenMetrics 1.0 |
//! | [`parse_text`], [`parse_openmetrics`] | parsers: lenient as Prometheus for 0.0.4, strict for OpenMetrics |
//! | [`TextParser`], [`OpenMetricsParser`], [`Entry`] | the same parsers streaming borrowed entries, for scrapers |
//! | [`negotiate`], [`accepts_gzip`], [`gzip`] | content negotiation for `/metrics` handlers |
//! | [`float`] | floats spelled as Prometheus's Go writers spell them |
//!
//! ```
//! use ember_expfmt::{negotiate, parse_openmetrics, Encoder, MetricType};
//!
//! let n = negotiate(Some("application/openmetrics-text;version=1.0.0"));
//! let mut enc = Encoder::new(n.format);
//! let mut fam = enc.family("jobs", "Jobs done.", MetricType::Counter, None);
//! fam.sample("_total").label("queue", "mail").value(3u64);
//! let body = enc.finish();
//! assert_eq!(
//!     std::str::from_utf8(&body).unwrap(),
//!     "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total{queue=\"mail\"} 3\n# EOF\n"
//! );
//! let families = parse_openmetrics(&body).unwrap();
//! assert_eq!(families[0].samples[0].value, 3.0);
//! ```

mod encoder;
mod entry;
mod error;
mod family_builder;
pub mod float;
mod format;
mod lexer;
mod model;
mod number;
mod openmetrics_parser;
mod openmetrics_rules;
mod text_parser;

pub use encoder::{Encoder, FamilyEncoder, Number, SampleEncoder, render_labels};
pub use entry::{Entry, ExemplarRef, LabelIter, Labels, SampleRef};
pub use error::Error;
pub use format::{
    Format, MediaRange, Negotiated, OPENMETRICS_001_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_2_ACCEPT, TEXT_CONTENT_TYPE, accepts_gzip, gzip, negotiate, parse_accept,
};
pub use model::{
    Bucket, Exemplar, Label, Metric, MetricFamily, MetricType, MetricValue, ParsedFamily, Quantile,
    Sample,
};
pub use openmetrics_parser::{OpenMetricsParser, parse_openmetrics};
pub use text_parser::{TextParser, parse_text};

/// Parses an exposition body in `format`.
///
/// ```
/// use ember_expfmt::{parse, Format};
/// let fams = parse(b"up 1\n", Format::Text).unwrap();
/// assert_eq!(fams[0].samples[0].name, "up");
/// ```
pub fn parse(input: &[u8], format: Format) -> Result<Vec<ParsedFamily>, Error> {
    match format {
        Format::Text => parse_text(input),
        Format::OpenMetrics => parse_openmetrics(input),
    }
}

//! Metric selectors as Prometheus's `parser.ParseMetricSelector` reads them (the
//! `match[]` parameters of the HTTP API), and queries pretty-printed as
//! `/api/v1/format_query` answers.

use promql_parser::parser::{self, Expr};

use crate::engine::matchers_of;
use crate::error::{Error, Result};
use crate::labels::LabelMatcher;

/// Parses `s` as one metric selector (`name{label="v", ...}`, no offset, `@`, range or
/// other expression around it) into its matchers, the metric name as an `__name__`
/// matcher first. String literals are unquoted as Prometheus does.
///
/// ```
/// use ember_promql::{parse_metric_selector, MatchOp};
/// let m = parse_metric_selector(r#"up{job=~"a|b"}"#).unwrap();
/// assert_eq!((m[0].name.as_str(), m[0].value.as_str()), ("__name__", "up"));
/// assert_eq!(m[1].op, MatchOp::Regex);
/// assert!(parse_metric_selector("up + 1").is_err());
/// assert!(parse_metric_selector("up[5m]").is_err());
/// ```
pub fn parse_metric_selector(s: &str) -> Result<Vec<LabelMatcher>> {
    let (text, literals) = crate::strings::protect_strings(s);
    let mut expr = parser::parse(&text).map_err(Error::BadData)?;
    crate::strings::restore_strings(&mut expr, &literals);
    match &expr {
        Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => matchers_of(vs),
        _ => Err(Error::BadData(format!(
            "1:1: parse error: unexpected expression {s:?}: a metric selector was expected"
        ))),
    }
}

/// `query` parsed and printed back as Prometheus's `/api/v1/format_query` does (its
/// pretty printer, lines of at most 100 characters).
///
/// ```
/// assert_eq!(ember_promql::format_query("sum(rate(x[5m]))by(job)").unwrap(), "sum by (job) (rate(x[5m]))");
/// ```
pub fn format_query(query: &str) -> Result<String> {
    let expr = parser::parse(query).map_err(Error::BadData)?;
    Ok(expr.prettify())
}

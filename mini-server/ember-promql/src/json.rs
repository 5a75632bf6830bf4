//! JSON bodies of the Prometheus HTTP API for query results and errors.

use std::fmt::Write as _;

use crate::error::Error;
use crate::format::{format_api_timestamp, format_api_value};
use crate::labels::Labels;
use crate::value::{Point, QueryValue};

/// Writes `s` as a JSON string the way Go's `encoding/json` does (HTML characters and
/// U+2028/U+2029 escaped), as every Prometheus API body spells its strings.
///
/// ```
/// let mut out = String::new();
/// ember_promql::write_json_string(&mut out, "a<b\n");
/// assert_eq!(out, r#""a\u003cb\n""#);
/// ```
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_metric(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, lb) in l.as_slice().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, &lb.name);
        out.push(':');
        write_json_string(out, &lb.value);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    out.push_str(&format_api_timestamp(t));
    out.push_str(",\"");
    out.push_str(&format_api_value(v));
    out.push_str("\"]");
}

/// The `data` object of a successful `/api/v1/query` or `/api/v1/query_range` answer:
/// `{"resultType":"vector","result":[...]}`, formatted as Prometheus formats it.
///
/// ```
/// use ember_promql::{result_json, InstantSample, Labels, QueryValue};
/// let v = QueryValue::Vector(vec![InstantSample {
///     labels: Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
///     t: 1_500,
///     v: 1.0,
/// }]);
/// assert_eq!(
///     result_json(&v),
///     r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1.500,"1"]}]}"#
/// );
/// ```
pub fn result_json(v: &QueryValue) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"resultType\":\"");
    out.push_str(v.result_type());
    out.push_str("\",\"result\":");
    match v {
        QueryValue::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_metric(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_metric(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, Point { t, v }) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryValue::Scalar { t, v } => write_point(&mut out, *t, *v),
        QueryValue::String { t, v } => {
            out.push('[');
            out.push_str(&format_api_timestamp(*t));
            out.push(',');
            write_json_string(&mut out, v);
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// The body of a failed query: `{"status":"error","errorType":"...","error":"..."}`.
///
/// ```
/// use ember_promql::{error_json, Error};
/// assert_eq!(
///     error_json(&Error::Timeout("query execution")),
///     r#"{"status":"error","errorType":"timeout","error":"query timed out in query execution"}"#
/// );
/// ```
pub fn error_json(e: &Error) -> String {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":\"");
    out.push_str(e.error_type());
    out.push_str("\",\"error\":");
    write_json_string(&mut out, &e.to_string());
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Series;

    #[test]
    fn matrix_and_escaping() {
        let m = QueryValue::Matrix(vec![Series {
            labels: Labels::from_pairs(&[("a", "<\"x\">\n")]),
            points: vec![Point { t: 0, v: f64::NAN }, Point { t: 60_000, v: 2.5 }],
        }]);
        assert_eq!(
            result_json(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"\u003c\"x\"\u003e\n"},"values":[[0,"NaN"],[60,"2.5"]]}]}"#
        );
        let s = QueryValue::String {
            t: 1,
            v: "hi".into(),
        };
        assert_eq!(
            result_json(&s),
            r#"{"resultType":"string","result":[0.001,"hi"]}"#
        );
    }
}

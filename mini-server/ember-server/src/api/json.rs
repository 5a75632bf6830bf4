//! JSON as Prometheus's API writes it (Go's `encoding/json` escaping, its envelope).

use std::fmt::Write as _;

/// Appends `s` as a JSON string escaped as Go's `encoding/json` escapes it (the engine's
/// writer, so query results and the other endpoints escape alike).
pub(crate) fn string(out: &mut String, s: &str) {
    ember_promql::write_json_string(out, s);
}

/// Appends a JSON array of strings.
pub(crate) fn string_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, s);
    }
    out.push(']');
}

/// Appends a JSON object of string pairs, in the order given (callers sort by key, as
/// Go marshals maps and label sets).
pub(crate) fn string_map<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    out.push('{');
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        string(out, v);
    }
    out.push('}');
}

/// A float as Go's `encoding/json` writes a `float64` field.
pub(crate) fn float(out: &mut String, v: f64) {
    if !v.is_finite() {
        // Go refuses to marshal these; Prometheus never puts them in float fields.
        out.push('0');
        return;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // 'e' format with the shortest digits; Go writes e-07 as e-7 and keeps one
        // exponent digit.
        let s = format!("{v:e}");
        out.push_str(&s.replace("e", "e+").replace("e+-", "e-"));
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A successful answer: `{"status":"success","data":<data>[,"warnings":[...]]}`.
pub(crate) fn success(data: &str, warnings: &[String]) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":");
        string_array(&mut out, warnings.iter().map(String::as_str));
    }
    out.push('}');
    out
}

/// A failed answer: `{"status":"error","errorType":"...","error":"..."}`.
pub(crate) fn error(error_type: &str, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 64);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    string(&mut out, error_type);
    out.push_str(",\"error\":");
    string(&mut out, msg);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_marshals_them() {
        let f = |v| {
            let mut s = String::new();
            float(&mut s, v);
            s
        };
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(123_456_789.0), "123456789");
    }

    #[test]
    fn envelope() {
        assert_eq!(success("[]", &[]), r#"{"status":"success","data":[]}"#);
        assert_eq!(
            success("1", &["w".into()]),
            r#"{"status":"success","data":1,"warnings":["w"]}"#
        );
        assert_eq!(
            error("bad_data", "a <b>"),
            r#"{"status":"error","errorType":"bad_data","error":"a \u003cb\u003e"}"#
        );
    }
}

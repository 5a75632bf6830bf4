//! Reading the Prometheus HTTP API's JSON: the envelope, instant and range results.

use serde_json::{Map, Value};

/// One element of an instant vector: labels and value.
pub type VectorSample = (Map<String, Value>, f64);

/// One series of a range result (a matrix): labels and `(timestamp, value)` points.
pub type RangeSeries = (Map<String, Value>, Vec<(f64, f64)>);

/// Percent-encodes a query string value (everything but RFC 3986's unreserved bytes).
///
/// ```
/// assert_eq!(ember_e2e::url_encode("up{job=\"a b\"}"), "up%7Bjob%3D%22a%20b%22%7D");
/// ```
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `data` of a successful answer, or an error quoting the answer.
pub fn success_data(status: u16, body: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not JSON ({e}): HTTP {status} {}",
            String::from_utf8_lossy(body)
        )
    })?;
    if status != 200 || v["status"] != "success" {
        return Err(format!("HTTP {status}: {v}"));
    }
    Ok(v["data"].clone())
}

/// A sample value as the API writes it: `[<unix seconds>, "<value>"]`.
fn point(pair: &Value) -> (f64, f64) {
    let t = pair[0].as_f64().unwrap_or(f64::NAN);
    let v = pair[1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    (t, v)
}

/// The samples of an instant query's `data` (a scalar comes back as one sample with no
/// labels).
pub fn instant_result(data: &Value) -> Result<Vec<VectorSample>, String> {
    match data["resultType"].as_str() {
        Some("vector") => Ok(data["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let labels = e["metric"].as_object().cloned().unwrap_or_default();
                        (labels, point(&e["value"]).1)
                    })
                    .collect()
            })
            .unwrap_or_default()),
        Some("scalar") => Ok(vec![(Map::new(), point(&data["result"]).1)]),
        other => Err(format!("unexpected result type {other:?} in {data}")),
    }
}

/// The series of a range query's `data` (a matrix).
pub fn range_result(data: &Value) -> Result<Vec<RangeSeries>, String> {
    if data["resultType"] != "matrix" {
        return Err(format!("expected a matrix, got {data}"));
    }
    Ok(data["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let labels = e["metric"].as_object().cloned().unwrap_or_default();
                    let points = e["values"]
                        .as_array()
                        .map(|ps| ps.iter().map(point).collect())
                        .unwrap_or_default();
                    (labels, points)
                })
                .collect()
        })
        .unwrap_or_default())
}

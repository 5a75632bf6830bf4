//! Request parameters as Prometheus 2.42's API reads them: form values (URL query and
//! url-encoded body), times (`parseTime`), durations (`parseDuration`) and `match[]`
//! selectors (`parseMatchersParam`).

use ember_promql::{LabelMatcher, MatchOp};

use crate::duration::PromDuration;

/// Nanoseconds per millisecond / second.
const NS_PER_MS: i128 = 1_000_000;
const NS_PER_S: i128 = 1_000_000_000;
/// Seconds between 0001-01-01 and 1970-01-01 plus one, as Prometheus's bounds use.
const UNIX_TO_INTERNAL: i64 = 62_135_596_801;

/// The default `start` of `/labels`, `/series`, ...: Prometheus's `minTime`, in ms.
pub(crate) const MIN_TIME_MS: i64 = (i64::MIN / 1000 + UNIX_TO_INTERNAL) * 1000;
/// The default `end`: Prometheus's `maxTime`, in ms.
pub(crate) const MAX_TIME_MS: i64 = (i64::MAX / 1000 - UNIX_TO_INTERNAL) * 1000 + 999;

/// The decoded form values of a request, in Go's `r.Form` order: body values before
/// URL query values.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decodes the body (when given) and the query string.
    pub(crate) fn parse(query: &str, body: &[u8]) -> Self {
        let mut pairs = Vec::new();
        decode_into(&String::from_utf8_lossy(body), &mut pairs);
        decode_into(query, &mut pairs);
        Self { pairs }
    }

    /// Go's `r.FormValue`: the first value, empty if none.
    pub(crate) fn value(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn values(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Go's `url.ParseQuery`: pairs with a `;` or a bad escape are skipped.
fn decode_into(s: &str, out: &mut Vec<(String, String)>) {
    for part in s.split('&') {
        if part.is_empty() || part.contains(';') {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
            out.push((k, v));
        }
    }
}

/// Percent- and `+`-decoding of one query component; `None` on a bad escape.
pub(crate) fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = b.get(i + 1).copied().and_then(hex)?;
                let lo = b.get(i + 2).copied().and_then(hex)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A point in time with Go's nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time {
    /// Nanoseconds since the epoch.
    pub(crate) ns: i128,
}

impl Time {
    /// From milliseconds.
    pub(crate) fn from_ms(ms: i64) -> Self {
        Self {
            ns: i128::from(ms) * NS_PER_MS,
        }
    }

    /// Milliseconds as Prometheus's `timestamp.FromTime` gives them (for `/labels`,
    /// `/series`, ...): `t.Unix()*1000 + t.Nanosecond()/1e6`, wrapping as Go's int64
    /// arithmetic does.
    pub(crate) fn ms(self) -> i64 {
        let sec = self.ns.div_euclid(NS_PER_S) as i64; // wraps, as Go's does
        let ms_in_sec = (self.ns.rem_euclid(NS_PER_S) / NS_PER_MS) as i64;
        sec.wrapping_mul(1000).wrapping_add(ms_in_sec)
    }

    /// Milliseconds as Prometheus's engine takes a query time (`t.UnixNano()/1e6`):
    /// nanoseconds wrapped into an int64, then truncated toward zero. So every time
    /// lands within ±292 years of 1970, as in Prometheus, and the engine's arithmetic
    /// cannot overflow on absurd inputs.
    pub(crate) fn engine_ms(self) -> i64 {
        (self.ns as i64) / (NS_PER_MS as i64)
    }
}

/// Prometheus's `parseTime`: unix seconds as a float (rounded to the millisecond) or
/// RFC 3339 with optional fractional seconds.
pub(crate) fn parse_time(s: &str) -> Result<Time, String> {
    if let Some(t) = parse_go_float(s) {
        // Go: s, ns := math.Modf(t); ns = math.Round(ns*1000)/1000;
        // time.Unix(int64(s), int64(ns*float64(time.Second))).
        let whole = t.trunc();
        let frac = ((t - whole) * 1000.0).round() / 1000.0;
        let sec = go_f64_to_i64(whole);
        let nsec = go_f64_to_i64(frac * 1e9);
        return Ok(Time {
            ns: i128::from(sec) * NS_PER_S + i128::from(nsec),
        });
    }
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    // Go's time parser takes 4-digit years only; Prometheus accepts its own bounds as
    // formatted by Go (clients send them for "no limit").
    if s == format_rfc3339_ms(MIN_TIME_MS) {
        return Ok(Time::from_ms(MIN_TIME_MS));
    }
    if s.strip_suffix(".999999999Z")
        .is_some_and(|p| format!("{p}Z") == format_rfc3339_ms(MAX_TIME_MS - 999))
    {
        return Ok(Time {
            ns: i128::from(MAX_TIME_MS - 999) * NS_PER_MS + 999_999_999,
        });
    }
    Err(format!("cannot parse {} to a valid timestamp", go_quote(s)))
}

/// Prometheus's `parseTimeParam`: `default` when empty, the error naming the parameter.
pub(crate) fn parse_time_param(form: &Form, name: &str, default: Time) -> Result<Time, String> {
    let v = form.value(name);
    if v.is_empty() {
        return Ok(default);
    }
    parse_time(v).map_err(|e| format!("Invalid time value for '{name}': {e}"))
}

/// Prometheus's `parseDuration`: float seconds or a Prometheus duration (`5m`), in
/// nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(d) = parse_go_float(s) {
        let ts = d * 1e9;
        if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        return Ok(go_f64_to_i64(ts));
    }
    if let Ok(d) = s.parse::<PromDuration>() {
        return Ok(d.as_millis() as i64 * 1_000_000);
    }
    Err(format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// Parser errors that promql-parser words as Prometheus's Go parser does and that Go
/// reports at the end of the input, where their `line:col:` position is known.
const END_OF_INPUT_ERRORS: [&str; 3] = [
    "unclosed left parenthesis",
    "unexpected end of input inside braces",
    "no expression found in input",
];

/// A PromQL parse error of `query` as Prometheus words it: `line:col: parse error: msg`
/// for the errors Go reports at the end of the input (see [`END_OF_INPUT_ERRORS`]);
/// other messages are kept as promql-parser gives them (it has no positions).
pub(crate) fn go_parse_error(query: &str, msg: String) -> String {
    if !END_OF_INPUT_ERRORS.contains(&msg.as_str()) {
        return msg;
    }
    // Go's ParseErr: line counts the newlines before the position, col is the byte
    // offset after the last one (1-based).
    let pos = query.len();
    let line = 1 + query.matches('\n').count();
    let last_break = query.rfind('\n').map_or(-1, |i| i as i64);
    let col = pos as i64 - last_break;
    format!("{line}:{col}: parse error: {msg}")
}

const EMPTY_MATCHERS: &str = "match[] must contain at least one non-empty matcher";

/// Prometheus's `parseMatchersParam`: each `match[]` a metric selector, each with at
/// least one matcher that does not match the empty string.
pub(crate) fn parse_matchers(values: &[&str]) -> Result<Vec<Vec<ember_tsdb::Matcher>>, String> {
    let mut sets = Vec::with_capacity(values.len());
    for s in values {
        let ms = ember_promql::parse_metric_selector(s).map_err(|e| {
            // Prometheus's selector parser leaves this check to the API, which words
            // it so; promql-parser makes it while parsing.
            let msg = e.to_string();
            if msg == "vector selector must contain at least one non-empty matcher" {
                EMPTY_MATCHERS.to_owned()
            } else {
                go_parse_error(s, msg)
            }
        })?;
        sets.push(ms);
    }
    for set in &sets {
        if !set.iter().any(|m| !m.matches("")) {
            return Err(EMPTY_MATCHERS.to_owned());
        }
    }
    sets.iter()
        .map(|set| set.iter().map(to_tsdb_matcher).collect())
        .collect()
}

fn to_tsdb_matcher(m: &LabelMatcher) -> Result<ember_tsdb::Matcher, String> {
    use ember_tsdb::MatchOp as T;
    let op = match m.op {
        MatchOp::Equal => T::Equal,
        MatchOp::NotEqual => T::NotEqual,
        MatchOp::Regex => T::Regex,
        MatchOp::NotRegex => T::NotRegex,
    };
    ember_tsdb::Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(|e| e.to_string())
}

/// Go's `strconv.ParseFloat` for the forms clients send: decimal and exponent forms,
/// `Inf`/`Infinity`/`NaN` in any case with an optional sign.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if !matches!(lower.as_str(), "inf" | "infinity" | "nan")
        && !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's float to int64 conversion as amd64 does it: out of range and NaN give
/// `math.MinInt64`.
fn go_f64_to_i64(v: f64) -> i64 {
    if v.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Go's `%q` for the strings of these messages.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Parse(time.RFC3339Nano, s)`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`.
fn parse_rfc3339(s: &str) -> Option<Time> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (k, d) in b[i + 1..i + 1 + digits].iter().enumerate() {
            if k < 9 {
                nanos = nanos * 10 + i64::from(d - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        i += 1 + digits;
    }
    let offset = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *c == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(Time {
        ns: i128::from(secs) * NS_PER_S + i128::from(nanos),
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time in ms as Go's `time.Time` marshals to JSON in UTC (RFC 3339, nanoseconds with
/// trailing zeros removed).
pub(crate) fn format_rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if millis != 0 {
        let frac = format!("{millis:03}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_time(s).unwrap().ms()
    }

    #[test]
    fn times_as_prometheus_parses_them() {
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("1700000000"), 1_700_000_000_000);
        assert_eq!(ms("1700000000.123"), 1_700_000_000_123);
        assert_eq!(ms("1700000000.1234"), 1_700_000_000_123);
        assert_eq!(ms("1.0005"), 1_000); // 1.000499999... as a float, as in Go
        assert_eq!(ms("1.0006"), 1_001);
        assert_eq!(ms("-1.5"), -1_500);
        assert_eq!(ms("1e3"), 1_000_000);
        assert_eq!(ms("2023-11-14T22:13:20Z"), 1_700_000_000_000);
        assert_eq!(ms("2023-11-14T22:13:20.5Z"), 1_700_000_000_500);
        assert_eq!(ms("2023-11-14T23:13:20.123456789+01:00"), 1_700_000_000_123);
        assert_eq!(ms("1970-01-01T00:00:00-00:30"), 1_800_000);
        for bad in [
            "",
            "abc",
            "2023-11-14",
            "2023-11-14 22:13:20Z",
            "2023-02-30T00:00:00Z",
            "1_000",
            "0x10",
        ] {
            assert_eq!(
                parse_time(bad).unwrap_err(),
                format!("cannot parse {} to a valid timestamp", go_quote(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn query_times_wrap_as_go_does() {
        let e = |s: &str| parse_time(s).unwrap().engine_ms();
        // Values observed from Prometheus 2.42 (`time()` at these `time` parameters).
        assert_eq!(e("-9.3e18"), 0);
        assert_eq!(e("1e300"), 0);
        assert_eq!(e("NaN"), -9_223_372_036_854);
        assert_eq!(e("1700000000.5"), 1_700_000_000_500);
        assert_eq!(e("-1.5"), -1_500);
        // Truncated toward zero before 1970, where `ms` floors.
        let t = parse_time("1969-12-31T23:59:59.9995Z").unwrap();
        assert_eq!((t.engine_ms(), t.ms()), (0, -1));
    }

    #[test]
    fn default_bounds_are_prometheus_min_and_max_time() {
        assert_eq!(MIN_TIME_MS, -9_223_309_901_257_974_000);
        assert_eq!(MAX_TIME_MS, 9_223_309_901_257_974_999);
        // As Go formats them (RFC3339Nano), and as Prometheus parses them back.
        assert_eq!(format_rfc3339_ms(MIN_TIME_MS), "-292273086-05-16T16:47:06Z");
        assert_eq!(ms("-292273086-05-16T16:47:06Z"), MIN_TIME_MS);
        assert_eq!(ms("292277025-08-18T07:12:54.999999999Z"), MAX_TIME_MS);
    }

    #[test]
    fn durations_as_prometheus_parses_them() {
        assert_eq!(parse_duration("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("-3"), Ok(-3_000_000_000));
        assert_eq!(
            parse_duration("1.5m").unwrap_err(),
            r#"cannot parse "1.5m" to a valid duration"#
        );
        assert_eq!(
            parse_duration("1e10").unwrap_err(),
            r#"cannot parse "1e10" to a valid duration. It overflows int64"#
        );
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn form_values_body_first_then_query() {
        let f = Form::parse(
            "a=1&b=x+y&match[]=up&bad=%zz",
            b"a=2&match%5B%5D=%7Bjob%3D%22x%22%7D",
        );
        assert_eq!(f.value("a"), "2");
        assert_eq!(f.value("b"), "x y");
        assert_eq!(f.values("match[]"), [r#"{job="x"}"#, "up"]);
        assert_eq!(f.value("bad"), "");
        assert_eq!(f.value("missing"), "");
    }

    #[test]
    fn matchers_need_a_non_empty_one() {
        assert_eq!(parse_matchers(&[r#"up{job="a"}"#]).unwrap()[0].len(), 2);
        assert_eq!(
            parse_matchers(&[r#"{job=~".*"}"#]).unwrap_err(),
            "match[] must contain at least one non-empty matcher"
        );
        assert!(parse_matchers(&["up +"]).is_err());
        assert!(parse_matchers(&["rate(up[5m])"]).is_err());
    }

    #[test]
    fn parse_errors_at_the_end_get_go_positions() {
        let f = |q: &str, m: &str| go_parse_error(q, m.to_owned());
        assert_eq!(
            f("sum(", "unclosed left parenthesis"),
            "1:5: parse error: unclosed left parenthesis"
        );
        assert_eq!(
            f("", "no expression found in input"),
            "1:1: parse error: no expression found in input"
        );
        assert_eq!(
            f("sum(\n  up{", "unexpected end of input inside braces"),
            "2:6: parse error: unexpected end of input inside braces"
        );
        assert_eq!(f("x", "something else"), "something else");
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(
            format_rfc3339_ms(1_700_000_000_120),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}

//! Float formatting as Prometheus writes values (Go's `strconv.FormatFloat`).

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus's spelling of the
/// specials: the shortest decimal that round-trips, never an exponent; `NaN`, `+Inf`,
/// `-Inf`. This is how the HTTP API writes sample values and how `count_values` labels.
///
/// ```
/// use ember_promql::format_go_float;
/// assert_eq!(format_go_float(1.5), "1.5");
/// assert_eq!(format_go_float(1e21), "1000000000000000000000");
/// assert_eq!(format_go_float(f64::INFINITY), "+Inf");
/// assert_eq!(format_go_float(f64::NAN), "NaN");
/// ```
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

/// Go's `%v`/`%g` for a float64: shortest representation, exponent when the exponent is
/// below -4 or at least 21 (`1e+21`, `1e-05`).
///
/// ```
/// use ember_promql::format_go_g;
/// assert_eq!(format_go_g(1e21), "1e+21");
/// assert_eq!(format_go_g(0.5), "0.5");
/// assert_eq!(format_go_g(f64::INFINITY), "+Inf");
/// ```
pub fn format_go_g(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format_go_float(v);
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..21).contains(&exp) {
        format_go_e(v)
    } else {
        format!("{v}")
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, two-digit signed
/// exponent (`1e+21`, `1.5e-07`).
fn format_go_e(v: f64) -> String {
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            let pad = if digits.len() < 2 { "0" } else { "" };
            format!("{m}e{sign}{pad}{digits}")
        }
        None => s,
    }
}

/// A sample value as Prometheus's HTTP API writes it (`jsonutil.MarshalValue`): Go's
/// `'f'` format with the shortest digits, switching to `'e'` below 1e-6 and from 1e21 on
/// in magnitude; `NaN`, `+Inf`, `-Inf`.
///
/// ```
/// use ember_promql::format_api_value;
/// assert_eq!(format_api_value(0.25), "0.25");
/// assert_eq!(format_api_value(1e21), "1e+21");
/// assert_eq!(format_api_value(1e-7), "1e-07");
/// assert_eq!(format_api_value(123456789.0), "123456789");
/// assert_eq!(format_api_value(f64::NEG_INFINITY), "-Inf");
/// ```
pub fn format_api_value(v: f64) -> String {
    if !v.is_finite() {
        return format_go_float(v);
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        format_go_e(v)
    } else {
        format!("{v}")
    }
}

/// A timestamp (milliseconds) as the HTTP API writes it: seconds with three decimals
/// when there is a fraction (`jsonutil.MarshalTimestamp`).
///
/// ```
/// use ember_promql::format_api_timestamp;
/// assert_eq!(format_api_timestamp(1_435_781_451_781), "1435781451.781");
/// assert_eq!(format_api_timestamp(1_500), "1.500");
/// assert_eq!(format_api_timestamp(60_000), "60");
/// assert_eq!(format_api_timestamp(-1_005), "-1.005");
/// ```
pub fn format_api_timestamp(ms: i64) -> String {
    let neg = ms < 0;
    let t = ms.unsigned_abs();
    let (secs, frac) = (t / 1000, t % 1000);
    let sign = if neg { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:03}")
    }
}

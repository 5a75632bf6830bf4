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
    if !v.is_finite() {
        return format_go_float(v);
    }
    if v == 0.0 {
        return format!("{v}");
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..21).contains(&exp) {
        let s = format!("{v:e}");
        // Rust writes `1e21`, `1.5e-7`; Go writes `1e+21`, `1.5e-07`.
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                let digits = if digits.len() < 2 {
                    format!("0{digits}")
                } else {
                    digits.to_string()
                };
                format!("{m}e{sign}{digits}")
            }
            None => s,
        }
    } else {
        format!("{v}")
    }
}

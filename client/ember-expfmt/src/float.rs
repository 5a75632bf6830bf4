//! Float spelling as Prometheus's Go writers produce it.
//!
//! The text format uses Go's `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest digits
//! that round-trip, in exponent form when the decimal exponent is below -4 or at least 6
//! (`1e-05`, `0.005`, `123456`, `1.234567e+06`), plus `NaN`, `+Inf`, `-Inf`. OpenMetrics
//! uses the same digits but a value without `.` or `e` gains `.0` (`1.0`, `0.0`), which is
//! the canonical spelling OpenMetrics requires for `le` and `quantile` label values.

/// Appends `f` as the Prometheus text format spells it.
pub(crate) fn write_text(buf: &mut Vec<u8>, f: f64) {
    write_go(buf, f, false);
}

/// Appends `f` as OpenMetrics spells it.
pub(crate) fn write_openmetrics(buf: &mut Vec<u8>, f: f64) {
    write_go(buf, f, true);
}

/// `f` as the Prometheus text format spells it.
///
/// ```
/// use ember_expfmt::float;
/// assert_eq!(float::text(0.005), "0.005");
/// assert_eq!(float::text(1.0), "1");
/// assert_eq!(float::text(1e-5), "1e-05");
/// assert_eq!(float::text(1e6), "1e+06");
/// assert_eq!(float::text(f64::INFINITY), "+Inf");
/// ```
pub fn text(f: f64) -> String {
    let mut buf = Vec::with_capacity(24);
    write_text(&mut buf, f);
    into_string(buf)
}

/// `f` as OpenMetrics spells it (and as canonical `le`/`quantile` values).
///
/// ```
/// use ember_expfmt::float;
/// assert_eq!(float::openmetrics(1.0), "1.0");
/// assert_eq!(float::openmetrics(0.25), "0.25");
/// assert_eq!(float::openmetrics(1e-5), "1e-05");
/// assert_eq!(float::openmetrics(f64::NAN), "NaN");
/// ```
pub fn openmetrics(f: f64) -> String {
    let mut buf = Vec::with_capacity(24);
    write_openmetrics(&mut buf, f);
    into_string(buf)
}

fn into_string(buf: Vec<u8>) -> String {
    // Only ASCII digits, signs, '.', 'e' and the words NaN/Inf are ever written.
    String::from_utf8(buf).unwrap_or_default()
}

fn write_go(buf: &mut Vec<u8>, f: f64, om: bool) {
    if f.is_nan() {
        buf.extend_from_slice(b"NaN");
        return;
    }
    if f.is_infinite() {
        buf.extend_from_slice(if f > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if f == 0.0 {
        // Go's writers special-case zero, so -0 is written without its sign.
        buf.extend_from_slice(if om { b"0.0" } else { b"0" });
        return;
    }
    // Integers below 1e6 are written in plain form by both rules: take the fast path.
    // `as` saturates and truncates; comparing back avoids `fract()`, a libm call on
    // baseline x86-64.
    let i = f as i64;
    if i as f64 == f && f.abs() < 1e6 {
        let mut ib = itoa::Buffer::new();
        buf.extend_from_slice(ib.format(i).as_bytes());
        if om {
            buf.extend_from_slice(b".0");
        }
        return;
    }
    // Values with at most three decimals (millisecond timestamps such as `_created`,
    // prices, most gauges) take an integer path: below 2^50 the spacing of doubles is
    // far under 0.001, so when `m / 1000` rounds back to `f` exactly, the digits of `m`
    // without trailing zeros are the shortest digits that round-trip.
    let m = f * 1000.0;
    let mi = m as i64;
    if mi as f64 == m && mi.unsigned_abs() < 1 << 50 && m / 1000.0 == f {
        let mut ib = itoa::Buffer::new();
        let s = ib.format(mi.unsigned_abs()).as_bytes();
        let mut nd = s.len();
        while nd > 1 && s[nd - 1] == b'0' {
            nd -= 1;
        }
        write_digits(buf, f < 0.0, &s[..nd], s.len() as i32 - 3, om);
        return;
    }
    let mut rb = ryu::Buffer::new();
    let s = rb.format_finite(f).as_bytes();
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (mantissa, exp10) = match s.iter().position(|&c| c == b'e') {
        Some(i) => (&s[..i], parse_exp(&s[i + 1..])),
        None => (s, 0),
    };
    // Collect the significant digits and where the decimal point falls (value is
    // 0.DIGITS * 10^dp).
    let mut digits = [0u8; 32];
    let mut nd = 0usize;
    let mut dp: i32 = exp10;
    let mut seen_point = false;
    for &c in mantissa {
        if c == b'.' {
            seen_point = true;
            continue;
        }
        if nd == 0 && c == b'0' {
            if seen_point {
                dp -= 1;
            }
            continue;
        }
        if !seen_point {
            dp += 1;
        }
        if nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    write_digits(buf, neg, &digits[..nd], dp, om);
}

/// Writes `0.DIGITS * 10^dp` (digits without leading or trailing zeros) in Go's `'g'`
/// shortest form.
fn write_digits(buf: &mut Vec<u8>, neg: bool, digits: &[u8], dp: i32, om: bool) {
    let nd = digits.len();
    if neg {
        buf.push(b'-');
    }
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        buf.push(digits[0]);
        if nd > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.push(b'e');
        buf.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            buf.push(b'0');
        }
        let mut ib = itoa::Buffer::new();
        buf.extend_from_slice(ib.format(e).as_bytes());
        return;
    }
    if dp <= 0 {
        buf.extend_from_slice(b"0.");
        buf.extend(std::iter::repeat_n(b'0', (-dp) as usize));
        buf.extend_from_slice(digits);
    } else {
        let dp = dp as usize;
        if dp >= nd {
            buf.extend_from_slice(digits);
            buf.extend(std::iter::repeat_n(b'0', dp - nd));
            if om {
                buf.extend_from_slice(b".0");
            }
        } else {
            buf.extend_from_slice(&digits[..dp]);
            buf.push(b'.');
            buf.extend_from_slice(&digits[dp..]);
        }
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut e: i32 = 0;
    for &c in s {
        e = e * 10 + i32::from(c - b'0');
    }
    if neg { -e } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_strconv_g_shortest() {
        // Expected strings are what Go's strconv.FormatFloat(f, 'g', -1, 64) prints.
        let cases: &[(f64, &str)] = &[
            (0.005, "0.005"),
            (0.01, "0.01"),
            (0.025, "0.025"),
            (0.1, "0.1"),
            (0.25, "0.25"),
            (2.5, "2.5"),
            (10.0, "10"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.7e9, "1.7e+09"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (-1.5, "-1.5"),
            (-1e-7, "-1e-07"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456.7, "123456.7"),
            (1.0, "1"),
            (-0.0, "0"),
        ];
        for &(f, want) in cases {
            assert_eq!(text(f), want, "text({f:e})");
        }
    }

    #[test]
    fn openmetrics_adds_point_zero_only_to_plain_integers() {
        assert_eq!(openmetrics(1.0), "1.0");
        assert_eq!(openmetrics(0.0), "0.0");
        assert_eq!(openmetrics(-1.0), "-1.0");
        assert_eq!(openmetrics(10.0), "10.0");
        assert_eq!(openmetrics(1e6), "1e+06");
        assert_eq!(openmetrics(0.5), "0.5");
        assert_eq!(openmetrics(f64::NEG_INFINITY), "-Inf");
    }

    /// Whether `s` spells `f` with as few significant digits as Rust's `{:e}` (shortest
    /// round-trip) and parses back to `f`. The digits themselves may differ on an exact
    /// tie: -195649354051357.625 is `…762` here (ties to even, as Go's strconv and
    /// Python's repr) and `…763` in Rust's formatter; both round-trip.
    fn is_shortest(s: &str, f: f64) -> bool {
        let significant = |m: &str| {
            let d = m.split('e').next().unwrap_or("").replace(['.', '-'], "");
            d.trim_start_matches('0').trim_end_matches('0').len()
        };
        s.parse::<f64>().ok() == Some(f) && significant(s) == significant(&format!("{f:e}"))
    }

    #[test]
    fn exact_ties_round_to_even_as_go() {
        let f = f64::from_bits(14043980817843479476);
        assert_eq!(text(f), "-1.9564935405135762e+14");
        assert!(is_shortest(&text(f), f));
    }

    proptest::proptest! {
        #[test]
        fn millisecond_path_gives_shortest_digits(m in -(1i64 << 50)..(1i64 << 50)) {
            let f = m as f64 / 1000.0;
            proptest::prop_assume!(f != 0.0);
            proptest::prop_assert!(is_shortest(&text(f), f), "{} for {f:e}", text(f));
            proptest::prop_assert!(is_shortest(&openmetrics(f), f), "{}", openmetrics(f));
        }

        #[test]
        fn any_finite_float_round_trips_with_shortest_digits(bits in proptest::num::u64::ANY) {
            let f = f64::from_bits(bits);
            proptest::prop_assume!(f.is_finite() && f != 0.0);
            proptest::prop_assert!(is_shortest(&text(f), f), "{} for {f:e}", text(f));
        }
    }

    #[test]
    fn created_timestamps_take_the_millisecond_path() {
        assert_eq!(text(1795489449.914), "1.795489449914e+09");
        assert_eq!(openmetrics(1795489449.0), "1.795489449e+09");
        assert_eq!(text(-12.5), "-12.5");
        assert_eq!(openmetrics(0.001), "0.001");
        assert_eq!(text(123456.789), "123456.789");
    }

    #[test]
    fn round_trips_through_rust_parsing() {
        for f in [0.1, 1.0 / 3.0, 6.02214076e23, 1e-300, 2.5e-5, 98765.4321] {
            assert_eq!(text(f).parse::<f64>().unwrap(), f);
            assert_eq!(openmetrics(f).parse::<f64>().unwrap(), f);
        }
    }
}

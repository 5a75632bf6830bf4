//! Numbers as the two formats spell them.
//!
//! Text format values are read as Prometheus reads them: `strconv.ParseFloat` after
//! refusing `p`, `P` and `_`, which leaves decimal floats (`1`, `-1.5e3`, `.5`, `1.`) and
//! the words `inf`/`infinity` (with an optional sign) and `nan`, in any case. OpenMetrics'
//! `number` rule accepts exactly the same language (its ABNF strings are case-insensitive),
//! and its `realnumber` rule (timestamps) is the decimal part alone. Go reports a value too
//! large for a float64 as a range error and Prometheus refuses it; OpenMetrics requires
//! numbers to fit a float64, so both parsers refuse it too. Underflow rounds to zero or a
//! subnormal, as in Go.
//!
//! Every `NaN` is read as Prometheus's normal NaN (`0x7ff8000000000001`, what Go's
//! `ParseFloat` returns), never as the staleness marker.
//!
//! OpenMetrics timestamps are seconds; [`seconds_to_nanos`] converts them exactly from
//! their decimal digits, so `1.005` is 1,005,000,000 ns and not the 1,004,999,999 that
//! float arithmetic gives.

/// Bits of the NaN every parsed `NaN` becomes (Prometheus's `value.NormalNaN`).
pub(crate) const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not a number in the grammar.
    Syntax,
    /// A finite spelling whose value does not fit a float64.
    OutOfRange,
    /// NaN or an infinity where only a real number is allowed.
    NotReal,
}

impl NumberError {
    /// What to say in an error message.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            NumberError::Syntax => "not a number",
            NumberError::OutOfRange => "out of the range of a 64-bit float",
            NumberError::NotReal => "must be a real number, not NaN or an infinity",
        }
    }
}

/// Parses a value: a real number, `[+-]inf`, `[+-]infinity` or `nan` (any case).
pub(crate) fn parse_number(s: &[u8]) -> Result<f64, NumberError> {
    // What `plain_decimal` accepts is a real number: the common case first.
    if let Some(v) = plain_decimal(s) {
        return Ok(v);
    }
    if let Some(v) = special(s) {
        return Ok(v);
    }
    parse_real(s)
}

/// Parses a real number (no infinities, no NaN): `[+-] digits [. digits] [e [+-] digits]`
/// with at least one digit before the exponent.
pub(crate) fn parse_real(s: &[u8]) -> Result<f64, NumberError> {
    if !is_real_number(s) {
        return Err(match special(s) {
            Some(_) => NumberError::NotReal,
            None => NumberError::Syntax,
        });
    }
    if let Some(v) = plain_decimal(s) {
        return Ok(v);
    }
    let text = std::str::from_utf8(s).map_err(|_| NumberError::Syntax)?;
    let v: f64 = text.parse().map_err(|_| NumberError::Syntax)?;
    if v.is_infinite() {
        return Err(NumberError::OutOfRange);
    }
    Ok(v)
}

/// `[+-]?(inf|infinity)` or `nan`, ignoring case (Go's `special`).
fn special(s: &[u8]) -> Option<f64> {
    let (negative, rest) = match s.split_first() {
        Some((b'+', rest)) => (false, rest),
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case(b"nan") {
        return Some(f64::from_bits(NORMAL_NAN));
    }
    None
}

/// Whether `s` is a decimal real number.
pub(crate) fn is_real_number(s: &[u8]) -> bool {
    let mut i = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    let digits_from = |i: usize| s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int_digits = digits_from(i);
    i += int_digits;
    let mut frac_digits = 0;
    if s.get(i) == Some(&b'.') {
        frac_digits = digits_from(i + 1);
        i += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = digits_from(i);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == s.len()
}

/// Plain decimals of up to 15 digits (no exponent) without the general parser.
fn plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    // Plain decimals of at most 15 digits (`12.75`, `.5`, `3.`): the digits as an integer
    // and a power of ten are both exact doubles, so one division rounds correctly (the
    // fast path of Clinger's algorithm, which `str::parse` also takes).
    let mut n = 0u64;
    let mut count = 0;
    let mut frac: Option<i32> = None;
    for &d in digits {
        match d {
            b'0'..=b'9' => {
                n = n * 10 + u64::from(d - b'0');
                count += 1;
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() => frac = Some(0),
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let v = n as f64 / POW10[frac.unwrap_or(0) as usize];
    Some(if negative { -v } else { v })
}

/// A real number of seconds (already checked by [`is_real_number`]) in nanoseconds,
/// truncated toward zero and saturating at the ends of `i128`.
pub(crate) fn seconds_to_nanos(s: &[u8]) -> i128 {
    let (negative, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => (&s[..e], parse_exponent(&s[e + 1..])),
        None => (s, 0),
    };
    let frac_len = mantissa
        .iter()
        .position(|&c| c == b'.')
        .map_or(0, |p| mantissa.len() - p - 1) as i64;
    let digits = mantissa.iter().filter(|c| c.is_ascii_digit());
    let total = digits.clone().count() as i64;
    // value = digits * 10^shift nanoseconds.
    let shift = exponent + 9 - frac_len;
    let keep = if shift < 0 { total + shift } else { total };
    let mut acc: i128 = 0;
    let mut saturated = false;
    for &d in digits.take(keep.max(0) as usize) {
        match acc
            .checked_mul(10)
            .and_then(|a| a.checked_add(i128::from(d - b'0')))
        {
            Some(a) => acc = a,
            None => {
                saturated = true;
                break;
            }
        }
    }
    let mut up = shift.max(0);
    while !saturated && up > 0 && acc != 0 {
        match acc.checked_mul(10) {
            Some(a) => acc = a,
            None => saturated = true,
        }
        up -= 1;
    }
    if saturated {
        acc = i128::MAX;
    }
    if negative { -acc } else { acc }
}

/// An exponent's digits with its sign, clamped far beyond any float64 exponent.
fn parse_exponent(s: &[u8]) -> i64 {
    const LIMIT: i64 = 1_000_000;
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let e = digits
        .iter()
        .fold(0i64, |e, &d| (e * 10 + i64::from(d - b'0')).min(LIMIT));
    if negative { -e } else { e }
}

/// Nanoseconds as milliseconds, truncated toward zero and clamped to `i64`.
pub(crate) fn nanos_to_millis(ns: i128) -> i64 {
    if let Ok(ns) = i64::try_from(ns) {
        // The same truncation toward zero, without a 128-bit division.
        return ns / 1_000_000;
    }
    let ms = ns / 1_000_000;
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_go_parse_float_accepts() {
        let good: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-1", -1.0),
            ("+1.5", 1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1E+03", 1000.0),
            ("1.e2", 100.0),
            ("0001.2e-1", 0.12),
            ("4.9351e-05", 4.9351e-05),
            ("9223372036854775808", 9.223372036854776e18),
            ("1e-400", 0.0),
            ("5e-324", 5e-324),
            ("Inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("INFINITY", f64::INFINITY),
        ];
        for &(s, want) in good {
            assert_eq!(parse_number(s.as_bytes()), Ok(want), "{s}");
        }
        assert_eq!(
            parse_number(b"-0").map(f64::to_bits),
            Ok((-0.0f64).to_bits())
        );
        for nan in ["NaN", "nan", "NAN"] {
            assert_eq!(
                parse_number(nan.as_bytes()).map(f64::to_bits),
                Ok(NORMAL_NAN)
            );
        }
    }

    proptest::proptest! {
        /// The plain-decimal short path gives the correctly rounded double, as the
        /// general parser does, sign of zero included.
        #[test]
        fn plain_decimals_parse_as_the_standard_library_does(
            negative in proptest::bool::ANY,
            digits in "[0-9]{1,17}",
            dot in 0usize..18,
        ) {
            let mut text = if negative { "-".to_string() } else { String::new() };
            let dot = dot.min(digits.len());
            text.push_str(&digits[..dot]);
            text.push('.');
            text.push_str(&digits[dot..]);
            for t in [text.clone(), text.replace('.', "")] {
                let want: f64 = t.parse().unwrap();
                let got = parse_number(t.as_bytes()).unwrap();
                proptest::prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", t);
            }
        }
    }

    #[test]
    fn refuses_what_go_parse_float_refuses() {
        for s in [
            "", ".", "+", "e5", "1e", "1e+", "1.2.3", "0x1p-3", "0x1", "1_2", "+nan", "-NaN",
            "infin", "nanx", " 1", "1 ", "1\t", "true", "0b1", "0o1", "1..2", "--1",
        ] {
            assert_eq!(
                parse_number(s.as_bytes()),
                Err(NumberError::Syntax),
                "{s:?}"
            );
        }
        assert_eq!(parse_number(b"1e400"), Err(NumberError::OutOfRange));
        assert_eq!(parse_number(b"-1e309"), Err(NumberError::OutOfRange));
        assert_eq!(parse_real(b"Inf"), Err(NumberError::NotReal));
        assert_eq!(parse_real(b"NaN"), Err(NumberError::NotReal));
    }

    #[test]
    fn seconds_convert_exactly() {
        let cases: &[(&str, i128)] = &[
            ("0", 0),
            ("000", 0),
            ("1.005", 1_005_000_000),
            ("-1.1", -1_100_000_000),
            ("1.5e3", 1_500_000_000_000),
            ("0.0000000001", 0),
            ("0.0000000010", 1),
            ("-0.0000000019", -1),
            ("1520879607.789", 1_520_879_607_789_000_000),
            (
                "12345678901234567890.1234567890",
                12_345_678_901_234_567_890_123_456_789,
            ),
            ("1e-9", 1),
            ("0e999999999999", 0),
            ("1e300", i128::MAX),
            ("-1e300", -i128::MAX),
        ];
        for &(s, want) in cases {
            assert_eq!(seconds_to_nanos(s.as_bytes()), want, "{s}");
        }
        assert_eq!(nanos_to_millis(1_005_999_999), 1005);
        assert_eq!(nanos_to_millis(-1_005_999_999), -1005);
        assert_eq!(nanos_to_millis(i128::MAX), i64::MAX);
        assert_eq!(nanos_to_millis(-i128::MAX), i64::MIN);
    }
}

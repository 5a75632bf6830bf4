//! Durations and byte sizes spelled as in Prometheus's configuration files.
//!
//! Durations follow `model.ParseDuration` of prometheus/common (as in Prometheus 2.42):
//! units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, each at most once and in that
//! order, or the bare `0`. Byte sizes follow `units.ParseBase2Bytes`: `KB` and `KiB`
//! are both 1024.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration parsed from and printed in Prometheus's syntax.
///
/// ```
/// use ember_server::PromDuration;
/// let d: PromDuration = "1h30m".parse().unwrap();
/// assert_eq!(d.as_millis(), 5_400_000);
/// assert_eq!(d.to_string(), "1h30m");
/// assert!("1.5h".parse::<PromDuration>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(u64);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl PromDuration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(s * 1000)
    }

    /// The length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whether the duration is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The duration as a [`std::time::Duration`].
    pub const fn as_std(self) -> Duration {
        Duration::from_millis(self.0)
    }

    /// The length in seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "0" => return Ok(Self(0)),
            "" => return Err("empty duration string".to_owned()),
            _ => {}
        }
        let invalid = || format!("not a valid duration string: {s:?}");
        let mut rest = s;
        let mut next_unit = 0;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let (num, tail) = rest.split_at(digits);
            // `ms` must be tried before `m`: the longest unit name wins.
            let unit_len = if tail.starts_with("ms") {
                2
            } else if tail.is_empty() {
                return Err(invalid());
            } else {
                1
            };
            let unit = tail.get(..unit_len).ok_or_else(invalid)?;
            let idx = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .map(|i| i + next_unit)
                .ok_or_else(invalid)?;
            next_unit = idx + 1;
            let n: u64 = num
                .parse()
                .map_err(|_| "duration out of range".to_owned())?;
            total = n
                .checked_mul(UNITS[idx].1)
                .and_then(|v| total.checked_add(v))
                .filter(|v| *v <= i64::MAX as u64 / 1_000_000)
                .ok_or_else(|| "duration out of range".to_owned())?;
            rest = &tail[unit_len..];
        }
        Ok(Self(total))
    }
}

impl fmt::Display for PromDuration {
    /// Prints as `model.Duration.String()`: largest units first, `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut ms = self.0;
        for (i, (name, size)) in UNITS.iter().enumerate() {
            // Years and weeks only when exact, as Go's `model.Duration.String`: 90d, not 12w6d.
            if i < 2 && ms % size != 0 {
                continue;
            }
            let n = ms / size;
            if n > 0 {
                write!(f, "{n}{name}")?;
                ms -= n * size;
            }
        }
        Ok(())
    }
}

/// Parses a string scalar with `FromStr` inside the deserializer, so that YAML errors carry
/// the scalar's own field path and position.
pub(crate) struct ParseVisitor<T>(
    pub(crate) std::marker::PhantomData<T>,
    pub(crate) &'static str,
);

impl<T: std::str::FromStr<Err = String>> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

/// Deserializes a mapping as `R`, then converts it with `TryFrom` *inside* the mapping's
/// visitor, so that validation errors carry the mapping's field path and position.
pub(crate) struct ValidatedMap<R, T>(pub(crate) std::marker::PhantomData<(R, T)>);

impl<'de, R, T> serde::de::Visitor<'de> for ValidatedMap<R, T>
where
    R: Deserialize<'de>,
    T: TryFrom<R, Error = String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let raw = R::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        T::try_from(raw).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ParseVisitor(
            std::marker::PhantomData,
            "a duration such as 15s",
        ))
    }
}

/// A byte size as `units.Base2Bytes`: a number with a unit (`10MB`, `1GiB`, `512B`) or `0`.
///
/// ```
/// use ember_server::ByteSize;
/// assert_eq!("10MB".parse::<ByteSize>().unwrap().0, 10 << 20);
/// assert_eq!("1KiB".parse::<ByteSize>().unwrap().0, 1024);
/// assert!("10 apples".parse::<ByteSize>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "0" {
            return Ok(Self(0));
        }
        let err = || format!("units: invalid unit in {s:?}");
        if s.is_empty() {
            return Err(err());
        }
        let mut rest = s;
        let mut total = 0f64;
        while !rest.is_empty() {
            let n = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.')
                .count();
            if n == 0 {
                return Err(err());
            }
            let value: f64 = rest[..n].parse().map_err(|_| err())?;
            rest = &rest[n..];
            let u = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
            let scale: u64 = match &rest[..u] {
                "B" => 1,
                "KB" | "KiB" => 1 << 10,
                "MB" | "MiB" => 1 << 20,
                "GB" | "GiB" => 1 << 30,
                "TB" | "TiB" => 1 << 40,
                "PB" | "PiB" => 1 << 50,
                "EB" | "EiB" => 1 << 60,
                _ => return Err(err()),
            };
            rest = &rest[u..];
            total += value * scale as f64;
        }
        Ok(Self(total as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ParseVisitor(
            std::marker::PhantomData,
            "a size such as 10MB",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, String> {
        s.parse::<PromDuration>().map(PromDuration::as_millis)
    }

    #[test]
    fn parses_as_prometheus_common() {
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("15s"), Ok(15_000));
        assert_eq!(p("1m"), Ok(60_000));
        assert_eq!(p("1h30m"), Ok(5_400_000));
        assert_eq!(p("1d"), Ok(86_400_000));
        assert_eq!(p("1w"), Ok(604_800_000));
        assert_eq!(p("1y"), Ok(31_536_000_000));
        assert_eq!(p("500ms"), Ok(500));
        assert_eq!(p("1m500ms"), Ok(60_500));
        assert_eq!(p("0s"), Ok(0));
        for bad in [
            "", "1", "s", "1.5s", "30m1h", "1s1s", "-1s", "1 s", "1S", "1sms",
        ] {
            assert!(p(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(p("").unwrap_err(), "empty duration string");
        assert_eq!(p("1x").unwrap_err(), "not a valid duration string: \"1x\"");
        assert!(p("300000000y").is_err());
    }

    #[test]
    fn prints_as_prometheus_common() {
        for (ms, s) in [
            (0, "0s"),
            (15_000, "15s"),
            (60_000, "1m"),
            (5_400_000, "1h30m"),
            (86_400_000, "1d"),
            (604_800_000, "1w"),
            (31_536_000_000, "1y"),
            (1_209_600_000 + 86_400_000, "15d"),
            (61_500, "1m1s500ms"),
        ] {
            assert_eq!(PromDuration::from_millis(ms).to_string(), s);
        }
    }

    #[test]
    fn byte_sizes_are_base2() {
        let b = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(b("0"), Ok(0));
        assert_eq!(b("100B"), Ok(100));
        assert_eq!(b("1KB"), Ok(1024));
        assert_eq!(b("1MiB512KiB"), Ok(1024 * 1024 + 512 * 1024));
        assert!(b("100").is_err());
        assert!(b("1kB").is_err());
        assert!(b("").is_err());
    }
}

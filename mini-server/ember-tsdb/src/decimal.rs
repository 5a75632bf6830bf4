//! Decimal value coding: values with few decimals stored as scaled integers, delta coded.
//!
//! Most metric values are integers (counts, bytes) or have a few decimals (seconds printed
//! with `%.2f`). Such a value `v` is stored as the integer `s = v * 10^scale`, where the
//! chunk's scale is fixed in its header; `s / 10^scale` (one IEEE division of two exactly
//! representable numbers) yields the same bits as `v`, which the encoder checks for each
//! value. Values that fail the check (NaN, staleness markers, infinities, `-0.0`, more
//! decimals than the scale) are escaped and stored as 64 raw bits, so any bit pattern
//! round-trips.
//!
//! The delta `s - prev` is zigzag coded and written with an adaptive bit width `W`
//! (initially 0):
//!
//! | code | then | meaning |
//! |---|---|---|
//! | `0` | `W` bits | delta fits in the current width |
//! | `10` | 6 bits `w`, `w` bits | new width `W = w`, then the delta |
//! | `110` | 6 bits `w`, `w` bits | one-off delta of width `w`; `W` unchanged (counter resets, jumps) |
//! | `111` | 64 bits | raw `f64` bits; the integer state is unchanged |
//!
//! The first integer value is written as a one-off delta from 0. The encoder uses `110` when a delta needs more than `W + 8` bits and the previous
//! delta was not itself a one-off; a second large delta in a row sets a new width.

use crate::bits::{BitReader, BitWriter};

/// Largest decimal scale a chunk may use: values are stored as `v * 10^scale`.
pub const MAX_DECIMAL_SCALE: u8 = 9;

/// Scaled integers are kept within the range where every integer is an exact `f64`.
const MAX_SCALED: f64 = 9_007_199_254_740_992.0; // 2^53

/// `10^scale` for scales `0..=MAX_DECIMAL_SCALE`.
pub(crate) fn pow10(scale: u8) -> f64 {
    const P: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
    P[usize::from(scale.min(MAX_DECIMAL_SCALE))]
}

/// `v * 10^scale` as an integer if dividing it back by `10^scale` gives `v` bit for bit.
pub(crate) fn to_scaled(v: f64, pow: f64) -> Option<i64> {
    if !v.is_finite() {
        return None;
    }
    let s = (v * pow).round();
    if s.abs() > MAX_SCALED {
        return None;
    }
    let i = s as i64;
    ((i as f64 / pow).to_bits() == v.to_bits()).then_some(i)
}

/// The smallest scale at which `v` is exactly representable, if any.
pub(crate) fn min_scale(v: f64) -> Option<u8> {
    (0..=MAX_DECIMAL_SCALE).find(|&k| to_scaled(v, pow10(k)).is_some())
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Bits needed to write `z` (0 for 0).
fn width(z: u64) -> u32 {
    64 - z.leading_zeros()
}

/// Deltas that need more than this many bits over the current width are written as
/// one-offs rather than widening the chunk's width.
const ONE_OFF_MARGIN: u32 = 8;

/// Small fields (the power of ten as an `f32`, exact for every scale, and a one-byte
/// width): a chunk appender holds one.
#[derive(Debug, Clone)]
pub(crate) struct DecimalEncoder {
    /// `10^scale`; powers of ten up to `10^10` are exact in an `f32` (`5^10 < 2^24`).
    pow: f32,
    /// Counter mode: codes `0` and `10` carry non-negative deltas unsigned (no zigzag);
    /// negative deltas are always one-offs.
    counter: bool,
    prev: i64,
    /// At most 64.
    width: u8,
    last_one_off: bool,
    started: bool,
}

impl DecimalEncoder {
    pub(crate) fn new(scale: u8, counter: bool) -> Self {
        Self {
            // Exact: see the field.
            pow: pow10(scale) as f32,
            counter,
            prev: 0,
            width: 0,
            last_one_off: false,
            started: false,
        }
    }

    fn one_off(&mut self, w: &mut BitWriter, z: u64) {
        let need = width(z);
        w.write_bits(0b110, 3);
        w.write_bits(u64::from(need), 6);
        w.write_bits(z, need);
        self.last_one_off = true;
    }

    pub(crate) fn encode(&mut self, w: &mut BitWriter, v: f64) {
        let Some(s) = to_scaled(v, f64::from(self.pow)) else {
            w.write_bits(0b111, 3);
            w.write_bits(v.to_bits(), 64);
            return;
        };
        // Both are within ±2^53, so the difference cannot overflow.
        let d = s - self.prev;
        self.prev = s;
        if !self.started {
            // The first value is a one-off from 0 so its magnitude does not set the width;
            // counting it as a one-off lets the first real delta set the width directly.
            self.started = true;
            self.one_off(w, zigzag(d));
            return;
        }
        let z = match (self.counter, u64::try_from(d)) {
            (false, _) => zigzag(d),
            (true, Ok(u)) => u,
            (true, Err(_)) => return self.one_off(w, zigzag(d)),
        };
        let need = width(z);
        let current = u32::from(self.width);
        if need <= current {
            w.write_bit(false);
            w.write_bits(z, current);
            self.last_one_off = false;
        } else if need > current + ONE_OFF_MARGIN && !self.last_one_off {
            self.one_off(w, zigzag(d));
        } else {
            w.write_bits(0b10, 2);
            w.write_bits(u64::from(need), 6);
            w.write_bits(z, need);
            // `need <= 64`.
            self.width = need as u8;
            self.last_one_off = false;
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DecimalDecoder {
    pow: f64,
    counter: bool,
    prev: i64,
    width: u32,
}

impl DecimalDecoder {
    pub(crate) fn new(scale: u8, counter: bool) -> Self {
        Self {
            pow: pow10(scale),
            counter,
            prev: 0,
            width: 0,
        }
    }

    fn delta(&self, z: u64) -> i64 {
        if self.counter { z as i64 } else { unzigzag(z) }
    }

    pub(crate) fn decode(&mut self, r: &mut BitReader<'_>) -> Option<f64> {
        let d = match r.read_unary(3)? {
            0 => self.delta(r.read_bits(self.width)?),
            1 => {
                let w = r.read_bits(6)? as u32;
                self.width = w;
                self.delta(r.read_bits(w)?)
            }
            2 => {
                let w = r.read_bits(6)? as u32;
                unzigzag(r.read_bits(w)?)
            }
            _ => return Some(f64::from_bits(r.read_bits(64)?)),
        };
        // A corrupt stream may produce any delta; wrapping keeps decoding panic-free.
        self.prev = self.prev.wrapping_add(d);
        Some(self.prev as f64 / self.pow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_minimal_and_exact() {
        assert_eq!(min_scale(0.0), Some(0));
        assert_eq!(min_scale(42.0), Some(0));
        assert_eq!(min_scale(1.5), Some(1));
        assert_eq!(min_scale(1234.56), Some(2));
        assert_eq!(min_scale(0.0005), Some(4));
        assert_eq!(min_scale(-0.0), None);
        assert_eq!(min_scale(f64::NAN), None);
        assert_eq!(min_scale(f64::INFINITY), None);
        assert_eq!(min_scale(0.1 + 0.2), None);
        assert_eq!(min_scale(1e300), None);
    }

    #[test]
    fn powers_of_ten_are_exact_as_f32() {
        for scale in 0..=MAX_DECIMAL_SCALE {
            assert_eq!(f64::from(pow10(scale) as f32), pow10(scale));
        }
    }

    #[test]
    fn zigzag_round_trips() {
        for d in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(d)), d);
        }
    }
}

//! Gorilla XOR value coding: any `f64` bit pattern, bit for bit.
//!
//! The first value is written as its 64 raw bits. Each later value is XORed with the
//! previous one: `0` when equal; `10` + the meaningful bits when they fit in the previous
//! window of leading and trailing zeros; `11` + 5 bits of leading zeros (capped at 31) +
//! 6 bits of meaningful length (64 written as 0) + the meaningful bits otherwise.

use crate::bits::{BitReader, BitWriter};

/// No window yet: the next non-zero XOR must declare one.
const NO_WINDOW: u32 = u32::MAX;

/// [`NO_WINDOW`] for the encoder's one-byte window fields.
const NO_WINDOW_BYTE: u8 = u8::MAX;

/// Window fields are bytes (leading zeros at most 31, trailing at most 63): a head keeps
/// an open encoder per series.
#[derive(Debug, Clone)]
pub(crate) struct XorEncoder {
    prev: u64,
    leading: u8,
    trailing: u8,
    started: bool,
}

impl XorEncoder {
    pub(crate) fn new() -> Self {
        Self {
            prev: 0,
            leading: NO_WINDOW_BYTE,
            trailing: 0,
            started: false,
        }
    }

    pub(crate) fn encode(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        if !self.started {
            w.write_bits(bits, 64);
            self.prev = bits;
            self.started = true;
            return;
        }
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        let lz = x.leading_zeros().min(31);
        let tz = x.trailing_zeros();
        let (leading, trailing) = (u32::from(self.leading), u32::from(self.trailing));
        if self.leading != NO_WINDOW_BYTE && lz >= leading && tz >= trailing {
            w.write_bit(false);
            w.write_bits(x >> trailing, 64 - leading - trailing);
        } else {
            let sig = 64 - lz - tz;
            w.write_bit(true);
            w.write_bits(u64::from(lz), 5);
            w.write_bits(u64::from(sig & 63), 6);
            w.write_bits(x >> tz, sig);
            // `lz <= 31`, `tz <= 63`.
            self.leading = lz as u8;
            self.trailing = tz as u8;
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct XorDecoder {
    prev: u64,
    leading: u32,
    trailing: u32,
    started: bool,
}

impl XorDecoder {
    pub(crate) fn new() -> Self {
        Self {
            prev: 0,
            leading: NO_WINDOW,
            trailing: 0,
            started: false,
        }
    }

    pub(crate) fn decode(&mut self, r: &mut BitReader<'_>) -> Option<f64> {
        if !self.started {
            self.prev = r.read_bits(64)?;
            self.started = true;
            return Some(f64::from_bits(self.prev));
        }
        if !r.read_bit()? {
            return Some(f64::from_bits(self.prev));
        }
        if r.read_bit()? {
            let lz = r.read_bits(5)? as u32;
            let sig = match r.read_bits(6)? as u32 {
                0 => 64,
                n => n,
            };
            if lz + sig > 64 {
                return None;
            }
            self.leading = lz;
            self.trailing = 64 - lz - sig;
        } else if self.leading == NO_WINDOW {
            return None;
        }
        let sig = 64 - self.leading - self.trailing;
        let x = r.read_bits(sig)? << self.trailing;
        self.prev ^= x;
        Some(f64::from_bits(self.prev))
    }
}

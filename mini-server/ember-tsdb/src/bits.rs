//! Bit-level writer and reader shared by the chunk codecs.
//!
//! Bits are packed most significant first: the first bit written is bit 7 of the first
//! byte. A stream ends on a byte boundary; unused low bits of the last byte are zero.

/// Bytes a full [`BitWriter`] buffer grows by, at least; for a tight writer, an eighth of
/// its length when that is more (so long streams still grow geometrically).
const GROW_MIN: usize = 16;

/// Appends bits to a byte vector that may start with a byte-aligned header.
///
/// The vector doubles when full, unless the writer is tight ([`BitWriter::set_tight`]):
/// then it grows by small exact steps ([`GROW_MIN`] bytes, or an eighth of its length),
/// so at most one step is unused. A head keeps one open writer per series for up to
/// `chunk_samples` samples, where doubling would leave up to half of each unused; the
/// smaller steps cost more reallocations, so writers whose bytes are copied out when done
/// (chunk encoding) keep doubling.
#[derive(Debug, Clone)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// Free low bits in the last byte of `buf` (0 means the next write starts a new byte).
    free: u8,
    /// Grow by small steps rather than doubling.
    tight: bool,
    /// A count kept for the writer's owner (a chunk appender's samples), in what would be
    /// padding: reading it from the stream's header instead costs a cache miss per
    /// append on a head of many series.
    pub(crate) count: u16,
}

impl BitWriter {
    /// A writer whose stream starts after `header` (room for [`GROW_MIN`] bytes more).
    pub(crate) fn with_header(header: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(header.len() + GROW_MIN);
        buf.extend_from_slice(header);
        Self {
            buf,
            free: 0,
            tight: false,
            count: 0,
        }
    }

    /// Makes the buffer grow by small steps from now on (see [`BitWriter`]).
    pub(crate) fn set_tight(&mut self) {
        self.tight = true;
    }

    /// Bytes allocated but not written.
    #[cfg(test)]
    pub(crate) fn spare_capacity(&self) -> usize {
        self.buf.capacity() - self.buf.len()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Makes room for more bytes: a tight writer's step, or as much again (out of line:
    /// called once per that many bytes).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let len = self.buf.len();
        let more = if self.tight {
            GROW_MIN.max(len / 8)
        } else {
            GROW_MIN.max(len)
        };
        self.buf.reserve_exact(more);
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `n` bits of `value` (`n` at most 64), most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, mut n: u32) {
        debug_assert!(n <= 64);
        while n > 0 {
            if self.free == 0 {
                if self.buf.len() == self.buf.capacity() {
                    self.grow();
                }
                self.buf.push(0);
                self.free = 8;
            }
            let free = u32::from(self.free);
            let take = n.min(free);
            // `n - take < 64` because `take >= 1`, so the shift is in range.
            let bits = ((value >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= bits << (free - take);
            }
            // `take <= free <= 8`.
            self.free -= take as u8;
            n -= take;
        }
    }
}

/// Reads bits from a byte slice, most significant first.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits from the start of `buf`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at byte `start` of `buf`.
    pub(crate) fn new(buf: &'a [u8], start: usize) -> Self {
        Self {
            buf,
            pos: start * 8,
        }
    }

    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(bit == 1)
    }

    /// Reads `n` bits (at most 64); `None` when the stream ends first.
    pub(crate) fn read_bits(&mut self, mut n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        let mut out: u64 = 0;
        while n > 0 {
            let byte = *self.buf.get(self.pos / 8)?;
            let used = (self.pos % 8) as u32;
            let avail = 8 - used;
            let take = n.min(avail);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            // `take <= 8`, so the shift is in range; `n <= 64` means no set bit is lost.
            out = (out << take) | bits;
            self.pos += take as usize;
            n -= take;
        }
        Some(out)
    }

    /// Counts leading one bits, up to `max`, consuming them and the terminating zero
    /// (no terminating zero is consumed when `max` ones are read).
    pub(crate) fn read_unary(&mut self, max: u32) -> Option<u32> {
        let mut n = 0;
        while n < max {
            if !self.read_bit()? {
                return Some(n);
            }
            n += 1;
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_across_byte_boundaries() {
        let mut w = BitWriter::with_header(&[0xAB]);
        let items: [(u64, u32); 7] = [
            (1, 1),
            (0b101, 3),
            (u64::MAX, 64),
            (0, 0),
            (0x1234, 13),
            (0, 7),
            (u64::MAX >> 1, 63),
        ];
        for (v, n) in items {
            w.write_bits(v, n);
        }
        let bytes = w.into_bytes();
        assert_eq!(bytes[0], 0xAB);
        let mut r = BitReader::new(&bytes, 1);
        for (v, n) in items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n), Some(v & mask));
        }
    }

    #[test]
    fn the_buffer_grows_by_small_steps() {
        let mut w = BitWriter::with_header(&[0; 4]);
        w.set_tight();
        for i in 0..20_000u64 {
            w.write_bits(i, 13);
            let (len, cap) = (w.buf.len(), w.buf.capacity());
            assert!(
                cap - len < GROW_MIN.max(len / 8),
                "len {len} capacity {cap}"
            );
        }
    }

    #[test]
    fn reading_past_the_end_is_none() {
        let mut r = BitReader::new(&[0xFF], 0);
        assert_eq!(r.read_bits(8), Some(0xFF));
        assert_eq!(r.read_bit(), None);
    }
}

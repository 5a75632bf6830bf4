//! Compressed chunks: the samples of one series over a time range.
//!
//! A chunk is a 4-byte header followed by a bit stream that interleaves, per sample, the
//! timestamp (delta-of-delta coded) and the value (coded as the header's [`Encoding`]
//! says). The byte layout is specified in `FORMAT.md`.
//!
//! Timestamps are arbitrary `i64` (milliseconds by convention), strictly increasing within
//! a chunk. Deltas and deltas-of-deltas use wrapping arithmetic, so even a chunk spanning
//! `i64::MIN..=i64::MAX` round-trips exactly.

use crate::Error;
use crate::bits::{BitReader, BitWriter};
use crate::decimal::{DecimalDecoder, DecimalEncoder, MAX_DECIMAL_SCALE, min_scale};
use crate::xor::{XorDecoder, XorEncoder};

/// Bytes before the bit stream: encoding tag, scale, sample count (u16, big endian).
pub const CHUNK_HEADER_LEN: usize = 4;

/// Most samples one chunk can hold (its header counts them in 16 bits).
pub const MAX_CHUNK_SAMPLES: usize = u16::MAX as usize;

const TAG_XOR: u8 = 1;
const TAG_DECIMAL: u8 = 2;
const TAG_DECIMAL_COUNTER: u8 = 3;

/// How a chunk codes its values (timestamps are always delta-of-delta coded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Gorilla XOR coding of the raw `f64` bits (tag 1).
    Xor,
    /// Values as integers `v * 10^scale`, delta coded, with raw escapes (tag 2).
    Decimal {
        /// Number of decimal digits kept, at most [`MAX_DECIMAL_SCALE`].
        scale: u8,
    },
    /// As [`Encoding::Decimal`], with non-negative deltas stored unsigned and negative
    /// ones as exceptions: for counters (tag 3).
    DecimalCounter {
        /// Number of decimal digits kept, at most [`MAX_DECIMAL_SCALE`].
        scale: u8,
    },
}

impl Encoding {
    fn header(self, count: u16) -> [u8; CHUNK_HEADER_LEN] {
        let (tag, scale) = match self {
            Encoding::Xor => (TAG_XOR, 0),
            Encoding::Decimal { scale } => (TAG_DECIMAL, scale),
            Encoding::DecimalCounter { scale } => (TAG_DECIMAL_COUNTER, scale),
        };
        let [c0, c1] = count.to_be_bytes();
        [tag, scale, c0, c1]
    }

    fn from_header(tag: u8, scale: u8) -> Result<Self, Error> {
        match tag {
            TAG_XOR if scale == 0 => Ok(Encoding::Xor),
            TAG_XOR => Err(Error::InvalidChunk {
                reason: "xor chunk with a non-zero scale byte",
            }),
            TAG_DECIMAL if scale <= MAX_DECIMAL_SCALE => Ok(Encoding::Decimal { scale }),
            TAG_DECIMAL_COUNTER if scale <= MAX_DECIMAL_SCALE => {
                Ok(Encoding::DecimalCounter { scale })
            }
            TAG_DECIMAL | TAG_DECIMAL_COUNTER => Err(Error::InvalidScale(scale)),
            _ => Err(Error::InvalidChunk {
                reason: "unknown encoding tag",
            }),
        }
    }
}

/// An immutable, encoded chunk.
///
/// ```
/// use ember_tsdb::{Chunk, Encoding};
///
/// let samples = [(1_000, 1.5), (16_000, 2.25), (31_000, f64::from_bits(0x7ff0000000000002))];
/// let chunk = Chunk::encode(&samples)?;
/// assert_eq!(chunk.encoding(), Encoding::Decimal { scale: 2 });
/// let back: Vec<(i64, f64)> = chunk.iter().collect();
/// assert_eq!(back[..2], samples[..2]);
/// assert_eq!(back[2].1.to_bits(), 0x7ff0000000000002);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    bytes: Vec<u8>,
}

impl Chunk {
    /// Encodes `samples` (strictly increasing timestamps) with the encoding that gives the
    /// fewest bytes: decimal or decimal-counter at the smallest scale that represents
    /// every value that any scale represents, or XOR (ties go in that order).
    pub fn encode(samples: &[(i64, f64)]) -> Result<Self, Error> {
        // The smallest of XOR, decimal-counter and decimal, the later winning a tie. The
        // decimals go first so that XOR can stop as soon as it cannot be smaller.
        let Some(scale) = samples.iter().filter_map(|&(_, v)| min_scale(v)).max() else {
            return Self::encode_with(Encoding::Xor, samples);
        };
        let mut best = Self::encode_with(Encoding::DecimalCounter { scale }, samples)?;
        let decimal = Self::encode_with(Encoding::Decimal { scale }, samples)?;
        if decimal.bytes.len() <= best.bytes.len() {
            best = decimal;
        }
        let mut xor = ChunkAppender::xor();
        for &(t, v) in samples {
            xor.append(t, v)?;
            if xor.bytes().len() >= best.bytes.len() {
                return Ok(best);
            }
        }
        Ok(xor.finish())
    }

    /// Encodes `samples` once, with an encoding chosen from their statistics rather than
    /// by trial: XOR if more than a quarter of the values are representable at no decimal
    /// scale, else decimal-counter if no delta between representable values is negative,
    /// else decimal. Several times faster than [`Chunk::encode`], sometimes larger.
    ///
    /// ```
    /// use ember_tsdb::{Chunk, Encoding};
    ///
    /// let c = Chunk::encode_quick(&[(0, 1.0), (1, 2.5), (2, 4.0)])?;
    /// assert_eq!(c.encoding(), Encoding::DecimalCounter { scale: 1 });
    /// let g = Chunk::encode_quick(&[(0, 1.0), (1, 0.5)])?;
    /// assert_eq!(g.encoding(), Encoding::Decimal { scale: 1 });
    /// let x = Chunk::encode_quick(&[(0, 0.1 + 0.2)])?;
    /// assert_eq!(x.encoding(), Encoding::Xor);
    /// # Ok::<(), ember_tsdb::Error>(())
    /// ```
    pub fn encode_quick(samples: &[(i64, f64)]) -> Result<Self, Error> {
        let mut scale = None;
        let mut escaped = 0;
        let mut decreasing = false;
        let mut prev: Option<f64> = None;
        for &(_, v) in samples {
            match min_scale(v) {
                Some(k) => {
                    scale = scale.max(Some(k));
                    decreasing |= prev.is_some_and(|p| v < p);
                    prev = Some(v);
                }
                None => escaped += 1,
            }
        }
        let encoding = match scale {
            Some(scale) if escaped * 4 <= samples.len() => {
                if decreasing {
                    Encoding::Decimal { scale }
                } else {
                    Encoding::DecimalCounter { scale }
                }
            }
            _ => Encoding::Xor,
        };
        Self::encode_with(encoding, samples)
    }

    /// Encodes `samples` (strictly increasing timestamps) with the given encoding.
    ///
    /// ```
    /// use ember_tsdb::{Chunk, Encoding};
    ///
    /// let chunk = Chunk::encode_with(Encoding::Xor, &[(0, 1.0), (15_000, 1.0)])?;
    /// assert_eq!(chunk.len(), 2);
    /// # Ok::<(), ember_tsdb::Error>(())
    /// ```
    pub fn encode_with(encoding: Encoding, samples: &[(i64, f64)]) -> Result<Self, Error> {
        let mut app = ChunkAppender::new(encoding)?;
        for &(t, v) in samples {
            app.append(t, v)?;
        }
        Ok(app.finish())
    }

    /// Wraps bytes produced by [`Chunk::as_bytes`], checking the header.
    ///
    /// A damaged bit stream is not detected here; iteration then stops early and
    /// [`ChunkIter::is_truncated`] says so.
    ///
    /// ```
    /// use ember_tsdb::Chunk;
    ///
    /// let chunk = Chunk::encode(&[(5, 7.0)])?;
    /// assert_eq!(Chunk::from_bytes(chunk.as_bytes().to_vec())?, chunk);
    /// assert!(Chunk::from_bytes(vec![9, 0, 0, 0]).is_err());
    /// # Ok::<(), ember_tsdb::Error>(())
    /// ```
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let [tag, scale, _, _, ..] = bytes[..] else {
            return Err(Error::InvalidChunk {
                reason: "shorter than its header",
            });
        };
        Encoding::from_header(tag, scale)?;
        Ok(Self { bytes })
    }

    /// The encoded bytes, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value encoding named in the header.
    pub fn encoding(&self) -> Encoding {
        header_of(&self.bytes).0
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        header_of(&self.bytes).1
    }

    /// Whether the chunk holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the samples in time order.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(&self.bytes)
    }
}

impl<'a> IntoIterator for &'a Chunk {
    type Item = (i64, f64);
    type IntoIter = ChunkIter<'a>;
    fn into_iter(self) -> ChunkIter<'a> {
        self.iter()
    }
}

/// Encoding and count of bytes whose header has been validated.
fn header_of(bytes: &[u8]) -> (Encoding, usize) {
    match bytes {
        [tag, scale, c0, c1, ..] => {
            // Chunk and ChunkAppender only hold validated headers.
            let enc = Encoding::from_header(*tag, *scale).unwrap_or(Encoding::Xor);
            (enc, usize::from(u16::from_be_bytes([*c0, *c1])))
        }
        _ => (Encoding::Xor, 0),
    }
}

/// Timestamp coder: the first timestamp raw, then deltas-of-deltas in buckets.
///
/// `0` for a zero delta-of-delta; `10`, `110`, `1110` + 14, 17 or 20 bits two's
/// complement; `1111` + 64 bits. The first delta is coded as a delta-of-delta against 0.
#[derive(Debug, Clone, Default)]
struct TimeState {
    prev_t: i64,
    prev_delta: u64,
}

const DOD_BUCKETS: [u32; 3] = [14, 17, 20];

fn fits(dod: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&dod)
}

/// Incrementally builds a chunk; readable at any time through [`ChunkAppender::bytes`].
///
/// ```
/// use ember_tsdb::{ChunkAppender, Chunk, Encoding};
///
/// let mut app = ChunkAppender::new(Encoding::Decimal { scale: 0 })?;
/// app.append(1_000, 10.0)?;
/// app.append(2_000, 12.0)?;
/// assert!(app.append(2_000, 13.0).is_err()); // not after the last timestamp
/// let chunk = Chunk::from_bytes(app.bytes().to_vec())?;
/// assert_eq!(chunk.iter().collect::<Vec<_>>(), [(1_000, 10.0), (2_000, 12.0)]);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkAppender {
    w: BitWriter,
    time: TimeState,
    values: ValueEncoder,
}

#[derive(Debug, Clone)]
enum ValueEncoder {
    Xor(XorEncoder),
    Decimal(DecimalEncoder),
}

impl ChunkAppender {
    /// An empty chunk with the given value encoding.
    pub fn new(encoding: Encoding) -> Result<Self, Error> {
        let values = match encoding {
            Encoding::Xor => ValueEncoder::Xor(XorEncoder::new()),
            Encoding::Decimal { scale } | Encoding::DecimalCounter { scale }
                if scale > MAX_DECIMAL_SCALE =>
            {
                return Err(Error::InvalidScale(scale));
            }
            Encoding::Decimal { scale } => ValueEncoder::Decimal(DecimalEncoder::new(scale, false)),
            Encoding::DecimalCounter { scale } => {
                ValueEncoder::Decimal(DecimalEncoder::new(scale, true))
            }
        };
        Ok(Self {
            w: BitWriter::with_header(&encoding.header(0)),
            time: TimeState::default(),
            values,
        })
    }

    /// An empty XOR chunk (cannot fail, unlike [`ChunkAppender::new`]).
    pub fn xor() -> Self {
        Self {
            w: BitWriter::with_header(&Encoding::Xor.header(0)),
            time: TimeState::default(),
            values: ValueEncoder::Xor(XorEncoder::new()),
        }
    }

    /// An empty XOR chunk whose buffer grows by small steps rather than doubling (a head's
    /// open chunk, kept for up to `chunk_samples` samples; appending is a little slower).
    pub(crate) fn xor_tight() -> Self {
        let mut app = Self::xor();
        app.w.set_tight();
        app
    }

    /// Bytes allocated for the chunk but not written yet.
    #[cfg(test)]
    pub(crate) fn spare_capacity(&self) -> usize {
        self.w.spare_capacity()
    }

    /// Appends a sample; `t` must be after the last appended timestamp.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), Error> {
        let count = self.count();
        if usize::from(count) >= MAX_CHUNK_SAMPLES {
            return Err(Error::ChunkFull {
                max: MAX_CHUNK_SAMPLES,
            });
        }
        if count == 0 {
            self.w.write_bits(t as u64, 64);
        } else {
            if t <= self.time.prev_t {
                return Err(Error::OutOfOrder {
                    t,
                    last: self.time.prev_t,
                });
            }
            let delta = t.wrapping_sub(self.time.prev_t) as u64;
            let dod = delta.wrapping_sub(self.time.prev_delta) as i64;
            self.write_dod(dod);
            self.time.prev_delta = delta;
        }
        self.time.prev_t = t;
        match &mut self.values {
            ValueEncoder::Xor(e) => e.encode(&mut self.w, v),
            ValueEncoder::Decimal(e) => e.encode(&mut self.w, v),
        }
        self.w.count = count + 1;
        let [c0, c1] = (count + 1).to_be_bytes();
        if let [_, _, b0, b1, ..] = self.w.bytes_mut() {
            *b0 = c0;
            *b1 = c1;
        }
        Ok(())
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.write_bit(false);
            return;
        }
        for (i, bits) in DOD_BUCKETS.into_iter().enumerate() {
            if fits(dod, bits) {
                // i + 1 ones then a zero: 10, 110, 1110.
                let prefix_len = i as u32 + 2;
                self.w.write_bits((1u64 << prefix_len) - 2, prefix_len);
                self.w.write_bits(dod as u64, bits);
                return;
            }
        }
        self.w.write_bits(0b1111, 4);
        self.w.write_bits(dod as u64, 64);
    }

    /// Number of samples appended.
    pub fn len(&self) -> usize {
        usize::from(self.count())
    }

    /// The sample count (also written to the header, bytes 2 and 3, for readers).
    fn count(&self) -> u16 {
        self.w.count
    }

    /// Whether no sample has been appended.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The last appended timestamp, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.time.prev_t)
    }

    /// The chunk so far, as [`Chunk::as_bytes`] would return it.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Iterates over the samples appended so far.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.w.bytes())
    }

    /// Ends appending.
    pub fn finish(self) -> Chunk {
        Chunk {
            bytes: self.w.into_bytes(),
        }
    }
}

/// Iterator over a chunk's samples.
///
/// Stops early if the bit stream ends before the header's count (a damaged chunk);
/// [`ChunkIter::is_truncated`] then returns `true`.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    remaining: usize,
    read: usize,
    time: TimeState,
    values: ValueDecoder,
    truncated: bool,
}

#[derive(Debug, Clone)]
enum ValueDecoder {
    Xor(XorDecoder),
    Decimal(DecimalDecoder),
}

impl<'a> ChunkIter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let (encoding, count) = header_of(bytes);
        let values = match encoding {
            Encoding::Xor => ValueDecoder::Xor(XorDecoder::new()),
            Encoding::Decimal { scale } => ValueDecoder::Decimal(DecimalDecoder::new(scale, false)),
            Encoding::DecimalCounter { scale } => {
                ValueDecoder::Decimal(DecimalDecoder::new(scale, true))
            }
        };
        Self {
            r: BitReader::new(bytes, CHUNK_HEADER_LEN),
            remaining: count,
            read: 0,
            time: TimeState::default(),
            values,
            truncated: false,
        }
    }

    /// Whether iteration stopped because the chunk's bytes ended early.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    fn read_t(&mut self) -> Option<i64> {
        if self.read == 0 {
            return Some(self.r.read_bits(64)? as i64);
        }
        let dod = match self.r.read_unary(4)? {
            0 => 0,
            n @ 1..=3 => {
                let bits = DOD_BUCKETS[n as usize - 1];
                let raw = self.r.read_bits(bits)?;
                // Sign-extend the `bits`-wide two's complement value.
                ((raw << (64 - bits)) as i64) >> (64 - bits)
            }
            _ => self.r.read_bits(64)? as i64,
        };
        let delta = self.time.prev_delta.wrapping_add(dod as u64);
        self.time.prev_delta = delta;
        Some(self.time.prev_t.wrapping_add(delta as i64))
    }

    fn read_sample(&mut self) -> Option<(i64, f64)> {
        let t = self.read_t()?;
        let v = match &mut self.values {
            ValueDecoder::Xor(d) => d.decode(&mut self.r)?,
            ValueDecoder::Decimal(d) => d.decode(&mut self.r)?,
        };
        self.time.prev_t = t;
        self.read += 1;
        Some((t, v))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 {
            return None;
        }
        match self.read_sample() {
            Some(s) => {
                self.remaining -= 1;
                Some(s)
            }
            None => {
                self.remaining = 0;
                self.truncated = true;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests;

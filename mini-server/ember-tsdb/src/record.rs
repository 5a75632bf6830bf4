//! WAL record payloads: series definitions and sample batches.
//!
//! Byte layouts are in `FORMAT.md`. Integers are LEB128 varints unless stated; sample
//! timestamps are zigzag varints; values are 8 bytes, little endian `f64` bits.

/// Record type byte of [`Record::Series`].
pub(crate) const TYPE_SERIES: u8 = 1;
/// Record type byte of [`Record::Samples`].
pub(crate) const TYPE_SAMPLES: u8 = 2;

/// A series introduced to the WAL: its id and label set (sorted by name).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    /// Id the samples of this series refer to.
    pub id: u64,
    /// Label pairs `(name, value)`, sorted by name, `__name__` included.
    pub labels: Vec<(String, String)>,
}

/// One sample of a series known by id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRecord {
    /// Series id, as given by a [`SeriesRecord`].
    pub id: u64,
    /// Timestamp (milliseconds by convention).
    pub t: i64,
    /// Value; any bit pattern, staleness markers included, is kept.
    pub v: f64,
}

/// One WAL record.
///
/// ```
/// use ember_tsdb::{Record, SampleRecord};
///
/// let r = Record::Samples(vec![SampleRecord { id: 1, t: 1_000, v: 0.5 }]);
/// assert!(matches!(r, Record::Samples(ref s) if s.len() == 1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// New series.
    Series(Vec<SeriesRecord>),
    /// A batch of samples.
    Samples(Vec<SampleRecord>),
}

impl Record {
    /// The type byte written in the frame.
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            Record::Series(_) => TYPE_SERIES,
            Record::Samples(_) => TYPE_SAMPLES,
        }
    }

    /// Appends the payload (without type byte) to `out`.
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Record::Series(series) => {
                put_varint(out, series.len() as u64);
                for s in series {
                    put_varint(out, s.id);
                    put_varint(out, s.labels.len() as u64);
                    for (name, value) in &s.labels {
                        put_bytes(out, name.as_bytes());
                        put_bytes(out, value.as_bytes());
                    }
                }
            }
            Record::Samples(samples) => {
                put_varint(out, samples.len() as u64);
                for s in samples {
                    put_varint(out, s.id);
                    put_varint(out, ((s.t << 1) ^ (s.t >> 63)) as u64);
                    out.extend_from_slice(&s.v.to_bits().to_le_bytes());
                }
            }
        }
    }

    /// Decodes a payload; the error says what is malformed.
    pub(crate) fn decode(type_byte: u8, payload: &[u8]) -> Result<Self, &'static str> {
        let mut r = Cursor { buf: payload };
        let rec = match type_byte {
            TYPE_SERIES => {
                let n = r.count()?;
                let mut series = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = r.varint()?;
                    let nl = r.count()?;
                    let mut labels = Vec::with_capacity(nl);
                    for _ in 0..nl {
                        labels.push((r.string()?, r.string()?));
                    }
                    series.push(SeriesRecord { id, labels });
                }
                Record::Series(series)
            }
            TYPE_SAMPLES => {
                let n = r.count()?;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = r.varint()?;
                    let z = r.varint()?;
                    let t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                    let v = f64::from_bits(u64::from_le_bytes(r.array()?));
                    samples.push(SampleRecord { id, t, v });
                }
                Record::Samples(samples)
            }
            _ => return Err("unknown record type"),
        };
        if !r.buf.is_empty() {
            return Err("trailing bytes after the record");
        }
        Ok(rec)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl Cursor<'_> {
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or("varint runs past the record")?;
            self.buf = rest;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes")
    }

    /// A count of items, each at least one byte long, so a corrupt count cannot make the
    /// decoder reserve more than the record's size.
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.varint()?;
        if n > self.buf.len() as u64 {
            return Err("item count exceeds the record size");
        }
        Ok(n as usize)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        if n > self.buf.len() {
            return Err("field runs past the record");
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array(&mut self) -> Result<[u8; 8], &'static str> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(a)
    }

    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| "string length overflows")?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "label is not utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: &Record) -> Record {
        let mut buf = vec![];
        r.encode_payload(&mut buf);
        Record::decode(r.type_byte(), &buf).unwrap()
    }

    #[test]
    fn records_round_trip() {
        let s = Record::Series(vec![SeriesRecord {
            id: u64::MAX,
            labels: vec![
                ("__name__".into(), "up".into()),
                ("job".into(), "nöde".into()),
            ],
        }]);
        assert_eq!(round_trip(&s), s);
        let samples = vec![
            SampleRecord {
                id: 0,
                t: i64::MIN,
                v: 1.0,
            },
            SampleRecord {
                id: 7,
                t: i64::MAX,
                v: -0.0,
            },
            SampleRecord {
                id: 300,
                t: -1,
                v: f64::from_bits(0x7ff0_0000_0000_0002),
            },
        ];
        let Record::Samples(got) = round_trip(&Record::Samples(samples.clone())) else {
            panic!("wrong type")
        };
        for (g, w) in got.iter().zip(&samples) {
            assert_eq!((g.id, g.t, g.v.to_bits()), (w.id, w.t, w.v.to_bits()));
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(Record::decode(9, &[]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[1, 0, 0]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[0, 0]).is_err());
        assert!(Record::decode(TYPE_SERIES, &[1, 1, 1, 1, 0xff, 0]).is_err());
        assert!(Record::decode(TYPE_SERIES, &[0xff; 11]).is_err());
    }
}

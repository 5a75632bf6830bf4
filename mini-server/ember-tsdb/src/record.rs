//! WAL record payloads: series definitions and sample batches.
//!
//! Byte layouts are in `FORMAT.md`. Integers are LEB128 varints unless stated; sample
//! timestamps are zigzag varints; values are 8 bytes, little endian `f64` bits.

/// Record type byte of [`Record::Series`].
pub(crate) const TYPE_SERIES: u8 = 1;
/// Record type byte of [`Record::Samples`].
pub(crate) const TYPE_SAMPLES: u8 = 2;
/// Record type byte of [`Record::Metadata`].
pub(crate) const TYPE_METADATA: u8 = 3;
/// Record type byte of [`Record::HeadCut`].
pub(crate) const TYPE_HEAD_CUT: u8 = 4;

/// A metric family's type, as the exposition formats name it (byte values as Prometheus's
/// WAL `record.MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MetricType {
    /// `unknown` (or no `# TYPE` line).
    #[default]
    Unknown,
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram`.
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info`.
    Info,
    /// `stateset`.
    StateSet,
}

impl MetricType {
    /// The byte stored in a metadata record.
    pub fn as_byte(self) -> u8 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::GaugeHistogram => 4,
            MetricType::Summary => 5,
            MetricType::Info => 6,
            MetricType::StateSet => 7,
        }
    }

    /// The type stored as `b`, if `b` names one.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => MetricType::Unknown,
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => return None,
        })
    }
}

/// A series' metadata as last scraped: type, unit and help text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Metadata {
    /// The family's type.
    pub metric_type: MetricType,
    /// The unit (`# UNIT`), empty if none.
    pub unit: String,
    /// The help text (`# HELP`), empty if none.
    pub help: String,
}

/// Metadata of a series known by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRecord {
    /// Series id, as given by a [`SeriesRecord`].
    pub id: u64,
    /// The metadata, replacing any earlier one of the series.
    pub metadata: Metadata,
}

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
    /// Metadata of series (the last record for a series wins).
    Metadata(Vec<MetadataRecord>),
    /// The head was cut at this time: samples before it were handed out and dropped, and
    /// appends before it are refused. Written at the start of a checkpoint.
    HeadCut(i64),
}

impl Record {
    /// The type byte written in the frame.
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            Record::Series(_) => TYPE_SERIES,
            Record::Samples(_) => TYPE_SAMPLES,
            Record::Metadata(_) => TYPE_METADATA,
            Record::HeadCut(_) => TYPE_HEAD_CUT,
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
                    put_varint(out, zigzag(s.t));
                    out.extend_from_slice(&s.v.to_bits().to_le_bytes());
                }
            }
            Record::Metadata(metas) => {
                put_varint(out, metas.len() as u64);
                for m in metas {
                    put_varint(out, m.id);
                    out.push(m.metadata.metric_type.as_byte());
                    put_bytes(out, m.metadata.unit.as_bytes());
                    put_bytes(out, m.metadata.help.as_bytes());
                }
            }
            Record::HeadCut(t) => put_varint(out, zigzag(*t)),
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
                    let t = unzigzag(r.varint()?);
                    let v = f64::from_bits(u64::from_le_bytes(r.array()?));
                    samples.push(SampleRecord { id, t, v });
                }
                Record::Samples(samples)
            }
            TYPE_METADATA => {
                let n = r.count()?;
                let mut metas = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = r.varint()?;
                    let [ty] = r.take(1)? else {
                        return Err("field runs past the record");
                    };
                    let metric_type = MetricType::from_byte(*ty).ok_or("unknown metric type")?;
                    let unit = r.string()?;
                    let help = r.string()?;
                    metas.push(MetadataRecord {
                        id,
                        metadata: Metadata {
                            metric_type,
                            unit,
                            help,
                        },
                    });
                }
                Record::Metadata(metas)
            }
            TYPE_HEAD_CUT => Record::HeadCut(unzigzag(r.varint()?)),
            _ => return Err("unknown record type"),
        };
        if !r.buf.is_empty() {
            return Err("trailing bytes after the record");
        }
        Ok(rec)
    }
}

fn zigzag(t: i64) -> u64 {
    ((t << 1) ^ (t >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
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
        assert!(Record::decode(TYPE_METADATA, &[1, 0, 8, 0, 0]).is_err());
        assert!(Record::decode(TYPE_METADATA, &[1, 0]).is_err());
        assert!(Record::decode(TYPE_HEAD_CUT, &[]).is_err());
        assert!(Record::decode(TYPE_HEAD_CUT, &[0, 0]).is_err());
    }

    #[test]
    fn metadata_and_head_cut_round_trip() {
        let m = Record::Metadata(vec![
            MetadataRecord {
                id: 3,
                metadata: Metadata {
                    metric_type: MetricType::Counter,
                    unit: "seconds".into(),
                    help: "CPU time ✓.".into(),
                },
            },
            MetadataRecord {
                id: 4,
                metadata: Metadata::default(),
            },
        ]);
        assert_eq!(round_trip(&m), m);
        for t in [i64::MIN, -1, 0, 1_700_000_000_000, i64::MAX] {
            assert_eq!(round_trip(&Record::HeadCut(t)), Record::HeadCut(t));
        }
        for b in 0..=8u8 {
            assert_eq!(
                MetricType::from_byte(b).map(MetricType::as_byte),
                (b < 8).then_some(b)
            );
        }
    }
}

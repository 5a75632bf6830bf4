//! Where scraped samples go: a small trait in front of storage, and an in-memory store.

use std::collections::HashMap;
use std::sync::Arc;

use ember_tsdb::Metadata;
use parking_lot::Mutex;

use crate::labels::Labels;

/// The bit pattern Prometheus writes as a staleness marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker value.
///
/// ```
/// assert!(ember_server::is_stale_marker(ember_server::stale_nan()));
/// assert!(!ember_server::is_stale_marker(f64::NAN));
/// ```
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is a staleness marker (an ordinary NaN is not).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Why storage refused a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Older than the newest sample of its series; skipped, the scrape goes on.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample of its series with another value; skipped.
    #[error("duplicate sample for timestamp")]
    Duplicate,
    /// Anything else; the scrape fails.
    #[error("{0}")]
    Other(String),
}

/// One scrape's worth of writes: samples then a commit, as Prometheus's `storage.Appender`.
pub trait Appender: Send {
    /// Adds one sample of `series` (with `__name__`).
    fn append(&mut self, series: &Labels, timestamp_ms: i64, value: f64)
    -> Result<(), AppendError>;

    /// Adds one sample of `series`, which the caller (a scrape loop) numbers `handle`:
    /// the same handle names the same label set (the same `Arc`) until the caller passes
    /// it with another one, so a store may remember what it resolved per handle and skip
    /// all label work for series seen before. The default is [`Appender::append`].
    fn append_cached(
        &mut self,
        handle: u32,
        series: &Arc<PackedLabels>,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let _ = handle;
        self.append(&series.to_labels(), timestamp_ms, value)
    }

    /// Records the type, help and unit of `series`' metric family, as Prometheus's
    /// `UpdateMetadata`; takes effect at the next commit. The default ignores it.
    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        let _ = (series, metadata);
    }

    /// [`Appender::update_metadata`] for a series the caller numbers `handle`, as in
    /// [`Appender::append_cached`].
    fn update_metadata_cached(
        &mut self,
        handle: u32,
        series: &Arc<PackedLabels>,
        metadata: &Metadata,
    ) {
        let _ = handle;
        self.update_metadata(&series.to_labels(), metadata);
    }

    /// Makes the samples appended since the last commit visible.
    fn commit(&mut self) -> Result<(), AppendError>;
}

/// A label set packed into one allocation, as a scrape loop keeps its series: each name
/// and value preceded by its length (LEB128), pairs in name order. About the size of the
/// series' text, where a [`Labels`] map holds a node and two strings per pair.
///
/// ```
/// use ember_server::{Labels, PackedLabels};
/// let l = Labels::from_pairs([("__name__", "up"), ("job", "j")]);
/// let p = PackedLabels::new(&l);
/// assert_eq!(p.get("job"), "j");
/// assert_eq!(p.iter().count(), 2);
/// assert_eq!(p.to_labels(), l);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackedLabels(Box<[u8]>);

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

impl PackedLabels {
    /// Packs `labels`.
    pub fn new(labels: &Labels) -> Self {
        let mut out = Vec::new();
        for (n, v) in labels.iter() {
            put_len(&mut out, n.len());
            out.extend_from_slice(n.as_bytes());
            put_len(&mut out, v.len());
            out.extend_from_slice(v.as_bytes());
        }
        Self(out.into_boxed_slice())
    }

    /// The pairs, in name order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter(&self.0)
    }

    /// The value of label `name`, empty if absent.
    pub fn get(&self, name: &str) -> &str {
        self.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v)
    }

    /// The label set, unpacked.
    pub fn to_labels(&self) -> Labels {
        Labels::from_pairs(self.iter())
    }
}

/// The pairs of a [`PackedLabels`].
#[derive(Debug, Clone)]
pub struct PackedIter<'a>(&'a [u8]);

impl<'a> PackedIter<'a> {
    fn take(&mut self) -> Option<&'a str> {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        // Packed from `&str`s, so always UTF-8.
        std::str::from_utf8(s).ok()
    }
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.take()?;
        let v = self.take()?;
        Some((n, v))
    }
}

/// One stored sample.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    /// The series.
    pub series: Labels,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The value (staleness markers kept bit for bit).
    pub value: f64,
}

/// An in-memory store: appends are buffered and become visible at commit, in order.
/// Cheap to clone; clones share the data.
///
/// ```
/// use ember_server::{Appender, Labels, MemoryAppender};
/// let mut app = MemoryAppender::default();
/// app.append(&Labels::from_pairs([("__name__", "up")]), 1000, 1.0).unwrap();
/// assert!(app.committed().is_empty());
/// app.commit().unwrap();
/// assert_eq!(app.committed()[0].value, 1.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryAppender {
    pending: Vec<StoredSample>,
    pending_metadata: Vec<(Labels, Metadata)>,
    committed: Arc<Mutex<Vec<StoredSample>>>,
    metadata: Arc<Mutex<HashMap<Labels, Metadata>>>,
}

impl MemoryAppender {
    /// Everything committed so far, by all clones.
    pub fn committed(&self) -> Vec<StoredSample> {
        self.committed.lock().clone()
    }

    /// The metadata last committed for `series`, by any clone.
    pub fn metadata(&self, series: &Labels) -> Option<Metadata> {
        self.metadata.lock().get(series).cloned()
    }
}

impl Appender for MemoryAppender {
    fn append(
        &mut self,
        series: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        self.pending.push(StoredSample {
            series: series.clone(),
            timestamp_ms,
            value,
        });
        Ok(())
    }

    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        self.pending_metadata
            .push((series.clone(), metadata.clone()));
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        self.committed.lock().append(&mut self.pending);
        self.metadata.lock().extend(self.pending_metadata.drain(..));
        Ok(())
    }
}

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

    /// Makes `handle` (a number the caller, a scrape loop, gives a series) stand for
    /// `series` until it is bound again. A store resolves the handle once and may then
    /// forget the labels: later samples by handle cost no label work. If the store loses
    /// the series (see [`Appender::take_lost`]) the caller binds the handle again.
    fn bind(&mut self, handle: u32, series: &Labels);

    /// Adds one sample of the series bound to `handle`.
    fn append_handle(
        &mut self,
        handle: u32,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError>;

    /// Records the type, help and unit of `series`' metric family, as Prometheus's
    /// `UpdateMetadata`; takes effect at the next commit. The default ignores it.
    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        let _ = (series, metadata);
    }

    /// [`Appender::update_metadata`] for the series bound to `handle`. The default
    /// ignores it.
    fn update_metadata_handle(&mut self, handle: u32, metadata: &Metadata) {
        let _ = (handle, metadata);
    }

    /// Handles whose series the store no longer knew at the last commit (their samples
    /// and metadata of that commit were dropped; e.g. the series was removed from memory
    /// after a long silence), each once, emptied by the call. The default has none.
    fn take_lost(&mut self) -> Vec<u32> {
        Vec::new()
    }

    /// Makes the samples appended since the last commit visible.
    fn commit(&mut self) -> Result<(), AppendError>;
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
    /// Labels by handle ([`Appender::bind`]).
    handles: HashMap<u32, Labels>,
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

    fn bind(&mut self, handle: u32, series: &Labels) {
        self.handles.insert(handle, series.clone());
    }

    fn append_handle(
        &mut self,
        handle: u32,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let series = self
            .handles
            .get(&handle)
            .cloned()
            .ok_or_else(|| AppendError::Other(format!("unbound handle {handle}")))?;
        self.append(&series, timestamp_ms, value)
    }

    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        self.pending_metadata
            .push((series.clone(), metadata.clone()));
    }

    fn update_metadata_handle(&mut self, handle: u32, metadata: &Metadata) {
        if let Some(series) = self.handles.get(&handle).cloned() {
            self.update_metadata(&series, metadata);
        }
    }

    /// As a TSDB: of the samples of one series at one timestamp in a batch, the first
    /// is kept (Prometheus's storage refuses the others as duplicates, or ignores them
    /// when identical).
    fn commit(&mut self) -> Result<(), AppendError> {
        let mut seen = std::collections::HashSet::new();
        self.pending
            .retain(|s| seen.insert((s.series.clone(), s.timestamp_ms)));
        self.committed.lock().append(&mut self.pending);
        self.metadata.lock().extend(self.pending_metadata.drain(..));
        Ok(())
    }
}

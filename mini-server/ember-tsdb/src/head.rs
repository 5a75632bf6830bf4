//! The head: recent samples of every series, in memory, in compressed chunks.
//!
//! Series are keyed by their sorted [`Labels`] and get dense ids in creation order. Each
//! series has an open XOR [`ChunkAppender`]; when it holds
//! [`HeadOptions::chunk_samples`] samples it is cut and re-encoded with
//! [`Chunk::encode_quick`] (one encode, the encoding chosen from the samples' statistics).
//!
//! Ingestion rules follow Prometheus's defaults: a sample older than the series' last
//! sample is rejected as out of order; one at the same timestamp with the same value bits
//! is a no-op; one at the same timestamp with a different value is rejected as a
//! duplicate. Each outcome is counted in [`HeadStats`].
//!
//! Not yet here: WAL logging and replay into the head, cutting to blocks, queries by
//! label matchers.

use std::collections::HashMap;

use crate::Error;
use crate::chunk::{Chunk, ChunkAppender};
use crate::labels::Labels;

/// Dense id of a series in a [`Head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u64);

/// Head settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadOptions {
    /// Samples per chunk before it is cut (Prometheus uses 120).
    pub chunk_samples: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { chunk_samples: 120 }
    }
}

/// Counters of what the head accepted and rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series created.
    pub series_created: u64,
    /// Samples stored.
    pub samples_appended: u64,
    /// Samples rejected: older than the series' last sample.
    pub out_of_order: u64,
    /// Samples rejected: same timestamp as the last sample, different value.
    pub duplicates: u64,
    /// Samples ignored: same timestamp and value bits as the last sample.
    pub identical_ignored: u64,
}

#[derive(Debug)]
struct MemSeries {
    labels: Labels,
    chunks: Vec<Chunk>,
    open: ChunkAppender,
    last: Option<(i64, u64)>,
}

/// In-memory series and their chunks.
///
/// ```
/// use ember_tsdb::{Head, HeadOptions, Labels};
///
/// let mut head = Head::new(HeadOptions::default());
/// let id = head.series_id(Labels::new([("__name__", "up"), ("job", "node")])?);
/// head.append(id, 1_000, 1.0)?;
/// head.append(id, 16_000, 1.0)?;
/// assert!(head.append(id, 2_000, 0.0).is_err()); // out of order
/// assert_eq!(head.samples(id)?.collect::<Vec<_>>(), [(1_000, 1.0), (16_000, 1.0)]);
/// assert_eq!(head.stats().out_of_order, 1);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Head {
    options: HeadOptions,
    ids: HashMap<Labels, SeriesId>,
    series: Vec<MemSeries>,
    stats: HeadStats,
}

impl Head {
    /// An empty head. A `chunk_samples` of 0 is treated as 1; above
    /// [`crate::MAX_CHUNK_SAMPLES`] as that maximum.
    pub fn new(options: HeadOptions) -> Self {
        let chunk_samples = options.chunk_samples.clamp(1, crate::MAX_CHUNK_SAMPLES);
        Self {
            options: HeadOptions { chunk_samples },
            ids: HashMap::new(),
            series: Vec::new(),
            stats: HeadStats::default(),
        }
    }

    /// The id of the series with these labels, creating the series if it is new.
    pub fn series_id(&mut self, labels: Labels) -> SeriesId {
        if let Some(&id) = self.ids.get(&labels) {
            return id;
        }
        let id = SeriesId(self.series.len() as u64);
        self.series.push(MemSeries {
            labels: labels.clone(),
            chunks: Vec::new(),
            open: new_open(),
            last: None,
        });
        self.ids.insert(labels, id);
        self.stats.series_created += 1;
        id
    }

    /// The id of an existing series.
    pub fn get(&self, labels: &Labels) -> Option<SeriesId> {
        self.ids.get(labels).copied()
    }

    /// The labels of a series.
    pub fn labels(&self, id: SeriesId) -> Option<&Labels> {
        self.series_ref(id).ok().map(|s| &s.labels)
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Counters since creation.
    pub fn stats(&self) -> HeadStats {
        self.stats
    }

    /// Appends a sample to a series, applying the rules in the [`Head`] docs.
    pub fn append(&mut self, id: SeriesId, t: i64, v: f64) -> Result<(), Error> {
        let chunk_samples = self.options.chunk_samples;
        let s = usize::try_from(id.0)
            .ok()
            .and_then(|i| self.series.get_mut(i))
            .ok_or(Error::UnknownSeries(id.0))?;
        if let Some((last_t, last_v)) = s.last {
            if t < last_t {
                self.stats.out_of_order += 1;
                return Err(Error::OutOfOrder { t, last: last_t });
            }
            if t == last_t {
                if v.to_bits() == last_v {
                    self.stats.identical_ignored += 1;
                    return Ok(());
                }
                self.stats.duplicates += 1;
                return Err(Error::DuplicateSample { t });
            }
        }
        if s.open.len() >= chunk_samples {
            let samples: Vec<(i64, f64)> = s.open.iter().collect();
            s.chunks.push(Chunk::encode_quick(&samples)?);
            s.open = new_open();
        }
        s.open.append(t, v)?;
        s.last = Some((t, v.to_bits()));
        self.stats.samples_appended += 1;
        Ok(())
    }

    /// All samples of a series in time order.
    pub fn samples(&self, id: SeriesId) -> Result<impl Iterator<Item = (i64, f64)> + '_, Error> {
        let s = self.series_ref(id)?;
        Ok(s.chunks.iter().flat_map(Chunk::iter).chain(s.open.iter()))
    }

    /// Every series in id order: its id, labels, closed chunks and open chunk (read-only
    /// access for queries and for writing blocks).
    pub fn series_chunks(
        &self,
    ) -> impl Iterator<Item = (SeriesId, &Labels, &[Chunk], &ChunkAppender)> + '_ {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| (SeriesId(i as u64), &s.labels, s.chunks.as_slice(), &s.open))
    }

    /// Bytes of chunk data held (closed chunks plus open appenders).
    pub fn chunk_bytes(&self) -> usize {
        self.series
            .iter()
            .map(|s| {
                s.chunks.iter().map(|c| c.as_bytes().len()).sum::<usize>() + s.open.bytes().len()
            })
            .sum()
    }

    fn series_ref(&self, id: SeriesId) -> Result<&MemSeries, Error> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.series.get(i))
            .ok_or(Error::UnknownSeries(id.0))
    }
}

fn new_open() -> ChunkAppender {
    ChunkAppender::xor()
}

#[cfg(test)]
mod tests;

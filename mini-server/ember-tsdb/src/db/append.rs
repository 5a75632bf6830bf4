//! Appending: [`Appender`] batches, checked as they come, logged then applied on commit.

use crate::Error;
use crate::head::SeriesId;
use crate::labels::Labels;
use crate::record::{Metadata, MetadataRecord, Record, SampleRecord, SeriesRecord};

use super::{Db, MAX_SAMPLE_BYTES, RECORD_OVERHEAD, series_bytes, split_by_size};

impl Db {
    /// A batch of appends, logged and applied by [`Appender::commit`].
    pub fn appender(&mut self) -> Appender<'_> {
        Appender {
            db: self,
            new_series: Vec::new(),
            samples: Vec::new(),
            metadata: Vec::new(),
            done: false,
        }
    }

    /// Appends one sample in a batch of its own (convenience; batches are faster).
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesId, Error> {
        let mut app = self.appender();
        let id = app.append(labels, t, v)?;
        app.commit()?;
        Ok(id)
    }
}

/// A batch of appends to a [`Db`]: checked as they come, logged and applied on
/// [`Appender::commit`], forgotten on [`Appender::rollback`] or drop.
///
/// Each sample is checked against the series' last sample (pending ones of this batch
/// included) and the head's minimum valid time; a rejected sample returns its error
/// (counted as out of order, duplicate or out of bounds) and the batch goes on without
/// it. A sample identical to the last one (same timestamp, same value bits) is accepted
/// and ignored. Nothing of the batch is visible in the head before `commit`.
#[derive(Debug)]
pub struct Appender<'a> {
    db: &'a mut Db,
    /// Series created by this batch, with their labels for the series record.
    new_series: Vec<SeriesRecord>,
    samples: Vec<SampleRecord>,
    metadata: Vec<MetadataRecord>,
    done: bool,
}

impl Appender<'_> {
    /// Adds a sample of the series with these labels (created if new); returns the
    /// series' id, which [`Appender::append_id`] takes for later samples.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesId, Error> {
        let id = self.series(labels);
        self.append_id(id, t, v)?;
        Ok(id)
    }

    /// Adds a sample of a series known by id.
    pub fn append_id(&mut self, id: SeriesId, t: i64, v: f64) -> Result<(), Error> {
        if self.db.head.admit(id, t, v)? {
            self.samples.push(SampleRecord { id: id.0, t, v });
        }
        Ok(())
    }

    /// The id of the series with these labels, created (for this batch) if new.
    pub fn series(&mut self, labels: &Labels) -> SeriesId {
        if let Some(id) = self.db.head.get(labels) {
            return id;
        }
        let (id, _) = self.db.head.get_or_create(labels);
        self.new_series.push(SeriesRecord {
            id: id.0,
            labels: labels.pairs().to_vec(),
        });
        id
    }

    /// Sets a series' metadata (logged only if it differs from the stored one).
    pub fn update_metadata(&mut self, labels: &Labels, metadata: Metadata) {
        let id = self.series(labels);
        if self.db.head.metadata(id) != Some(&metadata) {
            self.metadata.push(MetadataRecord { id: id.0, metadata });
        }
    }

    /// Sets the metadata of a series known by id (logged only if it differs from the
    /// stored one); [`Error::UnknownSeries`] if the head does not hold it.
    pub fn update_metadata_id(&mut self, id: SeriesId, metadata: Metadata) -> Result<(), Error> {
        if self.db.head.label_pairs(id).is_none() {
            return Err(Error::UnknownSeries(id.0));
        }
        if self.db.head.metadata(id) != Some(&metadata) {
            self.metadata.push(MetadataRecord { id: id.0, metadata });
        }
        Ok(())
    }

    /// Logs the batch (one write, synced per the [`SyncPolicy`](crate::SyncPolicy)) and applies it to the
    /// head; on return the batch is acknowledged as the [`Db`] docs say. On a WAL
    /// error nothing of the batch is applied (as [`Appender::rollback`]).
    pub fn commit(mut self) -> Result<(), Error> {
        self.done = true;
        let db = &mut *self.db;
        db.records.clear();
        // New series without a sample or metadata in the batch are not kept.
        let mut logged = Vec::with_capacity(self.new_series.len());
        let with_metadata: std::collections::HashSet<u64> =
            self.metadata.iter().map(|m| m.id).collect();
        for rec in std::mem::take(&mut self.new_series) {
            let id = SeriesId(rec.id);
            if db.head.has_pending(id) || with_metadata.contains(&rec.id) {
                logged.push(rec);
            } else {
                db.head.remove(id);
            }
        }
        // One record per kind unless it would not fit in a segment.
        let budget = db.options.wal.segment_size.saturating_sub(RECORD_OVERHEAD);
        split_by_size(
            &mut db.records,
            logged,
            budget,
            series_bytes,
            Record::Series,
        );
        split_by_size(
            &mut db.records,
            std::mem::take(&mut self.metadata),
            budget,
            |m| 30 + (m.metadata.unit.len() + m.metadata.help.len()) as u64,
            Record::Metadata,
        );
        split_by_size(
            &mut db.records,
            std::mem::take(&mut self.samples),
            budget,
            |_| MAX_SAMPLE_BYTES,
            Record::Samples,
        );
        if db.records.is_empty() {
            db.publish();
            return Ok(());
        }
        if let Err(e) = db.wal.append_batch(&db.records) {
            db.metrics.wal_writes_failed.inc();
            let records = std::mem::take(&mut db.records);
            for r in &records {
                match r {
                    Record::Samples(s) => s
                        .iter()
                        .for_each(|s| db.head.forget_pending(SeriesId(s.id))),
                    Record::Series(s) => s.iter().for_each(|s| db.head.remove(SeriesId(s.id))),
                    _ => {}
                }
            }
            db.publish();
            return Err(e);
        }
        let records = std::mem::take(&mut db.records);
        for r in &records {
            match r {
                Record::Metadata(ms) => {
                    for m in ms {
                        db.head.set_metadata(SeriesId(m.id), m.metadata.clone())?;
                    }
                }
                Record::Samples(ss) => {
                    for s in ss {
                        db.head.store(SeriesId(s.id), s.t, s.v)?;
                    }
                    if let Some(t) = ss.iter().map(|s| s.t).min() {
                        if t < db.metrics.lowest_timestamp.get() {
                            db.metrics.lowest_timestamp.set(t);
                        }
                    }
                }
                _ => {}
            }
        }
        // Keep the (empty) list, not the batch's buffers.
        db.records = records;
        db.records.clear();
        db.publish();
        Ok(())
    }

    /// Forgets the batch: pending samples and metadata are dropped, series it created
    /// are removed.
    pub fn rollback(mut self) {
        self.undo();
    }

    fn undo(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        for s in &self.samples {
            self.db.head.forget_pending(SeriesId(s.id));
        }
        for rec in &self.new_series {
            self.db.head.remove(SeriesId(rec.id));
        }
        self.samples.clear();
        self.metadata.clear();
        self.db.publish();
    }
}

impl Drop for Appender<'_> {
    fn drop(&mut self) {
        self.undo();
    }
}

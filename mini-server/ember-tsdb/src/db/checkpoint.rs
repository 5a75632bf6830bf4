//! Cutting the head at a time and checkpointing the WAL (the head as one compact WAL of its
//! own, replacing every earlier segment).

use std::fs::{self};
use std::time::Duration;

use crate::Error;
use crate::head::{BlockSink, SeriesId};
use crate::record::{MetadataRecord, Record, SampleRecord, SeriesRecord};
use crate::wal::{SyncPolicy, WalOptions, WalWriter, io_err};

use super::{
    CHECKPOINT_SAMPLES_PER_RECORD, CHECKPOINT_SERIES_PER_RECORD, CheckpointReport, CutReport, Db,
    MAX_SAMPLE_BYTES, RECORD_OVERHEAD, checkpoint_path, sync_dir,
};

impl Db {
    /// Cuts the head at `t`: hands every sample before `t` to `sink` (see [`BlockSink`]),
    /// drops them and the series left empty, refuses later appends before `t`, then writes
    /// a checkpoint ([`Db::checkpoint`]). If the sink fails, no checkpoint is written
    /// and the WAL keeps everything.
    pub fn cut(&mut self, t: i64, sink: &mut dyn BlockSink) -> Result<CutReport, Error> {
        self.metrics.head_truncations.inc();
        let head = match self.head.cut(t, sink) {
            Ok(s) => s,
            Err(e) => {
                self.metrics.head_truncations_failed.inc();
                self.publish();
                return Err(e);
            }
        };
        self.publish();
        self.publish_blocks();
        let checkpoint = self.checkpoint()?;
        Ok(CutReport { head, checkpoint })
    }

    /// Ends the current WAL segment and writes checkpoint `N` (`N` = that segment's
    /// number): the head's minimum valid time, series, metadata and samples, as WAL
    /// records in `wal/checkpoint.N`. It is written to `checkpoint.N.tmp`, synced, and
    /// renamed (the directory synced too); then segments `0..=N` and older checkpoints are
    /// deleted. Replay is then this checkpoint plus segments after `N`.
    pub fn checkpoint(&mut self) -> Result<CheckpointReport, Error> {
        self.metrics.checkpoint_creations.inc();
        match self.write_checkpoint() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.metrics.checkpoint_creations_failed.inc();
                Err(e)
            }
        }
    }

    pub(super) fn write_checkpoint(&mut self) -> Result<CheckpointReport, Error> {
        let n = self.wal.next_segment()?;
        self.metrics
            .wal_segment_current
            .set(i64::from(self.wal.segment()));
        let tmp = self.wal_dir.join(format!("checkpoint.{n:08}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        let options = WalOptions {
            segment_size: self.options.wal.segment_size,
            // Syncs each full segment when it rolls; the last one is synced below.
            sync: SyncPolicy::Interval(Duration::MAX),
        };
        let mut w = WalWriter::create(&tmp, options)?;
        let head = &self.head;
        let (mut series, mut samples) = (0u64, 0u64);
        // First, so a damaged checkpoint tail does not lose it.
        if head.min_valid_time() != i64::MIN {
            w.append(&Record::HeadCut(head.min_valid_time()))?;
        }
        let ids: Vec<SeriesId> = head.series_ids().collect();
        // Records are sized to fit a segment.
        let budget = self
            .options
            .wal
            .segment_size
            .saturating_sub(RECORD_OVERHEAD);
        let (mut recs, mut recs_bytes) = (Vec::new(), 0u64);
        let (mut metas, mut metas_bytes) = (Vec::new(), 0u64);
        for &id in &ids {
            let labels = head.labels(id).ok_or(Error::UnknownSeries(id.0))?;
            let bytes = 20
                + labels
                    .pairs()
                    .iter()
                    .map(|(n, v)| 20 + (n.len() + v.len()) as u64)
                    .sum::<u64>();
            if !recs.is_empty()
                && (recs_bytes + bytes > budget || recs.len() == CHECKPOINT_SERIES_PER_RECORD)
            {
                series += recs.len() as u64;
                w.append(&Record::Series(std::mem::take(&mut recs)))?;
                recs_bytes = 0;
            }
            recs.push(SeriesRecord {
                id: id.0,
                labels: labels.pairs().to_vec(),
            });
            recs_bytes += bytes;
            if let Some(m) = head.metadata(id) {
                let bytes = 30 + (m.unit.len() + m.help.len()) as u64;
                if !metas.is_empty() && metas_bytes + bytes > budget {
                    w.append(&Record::Metadata(std::mem::take(&mut metas)))?;
                    metas_bytes = 0;
                }
                metas.push(MetadataRecord {
                    id: id.0,
                    metadata: m.clone(),
                });
                metas_bytes += bytes;
            }
        }
        if !recs.is_empty() {
            series += recs.len() as u64;
            w.append(&Record::Series(recs))?;
        }
        // Metadata after every series record, so replay knows the ids.
        if !metas.is_empty() {
            w.append(&Record::Metadata(metas))?;
        }
        let per_record = usize::try_from(budget / MAX_SAMPLE_BYTES)
            .unwrap_or(usize::MAX)
            .clamp(1, CHECKPOINT_SAMPLES_PER_RECORD);
        let mut buf = Vec::with_capacity(per_record);
        for &id in &ids {
            for (t, v) in head.samples(id)? {
                buf.push(SampleRecord { id: id.0, t, v });
                if buf.len() == per_record {
                    samples += buf.len() as u64;
                    w.append(&Record::Samples(std::mem::take(&mut buf)))?;
                }
            }
        }
        if !buf.is_empty() {
            samples += buf.len() as u64;
            w.append(&Record::Samples(buf))?;
        }
        w.sync()?;
        drop(w);
        sync_dir(&tmp)?;
        let path = checkpoint_path(&self.wal_dir, n);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&tmp))?;
        sync_dir(&self.wal_dir)?;
        let (segments_deleted, checkpoints_deleted) = self.delete_covered(n)?;
        Ok(CheckpointReport {
            number: n,
            series,
            samples,
            segments_deleted,
            checkpoints_deleted,
        })
    }
}

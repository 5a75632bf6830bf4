//! Opening a store: blocks loaded and checked, the newest checkpoint and the WAL after it
//! replayed into the head (a corrupt tail cut, a corrupt checkpoint replaced).

use std::collections::HashMap;
use std::fs::{self};
use std::path::Path;
use std::time::Instant;

use crate::Error;
use crate::compact::{delete_block, open_blocks};
use crate::head::{Head, SeriesId};
use crate::labels::Labels;
use crate::record::Record;
use crate::wal::{WalWriter, io_err, replay};

use super::{
    Db, OpenReport, Options, TsdbMetrics, checkpoint_path, dir_entries, list_checkpoints, plan,
};

impl Db {
    /// Opens (creating if needed) the store in `dir`: replays the newest checkpoint and
    /// the WAL after it into the head, cutting a corrupt tail as the module docs say.
    pub fn open(dir: &Path, options: Options) -> Result<(Self, OpenReport), Error> {
        let start = Instant::now();
        let wal_dir = dir.join("wal");
        fs::create_dir_all(&wal_dir).map_err(io_err(&wal_dir))?;
        let metrics = TsdbMetrics::new();
        let mut report = OpenReport::default();
        // Blocks first: a corrupt one stops the open (as Prometheus refuses to start).
        let (blocks, covered) = plan::drop_covered(open_blocks(dir)?);
        report.covered_blocks_deleted = covered.len();
        for b in covered {
            tracing::warn!(block = %b.meta().id, "deleting a block whose data a newer compacted block holds");
            delete_block(b)?;
        }
        report.blocks = blocks.len();
        if options.verify_blocks {
            for b in &blocks {
                b.verify()?;
            }
        }
        let floor = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);

        // Leftovers of an interrupted checkpoint.
        for (name, path) in dir_entries(&wal_dir)? {
            if name.starts_with("checkpoint.") && name.ends_with(".tmp") {
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            }
        }
        let checkpoints = list_checkpoints(&wal_dir)?;
        let mut head = Head::new(options.head);
        head.raise_min_valid_time(floor);
        let mut replayer = Replayer {
            head,
            remap: HashMap::new(),
            floor,
            samples: 0,
            rejected: 0,
            unknown: 0,
            in_blocks: 0,
        };
        let mut recheckpoint = false;
        let mut first_segment = 0;
        if let Some(&n) = checkpoints.last() {
            let path = checkpoint_path(&wal_dir, n);
            let r = replay(&path, |rec| replayer.apply(rec))?;
            if let (Some((seg, off)), Some(reason)) = (r.truncated_at, &r.reason) {
                tracing::warn!(
                    checkpoint = %path.display(),
                    segment = seg,
                    offset = off,
                    %reason,
                    "corrupt WAL checkpoint: replayed up to the last good record; it will be replaced"
                );
                report.corruptions += 1;
                metrics.wal_corruptions.inc();
                recheckpoint = true;
            }
            report.checkpoint = Some(n);
            report.checkpoint_replay = Some(r);
            first_segment = n + 1;
        }
        let (mut wal, r) = WalWriter::open_from(&wal_dir, options.wal, first_segment, |rec| {
            replayer.apply(rec)
        })?;
        if let (Some((seg, off)), Some(reason)) = (r.truncated_at, &r.reason) {
            tracing::warn!(
                wal = %wal_dir.display(),
                segment = seg,
                offset = off,
                %reason,
                skipped_segments = ?r.skipped_segments,
                "corrupt WAL: cut at the last good record"
            );
            report.corruptions += 1;
            metrics.wal_corruptions.inc();
        }
        report.wal = r;
        let summary = metrics.wal_fsync_duration.clone();
        wal.set_sync_observer(Box::new(move |d| summary.observe(d.as_secs_f64())));
        let Replayer {
            mut head,
            samples,
            rejected,
            unknown,
            in_blocks,
            ..
        } = replayer;
        report.samples_in_blocks = in_blocks;
        head.rebuild_free_list();
        head.recompute_time_range();
        report.samples = samples;
        report.rejected_samples = rejected;
        report.unknown_series_refs = unknown;
        report.series = head.num_series();
        if unknown > 0 {
            tracing::warn!(
                unknown,
                "WAL replay: dropped samples or metadata of series whose record was lost"
            );
        }
        let mut db = Self {
            dir: dir.to_path_buf(),
            blocks,
            wal_dir,
            options,
            head,
            wal,
            metrics,
            records: Vec::new(),
            set_aside: None,
        };
        // Segments a checkpoint covers (left by a crash before their deletion), and
        // older checkpoints, are not needed.
        if let Some(&n) = checkpoints.last() {
            db.delete_covered(n)?;
        }
        if recheckpoint {
            // The new checkpoint is durable before the damaged one is set aside (instead
            // of deleted as an older checkpoint), so a crash in between loses nothing.
            db.set_aside = checkpoints.last().copied();
            db.checkpoint()?;
            db.set_aside = None;
        }
        db.publish();
        db.publish_blocks();
        report.duration = start.elapsed();
        db.metrics
            .data_replay_duration
            .set(report.duration.as_secs_f64());
        Ok((db, report))
    }
}

/// Applies replayed records to a head.
struct Replayer {
    head: Head,
    /// WAL id → head id, where a series record named labels another id already has.
    remap: HashMap<u64, SeriesId>,
    /// Samples before this are in a block already.
    floor: i64,
    samples: u64,
    rejected: u64,
    unknown: u64,
    in_blocks: u64,
}

impl Replayer {
    fn id(&self, wal_id: u64) -> SeriesId {
        self.remap.get(&wal_id).copied().unwrap_or(SeriesId(wal_id))
    }

    fn apply(&mut self, rec: Record) {
        match rec {
            Record::Series(series) => {
                for s in series {
                    let Ok(labels) = Labels::new(s.labels) else {
                        self.unknown += 1;
                        continue;
                    };
                    let Some(id) = self.head.replay_series(SeriesId(s.id), labels) else {
                        self.unknown += 1;
                        continue;
                    };
                    if id.0 == s.id {
                        self.remap.remove(&s.id);
                    } else {
                        self.remap.insert(s.id, id);
                    }
                }
            }
            Record::Samples(samples) => {
                for s in samples {
                    if s.t < self.floor {
                        self.in_blocks += 1;
                        continue;
                    }
                    match self.head.append_replayed(self.id(s.id), s.t, s.v) {
                        Ok(()) => self.samples += 1,
                        Err(Error::UnknownSeries(_)) => self.unknown += 1,
                        Err(_) => self.rejected += 1,
                    }
                }
            }
            Record::Metadata(metas) => {
                for m in metas {
                    if self.head.set_metadata(self.id(m.id), m.metadata).is_err() {
                        self.unknown += 1;
                    }
                }
            }
            Record::HeadCut(t) => self.head.raise_min_valid_time(t),
        }
    }
}

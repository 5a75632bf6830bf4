//! The store: a [`Head`] whose every acknowledged change is in a write-ahead log.
//!
//! Layout of a store directory `dir`:
//!
//! ```text
//! dir/01H…/                     persisted blocks (see FORMAT.md), owned by the store
//! dir/wal/00000007              WAL segments (see FORMAT.md)
//! dir/wal/checkpoint.00000006/  the head as of the end of segment 6: a WAL of its own
//! ```
//!
//! [`Db::open`] replays the newest checkpoint, then the segments after it, into the
//! head. [`Db::appender`] batches appends; [`Appender::commit`] logs the batch (new
//! series, metadata changes, samples: one `write`, at most one `fdatasync`) and only then
//! applies it to the head. [`Db::cut`] hands the samples before a time to a
//! [`BlockSink`], drops them, and writes a checkpoint that replaces every earlier
//! segment.
//!
//! [`Db::maintain`] cuts the head into blocks ([`Db::compact_head`]), merges blocks
//! ([`Db::compact_blocks`]) and applies retention ([`Db::apply_retention`]); queries
//! ([`Db::querier`], [`Db::select`]) merge blocks and head.
//!
//! Guarantees per sync policy and the handling of corruption are documented on [`Db`].

mod metrics;
mod plan;

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use metrics::TsdbMetrics;

use crate::Error;
use crate::block::{Block, BlockId, BlockMeta, WriteOptions};
use crate::chunk::Chunk;
use crate::compact::{compact, delete_block, open_blocks, retain_after, retain_size, write_range};
use crate::head::{BlockSink, CutStats, Head, HeadOptions, HeadSamples, HeadSeries, SeriesId};
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::querier::{MergeQuerier, Querier, Series};
use crate::record::{Metadata, MetadataRecord, Record, SampleRecord, SeriesRecord};
use crate::wal::{ReplayReport, SyncPolicy, WalOptions, WalWriter, io_err, list_segments, replay};

/// At most this many series per series record in a checkpoint.
const CHECKPOINT_SERIES_PER_RECORD: usize = 1_000;
/// At most this many samples per samples record in a checkpoint.
const CHECKPOINT_SAMPLES_PER_RECORD: usize = 10_000;
/// Largest encoded sample: 10-byte id, 10-byte timestamp, 8-byte value.
const MAX_SAMPLE_BYTES: u64 = 28;
/// Room for a frame header, type byte and count varint.
const RECORD_OVERHEAD: u64 = 32;

/// Two hours in milliseconds: the default [`Options::block_range`].
pub const DEFAULT_BLOCK_RANGE: i64 = 2 * 3_600_000;
/// Fifteen days in milliseconds: the default [`Options::retention_time`] (Prometheus's).
pub const DEFAULT_RETENTION_TIME: i64 = 15 * 24 * 3_600_000;

/// How a [`Db`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// WAL segment size and fsync policy.
    pub wal: WalOptions,
    /// Head chunk size.
    pub head: HeadOptions,
    /// Time range of a block cut from the head, in ms (default 2 h). The head is
    /// compacted once it spans more than 1.5 times this; compacted blocks span 3, 9, 27…
    /// times it, up to a tenth of the retention time or 31 days.
    pub block_range: i64,
    /// Blocks whose samples all end more than this many ms before the newest block's
    /// end are deleted by [`Db::maintain`] (default 15 days); `None` keeps them.
    pub retention_time: Option<i64>,
    /// Most bytes for blocks plus the WAL: [`Db::maintain`] deletes the oldest blocks
    /// until the total fits (default `None`: no limit).
    pub retention_size: Option<u64>,
    /// Read and check every chunk of every block on open (default `false`: only
    /// `meta.json` and the index are checked then, each chunk page's CRC when first read).
    pub verify_blocks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            wal: WalOptions::default(),
            head: HeadOptions::default(),
            block_range: DEFAULT_BLOCK_RANGE,
            retention_time: Some(DEFAULT_RETENTION_TIME),
            retention_size: None,
            verify_blocks: false,
        }
    }
}

/// What [`Db::open`] found and replayed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Number of the checkpoint replayed, if any.
    pub checkpoint: Option<u32>,
    /// The checkpoint's replay (its own segments), if there was one.
    pub checkpoint_replay: Option<ReplayReport>,
    /// The replay of the WAL segments after the checkpoint.
    pub wal: ReplayReport,
    /// Series in the head after replay.
    pub series: usize,
    /// Samples replayed into the head.
    pub samples: u64,
    /// Replayed samples the head refused (out of order, duplicate, out of bounds).
    pub rejected_samples: u64,
    /// Replayed samples or metadata naming a series no record defined (lost to a
    /// corruption), dropped.
    pub unknown_series_refs: u64,
    /// Corruptions found (0, 1 or 2: checkpoint and WAL), each cut as documented.
    pub corruptions: u32,
    /// Blocks opened.
    pub blocks: usize,
    /// Blocks deleted because a newer block holds all their sources (a crash between
    /// writing a compacted block and deleting its sources).
    pub covered_blocks_deleted: usize,
    /// Replayed samples older than the newest block's end, skipped because a block
    /// already holds them (a crash between writing a head block and its checkpoint).
    pub samples_in_blocks: u64,
    /// Time spent opening.
    pub duration: Duration,
}

/// What [`Db::cut`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutReport {
    /// What the head handed out and dropped.
    pub head: CutStats,
    /// The checkpoint written.
    pub checkpoint: CheckpointReport,
}

/// What [`Db::maintain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks cut from the head.
    pub head_blocks: Vec<BlockMeta>,
    /// Blocks written by block compaction.
    pub compacted: Vec<BlockMeta>,
    /// Blocks deleted by retention.
    pub deleted: Vec<BlockId>,
}

/// What [`Db::checkpoint`] wrote and deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Number of the checkpoint (the last WAL segment it replaces).
    pub number: u32,
    /// Series written.
    pub series: u64,
    /// Samples written.
    pub samples: u64,
    /// WAL segments deleted.
    pub segments_deleted: u32,
    /// Older checkpoints deleted.
    pub checkpoints_deleted: u32,
}

/// A crash-safe store of series: a WAL-backed [`Head`].
///
/// # What an acknowledged commit guarantees
///
/// `commit` returns after the batch's records were written with `write(2)` (no user-space
/// buffer), so they survive the process being killed (SIGKILL, panic, OOM kill) under
/// every policy. Surviving a power loss or kernel crash depends on [`SyncPolicy`]:
///
/// | policy | a committed batch is on stable storage |
/// |---|---|
/// | [`SyncPolicy::Always`] | when `commit` returns (one `fdatasync` per commit) |
/// | [`SyncPolicy::Interval`]`(d)` (default, 1 s) | once a later commit finds the last sync at least `d` old, on [`Db::sync`], when the segment is full, or once a checkpoint holds it; there is no background thread, so an idle store does not sync |
/// | [`SyncPolicy::Never`] | on [`Db::sync`], or once a checkpoint ([`Db::cut`]) holds it |
///
/// A crash during `commit` keeps a prefix of the batch's records (series, then metadata,
/// then samples), each record all or nothing; the caller was not acknowledged.
///
/// # Corruption
///
/// A torn or corrupt WAL tail is cut at the last good record (`tracing::warn!`,
/// `ember_tsdb_wal_corruptions_total`, [`OpenReport::wal`]); later segments are set aside
/// as `NNNNNNNN.corrupt`; the store opens. A corrupt checkpoint is replayed up to its
/// last good record and replaced by a new checkpoint of the head as replayed; once that
/// one is durable the damaged one is renamed `checkpoint.NNNNNNNN.corrupt` (warned and
/// counted the same way); samples of
/// series whose record was lost are dropped and counted in
/// [`OpenReport::unknown_series_refs`].
///
/// A corrupt block (a checksum of its index or `meta.json` wrong, or, with
/// [`Options::verify_blocks`], of a chunk page) stops [`Db::open`] with
/// [`Error::CorruptBlock`] naming the file, as Prometheus refuses to start: the operator
/// decides (move the block away, or restore it). Without `verify_blocks`, a damaged chunk
/// page is reported by the query that reads it.
///
/// # Example
///
/// ```
/// use ember_tsdb::{Db, Labels, Options};
///
/// let dir = std::env::temp_dir().join(format!("ember-db-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let up = Labels::new([("__name__", "up"), ("job", "node")])?;
/// let (mut db, _) = Db::open(&dir, Options::default())?;
/// let mut app = db.appender();
/// app.append(&up, 1_000, 1.0)?;
/// app.append(&up, 16_000, 1.0)?;
/// app.commit()?;
/// drop(db);
///
/// let (db, report) = Db::open(&dir, Options::default())?;
/// assert_eq!(report.samples, 2);
/// let id = db.head().get(&up).unwrap();
/// assert_eq!(db.head().samples(id)?.collect::<Vec<_>>(), [(1_000, 1.0), (16_000, 1.0)]);
/// # drop(db);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    blocks: Vec<Block>,
    wal_dir: PathBuf,
    options: Options,
    head: Head,
    wal: WalWriter,
    metrics: TsdbMetrics,
    records: Vec<Record>,
    /// A damaged checkpoint to rename to `.corrupt` rather than delete.
    set_aside: Option<u32>,
}

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

    /// Forces everything committed to stable storage, whatever the policy.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.wal.sync()
    }

    /// The head, for reads.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Samples of series `id` with `mint <= t <= maxt`.
    pub fn samples_in(&self, id: SeriesId, mint: i64, maxt: i64) -> Result<HeadSamples<'_>, Error> {
        self.head.samples_in(id, mint, maxt)
    }

    /// Every series of the head with samples in `mint..=maxt`, with those samples (the
    /// head only; [`Db::select`] reads blocks too).
    pub fn head_series(&self, mint: i64, maxt: i64) -> impl Iterator<Item = HeadSeries<'_>> + '_ {
        self.head.series_in_range(mint, maxt)
    }

    /// The persisted blocks, sorted by min time.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// A querier over every block and the head, merged (a sample is in exactly one of
    /// them: the head refuses samples before the newest block's end).
    pub fn querier(&self) -> MergeQuerier<'_> {
        let mut sources: Vec<&dyn Querier> =
            self.blocks.iter().map(|b| b as &dyn Querier).collect();
        sources.push(&self.head);
        MergeQuerier::new(sources)
    }

    /// Series matching every matcher with samples in `mint..=maxt`, from blocks and
    /// head, sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        self.querier().select(matchers, mint, maxt)
    }

    /// Label names of the series (blocks and head) matching every matcher, sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        self.querier().label_names(matchers)
    }

    /// Values of label `name` on the series (blocks and head) matching every matcher,
    /// sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        self.querier().label_values(name, matchers)
    }

    /// The metadata last written for a series.
    pub fn metadata(&self, labels: &Labels) -> Option<&Metadata> {
        self.head.metadata(self.head.get(labels)?)
    }

    /// The store's self-metrics.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.metrics
    }

    /// The options the store was opened with.
    pub fn options(&self) -> Options {
        self.options
    }

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

    fn write_checkpoint(&mut self) -> Result<CheckpointReport, Error> {
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

    /// Head compaction, as Prometheus does it: while the head spans more than 1.5 times
    /// [`Options::block_range`], its oldest whole range `[k·range, (k+1)·range)` is
    /// written as a level-1 block (into `<id>.tmp/`, synced, renamed), then the head is
    /// cut at the range's end with a checkpoint ([`Db::cut`]). A crash after the rename
    /// and before the checkpoint loses nothing and duplicates nothing: on open, replayed
    /// samples before the newest block's end are skipped. Returns the blocks written.
    pub fn compact_head(&mut self) -> Result<Vec<BlockMeta>, Error> {
        let range = self.options.block_range.max(1);
        let mut written = Vec::new();
        while let Some((mint, maxt)) = self.head.time_range() {
            if maxt.saturating_sub(mint) <= range / 2 * 3 {
                break;
            }
            let start = mint.div_euclid(range) * range;
            let end = start.saturating_add(range);
            let meta = write_range(
                &self.head,
                &self.dir,
                start,
                end - 1,
                &WriteOptions::default(),
            )?;
            if let Some(meta) = meta {
                self.metrics.compactions.inc();
                self.add_block(&meta)?;
                written.push(meta);
            }
            // The block holds them: the sink has nothing left to keep.
            let mut drop_all = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| Ok(());
            self.cut(end, &mut drop_all)?;
        }
        self.publish_blocks();
        Ok(written)
    }

    /// Block compaction: merges blocks as planned by Prometheus's leveled compactor
    /// (windows of 3, 9, 27… block ranges, see [`Options::block_range`]; the newest block
    /// is never merged), until nothing is left to merge. The merged block is durable
    /// (synced and renamed) before its sources are deleted; after a crash in between,
    /// [`Db::open`] deletes blocks whose sources a higher-level block holds. Returns the
    /// blocks written.
    pub fn compact_blocks(&mut self) -> Result<Vec<BlockMeta>, Error> {
        let ranges = plan::block_ranges(self.options.block_range, self.options.retention_time);
        let mut written = Vec::new();
        loop {
            let metas: Vec<&BlockMeta> = self.blocks.iter().map(Block::meta).collect();
            let Some(ids) = plan::plan(&metas, &ranges) else {
                break;
            };
            let (sources, rest): (Vec<Block>, Vec<Block>) = std::mem::take(&mut self.blocks)
                .into_iter()
                .partition(|b| ids.contains(&b.meta().id));
            self.blocks = rest;
            let meta = match compact(&self.dir, &sources, &WriteOptions::default()) {
                Ok(m) => m,
                Err(e) => {
                    self.metrics.compactions_failed.inc();
                    self.blocks.extend(sources);
                    self.sort_blocks();
                    return Err(e);
                }
            };
            self.metrics.compactions.inc();
            if let Err(e) = self.add_block(&meta) {
                self.blocks.extend(sources);
                self.sort_blocks();
                return Err(e);
            }
            for b in sources {
                delete_block(b)?;
            }
            written.push(meta);
        }
        self.publish_blocks();
        Ok(written)
    }

    /// Retention: deletes blocks whose data ends more than [`Options::retention_time`]
    /// before the newest block's end, then the oldest blocks while blocks plus WAL take
    /// more than [`Options::retention_size`] bytes (as Prometheus, the head's samples are
    /// never deleted by retention). Returns the ids deleted.
    pub fn apply_retention(&mut self) -> Result<Vec<BlockId>, Error> {
        let mut deleted = Vec::new();
        if let (Some(rt), Some(newest)) = (
            self.options.retention_time,
            self.blocks.iter().map(|b| b.meta().max_time).max(),
        ) {
            let before = newest.saturating_sub(rt).saturating_sub(1);
            let blocks = std::mem::take(&mut self.blocks);
            let (gone, kept) = match retain_after(blocks, before) {
                Ok(r) => r,
                Err(e) => return self.reload_blocks(e),
            };
            self.blocks = kept;
            if !gone.is_empty() {
                self.metrics.time_retentions.inc();
            }
            deleted.extend(gone);
        }
        if let Some(max) = self.options.retention_size {
            let wal = dir_bytes(&self.wal_dir)?;
            let blocks = std::mem::take(&mut self.blocks);
            let (gone, kept) = match retain_size(blocks, max.saturating_sub(wal)) {
                Ok(r) => r,
                Err(e) => return self.reload_blocks(e),
            };
            self.blocks = kept;
            if !gone.is_empty() {
                self.metrics.size_retentions.inc();
            }
            deleted.extend(gone);
        }
        self.sort_blocks();
        self.publish_blocks();
        Ok(deleted)
    }

    /// Everything the store does in the background in Prometheus, run by the caller (no
    /// thread): head compaction, block compaction, retention. Call it periodically (for
    /// instance once a minute, as Prometheus).
    pub fn maintain(&mut self) -> Result<MaintainReport, Error> {
        let head_blocks = self.compact_head()?;
        let compacted = self.compact_blocks()?;
        let deleted = self.apply_retention()?;
        Ok(MaintainReport {
            head_blocks,
            compacted,
            deleted,
        })
    }

    /// After a failed deletion the list may be short: read the directory again.
    fn reload_blocks<T>(&mut self, e: Error) -> Result<T, Error> {
        self.blocks = open_blocks(&self.dir)?;
        self.publish_blocks();
        Err(e)
    }

    fn add_block(&mut self, meta: &BlockMeta) -> Result<(), Error> {
        let block = Block::open(self.dir.join(meta.id.to_string()))?;
        self.blocks.push(block);
        self.sort_blocks();
        Ok(())
    }

    fn sort_blocks(&mut self) {
        self.blocks
            .sort_by_key(|b| (b.meta().min_time, b.meta().id));
    }

    fn publish_blocks(&mut self) {
        self.metrics.blocks_loaded.set(self.blocks.len() as i64);
        self.metrics
            .storage_blocks_bytes
            .set(self.blocks.iter().map(Block::size_bytes).sum::<u64>() as i64);
        let lowest = self
            .blocks
            .first()
            .map(|b| b.meta().min_time)
            .or_else(|| self.head.time_range().map(|r| r.0));
        self.metrics
            .lowest_timestamp
            .set(lowest.unwrap_or(i64::MAX));
    }

    /// Deletes segments `0..=n` and checkpoints before `n`.
    fn delete_covered(&mut self, n: u32) -> Result<(u32, u32), Error> {
        let mut segments = 0;
        let covered: Vec<u32> = list_segments(&self.wal_dir)?
            .into_iter()
            .filter(|&s| s <= n)
            .collect();
        if !covered.is_empty() {
            self.metrics.wal_truncations.inc();
            for s in covered {
                let p = crate::wal::segment_path(&self.wal_dir, s);
                if let Err(e) = fs::remove_file(&p) {
                    self.metrics.wal_truncations_failed.inc();
                    return Err(io_err(&p)(e));
                }
                segments += 1;
            }
        }
        let mut checkpoints = 0;
        for c in list_checkpoints(&self.wal_dir)? {
            if c < n && self.set_aside == Some(c) {
                let from = checkpoint_path(&self.wal_dir, c);
                let to = set_aside_name(&self.wal_dir, &format!("checkpoint.{c:08}.corrupt"));
                fs::rename(&from, &to).map_err(io_err(&from))?;
            } else if c < n {
                self.metrics.checkpoint_deletions.inc();
                let p = checkpoint_path(&self.wal_dir, c);
                if let Err(e) = fs::remove_dir_all(&p) {
                    self.metrics.checkpoint_deletions_failed.inc();
                    return Err(io_err(&p)(e));
                }
                checkpoints += 1;
            }
        }
        sync_dir(&self.wal_dir)?;
        Ok((segments, checkpoints))
    }

    fn publish(&mut self) {
        self.metrics.publish(
            self.head.stats(),
            self.head.num_series(),
            self.head.num_chunks(),
        );
        self.metrics
            .wal_segment_current
            .set(i64::from(self.wal.segment()));
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

    /// Logs the batch (one write, synced per the [`SyncPolicy`]) and applies it to the
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

/// Pushes `items` as one record, or as several when their estimated size passes
/// `budget` bytes (an item alone over the budget still gets a record of its own).
fn split_by_size<T>(
    out: &mut Vec<Record>,
    items: Vec<T>,
    budget: u64,
    size: impl Fn(&T) -> u64,
    make: impl Fn(Vec<T>) -> Record,
) {
    if items.is_empty() {
        return;
    }
    let total: u64 = items.iter().map(&size).sum();
    if total <= budget {
        out.push(make(items));
        return;
    }
    let mut cur = Vec::new();
    let mut bytes = 0;
    for item in items {
        let b = size(&item);
        if !cur.is_empty() && bytes + b > budget {
            out.push(make(std::mem::take(&mut cur)));
            bytes = 0;
        }
        bytes += b;
        cur.push(item);
    }
    out.push(make(cur));
}

/// Upper bound of a series' encoded size in a series record.
fn series_bytes(s: &SeriesRecord) -> u64 {
    20 + s
        .labels
        .iter()
        .map(|(n, v)| 20 + (n.len() + v.len()) as u64)
        .sum::<u64>()
}

fn checkpoint_path(wal_dir: &Path, n: u32) -> PathBuf {
    wal_dir.join(format!("checkpoint.{n:08}"))
}

fn dir_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_owned(), entry.path()));
        }
    }
    Ok(out)
}

/// Numbers of the complete checkpoints in `wal_dir`, ascending.
fn list_checkpoints(wal_dir: &Path) -> Result<Vec<u32>, Error> {
    let mut out: Vec<u32> = dir_entries(wal_dir)?
        .into_iter()
        .filter_map(|(name, path)| {
            let digits = name.strip_prefix("checkpoint.")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !path.is_dir() {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// `dir/name`, or `dir/name.N` for the first free `N`.
fn set_aside_name(dir: &Path, name: &str) -> PathBuf {
    let mut to = dir.join(name);
    let mut n = 1;
    while to.exists() {
        to = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    to
}

/// Bytes of the files under `dir`, recursively.
fn dir_bytes(dir: &Path) -> Result<u64, Error> {
    let mut total = 0;
    for (_, path) in dir_entries(dir)? {
        let md = fs::metadata(&path).map_err(io_err(&path))?;
        total += if md.is_dir() {
            dir_bytes(&path)?
        } else {
            md.len()
        };
    }
    Ok(total)
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests;

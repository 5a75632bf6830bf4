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
//! [`BlockSink`](crate::BlockSink), drops them, and writes a checkpoint that replaces every earlier
//! segment.
//!
//! [`Db::maintain`] cuts the head into blocks ([`Db::compact_head`]), merges blocks
//! ([`Db::compact_blocks`]) and applies retention ([`Db::apply_retention`]); queries
//! ([`Db::querier`], [`Db::select`]) merge blocks and head.
//!
//! Guarantees per sync policy and the handling of corruption are documented on [`Db`].

mod append;
mod checkpoint;
mod compaction;
mod metrics;
mod open;
mod plan;
mod query;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use append::Appender;
pub use metrics::TsdbMetrics;

use crate::Error;
use crate::block::{Block, BlockId, BlockMeta};
use crate::head::{CutStats, Head, HeadOptions};
use crate::record::{Record, SeriesRecord};
use crate::wal::{ReplayReport, WalOptions, WalWriter, io_err};

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
/// every policy. Surviving a power loss or kernel crash depends on [`SyncPolicy`](crate::SyncPolicy):
///
/// | policy | a committed batch is on stable storage |
/// |---|---|
/// | [`SyncPolicy::Always`](crate::SyncPolicy::Always) | when `commit` returns (one `fdatasync` per commit) |
/// | [`SyncPolicy::Interval`](crate::SyncPolicy::Interval)`(d)` (default, 1 s) | once a later commit finds the last sync at least `d` old, on [`Db::sync`], when the segment is full, or once a checkpoint holds it; there is no background thread, so an idle store does not sync |
/// | [`SyncPolicy::Never`](crate::SyncPolicy::Never) | on [`Db::sync`], or once a checkpoint ([`Db::cut`]) holds it |
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
    /// Forces everything committed to stable storage, whatever the policy.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.wal.sync()
    }

    /// The head, for reads.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The persisted blocks, sorted by min time.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The store's self-metrics.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.metrics
    }

    /// The options the store was opened with.
    pub fn options(&self) -> Options {
        self.options
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

//! The server's storage: an ember-tsdb [`Db`] shared as [`SharedDb`], written by the
//! scrape loops through [`DbStorage`] and kept in shape by a maintenance thread.
//!
//! Each scrape loop gets a [`DbAppender`]: it buffers one scrape (samples, staleness
//! markers as they are, metadata) without touching the store, then takes the write lock
//! once to hand the batch to the Db and commit it, so readers wait for one commit at most.
//! Samples the Db refuses (out of order, duplicate timestamp, before the head's minimum
//! time) are counted, as Prometheus's `prometheus_target_scrapes_sample_*_total`, and do
//! not fail the scrape.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use ember::Counter;
use ember_tsdb::{Db, Metadata, OpenReport, Options, SeriesId};

use crate::api::SharedDb;
use crate::appender::{AppendError, Appender, is_stale_marker};
use crate::flags::Flags;
use crate::labels::Labels;
use crate::scrape_manager::Appendable;

/// How often the maintenance thread runs [`Db::maintain`] (Prometheus compacts once a
/// minute).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// The [`Options`] the flags ask for: `--storage.tsdb.retention.time` (15d when neither
/// time nor size is given) and `--storage.tsdb.retention.size`.
///
/// ```
/// let f = ember_server::Flags::parse_from(["ember-server", "--storage.tsdb.retention.size=1GB"]).unwrap();
/// let o = ember_server::storage_options(&f);
/// assert_eq!((o.retention_time, o.retention_size), (None, Some(1 << 30)));
/// ```
pub fn storage_options(flags: &Flags) -> Options {
    let time_ms = flags.effective_retention_time().as_std().as_millis();
    Options {
        retention_time: (time_ms > 0).then(|| i64::try_from(time_ms).unwrap_or(i64::MAX)),
        retention_size: (flags.retention_size.0 > 0).then_some(flags.retention_size.0),
        ..Options::default()
    }
}

/// Opens (creating if needed) the store at `--storage.tsdb.path`.
pub fn open_storage(flags: &Flags) -> Result<(SharedDb, OpenReport), ember_tsdb::Error> {
    open_storage_at(&flags.storage_path, storage_options(flags))
}

/// Opens (creating if needed) the store in `dir` with `options`.
pub fn open_storage_at(
    dir: &Path,
    options: Options,
) -> Result<(SharedDb, OpenReport), ember_tsdb::Error> {
    let (db, report) = Db::open(dir, options)?;
    Ok((Arc::new(parking_lot::RwLock::new(db)), report))
}

/// An exclusive lock on a data directory (`DIR/lock`, `flock`), held while the value
/// lives, so two servers never write one store (Prometheus does the same).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Locks `dir` (created if needed) for this process; fails at once if another process
/// holds it.
pub fn lock_dir(dir: &Path) -> std::io::Result<DirLock> {
    std::fs::create_dir_all(dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(std::io::Error::from)?;
    Ok(DirLock { _file: file })
}

/// Samples the store refused, counted across every scrape loop.
#[derive(Debug, Clone, Default)]
pub struct AppendStats {
    /// Older than the newest sample of their series.
    pub out_of_order: Counter,
    /// Same timestamp as the newest sample of their series, another value.
    pub duplicate: Counter,
    /// Before the head's minimum valid time (already cut into a block).
    pub out_of_bounds: Counter,
    /// Refused for another reason (logged).
    pub other: Counter,
    /// Commits that failed (the WAL could not be written); the scrape's samples are lost.
    pub failed_commits: Counter,
}

impl AppendStats {
    /// Registers the counters under Prometheus's names.
    pub fn register(&self, registry: &ember::Registry) -> Result<(), ember::Error> {
        registry.register(
            "prometheus_target_scrapes_sample_out_of_order_total",
            "Total number of samples rejected due to not being out of the expected order.",
            self.out_of_order.clone(),
        )?;
        registry.register(
            "prometheus_target_scrapes_sample_duplicate_timestamp_total",
            "Total number of samples rejected due to duplicate timestamps but different values.",
            self.duplicate.clone(),
        )?;
        registry.register(
            "prometheus_target_scrapes_sample_out_of_bounds_total",
            "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            self.out_of_bounds.clone(),
        )?;
        registry.register(
            "ember_server_samples_rejected_other_total",
            "Samples the storage refused for a reason other than order, duplication or bounds.",
            self.other.clone(),
        )?;
        registry.register(
            "ember_server_append_commits_failed_total",
            "Scrape commits the storage failed to log; their samples were dropped.",
            self.failed_commits.clone(),
        )
    }
}

/// Hands each scrape loop a [`DbAppender`] over the shared store.
#[derive(Debug, Clone)]
pub struct DbStorage {
    db: SharedDb,
    stats: AppendStats,
}

impl DbStorage {
    /// Appenders writing to `db`, counting refused samples in `stats`.
    pub fn new(db: SharedDb, stats: AppendStats) -> Self {
        Self { db, stats }
    }
}

impl Appendable for DbStorage {
    type Appender = DbAppender;

    fn appender(&self) -> DbAppender {
        DbAppender {
            db: Arc::clone(&self.db),
            stats: self.stats.clone(),
            samples: Vec::new(),
            metadata: Vec::new(),
            ids: Vec::new(),
            bound: Vec::new(),
            lost: Vec::new(),
            batch: Vec::new(),
            last_len: 0,
        }
    }
}

/// One scrape loop's appender: buffers a scrape, commits it under the write lock.
///
/// Series the scrape loop numbers ([`Appender::bind`]) are resolved to the store's
/// [`SeriesId`] at the first commit that uses them, and their labels dropped: later
/// samples go by id, as Prometheus's scrape cache does with series references, and the
/// series' labels are held once, by the store. An id the head no longer knows (the series
/// was removed from memory after a long silence, and its slot perhaps reused) drops that
/// sample and reports the handle through [`Appender::take_lost`], so the loop binds it
/// again.
#[derive(Debug)]
pub struct DbAppender {
    db: SharedDb,
    stats: AppendStats,
    samples: Vec<(Target, i64, f64)>,
    metadata: Vec<(Target, Metadata)>,
    /// By handle: the store's id, once resolved ([`UNRESOLVED`] before).
    ids: Vec<u64>,
    /// Handles bound since the last commit, with their labels.
    bound: Vec<(u32, ember_tsdb::Labels)>,
    /// Handles the store did not know at the last commit.
    lost: Vec<u32>,
    /// Store ids appended in the commit under way.
    batch: Vec<u64>,
    /// Samples in the last commit (the buffer's size for the next scrape).
    last_len: usize,
}

/// Buffers of more entries than this are freed when emptied rather than kept.
const KEPT_BUFFER_ENTRIES: usize = 64;

/// Frees an emptied buffer's allocation when it is large.
pub(crate) fn release_large<T>(v: &mut Vec<T>) {
    if v.is_empty() && v.capacity() > KEPT_BUFFER_ENTRIES {
        *v = Vec::new();
    }
}

/// A handle not resolved to a store id (no store id has all bits set: the head's slots
/// are below [`ember_tsdb::MAX_SERIES`]).
const UNRESOLVED: u64 = u64::MAX;

/// The series of a buffered sample.
#[derive(Debug)]
enum Target {
    /// A scrape loop's handle.
    Handle(u32),
    /// Labels given directly (report series), converted at append.
    Own(ember_tsdb::Labels),
}

impl DbAppender {
    /// The store id of `handle`: resolved before, or from the labels it was bound to in
    /// this batch (creating the series if new); `None` if neither.
    fn resolve(
        ids: &mut [u64],
        bound: &[(u32, ember_tsdb::Labels)],
        app: &mut ember_tsdb::Appender<'_>,
        handle: u32,
    ) -> Option<SeriesId> {
        let slot = ids.get_mut(handle as usize)?;
        if *slot != UNRESOLVED {
            return Some(SeriesId(*slot));
        }
        // The last binding wins.
        let (_, labels) = bound.iter().rev().find(|(h, _)| *h == handle)?;
        let id = app.series(labels);
        *slot = id.0;
        Some(id)
    }

    /// Records that the store lost `handle`'s series.
    fn lose(ids: &mut [u64], lost: &mut Vec<u32>, handle: u32) {
        if let Some(slot) = ids.get_mut(handle as usize) {
            *slot = UNRESOLVED;
        }
        lost.push(handle);
    }
}

fn convert(series: &Labels) -> Result<ember_tsdb::Labels, AppendError> {
    ember_tsdb::Labels::new(series.iter()).map_err(|e| AppendError::Other(e.to_string()))
}

impl Appender for DbAppender {
    fn append(
        &mut self,
        series: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let l = convert(series)?;
        self.samples.push((Target::Own(l), timestamp_ms, value));
        Ok(())
    }

    fn bind(&mut self, handle: u32, series: &Labels) {
        let h = handle as usize;
        if self.ids.len() <= h {
            self.ids.resize(h + 1, UNRESOLVED);
        }
        self.ids[h] = UNRESOLVED;
        match convert(series) {
            Ok(l) => self.bound.push((handle, l)),
            // Labels the store refuses: the handle's samples are reported lost.
            Err(e) => tracing::warn!(series = %series, error = %e, "series refused by storage"),
        }
    }

    fn append_handle(
        &mut self,
        handle: u32,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        if self.samples.capacity() == 0 {
            // Sized as the last scrape (released after its commit).
            self.samples.reserve(self.last_len);
        }
        self.samples
            .push((Target::Handle(handle), timestamp_ms, value));
        Ok(())
    }

    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        if let Ok(l) = convert(series) {
            self.metadata.push((Target::Own(l), metadata.clone()));
        }
    }

    fn update_metadata_handle(&mut self, handle: u32, metadata: &Metadata) {
        self.metadata
            .push((Target::Handle(handle), metadata.clone()));
    }

    fn take_lost(&mut self) -> Vec<u32> {
        let mut lost = std::mem::take(&mut self.lost);
        lost.sort_unstable();
        lost.dedup();
        lost
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        if self.samples.is_empty() && self.metadata.is_empty() {
            return Ok(());
        }
        let (mut out_of_order, mut duplicate, mut out_of_bounds, mut other) = (0, 0, 0, 0);
        self.last_len = self.samples.len();
        let result = {
            let mut db = self.db.write();
            let mut app = db.appender();
            let (ids, bound, lost) = (&mut self.ids, &self.bound, &mut self.lost);
            // Ids appended in this batch (searched only when the store refuses a duplicate).
            let batch = &mut self.batch;
            batch.clear();
            for (target, t, v) in self.samples.drain(..) {
                let res = match &target {
                    Target::Own(l) => app.append(l, t, v).map(|_| ()),
                    Target::Handle(h) => match Self::resolve(ids, bound, &mut app, *h) {
                        Some(id) => match app.append_id(id, t, v) {
                            Err(ember_tsdb::Error::UnknownSeries(_)) => {
                                Self::lose(ids, lost, *h);
                                Ok(())
                            }
                            // Raw texts that relabeling merged into one series: the first
                            // sample of the batch stands, as in Prometheus, where the others
                            // are dropped at commit rather than counted as duplicates; and
                            // a staleness marker for a series that has a sample at that
                            // time is no marker (the series is not stale).
                            Err(ember_tsdb::Error::DuplicateSample { .. })
                                if is_stale_marker(v) || batch.contains(&id.0) =>
                            {
                                Ok(())
                            }
                            r => {
                                batch.push(id.0);
                                r
                            }
                        },
                        None => {
                            Self::lose(ids, lost, *h);
                            Ok(())
                        }
                    },
                };
                match res {
                    Ok(()) => {}
                    Err(ember_tsdb::Error::OutOfOrder { .. }) => out_of_order += 1,
                    Err(ember_tsdb::Error::DuplicateSample { .. }) => duplicate += 1,
                    Err(ember_tsdb::Error::OutOfBounds { .. }) => out_of_bounds += 1,
                    Err(e) => {
                        if other == 0 {
                            tracing::warn!(series = ?target, error = %e, "sample refused by storage");
                        }
                        other += 1;
                    }
                }
            }
            for (target, m) in self.metadata.drain(..) {
                match target {
                    Target::Own(l) => app.update_metadata(&l, m),
                    Target::Handle(h) => match Self::resolve(ids, bound, &mut app, h) {
                        Some(id) => {
                            if app.update_metadata_id(id, m).is_err() {
                                Self::lose(ids, lost, h);
                            }
                        }
                        None => Self::lose(ids, lost, h),
                    },
                }
            }
            app.commit()
        };
        // Between scrapes a loop keeps no scrape-sized buffer: with a loop per target
        // they would hold a scrape's worth of memory per target.
        release_large(&mut self.samples);
        release_large(&mut self.metadata);
        self.bound.clear();
        release_large(&mut self.bound);
        self.batch.clear();
        release_large(&mut self.batch);
        self.stats.out_of_order.inc_by(out_of_order);
        self.stats.duplicate.inc_by(duplicate);
        self.stats.out_of_bounds.inc_by(out_of_bounds);
        self.stats.other.inc_by(other);
        if out_of_order + duplicate + out_of_bounds > 0 {
            tracing::debug!(
                out_of_order,
                duplicate,
                out_of_bounds,
                "samples refused by storage"
            );
        }
        result.map_err(|e| {
            self.stats.failed_commits.inc();
            tracing::error!(error = %e, "storage commit failed");
            AppendError::Other(e.to_string())
        })
    }
}

/// Runs [`Db::maintain`] every `every` until `stop` receives or hangs up, logging what it
/// did; then returns.
pub fn spawn_maintenance(
    db: SharedDb,
    every: Duration,
    stop: Receiver<()>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tsdb-maintain".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
                maintain(&db);
            }
        })
}

/// One maintenance pass: head compaction, block compaction, retention.
pub fn maintain(db: &SharedDb) {
    let result = db.write().maintain();
    match result {
        Ok(r) => {
            for b in &r.head_blocks {
                tracing::info!(block = %b.id, mint = b.min_time, maxt = b.max_time, "write block");
            }
            for b in &r.compacted {
                tracing::info!(block = %b.id, mint = b.min_time, maxt = b.max_time, "compact blocks");
            }
            for b in &r.deleted {
                tracing::info!(block = %b, "Deleting obsolete block");
            }
        }
        Err(e) => tracing::error!(error = %e, "storage maintenance failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ember-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_scrape_is_committed_once_and_refusals_are_counted() {
        let d = dir("commit");
        let (db, _) = open_storage_at(&d, Options::default()).unwrap();
        let stats = AppendStats::default();
        let storage = DbStorage::new(Arc::clone(&db), stats.clone());
        let mut app = storage.appender();
        let up = Labels::from_pairs([("__name__", "up"), ("job", "j")]);
        app.append(&up, 1_000, 1.0).unwrap();
        let m = Metadata {
            metric_type: ember_tsdb::MetricType::Gauge,
            unit: String::new(),
            help: "Up.".into(),
        };
        app.update_metadata(&up, &m);
        assert_eq!(db.read().head().num_series(), 0, "nothing before commit");
        app.commit().unwrap();
        let tl = ember_tsdb::Labels::new([("__name__", "up"), ("job", "j")]).unwrap();
        assert_eq!(db.read().metadata(&tl), Some(&m));
        // Older and duplicate samples are counted, not fatal; the rest is stored.
        app.append(&up, 500, 1.0).unwrap();
        app.append(&up, 1_000, 2.0).unwrap();
        app.append(&up, 2_000, crate::appender::stale_nan())
            .unwrap();
        app.commit().unwrap();
        assert_eq!(stats.out_of_order.get(), 1);
        assert_eq!(stats.duplicate.get(), 1);
        let g = db.read();
        let id = g.head().get(&tl).unwrap();
        let got: Vec<(i64, u64)> = g
            .head()
            .samples(id)
            .unwrap()
            .map(|(t, v)| (t, v.to_bits()))
            .collect();
        assert_eq!(
            got,
            [
                (1_000, 1f64.to_bits()),
                (2_000, crate::appender::STALE_NAN_BITS)
            ]
        );
        drop(g);

        // Label sets at a reused address (temporaries) are told apart by content.
        for i in 0..3 {
            let tmp = Labels::from_pairs([("__name__", "tmp".to_owned()), ("i", i.to_string())]);
            app.append(&tmp, 5_000, f64::from(i)).unwrap();
        }
        app.commit().unwrap();
        let g = db.read();
        for i in 0..3 {
            let l = ember_tsdb::Labels::new([("__name__", "tmp".to_owned()), ("i", i.to_string())])
                .unwrap();
            let id = g.head().get(&l).unwrap();
            let got: Vec<(i64, f64)> = g.head().samples(id).unwrap().collect();
            assert_eq!(got, [(5_000, f64::from(i))]);
        }
        drop(g);
        drop(db);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn handles_lost_by_head_cuts_are_reported_and_rebound() {
        let d = dir("cut");
        let (db, _) = open_storage_at(&d, Options::default()).unwrap();
        let stats = AppendStats::default();
        let mut app = DbStorage::new(Arc::clone(&db), stats.clone()).appender();
        let labels = |name: &str| Labels::from_pairs([("__name__", name)]);
        let tsdb = |name: &str| ember_tsdb::Labels::new([("__name__", name)]).unwrap();
        let samples = |l: &ember_tsdb::Labels| -> Vec<(i64, f64)> {
            let g = db.read();
            let id = g.head().get(l).unwrap();
            g.head().samples(id).unwrap().collect()
        };
        app.bind(0, &labels("a"));
        app.bind(1, &labels("b"));
        app.append_handle(0, 1_000, 1.0).unwrap();
        app.append_handle(1, 1_000, 1.0).unwrap();
        app.commit().unwrap();
        assert_eq!(samples(&tsdb("a")), [(1_000, 1.0)]);
        assert!(app.take_lost().is_empty());

        // The cut drops both series; their slots go to new series of another generation,
        // so the resolved ids must not reach them.
        let mut drop_all =
            |_: &ember_tsdb::Labels, _: Option<&Metadata>, _: &[ember_tsdb::Chunk]| Ok(());
        db.write().cut(5_000, &mut drop_all).unwrap();
        assert_eq!(db.read().head().num_series(), 0);
        let c = tsdb("c");
        let d2 = tsdb("d");
        db.write().append(&c, 6_000, 7.0).unwrap();
        db.write().append(&d2, 6_000, 7.0).unwrap();
        app.append_handle(0, 6_000, 2.0).unwrap();
        // Handle 1 now stands for another label set.
        app.bind(1, &labels("e"));
        app.append_handle(1, 6_000, 3.0).unwrap();
        app.commit().unwrap();
        // Handle 0's series is gone: its sample is dropped and the handle reported once.
        assert_eq!(app.take_lost(), [0]);
        assert!(app.take_lost().is_empty());
        assert_eq!(samples(&tsdb("e")), [(6_000, 3.0)]);
        assert_eq!(samples(&c), [(6_000, 7.0)]);
        assert_eq!(samples(&d2), [(6_000, 7.0)]);
        assert!(db.read().head().get(&tsdb("a")).is_none());
        assert!(db.read().head().get(&tsdb("b")).is_none());
        // Bound again, it resolves anew.
        app.bind(0, &labels("a"));
        app.append_handle(0, 6_000, 2.0).unwrap();
        app.commit().unwrap();
        assert_eq!(samples(&tsdb("a")), [(6_000, 2.0)]);

        // Steady appends by id, and metadata by handle; a handle never bound is lost.
        let m = Metadata {
            metric_type: ember_tsdb::MetricType::Counter,
            unit: String::new(),
            help: "A.".into(),
        };
        app.append_handle(0, 7_000, 3.0).unwrap();
        app.update_metadata_handle(0, &m);
        app.append_handle(9, 7_000, 3.0).unwrap();
        app.commit().unwrap();
        assert_eq!(samples(&tsdb("a")), [(6_000, 2.0), (7_000, 3.0)]);
        assert_eq!(db.read().metadata(&tsdb("a")), Some(&m));
        assert_eq!(app.take_lost(), [9]);
        assert_eq!(stats.other.get(), 0);
        drop(db);
        let _ = std::fs::remove_dir_all(&d);
    }
}

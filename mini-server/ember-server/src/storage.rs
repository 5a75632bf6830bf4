//! The server's storage: an ember-tsdb [`Db`] shared as [`SharedDb`], written by the
//! scrape loops through [`DbStorage`] and kept in shape by a maintenance thread.
//!
//! Each scrape loop gets a [`DbAppender`]: it buffers one scrape (samples, staleness
//! markers as they are, metadata) without touching the store, then takes the write lock
//! once to hand the batch to the Db and commit it, so readers wait for one commit at most.
//! Samples the Db refuses (out of order, duplicate timestamp, before the head's minimum
//! time) are counted, as Prometheus's `prometheus_target_scrapes_sample_*_total`, and do
//! not fail the scrape.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use ember::Counter;
use ember_tsdb::{Db, Metadata, OpenReport, Options};

use crate::api::SharedDb;
use crate::appender::{AppendError, Appender};
use crate::flags::Flags;
use crate::labels::Labels;
use crate::scrape_manager::Appendable;

type Fast = foldhash::fast::RandomState;

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
            labels: HashMap::default(),
            previous_labels: HashMap::default(),
        }
    }
}

/// One scrape loop's appender: buffers a scrape, commits it under the write lock.
///
/// Label sets are converted to the store's type once per series and cached between
/// commits by the address of the caller's label set (entries unused by a commit are
/// forgotten at the next one), so a steady scrape neither allocates nor hashes labels
/// here.
#[derive(Debug)]
pub struct DbAppender {
    db: SharedDb,
    stats: AppendStats,
    samples: Vec<(SeriesRef, i64, f64)>,
    metadata: Vec<(SeriesRef, Metadata)>,
    /// Address of a label set → the store's labels, for the series of this batch.
    labels: HashMap<u64, ember_tsdb::Labels, Fast>,
    /// The same for the previous batch.
    previous_labels: HashMap<u64, ember_tsdb::Labels, Fast>,
}

/// A series of the batch: by its key in the label cache, or (on a hash collision) its
/// own labels.
#[derive(Debug)]
enum SeriesRef {
    Cached(u64),
    Own(ember_tsdb::Labels),
}

fn same(a: &Labels, b: &ember_tsdb::Labels) -> bool {
    a.len() == b.pairs().len()
        && a.iter()
            .zip(b.pairs())
            .all(|((n, v), (bn, bv))| n == bn && v == bv)
}

impl DbAppender {
    /// The batch's reference to `series`, converted to the store's labels once per
    /// series (the cache keeps the series of this batch and the previous one).
    fn convert(&mut self, series: &Labels) -> Result<SeriesRef, AppendError> {
        // Keyed by address: the scrape loop hands the same `Arc`ed label set for a series
        // scrape after scrape, so the address finds it without hashing the labels; the
        // labels are still compared, so a reused address is never mistaken.
        let key = std::ptr::from_ref(series) as usize as u64;
        match self.labels.get(&key) {
            Some(l) if same(series, l) => return Ok(SeriesRef::Cached(key)),
            Some(_) => {}
            None => {
                if let Some(l) = self.previous_labels.remove(&key) {
                    if same(series, &l) {
                        self.labels.insert(key, l);
                        return Ok(SeriesRef::Cached(key));
                    }
                }
            }
        }
        let l = ember_tsdb::Labels::new(series.iter())
            .map_err(|e| AppendError::Other(e.to_string()))?;
        if let std::collections::hash_map::Entry::Vacant(v) = self.labels.entry(key) {
            v.insert(l);
            return Ok(SeriesRef::Cached(key));
        }
        Ok(SeriesRef::Own(l))
    }

    fn labels_of<'a>(
        cache: &'a HashMap<u64, ember_tsdb::Labels, Fast>,
        r: &'a SeriesRef,
    ) -> Option<&'a ember_tsdb::Labels> {
        match r {
            SeriesRef::Cached(k) => cache.get(k),
            SeriesRef::Own(l) => Some(l),
        }
    }
}

impl Appender for DbAppender {
    fn append(
        &mut self,
        series: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let l = self.convert(series)?;
        self.samples.push((l, timestamp_ms, value));
        Ok(())
    }

    fn update_metadata(&mut self, series: &Labels, metadata: &Metadata) {
        if let Ok(l) = self.convert(series) {
            self.metadata.push((l, metadata.clone()));
        }
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let samples = std::mem::take(&mut self.samples);
        let metadata = std::mem::take(&mut self.metadata);
        let cache = std::mem::take(&mut self.labels);
        if samples.is_empty() && metadata.is_empty() {
            self.previous_labels = cache;
            return Ok(());
        }
        let (mut out_of_order, mut duplicate, mut out_of_bounds, mut other) = (0, 0, 0, 0);
        let result = {
            let mut db = self.db.write();
            let mut app = db.appender();
            for (r, t, v) in &samples {
                let Some(l) = Self::labels_of(&cache, r) else {
                    continue;
                };
                match app.append(l, *t, *v) {
                    Ok(_) => {}
                    Err(ember_tsdb::Error::OutOfOrder { .. }) => out_of_order += 1,
                    Err(ember_tsdb::Error::DuplicateSample { .. }) => duplicate += 1,
                    Err(ember_tsdb::Error::OutOfBounds { .. }) => out_of_bounds += 1,
                    Err(e) => {
                        if other == 0 {
                            tracing::warn!(series = ?l, error = %e, "sample refused by storage");
                        }
                        other += 1;
                    }
                }
            }
            for (r, m) in metadata {
                if let Some(l) = Self::labels_of(&cache, &r) {
                    app.update_metadata(l, m);
                }
            }
            app.commit()
        };
        self.previous_labels = cache;
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
}

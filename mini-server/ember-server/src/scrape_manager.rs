//! Many targets: one [`ScrapeLoop`] thread per target, kept in step with the
//! configuration and with file SD files.
//!
//! [`ScrapeManager::apply`] takes a (new) configuration: loops of targets that are gone,
//! or whose job changed, are stopped (which writes staleness markers for all their
//! series); new targets get a loop. [`ScrapeManager::sync`] re-reads file SD files whose
//! modification time changed or whose `refresh_interval` passed, and does the same.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;

use crate::appender::Appender;
use crate::config::{Config, ScrapeConfig, TargetGroup};
use crate::file_sd::read_target_groups;
use crate::labels::Labels;
use crate::scrape_loop::{ScrapeLoop, ScrapeReport};
use crate::target::{ADDRESS_LABEL, Target, discovered_labels, populate_labels};

/// Hands out an [`Appender`] per scrape loop.
pub trait Appendable: Send + Sync {
    /// The appender type.
    type Appender: Appender + 'static;

    /// A new appender, used by one loop.
    fn appender(&self) -> Self::Appender;
}

impl Appendable for crate::appender::MemoryAppender {
    type Appender = crate::appender::MemoryAppender;

    /// Clones share the store, so every loop writes into the same memory.
    fn appender(&self) -> Self::Appender {
        self.clone()
    }
}

/// A target as the targets API lists it.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Its job.
    pub job: String,
    /// Its labels and URL.
    pub target: Target,
    /// The latest scrape, if one happened.
    pub last_report: Option<ScrapeReport>,
}

/// A running target's shared state: readers on other threads see each new scrape's
/// report and metadata through it without the manager.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    /// Its job.
    pub job: String,
    /// Its labels and URL.
    pub target: Target,
    report: Arc<Mutex<Option<ScrapeReport>>>,
    metadata: Arc<Mutex<Arc<BTreeMap<String, ember_tsdb::Metadata>>>>,
}

impl LiveTarget {
    /// The target with its latest scrape, now.
    pub fn status(&self) -> TargetStatus {
        TargetStatus {
            job: self.job.clone(),
            target: self.target.clone(),
            last_report: self.report.lock().clone(),
        }
    }

    /// The metric families (TYPE, HELP, UNIT) of its latest successful scrape.
    pub fn metadata(&self) -> Arc<BTreeMap<String, ember_tsdb::Metadata>> {
        self.metadata.lock().clone()
    }
}

#[derive(Debug)]
struct Running<A: Appender> {
    job: String,
    target: Target,
    stop: Sender<()>,
    handle: JoinHandle<ScrapeLoop<A>>,
    report: Arc<Mutex<Option<ScrapeReport>>>,
    metadata: Arc<Mutex<Arc<BTreeMap<String, ember_tsdb::Metadata>>>>,
    forced_error: Arc<Mutex<Option<String>>>,
}

/// One file SD file as last read.
#[derive(Debug, Clone)]
struct SdFile {
    modified: Option<SystemTime>,
    read_at: Instant,
    groups: Vec<TargetGroup>,
}

/// Runs the scrape loops of a configuration.
#[derive(Debug)]
pub struct ScrapeManager<S: Appendable> {
    storage: S,
    jobs: Vec<ScrapeConfig>,
    /// Fingerprint of each job's settings: a changed job restarts its loops, as Prometheus
    /// restarts a changed scrape pool.
    fingerprints: HashMap<String, String>,
    sd_files: BTreeMap<PathBuf, SdFile>,
    running: BTreeMap<(String, Labels), Running<S::Appender>>,
    dropped: Vec<(String, Labels)>,
    errors: Vec<String>,
    /// The file SD files of each job at the last recomputation.
    sd_seen: Vec<Vec<PathBuf>>,
    /// The file SD errors of the last recomputation.
    sd_errors: Vec<String>,
    /// Targets must be recomputed (a configuration was applied).
    dirty: bool,
}

impl<S: Appendable> ScrapeManager<S> {
    /// A manager with no targets, writing to `storage`.
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            jobs: Vec::new(),
            fingerprints: HashMap::new(),
            sd_files: BTreeMap::new(),
            running: BTreeMap::new(),
            dropped: Vec::new(),
            errors: Vec::new(),
            sd_seen: Vec::new(),
            sd_errors: Vec::new(),
            dirty: true,
        }
    }

    /// Switches to `cfg`: stops loops of removed targets and changed jobs, starts new ones.
    pub fn apply(&mut self, cfg: &Config) {
        let fingerprints: HashMap<String, String> = cfg
            .scrape_configs
            .iter()
            .map(|j| (j.job_name.clone(), format!("{j:?}")))
            .collect();
        let changed: Vec<String> = self
            .fingerprints
            .iter()
            .filter(|(job, fp)| fingerprints.get(*job) != Some(*fp))
            .map(|(job, _)| job.clone())
            .collect();
        let to_stop: Vec<(String, Labels)> = self
            .running
            .keys()
            .filter(|(job, _)| changed.contains(job))
            .cloned()
            .collect();
        for key in to_stop {
            self.stop_one(&key);
        }
        self.jobs = cfg.scrape_configs.clone();
        self.fingerprints = fingerprints;
        self.sd_files.clear();
        self.dirty = true;
        self.sync();
    }

    /// Loads `path` and applies it; a configuration that does not load is refused with the
    /// reason and the running one stays, as Prometheus's reload.
    pub fn reload(&mut self, path: &std::path::Path) -> Result<(), crate::error::Error> {
        let cfg = Config::load(path)?;
        self.apply(&cfg);
        Ok(())
    }

    /// Re-reads changed or due file SD files and starts or stops loops to match. Returns
    /// whether the targets were recomputed: with no file SD change since the last call
    /// (the usual case, polled every second) nothing but the files' modification times is
    /// looked at.
    pub fn sync(&mut self) -> bool {
        let (files, sd_errors, reread) = self.refresh_sd_files();
        if !self.dirty && !reread && files == self.sd_seen && sd_errors == self.sd_errors {
            return false;
        }
        self.dirty = false;
        self.sd_seen = files;
        self.sd_errors = sd_errors;
        let seen = &self.sd_seen;
        self.sd_files
            .retain(|f, _| seen.iter().any(|job| job.contains(f)));
        self.errors = self.sd_errors.clone();
        let mut desired: BTreeMap<(String, Labels), (Target, usize)> = BTreeMap::new();
        let mut dropped = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            let mut groups = job.static_configs.clone();
            for f in self.sd_seen.get(i).into_iter().flatten() {
                if let Some(s) = self.sd_files.get(f) {
                    groups.extend(s.groups.iter().cloned());
                }
            }
            for g in &groups {
                for addr in &g.targets {
                    let mut l = g.labels.clone();
                    l.set(ADDRESS_LABEL, addr.clone());
                    match populate_labels(l.clone(), job) {
                        Ok(Some(t)) => {
                            let key = (job.job_name.clone(), t.full_labels().clone());
                            desired.insert(key, (t, i));
                        }
                        Ok(None) => dropped.push((job.job_name.clone(), discovered_labels(l, job))),
                        Err(e) => self.errors.push(format!("job {:?}: {e}", job.job_name)),
                    }
                }
            }
        }
        for e in &self.errors {
            tracing::warn!(error = %e, "target discovery");
        }
        self.dropped = dropped;
        let gone: Vec<(String, Labels)> = self
            .running
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.stop_one(&key);
        }
        let limit_errors = self.target_limit_errors(&desired);
        for (key, (target, i)) in desired {
            if let Some(r) = self.running.get(&key) {
                *r.forced_error.lock() = limit_errors.get(&key.0).cloned();
                continue;
            }
            let job = &self.jobs[i];
            let l = ScrapeLoop::new(target.clone(), job, self.storage.appender());
            let report = l.report_handle();
            let metadata = l.metadata_handle();
            let forced_error = l.forced_error_handle();
            // Set before the thread starts, so no scrape slips past the limit.
            *forced_error.lock() = limit_errors.get(&job.job_name).cloned();
            let (stop, rx) = channel();
            let handle = std::thread::spawn(move || l.run(rx));
            self.running.insert(
                key,
                Running {
                    job: job.job_name.clone(),
                    target,
                    stop,
                    handle,
                    report,
                    metadata,
                    forced_error,
                },
            );
        }
        true
    }

    /// The file SD files of each job (in the order their patterns list them), re-reading
    /// those whose modification time changed or whose `refresh_interval` passed. Returns
    /// the files, the errors met, and whether any file was read.
    fn refresh_sd_files(&mut self) -> (Vec<Vec<PathBuf>>, Vec<String>, bool) {
        let mut seen = Vec::with_capacity(self.jobs.len());
        let mut errors = Vec::new();
        let mut reread = false;
        for job in &self.jobs {
            let mut job_files = Vec::new();
            for sd in &job.file_sd_configs {
                for pattern in &sd.files {
                    let files = match glob::glob(&pattern.to_string_lossy()) {
                        Ok(paths) => paths.filter_map(Result::ok).collect::<Vec<_>>(),
                        Err(e) => {
                            errors.push(format!("{}: {e}", pattern.display()));
                            continue;
                        }
                    };
                    for f in files {
                        let modified = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
                        let fresh = self.sd_files.get(&f).is_some_and(|s| {
                            s.modified == modified
                                && s.read_at.elapsed() < sd.refresh_interval.as_std()
                        });
                        if !fresh {
                            match read_target_groups(&f) {
                                Ok(groups) => {
                                    reread = true;
                                    let read_at = Instant::now();
                                    self.sd_files.insert(
                                        f.clone(),
                                        SdFile {
                                            modified,
                                            read_at,
                                            groups,
                                        },
                                    );
                                }
                                // A broken file keeps its last good targets, as Prometheus.
                                Err(e) => errors.push(e.to_string()),
                            }
                        }
                        job_files.push(f);
                    }
                }
            }
            seen.push(job_files);
        }
        (seen, errors, reread)
    }

    /// Prometheus's `target_limit`: a job with more targets than allowed has every scrape
    /// fail with the reason (`up` 0) until the count fits again. Returns the error per job.
    fn target_limit_errors(
        &mut self,
        desired: &BTreeMap<(String, Labels), (Target, usize)>,
    ) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for job in &self.jobs {
            let n = desired.keys().filter(|(j, _)| *j == job.job_name).count() as u64;
            if job.target_limit > 0 && n > job.target_limit {
                let e = format!(
                    "target_limit exceeded (number of targets: {n}, limit: {})",
                    job.target_limit
                );
                tracing::warn!(job = %job.job_name, error = %e, "target limit");
                self.errors.push(format!("job {:?}: {e}", job.job_name));
                out.insert(job.job_name.clone(), e);
            }
        }
        out
    }

    fn stop_one(&mut self, key: &(String, Labels)) {
        if let Some(r) = self.running.remove(key) {
            drop(r.stop);
            // The loop marks its series stale before it returns.
            let _ = r.handle.join();
        }
    }

    /// Handles on the running targets, by job and labels, for readers that must not wait
    /// for the manager (it may be stopping loops).
    pub fn live_targets(&self) -> Vec<LiveTarget> {
        self.running
            .values()
            .map(|r| LiveTarget {
                job: r.job.clone(),
                target: r.target.clone(),
                report: r.report.clone(),
                metadata: r.metadata.clone(),
            })
            .collect()
    }

    /// The targets being scraped, by job and labels.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.running
            .values()
            .map(|r| TargetStatus {
                job: r.job.clone(),
                target: r.target.clone(),
                last_report: r.report.lock().clone(),
            })
            .collect()
    }

    /// The metric families (TYPE, HELP, UNIT) each target exposed in its latest successful
    /// scrape: (target labels, family name, metadata), by target then family.
    pub fn target_metadata(&self) -> Vec<(Labels, String, ember_tsdb::Metadata)> {
        let mut out = Vec::new();
        for r in self.running.values() {
            let families = r.metadata.lock().clone();
            let labels = r.target.labels();
            for (name, m) in families.iter() {
                out.push((labels.clone(), name.clone(), m.clone()));
            }
        }
        out
    }

    /// The names of the configured jobs, in configuration order.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs.iter().map(|j| j.job_name.clone()).collect()
    }

    /// Targets relabeling dropped, as (job, discovered labels): the targets API's
    /// `droppedTargets`.
    pub fn dropped_targets(&self) -> &[(String, Labels)] {
        &self.dropped
    }

    /// Problems met by the last [`ScrapeManager::sync`] (unreadable SD files, bad targets).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Stops every loop (writing staleness markers for all their series). Every loop is
    /// told first and then waited for, so a stop takes as long as the slowest scrape in
    /// flight, not the sum of them.
    pub fn stop_all(&mut self) {
        let running = std::mem::take(&mut self.running);
        let handles: Vec<_> = running
            .into_values()
            .map(|r| {
                drop(r.stop);
                r.handle
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

impl<S: Appendable> Drop for ScrapeManager<S> {
    fn drop(&mut self) {
        self.stop_all();
    }
}

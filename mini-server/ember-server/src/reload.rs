//! The running server's live state: the scrape manager and the configuration it runs,
//! reloads (SIGHUP, `POST /-/reload`), the server's own `prometheus_*` figures, and the
//! [`ServerView`] the API reads.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ember::{Family, FloatGauge, Gauge, Registry};
use parking_lot::{Mutex, RwLock};

use crate::api::{RuntimeInfo, ServerView, TargetMetadata};
use crate::flags::{ConfigSource, Flags};
use crate::labels::Labels;
use crate::scrape_manager::{LiveTarget, ScrapeManager, TargetStatus};
use crate::storage::DbStorage;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The `prometheus_*` figures the server keeps about itself, under Prometheus's names.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// `prometheus_config_last_reload_successful`.
    pub reload_successful: Gauge,
    /// `prometheus_config_last_reload_success_timestamp_seconds`.
    pub reload_success_timestamp: FloatGauge,
    /// `prometheus_ready`: 1 once storage is open and scraping started.
    pub ready: Gauge,
    /// `prometheus_sd_discovered_targets{config, name="scrape"}`: targets found per job,
    /// dropped ones included.
    pub discovered_targets: Family<[String; 2], Gauge>,
    /// `prometheus_target_scrape_pool_targets{scrape_job}`: active targets per job.
    pub pool_targets: Family<[String; 1], Gauge>,
    /// `prometheus_target_scrape_pools_total`.
    pub pools: Gauge,
    /// `prometheus_build_info{branch, goversion, revision, version}`, always 1.
    pub build_info: Family<[String; 4], Gauge>,
}

impl ServerMetrics {
    /// Fresh figures, registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, ember::Error> {
        let m = Self {
            reload_successful: Gauge::default(),
            reload_success_timestamp: FloatGauge::default(),
            ready: Gauge::default(),
            discovered_targets: Family::with_label_names(["config", "name"])?,
            pool_targets: Family::with_label_names(["scrape_job"])?,
            pools: Gauge::default(),
            build_info: Family::with_label_names(["branch", "goversion", "revision", "version"])?,
        };
        registry.register(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            m.reload_successful.clone(),
        )?;
        registry.register(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            m.reload_success_timestamp.clone(),
        )?;
        registry.register(
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
            m.ready.clone(),
        )?;
        registry.register(
            "prometheus_sd_discovered_targets",
            "Current number of discovered targets.",
            m.discovered_targets.clone(),
        )?;
        registry.register(
            "prometheus_target_scrape_pool_targets",
            "Current number of targets in this scrape pool.",
            m.pool_targets.clone(),
        )?;
        registry.register(
            "prometheus_target_scrape_pools_total",
            "Total number of scrape pool creation attempts.",
            m.pools.clone(),
        )?;
        registry.register(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which prometheus was built.",
            m.build_info.clone(),
        )?;
        m.build_info
            .with_label_values(&["", "rust", "", env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(m)
    }
}

/// Running targets and dropped ones (job, discovered labels).
type TargetsView = (Vec<LiveTarget>, Vec<(String, Labels)>);

/// The server's live state: what runs, what it was loaded from, what reloads did.
#[derive(Debug)]
pub struct Live {
    flags: Flags,
    manager: Mutex<ScrapeManager<DbStorage>>,
    config_text: RwLock<String>,
    reload_ok: RwLock<(bool, i64)>,
    start_ms: i64,
    metrics: ServerMetrics,
    /// Jobs whose per-job figures are on /metrics.
    published_jobs: Mutex<Vec<String>>,
    /// What the API reads: handles on the running targets and the dropped ones, renewed
    /// whenever the manager changes them. The API never takes the manager's lock, which
    /// is held while loops stop (and they wait for the storage's write lock).
    view: RwLock<TargetsView>,
}

impl Live {
    /// Starts scraping `source` (loaded by [`Flags::load_config_source`]) into `storage`;
    /// reloads re-read the configuration the flags name.
    pub fn start(
        flags: Flags,
        source: ConfigSource,
        storage: DbStorage,
        metrics: ServerMetrics,
    ) -> Self {
        let mut manager = ScrapeManager::new(storage);
        manager.apply(&source.config);
        tracing::info!(filename = %source.path.display(), "Completed loading of configuration file");
        let now = now_ms();
        metrics.reload_successful.set(1);
        metrics.reload_success_timestamp.set(now as f64 / 1000.0);
        let live = Self {
            flags,
            manager: Mutex::new(manager),
            config_text: RwLock::new(source.text),
            reload_ok: RwLock::new((true, now)),
            start_ms: now,
            metrics,
            published_jobs: Mutex::new(Vec::new()),
            view: RwLock::default(),
        };
        live.publish_targets();
        live
    }

    /// Re-reads the configuration and applies it; one that does not load is refused
    /// with the reason (logged, `prometheus_config_last_reload_successful` 0) and the
    /// running one stays.
    pub fn reload(&self) -> Result<(), String> {
        let file = self
            .flags
            .config_file
            .as_deref()
            .unwrap_or(std::path::Path::new("prometheus.yml"))
            .display()
            .to_string();
        tracing::info!(filename = %file, "Loading configuration file");
        match self.flags.load_config_source() {
            Ok(source) => {
                self.manager.lock().apply(&source.config);
                *self.config_text.write() = source.text;
                let now = now_ms();
                *self.reload_ok.write() = (true, now);
                self.metrics.reload_successful.set(1);
                self.metrics
                    .reload_success_timestamp
                    .set(now as f64 / 1000.0);
                self.publish_targets();
                tracing::info!(filename = %source.path.display(), "Completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                let reason = format!("couldn't load configuration (--config.file={file:?}): {e}");
                self.reload_ok.write().0 = false;
                self.metrics.reload_successful.set(0);
                tracing::error!(err = %reason, "Error reloading config");
                Err(reason)
            }
        }
    }

    /// Picks up file SD changes (called periodically).
    pub fn sync(&self) {
        let changed = self.manager.lock().sync();
        if changed {
            self.publish_targets();
        }
    }

    /// Stops every scrape loop, writing staleness markers for their series.
    pub fn stop(&self) {
        self.manager.lock().stop_all();
        self.publish_targets();
        self.metrics.ready.set(0);
    }

    /// The server's figures.
    pub fn metrics(&self) -> &ServerMetrics {
        &self.metrics
    }

    fn publish_targets(&self) {
        let m = self.manager.lock();
        let jobs = m.job_names();
        let live = m.live_targets();
        let dropped = m.dropped_targets().to_vec();
        drop(m);
        let active: Vec<String> = live.iter().map(|t| t.job.clone()).collect();
        *self.view.write() = (live, dropped.clone());
        // Jobs no longer configured lose their series; the others are overwritten in
        // place, so a concurrent /metrics never sees them missing.
        let mut published = self.published_jobs.lock();
        for gone in published.iter().filter(|j| !jobs.contains(j)) {
            self.metrics
                .discovered_targets
                .remove(&[gone.clone(), "scrape".to_owned()]);
            self.metrics.pool_targets.remove(std::array::from_ref(gone));
        }
        published.clone_from(&jobs);
        drop(published);
        self.metrics.pools.set(jobs.len() as i64);
        for job in &jobs {
            let active = active.iter().filter(|j| *j == job).count();
            let gone = dropped.iter().filter(|(j, _)| j == job).count();
            self.metrics
                .discovered_targets
                .with_label_values(&[job.as_str(), "scrape"])
                .set((active + gone) as i64);
            self.metrics
                .pool_targets
                .with_label_values(&[job.as_str()])
                .set(active as i64);
        }
    }
}

/// Prometheus's name of a metric type.
fn type_name(t: ember_tsdb::MetricType) -> &'static str {
    use ember_tsdb::MetricType as T;
    match t {
        T::Counter => "counter",
        T::Gauge => "gauge",
        T::Histogram => "histogram",
        T::GaugeHistogram => "gaugehistogram",
        T::Summary => "summary",
        T::Info => "info",
        T::StateSet => "stateset",
        _ => "unknown",
    }
}

/// OS threads of this process (from `/proc/self/task`; 0 where that is unreadable).
fn thread_count() -> u64 {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count() as u64)
}

/// [`ServerView`] over the [`Live`] state.
#[derive(Debug, Clone)]
pub struct LiveView(pub Arc<Live>);

impl ServerView for LiveView {
    fn active_targets(&self) -> Vec<TargetStatus> {
        self.0
            .view
            .read()
            .0
            .iter()
            .map(LiveTarget::status)
            .collect()
    }

    fn dropped_targets(&self) -> Vec<(String, Labels)> {
        self.0.view.read().1.clone()
    }

    fn target_metadata(&self) -> Vec<TargetMetadata> {
        let targets = self.0.view.read().0.clone();
        let mut out = Vec::new();
        for t in &targets {
            let labels = t.target.labels();
            for (metric, m) in t.metadata().iter() {
                out.push(TargetMetadata {
                    target: labels.clone(),
                    metric: metric.clone(),
                    metric_type: type_name(m.metric_type).to_owned(),
                    help: m.help.clone(),
                    unit: m.unit.clone(),
                });
            }
        }
        out
    }

    fn config_yaml(&self) -> String {
        self.0.config_text.read().clone()
    }

    fn flags(&self) -> Vec<(String, String)> {
        self.0.flags.prometheus_pairs()
    }

    fn runtime_info(&self) -> RuntimeInfo {
        let (ok, last) = *self.0.reload_ok.read();
        RuntimeInfo {
            start_time_ms: self.0.start_ms,
            cwd: std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            reload_config_success: ok,
            last_config_time_ms: last,
            threads: thread_count(),
            storage_retention: self.0.flags.retention_string(),
        }
    }
}

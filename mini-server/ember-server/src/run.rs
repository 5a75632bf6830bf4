//! The server's life: flags to listening socket, storage, scraping and API; then reloads
//! and file SD polling until SIGTERM, SIGINT or `POST /-/quit`; then a clean stop.
//!
//! The listener is bound first and the storage opened next, so `/-/healthy` answers at
//! once and `/-/ready` as soon as the store is open.

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::flags::Flags;
use crate::reload::{Live, LiveView, ServerMetrics};
use crate::server::{Control, WebState};
use crate::storage::{
    AppendStats, DbStorage, MAINTENANCE_INTERVAL, lock_dir, open_storage, spawn_maintenance,
};

/// How often file SD files are checked for changes.
const SD_POLL: Duration = Duration::from_secs(1);

/// The query engine's options from `--query.*` and the global evaluation interval.
pub fn engine_options(flags: &Flags, evaluation_interval: Duration) -> ember_promql::EngineOptions {
    ember_promql::EngineOptions {
        lookback_delta: flags.lookback_delta.as_std(),
        max_samples: usize::try_from(flags.query_max_samples).unwrap_or(usize::MAX),
        timeout: (!flags.query_timeout.is_zero()).then(|| flags.query_timeout.as_std()),
        default_subquery_step: evaluation_interval,
    }
}

/// Sets up `--log.level` and `--log.format` (logfmt or JSON lines on standard error).
pub fn init_logging(flags: &Flags) -> Result<(), String> {
    use ember_exporter::{LogFormat, LogLevel};
    let level = match flags.log_level.as_str() {
        "debug" => LogLevel::Debug,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        _ => LogLevel::Info,
    };
    let format = match flags.log_format.as_str() {
        "json" => LogFormat::Json,
        _ => LogFormat::Logfmt,
    };
    ember_exporter::init_logging(level, format).map_err(|e| e.to_string())
}

/// Runs the server until it is asked to stop; `Err` (logged by the caller) for a
/// configuration, listener or storage that cannot be used.
pub fn run(flags: Flags) -> Result<(), String> {
    let started = Instant::now();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Starting Ember Server");
    let source = flags.load_config_source().map_err(|e| {
        let file = flags
            .config_file
            .as_deref()
            .unwrap_or(std::path::Path::new("prometheus.yml"))
            .display()
            .to_string();
        format!("Error loading config (--config.file={file}): {e}")
    })?;
    let listener = crate::server::bind(&flags.listen_address)
        .map_err(|e| format!("cannot listen on {}: {e}", flags.listen_address))?;
    let registry = ember::Registry::new();
    registry.register_collector(ember::ProcessCollector::new());
    let (control_tx, control) = channel();
    let web = Arc::new(WebState::new(
        registry.clone(),
        flags.enable_lifecycle,
        control_tx,
    ));
    let signals = crate::server::spawn(listener, Arc::clone(&web))
        .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
    tracing::info!(address = %flags.listen_address, "Start listening for connections");

    tracing::info!(path = %flags.storage_path.display(), "Starting TSDB ...");
    let _lock = lock_dir(&flags.storage_path).map_err(|e| {
        format!(
            "opening storage failed: lock DB directory {}: {e}",
            flags.storage_path.display()
        )
    })?;
    let (db, report) = open_storage(&flags).map_err(|e| format!("opening storage failed: {e}"))?;
    tracing::info!(
        series = report.series,
        samples = report.samples,
        blocks = report.blocks,
        duration = ?report.duration,
        "TSDB started"
    );
    let metrics_error = |e: ember::Error| format!("cannot register self-metrics: {e}");
    db.read()
        .metrics()
        .register(&registry)
        .map_err(metrics_error)?;
    let stats = AppendStats::default();
    stats.register(&registry).map_err(metrics_error)?;
    let server_metrics = ServerMetrics::new(&registry).map_err(metrics_error)?;
    let evaluation_interval = source.config.global.evaluation_interval.as_std();
    let engine = engine_options(&flags, evaluation_interval);
    let live = Arc::new(Live::start(
        flags,
        source,
        DbStorage::new(Arc::clone(&db), stats),
        server_metrics,
    ));
    let api = Api::new(
        Arc::clone(&db),
        engine,
        Arc::new(LiveView(Arc::clone(&live))),
    );
    // Before the signal handlers exist, SIGHUP would end the process: wait for them.
    let _ = signals.recv_timeout(Duration::from_secs(5));
    web.set_ready(api);
    live.metrics().ready.set(1);
    tracing::info!(
        startup = ?started.elapsed(),
        "Server is ready to receive web requests."
    );

    let (stop_maintenance, maintenance_rx) = channel();
    let maintenance = spawn_maintenance(Arc::clone(&db), MAINTENANCE_INTERVAL, maintenance_rx)
        .map_err(|e| format!("cannot start storage maintenance: {e}"))?;

    loop {
        match control.recv_timeout(SD_POLL) {
            Ok(Control::Reload(reply)) => {
                let result = live.reload();
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Ok(Control::Quit) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => live.sync(),
        }
    }

    web.set_unready();
    tracing::info!("Stopping scrape manager...");
    live.stop();
    drop(stop_maintenance);
    let _ = maintenance.join();
    tracing::info!("Stopping TSDB...");
    db.write()
        .sync()
        .map_err(|e| format!("syncing storage failed: {e}"))?;
    tracing::info!("See you next time!");
    Ok(())
}

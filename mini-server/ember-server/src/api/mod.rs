//! The Prometheus 2.42 HTTP API (`/api/v1/...`), independent of the HTTP server that
//! carries it: [`Api::handle`] takes a parsed request and returns status, content type and
//! body, so the server (hyper) and the tests (any HTTP stack) share one implementation.
//!
//! What the API reads:
//! - the storage, [`SharedDb`]: queries take the read lock for the duration of one
//!   evaluation;
//! - everything else the server knows (targets, configuration, flags, runtime facts)
//!   through [`ServerView`], which the server implements over its live state.

use std::sync::Arc;

use crate::labels::Labels;
use crate::scrape_manager::TargetStatus;

/// The storage as the server shares it: scrape loops append under the write lock, the
/// API reads under the read lock.
pub type SharedDb = Arc<parking_lot::RwLock<ember_tsdb::Db>>;

/// One request to `/api/v1/...`.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path after `/api/v1`, e.g. `/query` or `/label/job/values`.
    pub path: &'a str,
    /// The raw query string (without `?`), percent-encoded.
    pub query: &'a str,
    /// The body when it is `application/x-www-form-urlencoded`, else empty.
    pub form_body: &'a [u8],
}

/// The answer to an [`ApiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// The body (JSON for every endpoint).
    pub body: Vec<u8>,
}

/// One entry of `/api/v1/targets/metadata`: a metric family as one target last exposed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetMetadata {
    /// The target's labels (`job`, `instance`, ...).
    pub target: Labels,
    /// The family name.
    pub metric: String,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`, `stateset`
    /// or `unknown`.
    pub metric_type: String,
    /// The HELP text, empty if none.
    pub help: String,
    /// The UNIT, empty if none.
    pub unit: String,
}

/// Facts for `/api/v1/status/runtimeinfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeInfo {
    /// Process start, ms since the epoch.
    pub start_time_ms: i64,
    /// Working directory.
    pub cwd: String,
    /// Whether the last configuration reload succeeded.
    pub reload_config_success: bool,
    /// When the configuration was last (successfully) loaded, ms since the epoch.
    pub last_config_time_ms: i64,
    /// OS threads of the process (Prometheus reports goroutines here).
    pub threads: u64,
    /// `--storage.tsdb.retention.time` / `.size` as Prometheus renders them, e.g. `15d`.
    pub storage_retention: String,
}

/// What the server knows besides the stored samples; implemented by the server over its
/// live state, and by tests over fixed values.
pub trait ServerView: Send + Sync {
    /// Targets being scraped, with their last scrape.
    fn active_targets(&self) -> Vec<TargetStatus>;
    /// Targets dropped by relabeling: job and discovered labels.
    fn dropped_targets(&self) -> Vec<(String, Labels)>;
    /// Metric metadata per target from the latest scrapes.
    fn target_metadata(&self) -> Vec<TargetMetadata>;
    /// The loaded configuration as YAML, as `/api/v1/status/config` shows it.
    fn config_yaml(&self) -> String;
    /// Every flag and its value, as `/api/v1/status/flags` shows them.
    fn flags(&self) -> Vec<(String, String)>;
    /// Runtime facts.
    fn runtime_info(&self) -> RuntimeInfo;
}

/// The API over a storage and a server view.
pub struct Api {
    db: SharedDb,
    engine: ember_promql::Engine,
    view: Arc<dyn ServerView>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

impl Api {
    /// An API answering from `db` with an engine built from `engine` options
    /// (`--query.lookback-delta`, `--query.timeout`, `--query.max-samples`).
    pub fn new(
        db: SharedDb,
        engine: ember_promql::EngineOptions,
        view: Arc<dyn ServerView>,
    ) -> Self {
        Self {
            db,
            engine: ember_promql::Engine::new(engine),
            view,
        }
    }

    /// Answers one request. INTERFACE SKELETON: the endpoints are being built on the
    /// `srv-api` branch; until then every path is Prometheus's 404 answer.
    pub fn handle(&self, req: &ApiRequest<'_>) -> ApiResponse {
        let _ = (&self.db, &self.engine, &self.view, req);
        ApiResponse {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: b"404 page not found\n".to_vec(),
        }
    }
}

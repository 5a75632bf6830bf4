//! The Prometheus 2.42 HTTP API (`/api/v1/...`), independent of the HTTP server that
//! carries it: [`Api::handle`] takes a parsed request and returns status, content type and
//! body, so the server (hyper) and the tests (any HTTP stack) share one implementation.
//!
//! What the API reads:
//! - the storage, [`SharedDb`]: queries take the read lock for the duration of one
//!   evaluation;
//! - everything else the server knows (targets, configuration, flags, runtime facts)
//!   through [`ServerView`], which the server implements over its live state.
//!
//! Wiring it into an HTTP server: for every request whose path starts with `/api/v1`,
//! pass the method, the rest of the path (still percent-encoded is fine), the raw query
//! string, and the body when the request's `Content-Type` is
//! `application/x-www-form-urlencoded` (else an empty slice); send back
//! [`ApiResponse::status`], [`ApiResponse::body`] and a `Content-Type` header with
//! [`ApiResponse::content_type`] unless it is empty (204 answers carry none).
//! [`Api`] is `Send + Sync`: share one behind an `Arc`. A call may block on the storage
//! lock and evaluate a query, so run it where blocking is allowed.
//!
//! ```
//! use std::sync::Arc;
//! use ember_server::api::{Api, ApiRequest, RuntimeInfo, ServerView, TargetMetadata};
//! use ember_server::{Labels, TargetStatus};
//!
//! struct Nothing;
//! impl ServerView for Nothing {
//!     fn active_targets(&self) -> Vec<TargetStatus> { Vec::new() }
//!     fn dropped_targets(&self) -> Vec<(String, Labels)> { Vec::new() }
//!     fn target_metadata(&self) -> Vec<TargetMetadata> { Vec::new() }
//!     fn config_yaml(&self) -> String { String::new() }
//!     fn flags(&self) -> Vec<(String, String)> { Vec::new() }
//!     fn runtime_info(&self) -> RuntimeInfo {
//!         RuntimeInfo { start_time_ms: 0, cwd: "/".into(), reload_config_success: true,
//!                       last_config_time_ms: 0, threads: 1, storage_retention: "15d".into() }
//!     }
//! }
//!
//! let dir = std::env::temp_dir().join(format!("ember-api-doc-{}", std::process::id()));
//! let (db, _) = ember_tsdb::Db::open(&dir, ember_tsdb::Options::default())?;
//! let api = Api::new(
//!     Arc::new(parking_lot::RwLock::new(db)),
//!     ember_promql::EngineOptions::default(),
//!     Arc::new(Nothing),
//! );
//! let r = api.handle(&ApiRequest { method: "GET", path: "/query", query: "query=1%2B1&time=60", form_body: b"" });
//! assert_eq!((r.status, r.content_type), (200, "application/json"));
//! assert_eq!(r.body, br#"{"status":"success","data":{"resultType":"scalar","result":[60,"2"]}}"#);
//! let r = api.handle(&ApiRequest { method: "GET", path: "/query_range", query: "query=up&start=0&end=1&step=0", form_body: b"" });
//! assert_eq!(r.status, 400);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), ember_tsdb::Error>(())
//! ```

use std::sync::Arc;

mod json;
mod params;
mod query;
mod series;
mod status;

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
    /// `Content-Type` header value; empty for a 204 answer, which carries none.
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

    /// Answers one request as Prometheus 2.42 does: the JSON envelope, its `errorType`s
    /// and status codes, 404 for an unknown path and 405 for a known path with another
    /// method.
    pub fn handle(&self, req: &ApiRequest<'_>) -> ApiResponse {
        let Some((methods, endpoint)) = route(req.path) else {
            return text(404, "404 page not found\n");
        };
        if req.method == "OPTIONS" {
            return no_content();
        }
        if !methods.contains(&req.method) {
            return text(405, "Method Not Allowed\n");
        }
        // Go's `ParseForm` reads the body of POST, PUT and PATCH requests only.
        let body: &[u8] = match req.method {
            "POST" | "PUT" | "PATCH" => req.form_body,
            _ => b"",
        };
        let form = params::Form::parse(req.query, body);
        let result = match endpoint {
            Endpoint::Series if req.method == "DELETE" => {
                Err(ApiError::new(ErrorKind::Internal, "not implemented"))
            }
            Endpoint::Query => self.query(&form),
            Endpoint::QueryRange => self.query_range(&form),
            Endpoint::QueryExemplars => query::query_exemplars(&form),
            Endpoint::FormatQuery => query::format_query(&form),
            Endpoint::Series => self.series(&form),
            Endpoint::Labels => self.label_names(&form),
            Endpoint::LabelValues(name) => self.label_values(name, &form),
            Endpoint::Metadata => status::metadata(self.view.as_ref(), &form),
            Endpoint::Targets => status::targets(self.view.as_ref(), req.query),
            Endpoint::TargetsMetadata => status::targets_metadata(self.view.as_ref(), &form),
            Endpoint::BuildInfo => Ok(Answer::data(status::build_info())),
            Endpoint::Config => Ok(Answer::data(status::config(self.view.as_ref()))),
            Endpoint::Flags => Ok(Answer::data(status::flags(self.view.as_ref()))),
            Endpoint::RuntimeInfo => Ok(Answer::data(status::runtime_info(self.view.as_ref()))),
            Endpoint::Tsdb => Ok(Answer::data(status::tsdb(&self.db.read()))),
            Endpoint::Rules => status::rules(req.query),
            Endpoint::Alerts => Ok(Answer::data("{\"alerts\":[]}".to_owned())),
            Endpoint::Alertmanagers => Ok(Answer::data(
                "{\"activeAlertmanagers\":[],\"droppedAlertmanagers\":[]}".to_owned(),
            )),
        };
        match result {
            Ok(Answer { data: None, .. }) => no_content(),
            Ok(Answer {
                data: Some(data),
                warnings,
            }) => ApiResponse {
                status: 200,
                content_type: "application/json",
                body: json::success(&data, &warnings).into_bytes(),
            },
            Err(e) => ApiResponse {
                status: e.kind.status(),
                content_type: "application/json",
                body: json::error(e.kind.as_str(), &e.msg).into_bytes(),
            },
        }
    }
}

/// 204 No Content, without a `Content-Type` (an empty [`ApiResponse::content_type`]).
fn no_content() -> ApiResponse {
    ApiResponse {
        status: 204,
        content_type: "",
        body: Vec::new(),
    }
}

/// A plain-text answer of the router (404, 405).
fn text(status: u16, body: &str) -> ApiResponse {
    ApiResponse {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.as_bytes().to_vec(),
    }
}

/// The endpoints, as Prometheus 2.42 registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint<'a> {
    Query,
    QueryRange,
    QueryExemplars,
    FormatQuery,
    Series,
    Labels,
    LabelValues(&'a str),
    Metadata,
    Targets,
    TargetsMetadata,
    BuildInfo,
    Config,
    Flags,
    RuntimeInfo,
    Tsdb,
    Rules,
    Alerts,
    Alertmanagers,
}

const GET: &[&str] = &["GET"];
const GET_POST: &[&str] = &["GET", "POST"];
/// Prometheus 2.42 also registers `DELETE /series`, answering "not implemented".
const SERIES: &[&str] = &["GET", "POST", "DELETE"];

/// The methods and endpoint of a path after `/api/v1`, `None` if unknown.
fn route(path: &str) -> Option<(&'static [&'static str], Endpoint<'_>)> {
    Some(match path {
        "/query" => (GET_POST, Endpoint::Query),
        "/query_range" => (GET_POST, Endpoint::QueryRange),
        "/query_exemplars" => (GET_POST, Endpoint::QueryExemplars),
        "/format_query" => (GET_POST, Endpoint::FormatQuery),
        "/series" => (SERIES, Endpoint::Series),
        "/labels" => (GET_POST, Endpoint::Labels),
        "/metadata" => (GET, Endpoint::Metadata),
        "/targets" => (GET, Endpoint::Targets),
        "/targets/metadata" => (GET, Endpoint::TargetsMetadata),
        "/status/buildinfo" => (GET, Endpoint::BuildInfo),
        "/status/config" => (GET, Endpoint::Config),
        "/status/flags" => (GET, Endpoint::Flags),
        "/status/runtimeinfo" => (GET, Endpoint::RuntimeInfo),
        "/status/tsdb" => (GET, Endpoint::Tsdb),
        "/rules" => (GET, Endpoint::Rules),
        "/alerts" => (GET, Endpoint::Alerts),
        "/alertmanagers" => (GET, Endpoint::Alertmanagers),
        _ => {
            let name = path.strip_prefix("/label/")?.strip_suffix("/values")?;
            if name.is_empty() || name.contains('/') {
                return None;
            }
            (GET, Endpoint::LabelValues(name))
        }
    })
}

/// The `errorType`s of Prometheus's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadData => "bad_data",
            ErrorKind::Execution => "execution",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Canceled => "canceled",
            ErrorKind::Internal => "internal",
        }
    }

    fn status(self) -> u16 {
        match self {
            ErrorKind::BadData => 400,
            ErrorKind::Execution => 422,
            ErrorKind::Timeout | ErrorKind::Canceled => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// A failed request: its type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    kind: ErrorKind,
    msg: String,
}

impl ApiError {
    pub(crate) fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Self {
            kind,
            msg: msg.into(),
        }
    }

    pub(crate) fn bad_data(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, msg)
    }

    /// Prometheus's `invalidParamError`.
    pub(crate) fn invalid_param(param: &str, msg: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter \"{param}\": {msg}"))
    }

    /// An engine error with its errorType.
    pub(crate) fn from_engine(e: &ember_promql::Error) -> Self {
        let kind = match e.error_type() {
            "bad_data" => ErrorKind::BadData,
            "timeout" => ErrorKind::Timeout,
            "canceled" => ErrorKind::Canceled,
            "internal" => ErrorKind::Internal,
            _ => ErrorKind::Execution,
        };
        Self::new(kind, e.to_string())
    }
}

/// A successful request: the `data` JSON (`None`: 204 No Content) and warnings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    data: Option<String>,
    warnings: Vec<String>,
}

impl Answer {
    pub(crate) fn data(data: String) -> Self {
        Self {
            data: Some(data),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn no_content() -> Self {
        Self::default()
    }
}

/// What an endpoint returns.
pub(crate) type ApiResult = Result<Answer, ApiError>;

//! What every Ember exporter shares: the command-line flags spelled as Prometheus's
//! exporter-toolkit spells them, an exporter [`Collector`] trait, a [`Scheduler`] that
//! runs collectors concurrently on a bounded thread pool under the scrape deadline, and
//! the HTTP server ([`Server`]) with landing page, telemetry path, health endpoints and
//! request limit.
//!
//! | item | what it does |
//! |---|---|
//! | [`command`], [`Flags`] | `--web.*`, `--log.*`, `--[no-]collector.NAME`, `--collector.disable-defaults` |
//! | [`Collector`] | one subsystem, updated on a pool thread at scrape time |
//! | [`Scheduler`] | runs collectors under a deadline; `<ns>_scrape_collector_{duration_seconds,success}` |
//! | [`ScrapeTimeout`] | the deadline from `X-Prometheus-Scrape-Timeout-Seconds` |
//! | [`WebConfig`] | `--web.config.file`: `tls_server_config` (rustls), `http_server_config`, `basic_auth_users` with bcrypt hashes |
//! | [`WebConfigFile`] | the file re-read per request and handshake, re-parsed only when its bytes change |
//! | [`Server`] | hyper 1.x server: `/`, the telemetry path, `/-/healthy`, `/-/ready` |
//! | [`Logger`], [`init_logging`] | `--log.level`, `--log.format logfmt\|json` as go-kit lines on stderr |
//! | [`run`] | an exporter's whole `main`: flags, logging, collectors, scheduler, server |
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ember_exporter::{Collector, CollectorError, Scheduler};
//! use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
//!
//! #[derive(Debug)]
//! struct Time;
//! impl Collector for Time {
//!     fn name(&self) -> &str { "time" }
//!     fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
//!         out.push(MetricFamily {
//!             name: "node_time_seconds".into(),
//!             help: "System time in seconds since epoch (1970).".into(),
//!             metric_type: MetricType::Gauge,
//!             unit: None,
//!             metrics: vec![Metric {
//!                 labels: vec![],
//!                 value: MetricValue::Gauge(1.7e9),
//!                 timestamp_ms: None,
//!                 created: None,
//!             }],
//!         });
//!         Ok(())
//!     }
//! }
//!
//! let scheduler = Scheduler::new("node", "node_exporter", vec![Box::new(Time)], 4).unwrap();
//! let scrape = scheduler.scrape(Instant::now() + Duration::from_secs(10));
//! let names: Vec<_> = scrape.families.iter().map(|f| f.name.as_str()).collect();
//! assert_eq!(
//!     names,
//!     ["node_time_seconds", "node_scrape_collector_duration_seconds", "node_scrape_collector_success"]
//! );
//! ```

mod collector;
mod error;
mod flags;
mod log;
mod pool;
mod run;
mod scheduler;
mod self_metrics;
mod server;
mod timeout;
mod tls;
mod web_config;

pub use collector::Collector;
pub use error::{CollectorError, Error};
pub use flags::{CollectorFlag, ExporterInfo, Flags, LogFormat, LogLevel, command};
pub use log::{Logger, init_logging};
pub use run::run;
pub use scheduler::{CollectorReport, Outcome, Scheduler, Scrape};
pub use server::Server;
pub use timeout::{SCRAPE_TIMEOUT_HEADER, ScrapeTimeout};
pub use tls::{LoadedWebConfig, WebConfigFile};
pub use web_config::{
    AuthCache, ClientAuthType, HttpServerConfig, TlsServerConfig, TlsVersion, WebConfig,
};

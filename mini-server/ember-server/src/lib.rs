//! The Ember mini-server: Prometheus 2.42's configuration file, relabeling and target
//! labels, scraping into ember-tsdb, and the HTTP server.
//!
//! | piece | what |
//! |---|---|
//! | [`Config`] | `prometheus.yml`: parsed strictly, Prometheus's defaults and checks |
//! | [`check_config`] | what `ember-server --check-config` prints, as `promtool check config` |
//! | [`RelabelConfig`], [`process`] | `relabel_configs` / `metric_relabel_configs` |
//! | [`populate_labels`], [`Target`] | a target's labels from discovery, as `PopulateLabels` |
//! | [`ScrapeLoop`], [`Appender`] | scraping one target into storage, with staleness and report series |
//! | [`ScrapeManager`] | one loop per target, following config changes and file SD files |
//! | [`Flags`], [`builtin_config`] | the command line as Prometheus spells it; the config used without a file |
//! | [`PromDuration`], [`ByteSize`] | durations (`1h30m`) and sizes (`10MB`) as Prometheus spells them |
//! | [`DbStorage`], [`open_storage`] | the ember-tsdb store behind the scrape loops, its maintenance |
//! | [`WebState`], [`bind`], [`spawn`] | the HTTP server: `/api/v1/*` to [`api::Api`], `/metrics`, `/-/*` |
//! | [`Live`], [`LiveView`] | the running configuration, reloads, self-metrics, [`api::ServerView`] |
//! | [`run`] | the whole server, as the binary runs it |
//!
//! ```
//! use ember_server::{Config, Labels, populate_labels};
//! let cfg = Config::parse(
//!     "scrape_configs:\n- job_name: node\n  static_configs:\n  - targets: ['localhost:9100']\n",
//!     std::path::Path::new("prometheus.yml"),
//! ).unwrap();
//! let job = &cfg.scrape_configs[0];
//! let t = populate_labels(Labels::from_pairs([("__address__", "localhost:9100")]), job)
//!     .unwrap().unwrap();
//! assert_eq!(t.labels().to_string(), r#"{instance="localhost:9100", job="node"}"#);
//! assert_eq!(t.url(), "http://localhost:9100/metrics");
//! ```

pub mod api;
mod appender;
mod check;
mod config;
mod duration;
mod error;
mod file_sd;
mod flags;
mod labels;
mod md5;
mod relabel;
mod reload;
mod rules;
mod run;
mod scrape_cache;
mod scrape_loop;
mod scrape_manager;
mod scraper;
mod server;
mod storage;
mod target;

pub use appender::{
    AppendError, Appender, MemoryAppender, STALE_NAN_BITS, StoredSample, is_stale_marker, stale_nan,
};
pub use check::{CheckReport, check_config};
pub use config::{
    Authorization, BasicAuth, Config, DEFAULT_EVALUATION_INTERVAL, DEFAULT_FILE_SD_REFRESH,
    DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_TIMEOUT, FileSdConfig, GlobalConfig, HttpClientConfig,
    ScrapeConfig, TargetGroup, TlsConfig,
};
pub use duration::{ByteSize, PromDuration};
pub use error::Error;
pub use file_sd::{FILEPATH_LABEL, read_target_groups};
pub use flags::{
    ConfigSource, DEFAULT_RETENTION, Flags, builtin_config, builtin_config_text, command,
};
pub use labels::{Labels, is_valid_label_name, is_valid_metric_name};
pub use relabel::{Action, AnchoredRegex, RelabelConfig, process};
pub use reload::{Live, LiveView, ServerMetrics};
pub use rules::{Rule, RuleFile, RuleGroup, parse_rule_file};
pub use run::{engine_options, init_logging, run};
pub use scrape_loop::{EXPORTED_LABEL_PREFIX, REPORT_SERIES, ScrapeLoop, ScrapeReport};
pub use scrape_manager::{Appendable, LiveTarget, ScrapeManager, TargetStatus};
pub use scraper::{SYSTEM_CA_BUNDLE, ScrapeError, USER_AGENT};
pub use server::{Control, WebState, bind, spawn};
pub use storage::{
    AppendStats, DbAppender, DbStorage, DirLock, MAINTENANCE_INTERVAL, lock_dir, maintain,
    open_storage, open_storage_at, spawn_maintenance, storage_options,
};
pub use target::{
    ADDRESS_LABEL, META_LABEL_PREFIX, METRICS_PATH_LABEL, PARAM_LABEL_PREFIX, SCHEME_LABEL,
    SCRAPE_INTERVAL_LABEL, SCRAPE_TIMEOUT_LABEL, Target, discovered_labels, populate_labels,
    targets_from_group,
};

//! Command-line flags spelled as Prometheus 2.42's, with its defaults, and the built-in
//! configuration used when there is no `prometheus.yml`.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::config::Config;
use crate::duration::{ByteSize, PromDuration};
use crate::error::Error;

/// Retention when neither `--storage.tsdb.retention.time` nor `.size` is given.
pub const DEFAULT_RETENTION: PromDuration = PromDuration::from_secs(15 * 24 * 3600);

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Flags {
    /// `--config.file`, if given; see [`Flags::load_config`].
    pub config_file: Option<PathBuf>,
    /// `--check-config FILE`: validate and exit.
    pub check_config: Option<PathBuf>,
    /// `--storage.tsdb.path` (`data/`).
    pub storage_path: PathBuf,
    /// `--storage.tsdb.retention.time`, if given.
    pub retention_time: Option<PromDuration>,
    /// `--storage.tsdb.retention.size` (0: no size limit).
    pub retention_size: ByteSize,
    /// `--web.listen-address` (`0.0.0.0:9090`).
    pub listen_address: String,
    /// `--web.enable-lifecycle`: allow `POST /-/reload` and `/-/quit`.
    pub enable_lifecycle: bool,
    /// `--query.lookback-delta` (5m).
    pub lookback_delta: PromDuration,
    /// `--query.timeout` (2m).
    pub query_timeout: PromDuration,
    /// `--query.max-samples` (50000000).
    pub query_max_samples: u64,
    /// `--log.level`: debug, info, warn, error.
    pub log_level: String,
    /// `--log.format`: logfmt or json.
    pub log_format: String,
}

fn duration(s: &str) -> Result<PromDuration, String> {
    s.parse()
}

fn size(s: &str) -> Result<ByteSize, String> {
    s.parse()
}

/// The `clap::Command` for `ember-server`.
pub fn command() -> Command {
    let value = |name: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name("VALUE").help(help)
    };
    Command::new("ember-server")
        .about("The Ember mini-server: scrapes Prometheus targets")
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            value(
                "config.file",
                "Configuration file path (default: prometheus.yml)",
            )
            .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            value(
                "check-config",
                "Check the configuration file and exit, as promtool",
            )
            .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            value("storage.tsdb.path", "Base path for metrics storage")
                .default_value("data/")
                .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            value(
                "storage.tsdb.retention.time",
                "How long to retain samples (default 15d)",
            )
            .value_parser(duration),
        )
        .arg(
            value(
                "storage.tsdb.retention.size",
                "Maximum bytes of storage blocks (0: no limit)",
            )
            .default_value("0")
            .value_parser(size),
        )
        .arg(
            value(
                "web.listen-address",
                "Address to listen on for UI, API, and telemetry",
            )
            .default_value("0.0.0.0:9090"),
        )
        .arg(
            Arg::new("web.enable-lifecycle")
                .long("web.enable-lifecycle")
                .action(ArgAction::SetTrue)
                .help("Enable shutdown and reload via HTTP request"),
        )
        .arg(
            value(
                "query.lookback-delta",
                "How far back to look for a sample in a query",
            )
            .default_value("5m")
            .value_parser(duration),
        )
        .arg(
            value(
                "query.timeout",
                "Maximum time a query may take before being aborted",
            )
            .default_value("2m")
            .value_parser(duration),
        )
        .arg(
            value(
                "query.max-samples",
                "Maximum number of samples a single query can load",
            )
            .default_value("50000000")
            .value_parser(value_parser!(u64)),
        )
        .arg(
            value(
                "log.level",
                "Only log messages with the given severity or above",
            )
            .value_parser(["debug", "info", "warn", "error"])
            .default_value("info"),
        )
        .arg(
            value("log.format", "Output format of log messages")
                .value_parser(["logfmt", "json"])
                .default_value("logfmt"),
        )
}

fn get<T: Clone + Send + Sync + 'static>(m: &ArgMatches, name: &str) -> Option<T> {
    m.get_one::<T>(name).cloned()
}

impl Flags {
    /// Parses `args` (the first one is the program name).
    ///
    /// ```
    /// let f = ember_server::Flags::parse_from(["ember-server", "--web.listen-address=:9999"]).unwrap();
    /// assert_eq!(f.listen_address, ":9999");
    /// assert_eq!(f.lookback_delta.to_string(), "5m");
    /// assert!(ember_server::Flags::parse_from(["ember-server", "--query.timeout=2x"]).is_err());
    /// ```
    pub fn parse_from<I, T>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = command().try_get_matches_from(args)?;
        Ok(Flags {
            config_file: get(&m, "config.file"),
            check_config: get(&m, "check-config"),
            storage_path: get(&m, "storage.tsdb.path").unwrap_or_default(),
            retention_time: get(&m, "storage.tsdb.retention.time"),
            retention_size: get(&m, "storage.tsdb.retention.size").unwrap_or_default(),
            listen_address: get(&m, "web.listen-address").unwrap_or_default(),
            enable_lifecycle: m.get_flag("web.enable-lifecycle"),
            lookback_delta: get(&m, "query.lookback-delta").unwrap_or_default(),
            query_timeout: get(&m, "query.timeout").unwrap_or_default(),
            query_max_samples: get(&m, "query.max-samples").unwrap_or_default(),
            log_level: get(&m, "log.level").unwrap_or_default(),
            log_format: get(&m, "log.format").unwrap_or_default(),
        })
    }

    /// Effective retention time, as Prometheus: 15d when neither time nor size is given,
    /// none (`0s`) when only a size is.
    pub fn effective_retention_time(&self) -> PromDuration {
        match self.retention_time {
            Some(t) => t,
            None if self.retention_size.0 == 0 => DEFAULT_RETENTION,
            None => PromDuration::default(),
        }
    }

    /// The configuration to run: `--config.file` if given (it must exist); otherwise
    /// `prometheus.yml` in the working directory if it exists; otherwise the built-in
    /// configuration ([`builtin_config`]).
    pub fn load_config(&self) -> Result<Config, Error> {
        self.load_config_source().map(|s| s.config)
    }

    /// As [`Flags::load_config`], with the text it was parsed from and where it came from.
    pub fn load_config_source(&self) -> Result<ConfigSource, Error> {
        let path = match &self.config_file {
            Some(p) => p.clone(),
            None if Path::new("prometheus.yml").exists() => PathBuf::from("prometheus.yml"),
            None => {
                let text = builtin_config_text(&self.listen_address);
                let path = PathBuf::from("<built-in>");
                return Ok(ConfigSource {
                    config: Config::parse(&text, &path)?,
                    text,
                    path,
                });
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(ConfigSource {
            config: Config::parse(&text, &path)?,
            text,
            path,
        })
    }

    /// Every flag with its value as Prometheus's `/api/v1/status/flags` lists them
    /// (names without `--`; durations, sizes and booleans spelled as Prometheus).
    ///
    /// ```
    /// let f = ember_server::Flags::parse_from(["ember-server", "--web.enable-lifecycle"]).unwrap();
    /// let pairs = f.prometheus_pairs();
    /// assert!(pairs.contains(&("web.enable-lifecycle".into(), "true".into())));
    /// assert!(pairs.contains(&("config.file".into(), "prometheus.yml".into())));
    /// assert!(pairs.contains(&("storage.tsdb.retention.size".into(), "0B".into())));
    /// ```
    pub fn prometheus_pairs(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let pairs = [
            (
                "config.file",
                self.config_file
                    .as_deref()
                    .map_or_else(|| "prometheus.yml".to_owned(), path),
            ),
            ("log.format", self.log_format.clone()),
            ("log.level", self.log_level.clone()),
            ("query.lookback-delta", self.lookback_delta.to_string()),
            ("query.max-samples", self.query_max_samples.to_string()),
            ("query.timeout", self.query_timeout.to_string()),
            ("storage.tsdb.path", path(&self.storage_path)),
            (
                "storage.tsdb.retention.size",
                byte_size_string(self.retention_size.0),
            ),
            (
                "storage.tsdb.retention.time",
                self.retention_time.unwrap_or_default().to_string(),
            ),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            ("web.listen-address", self.listen_address.clone()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The retention as Prometheus's runtime info shows it: `15d`, `1GiB`, or
    /// `15d or 1GiB`.
    ///
    /// ```
    /// let f = ember_server::Flags::parse_from(["ember-server", "--storage.tsdb.retention.size=1GB"]).unwrap();
    /// assert_eq!(f.retention_string(), "1GiB");
    /// let f = ember_server::Flags::parse_from(["ember-server"]).unwrap();
    /// assert_eq!(f.retention_string(), "15d");
    /// ```
    pub fn retention_string(&self) -> String {
        let time = self.effective_retention_time();
        let size = self.retention_size.0;
        match (time.is_zero(), size == 0) {
            (false, true) => time.to_string(),
            (true, false) => byte_size_string(size),
            (false, false) => format!("{time} or {}", byte_size_string(size)),
            (true, true) => String::new(),
        }
    }
}

/// A loaded configuration with its text and origin (`<built-in>` for the built-in one).
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The configuration.
    pub config: Config,
    /// The YAML it was parsed from.
    pub text: String,
    /// The file read, or `<built-in>`.
    pub path: PathBuf,
}

/// A byte count as Go's `units.Base2Bytes` prints it: the largest binary unit that
/// divides it (`1GiB`, `512MiB`), else bytes (`0B`, `1000B`).
fn byte_size_string(n: u64) -> String {
    const UNITS: [(&str, u32); 6] = [
        ("EiB", 60),
        ("PiB", 50),
        ("TiB", 40),
        ("GiB", 30),
        ("MiB", 20),
        ("KiB", 10),
    ];
    for (unit, shift) in UNITS {
        let size = 1u64 << shift;
        if n >= size && n % size == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

/// The configuration used without a `prometheus.yml`: every 15 s, the server itself (on
/// the port of `listen_address`) and a node exporter on `localhost:9100`.
///
/// ```
/// let c = ember_server::builtin_config("0.0.0.0:9191").unwrap();
/// assert_eq!(c.scrape_configs[0].static_configs[0].targets, ["localhost:9191"]);
/// assert_eq!(c.scrape_configs[1].static_configs[0].targets, ["localhost:9100"]);
/// ```
pub fn builtin_config(listen_address: &str) -> Result<Config, Error> {
    Config::parse(
        &builtin_config_text(listen_address),
        Path::new("<built-in>"),
    )
}

/// The YAML of [`builtin_config`].
pub fn builtin_config_text(listen_address: &str) -> String {
    let port = listen_address.rsplit_once(':').map_or("9090", |(_, p)| p);
    format!(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs:
  - job_name: ember-server\n    static_configs: [{{targets: ['localhost:{port}']}}]
  - job_name: node\n    static_configs: [{{targets: ['localhost:9100']}}]\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        Flags::parse_from(std::iter::once("ember-server").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_prometheus_2_42s() {
        let f = parse(&[]);
        assert_eq!(f.config_file, None);
        assert_eq!(f.storage_path, PathBuf::from("data/"));
        assert_eq!(f.listen_address, "0.0.0.0:9090");
        assert!(!f.enable_lifecycle);
        assert_eq!(f.lookback_delta.to_string(), "5m");
        assert_eq!(f.query_timeout.to_string(), "2m");
        assert_eq!(f.query_max_samples, 50_000_000);
        assert_eq!(
            (f.log_level.as_str(), f.log_format.as_str()),
            ("info", "logfmt")
        );
        assert_eq!(f.effective_retention_time().to_string(), "15d");
    }

    #[test]
    fn spelled_as_prometheus() {
        let f = parse(&[
            "--config.file=/etc/p.yml",
            "--storage.tsdb.path",
            "/var/lib/ember",
            "--storage.tsdb.retention.size=1GB",
            "--web.enable-lifecycle",
            "--query.lookback-delta=1m",
            "--log.level=debug",
            "--log.format=json",
        ]);
        assert_eq!(f.config_file, Some(PathBuf::from("/etc/p.yml")));
        assert_eq!(f.storage_path, PathBuf::from("/var/lib/ember"));
        assert_eq!(f.retention_size.0, 1 << 30);
        assert_eq!(f.effective_retention_time().to_string(), "0s");
        assert!(f.enable_lifecycle);
        assert_eq!(f.lookback_delta.to_string(), "1m");
        assert_eq!(f.log_format, "json");
        let f = parse(&["--storage.tsdb.retention.time=30d"]);
        assert_eq!(f.effective_retention_time().to_string(), "30d");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "--log.level=trace",
            "--log.format=xml",
            "--query.max-samples=-1",
            "--storage.tsdb.retention.time=1.5d",
            "--storage.tsdb.retention.size=10",
            "--no-such-flag",
        ] {
            assert!(Flags::parse_from(["ember-server", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn explicit_missing_config_is_an_error() {
        let f = parse(&["--config.file=/nonexistent/prometheus.yml"]);
        assert!(f.load_config().is_err());
    }
}

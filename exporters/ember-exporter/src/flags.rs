//! Command-line flags every exporter shares, spelled as Prometheus's exporter-toolkit and
//! node_exporter spell them.
//!
//! Upstream uses kingpin, whose boolean flags come in pairs (`--collector.cpu` and
//! `--no-collector.cpu`). clap has no such pairs, and the collector list is only known
//! at run time, so [`command`] builds the `clap::Command` with the builder API: two
//! flags per collector that override each other, so the last one given wins as in
//! kingpin.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::Error;

/// Who the exporter is: used for `--version`, `--help`, the landing page and
/// `<name>_build_info`.
#[derive(Debug, Clone)]
pub struct ExporterInfo {
    /// The program name, such as `node_exporter`.
    pub name: &'static str,
    /// One line saying what it exports, such as `Prometheus exporter for machine metrics`.
    pub description: &'static str,
    /// The version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// The metric namespace of the scheduler's metrics, such as `node`.
    pub namespace: &'static str,
    /// The default `--web.listen-address`, such as `:9100`.
    pub default_listen_address: &'static str,
}

/// A collector as the command line knows it: its name and whether it is on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorFlag {
    /// The `NAME` of `--collector.NAME`.
    pub name: &'static str,
    /// Whether it runs unless `--no-collector.NAME` or `--collector.disable-defaults`.
    pub enabled_by_default: bool,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info` (the default)
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `logfmt` (the default)
    Logfmt,
    /// `json`
    Json,
}

/// The parsed shared flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Flags {
    /// `--web.listen-address`, repeatable; the default is the exporter's port on all
    /// interfaces.
    pub listen_addresses: Vec<String>,
    /// `--web.telemetry-path`, default `/metrics`.
    pub telemetry_path: String,
    /// `--web.config.file`: TLS and basic auth in exporter-toolkit's schema.
    pub web_config_file: Option<PathBuf>,
    /// `--web.max-requests`: concurrent scrapes allowed, 0 for no limit; default 40.
    pub max_requests: usize,
    /// `--web.disable-exporter-metrics`: leave out `process_*`, `promhttp_*` and
    /// `<name>_build_info`.
    pub disable_exporter_metrics: bool,
    /// `--log.level`.
    pub log_level: LogLevel,
    /// `--log.format`.
    pub log_format: LogFormat,
    /// Each registered collector and whether it is enabled, by name.
    pub collectors: BTreeMap<&'static str, bool>,
}

impl Flags {
    /// Parses `args` (with the program name first) against [`command`].
    ///
    /// ```
    /// use ember_exporter::{CollectorFlag, ExporterInfo, Flags};
    /// let info = ExporterInfo {
    ///     name: "node_exporter",
    ///     description: "Prometheus exporter for machine metrics",
    ///     version: "0.1.0",
    ///     namespace: "node",
    ///     default_listen_address: ":9100",
    /// };
    /// let collectors = [
    ///     CollectorFlag { name: "cpu", enabled_by_default: true },
    ///     CollectorFlag { name: "systemd", enabled_by_default: false },
    /// ];
    /// let flags = Flags::try_parse_from(
    ///     &info,
    ///     &collectors,
    ///     ["node_exporter", "--no-collector.cpu", "--collector.systemd"],
    /// )
    /// .unwrap();
    /// assert_eq!(flags.listen_addresses, [":9100"]);
    /// assert_eq!(flags.enabled_collectors(), ["systemd"]);
    /// ```
    pub fn try_parse_from<I, T>(
        info: &ExporterInfo,
        collectors: &[CollectorFlag],
        args: I,
    ) -> Result<Flags, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = command(info, collectors).try_get_matches_from(args)?;
        Flags::from_matches(&matches, collectors)
    }

    /// Reads the shared flags out of matches of a [`command`] (possibly extended with
    /// the exporter's own flags).
    pub fn from_matches(
        matches: &ArgMatches,
        collectors: &[CollectorFlag],
    ) -> Result<Flags, Error> {
        let strings = |id: &str| -> Vec<String> {
            matches
                .get_many::<String>(id)
                .map(|v| v.cloned().collect())
                .unwrap_or_default()
        };
        let one = |id: &str| strings(id).into_iter().next().unwrap_or_default();
        let telemetry_path = one("web.telemetry-path");
        if !telemetry_path.starts_with('/') {
            return Err(Error::TelemetryPath(telemetry_path));
        }
        let log_level = match one("log.level").as_str() {
            "debug" => LogLevel::Debug,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => LogLevel::Info,
        };
        let log_format = match one("log.format").as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Logfmt,
        };
        let disable_defaults = matches.get_flag("collector.disable-defaults");
        let collectors = collectors
            .iter()
            .map(|c| {
                let on = if matches.get_flag(&format!("collector.{}", c.name)) {
                    true
                } else if matches.get_flag(&format!("no-collector.{}", c.name)) {
                    false
                } else {
                    c.enabled_by_default && !disable_defaults
                };
                (c.name, on)
            })
            .collect();
        Ok(Flags {
            listen_addresses: strings("web.listen-address"),
            telemetry_path,
            web_config_file: matches.get_one::<PathBuf>("web.config.file").cloned(),
            max_requests: matches
                .get_one::<usize>("web.max-requests")
                .copied()
                .unwrap_or(40),
            disable_exporter_metrics: matches.get_flag("web.disable-exporter-metrics"),
            log_level,
            log_format,
            collectors,
        })
    }

    /// The names of the enabled collectors, sorted.
    pub fn enabled_collectors(&self) -> Vec<&'static str> {
        self.collectors
            .iter()
            .filter(|(_, on)| **on)
            .map(|(name, _)| *name)
            .collect()
    }
}

/// The `clap::Command` with the shared flags and a `--[no-]collector.NAME` pair per
/// collector. An exporter adds its own flags (`--path.procfs`, ...) with `Command::arg`
/// before parsing.
///
/// ```
/// use ember_exporter::{CollectorFlag, ExporterInfo, command};
/// let info = ExporterInfo {
///     name: "node_exporter",
///     description: "Prometheus exporter for machine metrics",
///     version: "0.1.0",
///     namespace: "node",
///     default_listen_address: ":9100",
/// };
/// let cmd = command(&info, &[CollectorFlag { name: "cpu", enabled_by_default: true }]);
/// let names: Vec<_> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
/// assert!(names.contains(&"collector.cpu") && names.contains(&"no-collector.cpu"));
/// ```
pub fn command(info: &ExporterInfo, collectors: &[CollectorFlag]) -> Command {
    let mut cmd = Command::new(info.name)
        .about(info.description)
        .version(info.version)
        .arg(
            Arg::new("web.listen-address")
                .long("web.listen-address")
                .value_name("ADDRESS")
                .action(ArgAction::Append)
                .default_value(info.default_listen_address)
                .help("Address on which to expose metrics and web interface; repeatable"),
        )
        .arg(
            Arg::new("web.telemetry-path")
                .long("web.telemetry-path")
                .value_name("PATH")
                .default_value("/metrics")
                .help("Path under which to expose metrics"),
        )
        .arg(
            Arg::new("web.config.file")
                .long("web.config.file")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help("Path to configuration file that can enable TLS or authentication"),
        )
        .arg(
            Arg::new("web.max-requests")
                .long("web.max-requests")
                .value_name("N")
                .value_parser(value_parser!(usize))
                .default_value("40")
                .help("Maximum number of parallel scrape requests; use 0 to disable"),
        )
        .arg(
            Arg::new("web.disable-exporter-metrics")
                .long("web.disable-exporter-metrics")
                .action(ArgAction::SetTrue)
                .help("Exclude metrics about the exporter itself (promhttp_*, process_*)"),
        )
        .arg(
            Arg::new("log.level")
                .long("log.level")
                .value_name("LEVEL")
                .value_parser(["debug", "info", "warn", "error"])
                .default_value("info")
                .help("Only log messages with the given severity or above"),
        )
        .arg(
            Arg::new("log.format")
                .long("log.format")
                .value_name("FORMAT")
                .value_parser(["logfmt", "json"])
                .default_value("logfmt")
                .help("Output format of log messages"),
        )
        .arg(
            Arg::new("collector.disable-defaults")
                .long("collector.disable-defaults")
                .action(ArgAction::SetTrue)
                .help("Set all collectors to disabled by default"),
        );
    for c in collectors {
        let on = format!("collector.{}", c.name);
        let off = format!("no-collector.{}", c.name);
        let default = if c.enabled_by_default {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(
                Arg::new(on.clone())
                    .long(on.clone())
                    .action(ArgAction::SetTrue)
                    .overrides_with(off.clone())
                    .help(format!(
                        "Enable the {} collector (default: {default})",
                        c.name
                    )),
            )
            .arg(
                Arg::new(off.clone())
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .overrides_with(on)
                    .help(format!("Disable the {} collector", c.name)),
            );
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: ExporterInfo = ExporterInfo {
        name: "node_exporter",
        description: "Prometheus exporter for machine metrics",
        version: "1.2.3",
        namespace: "node",
        default_listen_address: ":9100",
    };
    const COLLECTORS: &[CollectorFlag] = &[
        CollectorFlag {
            name: "cpu",
            enabled_by_default: true,
        },
        CollectorFlag {
            name: "meminfo",
            enabled_by_default: true,
        },
        CollectorFlag {
            name: "systemd",
            enabled_by_default: false,
        },
    ];

    fn parse(args: &[&str]) -> Result<Flags, Error> {
        Flags::try_parse_from(
            &INFO,
            COLLECTORS,
            std::iter::once("node_exporter").chain(args.iter().copied()),
        )
    }

    #[test]
    fn defaults_match_upstream() {
        let f = parse(&[]).unwrap();
        assert_eq!(f.listen_addresses, [":9100"]);
        assert_eq!(f.telemetry_path, "/metrics");
        assert_eq!(f.web_config_file, None);
        assert_eq!(f.max_requests, 40);
        assert!(!f.disable_exporter_metrics);
        assert_eq!(f.log_level, LogLevel::Info);
        assert_eq!(f.log_format, LogFormat::Logfmt);
        assert_eq!(f.enabled_collectors(), ["cpu", "meminfo"]);
    }

    #[test]
    fn web_flags_are_read() {
        let f = parse(&[
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address",
            "[::1]:2",
            "--web.telemetry-path=/m",
            "--web.config.file=/etc/web.yml",
            "--web.max-requests=0",
            "--web.disable-exporter-metrics",
            "--log.level=debug",
            "--log.format=json",
        ])
        .unwrap();
        assert_eq!(f.listen_addresses, ["127.0.0.1:1", "[::1]:2"]);
        assert_eq!(f.telemetry_path, "/m");
        assert_eq!(f.web_config_file, Some(PathBuf::from("/etc/web.yml")));
        assert_eq!(f.max_requests, 0);
        assert!(f.disable_exporter_metrics);
        assert_eq!(f.log_level, LogLevel::Debug);
        assert_eq!(f.log_format, LogFormat::Json);
    }

    #[test]
    fn collector_flags_toggle_and_last_one_wins() {
        let f = parse(&["--no-collector.cpu", "--collector.systemd"]).unwrap();
        assert_eq!(f.enabled_collectors(), ["meminfo", "systemd"]);
        let f = parse(&["--no-collector.cpu", "--collector.cpu"]).unwrap();
        assert!(f.collectors["cpu"]);
        let f = parse(&["--collector.cpu", "--no-collector.cpu"]).unwrap();
        assert!(!f.collectors["cpu"]);
    }

    #[test]
    fn disable_defaults_keeps_explicit_collectors() {
        let f = parse(&["--collector.disable-defaults", "--collector.meminfo"]).unwrap();
        assert_eq!(f.enabled_collectors(), ["meminfo"]);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(matches!(
            parse(&["--log.level=trace"]),
            Err(Error::Flags(_))
        ));
        assert!(matches!(
            parse(&["--log.format=text"]),
            Err(Error::Flags(_))
        ));
        assert!(matches!(parse(&["--collector.nope"]), Err(Error::Flags(_))));
        assert!(matches!(
            parse(&["--web.max-requests=-1"]),
            Err(Error::Flags(_))
        ));
        assert!(matches!(
            parse(&["--web.telemetry-path=metrics"]),
            Err(Error::TelemetryPath(_))
        ));
    }

    #[test]
    fn version_flag_prints_version() {
        let err = parse(&["--version"]).unwrap_err();
        let Error::Flags(e) = err else {
            panic!("not a clap error: {err}")
        };
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(e.to_string(), "node_exporter 1.2.3\n");
    }

    #[test]
    fn command_is_consistent() {
        command(&INFO, COLLECTORS).debug_assert();
    }
}

//! `prometheus.yml` in Prometheus 2.42's schema: parsing with unknown keys refused,
//! Prometheus's defaults and cross-field checks, and the file checks `promtool check config`
//! makes (rule files, file_sd files, credential and certificate files).
//!
//! Errors from the YAML reader name the field path, line and column
//! (`scrape_configs[0].scrape_interval: not a valid duration string: "1x" at line 6 column 22`);
//! every error is prefixed by the file's path.
//!
//! Sections Prometheus accepts but Ember does not implement yet (`alerting`, `remote_write`,
//! `remote_read`, `storage`, `tracing`, `oauth2`) are accepted as opaque YAML and ignored.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::{ByteSize, PromDuration, ValidatedMap};
use crate::error::Error;
use crate::labels::{LabelName, Labels};
use crate::relabel::RelabelConfig;

/// Default `global.scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration::from_secs(60);
/// Default `global.scrape_timeout`.
pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration::from_secs(10);
/// Default `global.evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration::from_secs(60);
/// Default `file_sd_configs[].refresh_interval`.
pub const DEFAULT_FILE_SD_REFRESH: PromDuration = PromDuration::from_secs(300);

/// A whole, validated configuration file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The `global` section with defaults filled in.
    pub global: GlobalConfig,
    /// `rule_files` as written (patterns), resolved against the config file's directory.
    pub rule_files: Vec<PathBuf>,
    /// The scrape jobs, with intervals and timeouts inherited from `global`.
    pub scrape_configs: Vec<ScrapeConfig>,
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// How often to scrape by default (1m).
    pub scrape_interval: PromDuration,
    /// Scrape timeout by default (10s, or the interval when that is shorter).
    pub scrape_timeout: PromDuration,
    /// How often to evaluate rules (1m).
    pub evaluation_interval: PromDuration,
    /// Labels added to series and alerts leaving this server.
    pub external_labels: Labels,
    /// Where PromQL queries are logged, if anywhere.
    pub query_log_file: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            external_labels: Labels::new(),
            query_log_file: None,
        }
    }
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone)]
pub struct ScrapeConfig {
    /// The `job` label of its targets; unique in the file.
    pub job_name: String,
    /// Keep the target's labels on conflict instead of renaming them to `exported_*`.
    pub honor_labels: bool,
    /// Keep timestamps the target exposes (default true).
    pub honor_timestamps: bool,
    /// URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// How often to scrape.
    pub scrape_interval: PromDuration,
    /// How long a scrape may take.
    pub scrape_timeout: PromDuration,
    /// HTTP path (default `/metrics`).
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// Largest uncompressed body accepted; 0 means no limit.
    pub body_size_limit: u64,
    /// Most samples accepted per scrape after metric relabeling; 0 means no limit.
    pub sample_limit: u64,
    /// Most targets after relabeling; 0 means no limit.
    pub target_limit: u64,
    /// Most labels per sample; 0 means no limit.
    pub label_limit: u64,
    /// Longest label name; 0 means no limit.
    pub label_name_length_limit: u64,
    /// Longest label value; 0 means no limit.
    pub label_value_length_limit: u64,
    /// How to reach the targets.
    pub http: HttpClientConfig,
    /// Fixed targets.
    pub static_configs: Vec<TargetGroup>,
    /// Targets read from files.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Applied to target labels before scraping.
    pub relabel_configs: Vec<RelabelConfig>,
    /// Applied to each scraped sample's labels.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// Authentication and TLS for scrapes, as prometheus/common's `HTTPClientConfig`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`, or `bearer_token`/`bearer_token_file` turned into one as Prometheus does.
    pub authorization: Option<Authorization>,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `proxy_url`, accepted but not used yet.
    pub proxy_url: Option<String>,
    /// Follow redirects (default true).
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be used (default true).
    pub enable_http2: bool,
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password given inline.
    #[serde(default)]
    pub password: String,
    /// File holding the password (resolved against the config file's directory).
    #[serde(default)]
    pub password_file: String,
}

/// `authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` by default.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Credentials given inline.
    #[serde(default)]
    pub credentials: String,
    /// File holding the credentials.
    #[serde(default)]
    pub credentials_file: String,
}

/// `tls_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate file.
    #[serde(default)]
    pub ca_file: String,
    /// Client certificate file.
    #[serde(default)]
    pub cert_file: String,
    /// Client key file.
    #[serde(default)]
    pub key_file: String,
    /// Server name for SNI and verification.
    #[serde(default)]
    pub server_name: String,
    /// Skip certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version (`TLS10` … `TLS13`).
    #[serde(default)]
    pub min_version: Option<String>,
}

/// A group of targets sharing labels, as in `static_configs` and file_sd files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels given to every target of the group.
    #[serde(default, deserialize_with = "de_labels")]
    pub labels: Labels,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSdConfig {
    /// File patterns (`*` in the last path element), resolved against the config file's directory.
    pub files: Vec<PathBuf>,
    /// How often to re-read the files besides watching them (5m).
    pub refresh_interval: PromDuration,
}

fn de_labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
    let map = Option::<BTreeMap<LabelName, String>>::deserialize(d)?.unwrap_or_default();
    Ok(Labels::from_pairs(map.into_iter().map(|(k, v)| (k.0, v))))
}

// ---- raw, as written ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    rule_files: Option<Vec<String>>,
    #[serde(default)]
    scrape_configs: Option<Vec<Option<RawScrapeConfig>>>,
    // Accepted as Prometheus does; not implemented by Ember yet.
    #[serde(default, rename = "alerting")]
    _alerting: Option<serde_norway::Value>,
    #[serde(default, rename = "remote_write")]
    _remote_write: Option<serde_norway::Value>,
    #[serde(default, rename = "remote_read")]
    _remote_read: Option<serde_norway::Value>,
    #[serde(default, rename = "storage")]
    _storage: Option<serde_norway::Value>,
    #[serde(default, rename = "tracing")]
    _tracing: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    evaluation_interval: Option<PromDuration>,
    #[serde(default, deserialize_with = "de_labels")]
    external_labels: Labels,
    query_log_file: Option<String>,
}

impl<'de> Deserialize<'de> for GlobalConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ValidatedMap::<RawGlobal, Self>(std::marker::PhantomData))
    }
}

impl TryFrom<RawGlobal> for GlobalConfig {
    type Error = String;

    /// Prometheus's `GlobalConfig.UnmarshalYAML`: interval first, then the timeout checked
    /// against it (or inferred from it).
    fn try_from(g: RawGlobal) -> Result<Self, String> {
        let scrape_interval = g.scrape_interval.filter(|d| !d.is_zero());
        let scrape_interval = scrape_interval.unwrap_or(DEFAULT_SCRAPE_INTERVAL);
        let timeout = g.scrape_timeout.unwrap_or_default();
        if timeout > scrape_interval {
            return Err("global scrape timeout greater than scrape interval".into());
        }
        let scrape_timeout = if timeout.is_zero() {
            DEFAULT_SCRAPE_TIMEOUT.min(scrape_interval)
        } else {
            timeout
        };
        Ok(GlobalConfig {
            scrape_interval,
            scrape_timeout,
            evaluation_interval: g
                .evaluation_interval
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_EVALUATION_INTERVAL),
            external_labels: g.external_labels,
            query_log_file: g.query_log_file,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSd {
    #[serde(default)]
    files: Vec<String>,
    refresh_interval: Option<PromDuration>,
}

#[derive(Debug)]
struct RawScrapeConfig(ScrapeConfig);

impl<'de> Deserialize<'de> for RawScrapeConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ValidatedMap::<RawScrapeFields, Self>(
            std::marker::PhantomData,
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrapeFields {
    #[serde(default)]
    job_name: String,
    #[serde(default)]
    honor_labels: bool,
    honor_timestamps: Option<bool>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    metrics_path: Option<String>,
    scheme: Option<String>,
    body_size_limit: Option<ByteSize>,
    #[serde(default)]
    sample_limit: u64,
    #[serde(default)]
    target_limit: u64,
    #[serde(default)]
    label_limit: u64,
    #[serde(default)]
    label_name_length_limit: u64,
    #[serde(default)]
    label_value_length_limit: u64,
    basic_auth: Option<BasicAuth>,
    authorization: Option<Authorization>,
    #[serde(default)]
    bearer_token: String,
    #[serde(default)]
    bearer_token_file: String,
    oauth2: Option<serde_norway::Value>,
    #[serde(default)]
    tls_config: TlsConfig,
    proxy_url: Option<String>,
    follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
    #[serde(default)]
    static_configs: Vec<TargetGroup>,
    #[serde(default)]
    file_sd_configs: Vec<RawFileSd>,
    #[serde(default)]
    relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    metric_relabel_configs: Vec<Option<RelabelConfig>>,
}

/// Prometheus's `CheckTargetAddress`: a URL where a `host:port` belongs is refused.
pub(crate) fn check_target_address(addr: &str) -> Result<(), String> {
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    Ok(())
}

fn file_sd_name_ok(name: &str) -> bool {
    // `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let ext_ok = matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML");
    ext_ok && glob_part_ok(stem)
}

/// `^[^*]*(\*[^/]*)?$`: at most one `*`, and no `/` after it.
fn glob_part_ok(s: &str) -> bool {
    match s.split_once('*') {
        None => true,
        Some((_, after)) => !after.contains('*') && !after.contains('/'),
    }
}

fn relabels(raw: Vec<Option<RelabelConfig>>, what: &str) -> Result<Vec<RelabelConfig>, String> {
    raw.into_iter()
        .map(|r| r.ok_or_else(|| format!("empty or null {what} relabeling rule in scrape config")))
        .collect()
}

impl TryFrom<RawScrapeFields> for RawScrapeConfig {
    type Error = String;

    fn try_from(r: RawScrapeFields) -> Result<Self, String> {
        if r.job_name.is_empty() {
            return Err("job_name is empty".to_owned());
        }
        let http = http_client(&r)?;
        let relabel_configs = relabels(r.relabel_configs, "target")?;
        let metric_relabel_configs = relabels(r.metric_relabel_configs, "metric")?;
        if relabel_configs.is_empty() {
            for t in r.static_configs.iter().flat_map(|g| &g.targets) {
                check_target_address(t)?;
            }
        }
        let mut file_sd_configs = Vec::new();
        for f in r.file_sd_configs {
            if f.files.is_empty() {
                return Err(
                    "file service discovery config must contain at least one path name".to_owned(),
                );
            }
            for name in &f.files {
                if !file_sd_name_ok(name) {
                    return Err(format!(
                        "path name {name:?} is not valid for file discovery"
                    ));
                }
            }
            file_sd_configs.push(FileSdConfig {
                files: f.files.into_iter().map(PathBuf::from).collect(),
                refresh_interval: f.refresh_interval.unwrap_or(DEFAULT_FILE_SD_REFRESH),
            });
        }
        Ok(RawScrapeConfig(ScrapeConfig {
            job_name: r.job_name,
            honor_labels: r.honor_labels,
            honor_timestamps: r.honor_timestamps.unwrap_or(true),
            params: r.params,
            scrape_interval: r.scrape_interval.unwrap_or_default(),
            scrape_timeout: r.scrape_timeout.unwrap_or_default(),
            metrics_path: r.metrics_path.unwrap_or_else(|| "/metrics".to_owned()),
            scheme: r.scheme.unwrap_or_else(|| "http".to_owned()),
            body_size_limit: r.body_size_limit.unwrap_or_default().0,
            sample_limit: r.sample_limit,
            target_limit: r.target_limit,
            label_limit: r.label_limit,
            label_name_length_limit: r.label_name_length_limit,
            label_value_length_limit: r.label_value_length_limit,
            http,
            static_configs: r.static_configs,
            file_sd_configs,
            relabel_configs,
            metric_relabel_configs,
        }))
    }
}

/// prometheus/common's `HTTPClientConfig.Validate`, same checks and wording.
fn http_client(r: &RawScrapeFields) -> Result<HttpClientConfig, String> {
    let bearer = !r.bearer_token.is_empty() || !r.bearer_token_file.is_empty();
    if !r.bearer_token.is_empty() && !r.bearer_token_file.is_empty() {
        return Err(
            "at most one of bearer_token & bearer_token_file must be configured".to_owned(),
        );
    }
    if (r.basic_auth.is_some() || r.oauth2.is_some()) && bearer {
        return Err(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                .to_owned(),
        );
    }
    if let Some(b) = &r.basic_auth {
        if !b.password.is_empty() && !b.password_file.is_empty() {
            return Err(
                "at most one of basic_auth password & password_file must be configured".to_owned(),
            );
        }
    }
    let authorization = match &r.authorization {
        Some(a) => {
            if bearer {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file"
                        .to_owned(),
                );
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err("at most one of authorization credentials & credentials_file must be configured".to_owned());
            }
            let mut a = a.clone();
            a.kind = a.kind.trim().to_owned();
            if a.kind.is_empty() {
                a.kind = "Bearer".to_owned();
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#
                        .to_owned(),
                );
            }
            if r.basic_auth.is_some() || r.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured"
                        .to_owned(),
                );
            }
            Some(a)
        }
        None if bearer => Some(Authorization {
            kind: "Bearer".to_owned(),
            credentials: r.bearer_token.clone(),
            credentials_file: r.bearer_token_file.clone(),
        }),
        None => None,
    };
    if r.basic_auth.is_some() && r.oauth2.is_some() {
        return Err(
            "at most one of basic_auth, oauth2 & authorization must be configured".to_owned(),
        );
    }
    Ok(HttpClientConfig {
        basic_auth: r.basic_auth.clone(),
        authorization,
        tls_config: r.tls_config.clone(),
        proxy_url: r.proxy_url.clone(),
        follow_redirects: r.follow_redirects.unwrap_or(true),
        enable_http2: r.enable_http2.unwrap_or(true),
    })
}

fn resolve(dir: &Path, p: &str) -> String {
    if p.is_empty() || Path::new(p).is_absolute() {
        p.to_owned()
    } else {
        dir.join(p).to_string_lossy().into_owned()
    }
}

impl Config {
    /// Reads and validates `path` (syntax and cross-field rules; see [`crate::check_config`]
    /// for the file checks promtool adds).
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (relative paths inside resolve against its directory).
    ///
    /// ```
    /// use std::path::Path;
    /// let c = ember_server::Config::parse("scrape_configs:\n- job_name: a\n  scrape_interval: 5s\n", Path::new("p.yml")).unwrap();
    /// assert_eq!(c.scrape_configs[0].scrape_timeout.to_string(), "5s");
    /// let e = ember_server::Config::parse("global:\n  bogus: 1\n", Path::new("p.yml")).unwrap_err();
    /// assert!(e.to_string().starts_with("p.yml: global: unknown field `bogus`"), "{e}");
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let parse_err = |message: String| Error::Parse {
            path: path.to_owned(),
            message,
        };
        let invalid = |message: String| Error::Invalid {
            path: path.to_owned(),
            message,
        };
        let raw: Option<RawConfig> =
            serde_norway::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        let Some(raw) = raw else {
            return Ok(Config::default());
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let global = raw.global.unwrap_or_default();
        let mut rule_files = Vec::new();
        for rf in raw.rule_files.unwrap_or_default() {
            if !glob_part_ok(&rf) {
                return Err(invalid(format!("invalid rule file path {rf:?}")));
            }
            rule_files.push(PathBuf::from(resolve(dir, &rf)));
        }
        let mut scrape_configs = Vec::new();
        let mut jobs = HashSet::new();
        for sc in raw.scrape_configs.unwrap_or_default() {
            let Some(RawScrapeConfig(mut sc)) = sc else {
                return Err(invalid("empty or null scrape config section".into()));
            };
            if sc.scrape_interval.is_zero() {
                sc.scrape_interval = global.scrape_interval;
            }
            if sc.scrape_timeout > sc.scrape_interval {
                return Err(invalid(format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    sc.job_name
                )));
            }
            if sc.scrape_timeout.is_zero() {
                sc.scrape_timeout = global.scrape_timeout.min(sc.scrape_interval);
            }
            if !jobs.insert(sc.job_name.clone()) {
                return Err(invalid(format!(
                    "found multiple scrape configs with job name {:?}",
                    sc.job_name
                )));
            }
            sc.resolve_paths(dir);
            scrape_configs.push(sc);
        }
        Ok(Config {
            global,
            rule_files,
            scrape_configs,
        })
    }
}

impl ScrapeConfig {
    fn resolve_paths(&mut self, dir: &Path) {
        let h = &mut self.http;
        if let Some(b) = &mut h.basic_auth {
            b.password_file = resolve(dir, &b.password_file);
        }
        if let Some(a) = &mut h.authorization {
            a.credentials_file = resolve(dir, &a.credentials_file);
        }
        let t = &mut h.tls_config;
        t.ca_file = resolve(dir, &t.ca_file);
        t.cert_file = resolve(dir, &t.cert_file);
        t.key_file = resolve(dir, &t.key_file);
        for f in &mut self.file_sd_configs {
            for p in &mut f.files {
                *p = PathBuf::from(resolve(dir, &p.to_string_lossy()));
            }
        }
    }
}

#[cfg(test)]
mod tests;

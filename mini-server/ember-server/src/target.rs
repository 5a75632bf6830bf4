//! A target's labels from discovery through relabeling, as Prometheus 2.42's
//! `scrape.PopulateLabels`, and the URL it is scraped at.

use crate::config::{ScrapeConfig, TargetGroup, check_target_address};
use crate::duration::PromDuration;
use crate::labels::Labels;
use crate::relabel::process;

/// `__address__`: where the target listens.
pub const ADDRESS_LABEL: &str = "__address__";
/// `__scheme__`: `http` or `https`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`: the path scraped.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of labels that become URL query parameters.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// Prefix of discovery metadata, removed after relabeling.
pub const META_LABEL_PREFIX: &str = "__meta_";

/// A target ready to scrape: its full label set, `__`-labels included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    discovered: Labels,
    labels: Labels,
    params: std::collections::BTreeMap<String, Vec<String>>,
    interval: PromDuration,
    timeout: PromDuration,
}

impl Target {
    /// The labels its series carry: the full set without `__`-prefixed names.
    pub fn labels(&self) -> Labels {
        let mut l = self.labels.clone();
        l.retain(|n, _| !n.starts_with("__"));
        l
    }

    /// The labels before relabeling (see [`discovered_labels`]).
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered
    }

    /// All labels, including `__address__`, `__scheme__`, `__metrics_path__`, `__param_*`.
    pub fn full_labels(&self) -> &Labels {
        &self.labels
    }

    /// How often to scrape, from `__scrape_interval__`.
    pub fn interval(&self) -> PromDuration {
        self.interval
    }

    /// The scrape timeout, from `__scrape_timeout__`.
    pub fn timeout(&self) -> PromDuration {
        self.timeout
    }

    /// The URL scraped: scheme, address, path, and the job's `params` with `__param_*`
    /// labels replacing the first value of each, query-encoded in key order as Go's
    /// `url.Values.Encode`.
    pub fn url(&self) -> String {
        let mut params = self.params.clone();
        for (name, value) in self.labels.iter() {
            if let Some(k) = name.strip_prefix(PARAM_LABEL_PREFIX) {
                let v = params.entry(k.to_owned()).or_default();
                match v.first_mut() {
                    Some(first) => *first = value.to_owned(),
                    None => v.push(value.to_owned()),
                }
            }
        }
        let mut url = format!(
            "{}://{}{}",
            self.labels.get(SCHEME_LABEL),
            self.labels.get(ADDRESS_LABEL),
            self.labels.get(METRICS_PATH_LABEL)
        );
        let mut sep = '?';
        for (k, vs) in &params {
            for v in vs {
                url.push(sep);
                sep = '&';
                url.push_str(&query_escape(k));
                url.push('=');
                url.push_str(&query_escape(v));
            }
        }
        url
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether `addr` already has a port, as Go's `net.SplitHostPort` succeeding.
fn has_port(addr: &str) -> bool {
    split_host_port(addr).is_some()
}

/// A simplified `net.SplitHostPort`: `host:port` or `[v6]:port`, one colon outside brackets.
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if host.contains('[') || port.contains(':') || port.contains(']') {
            return None;
        }
        return Some((host, port));
    }
    let (host, port) = addr.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') || port.contains(']') {
        return None;
    }
    Some((host, port))
}

/// The labels a target has before relabeling (the targets API's `discoveredLabels`): the
/// discovered ones plus `job`, `__scrape_interval__`, `__scrape_timeout__`,
/// `__metrics_path__`, `__scheme__` where unset, and `__param_*` from `params`.
///
/// ```
/// use ember_server::{Config, Labels, discovered_labels};
/// let cfg = Config::parse("scrape_configs:\n- job_name: j\n", std::path::Path::new("p.yml")).unwrap();
/// let l = discovered_labels(Labels::from_pairs([("__address__", "h:1")]), &cfg.scrape_configs[0]);
/// assert_eq!(l.get("__scrape_timeout__"), "10s");
/// ```
pub fn discovered_labels(discovered: Labels, cfg: &ScrapeConfig) -> Labels {
    let mut lb = discovered;
    let defaults = [
        ("job", cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, cfg.scrape_interval.to_string()),
        (SCRAPE_TIMEOUT_LABEL, cfg.scrape_timeout.to_string()),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.clone()),
    ];
    for (name, value) in defaults {
        if lb.get(name).is_empty() {
            lb.set(name, value);
        }
    }
    for (k, v) in &cfg.params {
        if let Some(first) = v.first() {
            lb.set(format!("{PARAM_LABEL_PREFIX}{k}"), first.clone());
        }
    }
    lb
}

/// Computes a target's labels: adds `job`, `__scrape_interval__`, `__scrape_timeout__`,
/// `__metrics_path__`, `__scheme__` (unless set) and `__param_*`; runs `relabel_configs`;
/// adds the scheme's default port; removes `__meta_*`; defaults `instance` to the address.
///
/// `Ok(None)` when relabeling dropped the target; `Err` with Prometheus's message when the
/// result is unusable (`no address`, a bad interval or timeout label, ...).
pub fn populate_labels(discovered: Labels, cfg: &ScrapeConfig) -> Result<Option<Target>, String> {
    let lb = discovered_labels(discovered, cfg);
    let Some(mut lset) = process(&lb, &cfg.relabel_configs) else {
        return Ok(None);
    };
    let mut addr = lset.get(ADDRESS_LABEL).to_owned();
    if addr.is_empty() {
        return Err("no address".to_owned());
    }
    // A port is added only when the address lacks one and adding one makes it valid.
    if !has_port(&addr) && has_port(&format!("{addr}:1234")) {
        match lset.get(SCHEME_LABEL) {
            "http" | "" => addr.push_str(":80"),
            "https" => addr.push_str(":443"),
            _ => return Err(format!("invalid scheme: {:?}", cfg.scheme)),
        }
        lset.set(ADDRESS_LABEL, addr.clone());
    }
    check_target_address(&addr)?;
    let interval = duration_label(&lset, SCRAPE_INTERVAL_LABEL, "interval")?;
    let timeout = duration_label(&lset, SCRAPE_TIMEOUT_LABEL, "timeout")?;
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
            lset.get(SCRAPE_TIMEOUT_LABEL),
            lset.get(SCRAPE_INTERVAL_LABEL)
        ));
    }
    lset.retain(|n, _| !n.starts_with(META_LABEL_PREFIX));
    if lset.get("instance").is_empty() {
        lset.set("instance", addr);
    }
    Ok(Some(Target {
        discovered: lb,
        labels: lset,
        params: cfg.params.clone(),
        interval,
        timeout,
    }))
}

fn duration_label(l: &Labels, name: &str, what: &str) -> Result<PromDuration, String> {
    let d: PromDuration = l
        .get(name)
        .parse()
        .map_err(|e| format!("error parsing scrape {what}: {e}"))?;
    if d.is_zero() {
        return Err(format!("scrape {what} cannot be 0"));
    }
    Ok(d)
}

/// The targets of one group: each address with the group's labels (the address wins on a
/// clash), through [`populate_labels`]. Dropped targets are left out.
pub fn targets_from_group(group: &TargetGroup, cfg: &ScrapeConfig) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for addr in &group.targets {
        let mut l = group.labels.clone();
        l.set(ADDRESS_LABEL, addr.clone());
        if let Some(t) = populate_labels(l, cfg)? {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn job(yaml: &str) -> ScrapeConfig {
        let c = Config::parse(yaml, Path::new("t.yml")).unwrap();
        c.scrape_configs.into_iter().next().unwrap()
    }

    #[test]
    fn defaults_and_port() {
        let cfg = job(
            "scrape_configs:\n- job_name: j\n  scheme: https\n  params: {module: [a, b], 'x y': ['1&2']}\n",
        );
        let t = populate_labels(
            Labels::from_pairs([("__address__", "h"), ("__meta_x", "m")]),
            &cfg,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            t.full_labels().to_string(),
            r#"{__address__="h:443", __metrics_path__="/metrics", __param_module="a", __param_x y="1&2", __scheme__="https", __scrape_interval__="1m", __scrape_timeout__="10s", instance="h:443", job="j"}"#
        );
        assert_eq!(t.labels().to_string(), r#"{instance="h:443", job="j"}"#);
        assert_eq!(t.url(), "https://h:443/metrics?module=a&module=b&x+y=1%262");
        assert_eq!(t.interval().as_millis(), 60_000);
    }

    #[test]
    fn relabeling_moves_address_and_instance() {
        let cfg = job(
            "scrape_configs:\n- job_name: blackbox\n  metrics_path: /probe\n  relabel_configs:\n  - {source_labels: [__address__], target_label: __param_target}\n  - {source_labels: [__param_target], target_label: instance}\n  - {target_label: __address__, replacement: '127.0.0.1:9115'}\n",
        );
        let t = targets_from_group(
            &TargetGroup {
                targets: vec!["http://example.com".into()],
                labels: Labels::new(),
            },
            &cfg,
        )
        .unwrap();
        assert_eq!(
            t[0].labels().to_string(),
            r#"{instance="http://example.com", job="blackbox"}"#
        );
        assert_eq!(
            t[0].url(),
            "http://127.0.0.1:9115/probe?target=http%3A%2F%2Fexample.com"
        );
    }

    #[test]
    fn errors_and_drops_as_prometheus() {
        let cfg = job(
            "scrape_configs:\n- job_name: j\n  relabel_configs:\n  - {source_labels: [drop], regex: 'yes', action: drop}\n",
        );
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
        assert_eq!(
            populate_labels(l(&[("__address__", "a:1"), ("drop", "yes")]), &cfg),
            Ok(None)
        );
        assert_eq!(
            populate_labels(l(&[("x", "1")]), &cfg),
            Err("no address".into())
        );
        assert_eq!(
            populate_labels(
                l(&[("__address__", "a:1"), ("__scrape_interval__", "0s")]),
                &cfg
            ),
            Err("scrape interval cannot be 0".into())
        );
        assert_eq!(
            populate_labels(
                l(&[("__address__", "a:1"), ("__scrape_timeout__", "2m")]),
                &cfg
            ),
            Err(r#"scrape timeout cannot be greater than scrape interval ("2m" > "1m")"#.into())
        );
        assert_eq!(
            populate_labels(
                l(&[("__address__", "a:1"), ("__scrape_timeout__", "x")]),
                &cfg
            ),
            Err(r#"error parsing scrape timeout: not a valid duration string: "x""#.into())
        );
        assert_eq!(
            populate_labels(l(&[("__address__", "a/b:1")]), &cfg),
            Err(r#""a/b:1" is not a valid hostname"#.into())
        );
        let t = populate_labels(l(&[("__address__", "[::1]"), ("instance", "me")]), &cfg)
            .unwrap()
            .unwrap();
        assert_eq!(t.full_labels().get("__address__"), "[::1]:80");
        assert_eq!(t.labels().get("instance"), "me");
    }
}

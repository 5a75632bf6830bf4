//! Defaults and inheritance as Prometheus 2.42's `config.Load`.

use super::*;

fn parse(yaml: &str) -> Config {
    Config::parse(yaml, Path::new("/etc/prom/prometheus.yml")).unwrap()
}

#[test]
fn empty_file_gets_defaults() {
    let c = parse("");
    assert_eq!(c.global, GlobalConfig::default());
    assert_eq!(c.global.scrape_interval.to_string(), "1m");
    assert_eq!(c.global.scrape_timeout.to_string(), "10s");
    assert_eq!(c.global.evaluation_interval.to_string(), "1m");
    assert!(c.scrape_configs.is_empty());
}

#[test]
fn short_global_interval_caps_the_timeout() {
    let c = parse("global:\n  scrape_interval: 5s\n");
    assert_eq!(c.global.scrape_timeout.to_string(), "5s");
    let c = parse("global:\n  scrape_interval: 30s\n");
    assert_eq!(c.global.scrape_timeout.to_string(), "10s");
}

#[test]
fn jobs_inherit_from_global() {
    let c = parse(
        "global:\n  scrape_interval: 20s\n  scrape_timeout: 15s\nscrape_configs:\n- job_name: a\n- job_name: b\n  scrape_interval: 7s\n- job_name: c\n  scrape_interval: 2m\n  scrape_timeout: 1m\n",
    );
    let s = |i: usize| {
        let j = &c.scrape_configs[i];
        (j.scrape_interval.to_string(), j.scrape_timeout.to_string())
    };
    assert_eq!(s(0), ("20s".into(), "15s".into()));
    assert_eq!(s(1), ("7s".into(), "7s".into()));
    assert_eq!(s(2), ("2m".into(), "1m".into()));
}

#[test]
fn job_defaults() {
    let c = parse("scrape_configs:\n- job_name: a\n");
    let j = &c.scrape_configs[0];
    assert_eq!(j.metrics_path, "/metrics");
    assert_eq!(j.scheme, "http");
    assert!(j.honor_timestamps);
    assert!(!j.honor_labels);
    assert_eq!(j.body_size_limit, 0);
    assert_eq!(j.sample_limit, 0);
    assert!(j.http.follow_redirects);
    assert!(j.http.enable_http2);
    assert_eq!(j.http.authorization, None);
}

#[test]
fn bearer_token_becomes_authorization_and_paths_resolve() {
    let c = parse(
        "scrape_configs:\n- job_name: a\n  bearer_token_file: tok\n  tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem}\n  file_sd_configs:\n  - files: [sd/*.json]\n",
    );
    let j = &c.scrape_configs[0];
    assert_eq!(
        j.http.authorization,
        Some(Authorization {
            kind: "Bearer".into(),
            credentials: String::new(),
            credentials_file: "/etc/prom/tok".into()
        })
    );
    assert_eq!(j.http.tls_config.ca_file, "/etc/prom/ca.pem");
    assert_eq!(j.http.tls_config.cert_file, "/abs/c.pem");
    assert_eq!(
        j.file_sd_configs[0].files,
        [PathBuf::from("/etc/prom/sd/*.json")]
    );
    assert_eq!(j.file_sd_configs[0].refresh_interval.to_string(), "5m");
}

#[test]
fn authorization_type_defaults_to_bearer() {
    let c = parse("scrape_configs:\n- job_name: a\n  authorization: {credentials: x}\n");
    let a = c.scrape_configs[0].http.authorization.clone().unwrap();
    assert_eq!((a.kind.as_str(), a.credentials.as_str()), ("Bearer", "x"));
}

#[test]
fn full_example_reads_every_field() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/good/full.yml");
    let c = Config::load(&p).unwrap();
    assert_eq!(
        c.global.external_labels.to_string(),
        r#"{region="eu-west", replica="1"}"#
    );
    assert_eq!(c.global.evaluation_interval.to_string(), "30s");
    assert_eq!(c.rule_files.len(), 2);
    let node = &c.scrape_configs[1];
    assert_eq!(node.job_name, "node");
    assert_eq!(node.scrape_interval.to_string(), "1m30s");
    assert_eq!(node.scheme, "https");
    assert_eq!(node.params["collect[]"], ["cpu", "meminfo"]);
    assert!(node.honor_labels && !node.honor_timestamps);
    assert_eq!(
        (
            node.sample_limit,
            node.label_limit,
            node.label_name_length_limit
        ),
        (10_000, 30, 100)
    );
    assert_eq!(node.label_value_length_limit, 1000);
    assert_eq!(node.body_size_limit, 10 << 20);
    assert_eq!(node.http.basic_auth.as_ref().unwrap().username, "scraper");
    assert_eq!(node.http.tls_config.server_name, "node.example");
    assert_eq!(node.static_configs[0].targets, ["node1:9100", "node2:9100"]);
    assert_eq!(node.static_configs[0].labels.get("env"), "prod");
    assert_eq!(node.file_sd_configs[0].refresh_interval.to_string(), "2m");
    assert_eq!(node.relabel_configs.len(), 4);
    assert_eq!(node.metric_relabel_configs.len(), 3);
    assert_eq!(c.scrape_configs[2].scrape_interval.to_string(), "1y");
    assert_eq!(
        c.scrape_configs[3]
            .http
            .authorization
            .as_ref()
            .unwrap()
            .kind,
        "Token"
    );
}

#[test]
fn unimplemented_sections_are_accepted() {
    let c = parse(
        "alerting:\n  alertmanagers: []\nremote_write:\n- url: http://x/\nstorage:\n  tsdb: {}\n",
    );
    assert!(c.scrape_configs.is_empty());
}

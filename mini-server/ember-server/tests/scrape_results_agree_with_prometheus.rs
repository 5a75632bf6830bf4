//! A real Prometheus 2.42 and this crate's scrape loop scrape the same target with the same
//! jobs (target labels, `exported_` renaming, `honor_labels`, metric relabeling, sample
//! and label limits, a malformed body); the series they store and the report series must be equal.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ember_e2e::{Child, free_port, http_get, require_binary, wait_for_http};
use ember_server::{Config, MemoryAppender, ScrapeLoop, is_stale_marker, targets_from_group};

const BODY: &str = "# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code=\"200\"} 7
http_requests_total{code=\"500\",job=\"theirs\",instance=\"x\"} 1
# TYPE go_goroutines gauge
go_goroutines 12
# TYPE latency histogram
latency_bucket{le=\"0.1\"} 1
latency_bucket{le=\"+Inf\"} 3
latency_sum 0.7
latency_count 3
";

/// Served at `/broken`: two good samples, then a malformed line.
const BROKEN: &str = "a 1\nb 2\nthis is { not metrics\nc 3\n";

fn serve_forever() -> (Arc<tiny_http::Server>, String) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let s = server.clone();
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let ct =
                tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4").unwrap();
            let body = if req.url() == "/broken" { BROKEN } else { BODY };
            let _ = req.respond(tiny_http::Response::from_string(body).with_header(ct));
        }
    });
    (server, addr)
}

fn config(target: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:
- job_name: app
  static_configs: [{{targets: ['{target}'], labels: {{env: test}}}}]
  metric_relabel_configs:
  - {{source_labels: [__name__], regex: 'go_.*', action: drop}}
  - {{source_labels: [code], target_label: class, regex: '(\\d)..', replacement: '${{1}}xx'}}
- job_name: honor
  honor_labels: true
  static_configs: [{{targets: ['{target}']}}]
  metric_relabel_configs:
  - {{regex: 'le', action: labeldrop}}
- job_name: limited
  sample_limit: 5
  static_configs: [{{targets: ['{target}']}}]
- job_name: labels
  label_limit: 3
  static_configs: [{{targets: ['{target}']}}]
- job_name: broken
  metrics_path: /broken
  static_configs: [{{targets: ['{target}']}}]
"
    )
}

/// Series (as `{...}` text) → value, from our loops: the samples of each job's last scrape.
fn ours(cfg: &Config) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for job in &cfg.scrape_configs {
        let t = targets_from_group(&job.static_configs[0], job)
            .unwrap()
            .remove(0);
        let mut l = ScrapeLoop::new(t, job, MemoryAppender::default());
        l.scrape_once();
        // Keep the two scrapes' timestamps apart (a kept connection is fast).
        std::thread::sleep(std::time::Duration::from_millis(2));
        let r = l.scrape_once();
        for s in l.appender().committed() {
            if s.timestamp_ms == r.timestamp_ms && !is_stale_marker(s.value) {
                out.insert(s.series.to_string(), s.value);
            }
        }
    }
    out
}

fn query(addr: &str, q: &str) -> serde_json::Value {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let r = http_get(addr, &format!("/api/v1/query?query={enc}"), &[]).unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

fn theirs(addr: &str) -> BTreeMap<String, f64> {
    let v = query(addr, "{__name__=~\".+\"}");
    let mut out = BTreeMap::new();
    for e in v["data"]["result"].as_array().unwrap() {
        let labels = ember_server::Labels::from_pairs(
            e["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
        );
        let value: f64 = e["value"][1].as_str().unwrap().parse().unwrap();
        out.insert(labels.to_string(), value);
    }
    out
}

#[test]
fn stored_series_and_report_values_match_prometheus() {
    require_binary("prometheus", "prometheus");
    let (_server, target) = serve_forever();
    let port = free_port().unwrap();
    let dir =
        std::env::temp_dir().join(format!("ember-server-scrape-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config(&target)).unwrap();
    let cfg = Config::load(&config_path).unwrap();

    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .current_dir(&dir);
    let _child = Child::spawn("prometheus", cmd, &dir.join("prometheus.log")).unwrap();
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert!(
        wait_for_http(&addr, "/-/ready", Duration::from_secs(30)),
        "not ready:\n{}",
        log()
    );

    // Wait (bounded) until every job has been scraped at least twice by Prometheus.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = query(&addr, "count_over_time(up[1m]) >= 2");
        if v["data"]["result"].as_array().is_some_and(|a| a.len() == 5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape 5 jobs twice:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut theirs = theirs(&addr);
    let mut ours = ours(&cfg);
    // Durations differ by nature; their presence is compared, not their values.
    for m in [&mut theirs, &mut ours] {
        for (k, v) in m.iter_mut() {
            if k.starts_with("{__name__=\"scrape_duration_seconds\"") {
                *v = 0.0;
            }
        }
    }
    let only_theirs: Vec<_> = theirs
        .iter()
        .filter(|(k, _)| !ours.contains_key(*k))
        .collect();
    let only_ours: Vec<_> = ours
        .iter()
        .filter(|(k, _)| !theirs.contains_key(*k))
        .collect();
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "series differ\nonly in prometheus: {only_theirs:#?}\nonly in ember: {only_ours:#?}"
    );
    assert_eq!(ours, theirs);
    // The jobs did what they were configured to do.
    assert!(
        ours.keys()
            .any(|k| k.contains("exported_instance=\"x\"") && k.contains("class=\"5xx\""))
    );
    assert!(ours.keys().any(|k| k.contains("job=\"theirs\"")));
    assert_eq!(
        ours.keys()
            .filter(|k| k.starts_with("{__name__=\"up\""))
            .count(),
        5
    );
    let broken = |name: &str| {
        ours[&format!("{{__name__=\"{name}\", instance=\"{target}\", job=\"broken\"}}")]
    };
    assert_eq!((broken("up"), broken("scrape_samples_scraped")), (0.0, 2.0));
    let _ = std::fs::remove_dir_all(&dir);
}

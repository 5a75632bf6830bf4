//! Target labels, scrape URLs, intervals and dropped targets computed by this crate equal
//! what a real Prometheus 2.42 shows in `/api/v1/targets` for the same configuration
//! (static and file SD, every relabel action, params, schemes, per-target intervals),
//! discovered labels of kept and dropped targets included.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ember_e2e::{Child, free_port, http_get, require_binary, wait_for_http};
use ember_server::{Config, Labels, discovered_labels, populate_labels, read_target_groups};

/// (scrape pool, labels, scrape URL, interval, timeout, discovered labels)
type TargetRow = (
    String,
    BTreeMap<String, String>,
    String,
    String,
    String,
    String,
);

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn ours(config: &Path) -> (Vec<TargetRow>, Vec<String>) {
    let cfg = Config::load(config).unwrap();
    let mut rows = Vec::new();
    let mut dropped = Vec::new();
    for job in &cfg.scrape_configs {
        let mut groups = job.static_configs.clone();
        for f in &job.file_sd_configs {
            for pattern in &f.files {
                for file in glob::glob(&pattern.to_string_lossy()).unwrap() {
                    groups.extend(read_target_groups(&file.unwrap()).unwrap());
                }
            }
        }
        for g in &groups {
            for addr in &g.targets {
                let mut l = g.labels.clone();
                l.set("__address__", addr.clone());
                let Some(t) = populate_labels(l.clone(), job).unwrap() else {
                    dropped.push(discovered_labels(l, job).to_string());
                    continue;
                };
                let labels = t
                    .labels()
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect();
                rows.push((
                    job.job_name.clone(),
                    labels,
                    t.url(),
                    t.interval().to_string(),
                    t.timeout().to_string(),
                    t.discovered_labels().to_string(),
                ));
            }
        }
    }
    rows.sort();
    dropped.sort();
    (rows, dropped)
}

fn prometheus_targets(addr: &str) -> serde_json::Value {
    let r = http_get(addr, "/api/v1/targets", &[]).unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

fn labels_text(v: &serde_json::Value) -> String {
    let pairs = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()));
    Labels::from_pairs(pairs).to_string()
}

fn theirs(v: &serde_json::Value) -> (Vec<TargetRow>, Vec<String>) {
    let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_owned();
    let mut rows: Vec<TargetRow> = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let labels = t["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            (
                s(&t["scrapePool"]),
                labels,
                s(&t["scrapeUrl"]),
                s(&t["scrapeInterval"]),
                s(&t["scrapeTimeout"]),
                labels_text(&t["discoveredLabels"]),
            )
        })
        .collect();
    rows.sort();
    let mut dropped: Vec<String> = v["data"]["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| labels_text(&t["discoveredLabels"]))
        .collect();
    dropped.sort();
    (rows, dropped)
}

#[test]
fn targets_api_of_prometheus_matches_populate_labels() {
    require_binary("prometheus", "prometheus");
    let port = free_port().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "ember-server-targets-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/targets"),
        &dir,
    );
    let config = dir.join("prometheus.yml");
    let (expected, expected_dropped) = ours(&config);
    assert_eq!(expected.len(), 13, "{expected:#?}");
    assert_eq!(expected_dropped.len(), 3, "{expected_dropped:#?}");

    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
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

    // Discovery results reach the scrape manager after a few seconds; poll until all are in.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (rows, dropped) = loop {
        let got = theirs(&prometheus_targets(&addr));
        if (got.0.len() + got.1.len() >= expected.len() + expected_dropped.len())
            || Instant::now() > deadline
        {
            break got;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        rows.len(),
        expected.len(),
        "ours:\n{expected:#?}\nprometheus:\n{rows:#?}\n{}",
        log()
    );
    for (a, b) in expected.iter().zip(&rows) {
        assert_eq!(a, b, "target differs (left: ours, right: prometheus)");
    }
    assert_eq!(dropped, expected_dropped);
    let _ = std::fs::remove_dir_all(&dir);
}

//! A scrape with collectors that succeed, fail and hang, plus the exporter's own
//! metrics, is clean for `promtool check metrics` (Debian package `prometheus`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use ember_e2e::{http_get, require_binary};

#[test]
fn scrape_passes_promtool_check_metrics() {
    require_binary("promtool", "prometheus");
    let (hung, _release) = common::Hung::new();
    let addr = common::start(
        vec![
            Box::new(common::Fixed("a")),
            Box::new(common::Fixed("other")),
            Box::new(hung),
        ],
        &[],
    );
    let r = http_get(
        &addr,
        "/metrics",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "0.7")],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&r.body).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool says:\n{report}\n{}",
        r.text()
    );
}

//! The real `ember-server` binary: health and readiness, the lifecycle endpoints with and
//! without `--web.enable-lifecycle`, `/metrics`, and `/api/v1/...` reaching `Api::handle`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod server_support;

use std::sync::Arc;

use ember_server::api::{Api, ApiRequest, RuntimeInfo, ServerView, TargetMetadata};
use ember_server::{Labels, TargetStatus};
use server_support::{Server, temp_dir};

/// A view with nothing in it: enough for requests that do not depend on live state.
struct EmptyView;

impl ServerView for EmptyView {
    fn active_targets(&self) -> Vec<TargetStatus> {
        Vec::new()
    }
    fn dropped_targets(&self) -> Vec<(String, Labels)> {
        Vec::new()
    }
    fn target_metadata(&self) -> Vec<TargetMetadata> {
        Vec::new()
    }
    fn config_yaml(&self) -> String {
        String::new()
    }
    fn flags(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn runtime_info(&self) -> RuntimeInfo {
        RuntimeInfo {
            start_time_ms: 0,
            cwd: String::new(),
            reload_config_success: true,
            last_config_time_ms: 0,
            threads: 1,
            storage_retention: "15d".into(),
        }
    }
}

#[test]
fn health_readiness_lifecycle_metrics_and_api_routing() {
    let dir = temp_dir("http");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    let mut s = Server::start(&dir, &[]);
    s.wait_ready();

    let r = s.get("/-/healthy");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Prometheus Server is Healthy.\n")
    );
    let r = s.get("/-/ready");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Prometheus Server is Ready.\n")
    );

    // Without --web.enable-lifecycle, as Prometheus 2.42 answers.
    for (method, path) in [
        ("POST", "/-/reload"),
        ("PUT", "/-/reload"),
        ("POST", "/-/quit"),
    ] {
        let r = s.request(method, path, b"");
        assert_eq!(
            (r.status, r.text().as_str()),
            (403, "Lifecycle API is not enabled."),
            "{method} {path}"
        );
    }
    let r = s.get("/-/reload");
    assert_eq!(
        (r.status, r.text().as_str()),
        (405, "Only POST or PUT requests allowed")
    );
    assert_eq!(s.get("/no/such/page").status, 404);

    let metrics = s.get("/metrics").text();
    for needle in [
        "prometheus_config_last_reload_successful 1\n",
        "prometheus_ready 1\n",
        "# TYPE ember_tsdb_head_series gauge\n",
        "# TYPE process_cpu_seconds_total counter\n",
        "prometheus_target_scrapes_sample_out_of_order_total 0\n",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle:?} missing from /metrics:\n{metrics}"
        );
    }

    // /api/v1/... is answered by Api::handle: the same status, type and (for answers that
    // do not depend on the data) body as an Api over an empty store in this process.
    let store = temp_dir("http-api-store");
    let (db, _) = ember_server::open_storage_at(&store, ember_tsdb::Options::default()).unwrap();
    let api = Api::new(
        db,
        ember_promql::EngineOptions::default(),
        Arc::new(EmptyView),
    );
    for (method, path, query, form) in [
        ("GET", "/status/buildinfo", "", ""),
        ("GET", "/no_such_endpoint", "", ""),
        ("GET", "/query", "query=1%2B1&time=1000", ""),
        ("POST", "/query", "", "query=1%2B1&time=1000"),
    ] {
        let want = api.handle(&ApiRequest {
            method,
            path,
            query,
            form_body: form.as_bytes(),
        });
        let target = if query.is_empty() {
            format!("/api/v1{path}")
        } else {
            format!("/api/v1{path}?{query}")
        };
        let headers: &[(&str, &str)] = if form.is_empty() {
            &[]
        } else {
            &[("Content-Type", "application/x-www-form-urlencoded")]
        };
        let got =
            ember_e2e::http_request(&s.addr, method, &target, headers, form.as_bytes()).unwrap();
        assert_eq!(got.status, want.status, "{method} {target}: {}", got.text());
        assert_eq!(
            got.header("content-type"),
            Some(want.content_type),
            "{method} {target}"
        );
        if path != "/query" {
            assert_eq!(got.body, want.body, "{method} {target}");
        }
    }

    s.signal("TERM");
    let status = s.wait_exit();
    assert!(status.success(), "exit {status}:\n{}", s.log());
    assert!(s.log().contains("See you next time!"), "{}", s.log());
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quit_with_lifecycle_enabled_stops_cleanly() {
    let dir = temp_dir("quit");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    let mut s = Server::start(&dir, &["--web.enable-lifecycle"]);
    s.wait_ready();
    let r = s.request("POST", "/-/reload", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.request("POST", "/-/quit", b"");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Requesting termination... Goodbye!")
    );
    let status = s.wait_exit();
    assert!(status.success(), "exit {status}:\n{}", s.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_config_at_start_exits_1_with_the_reason() {
    let dir = temp_dir("badstart");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 1x\n",
    )
    .unwrap();
    let mut s = Server::start(&dir, &[]);
    let status = s.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", s.log());
    assert!(s.log().contains("scrape_interval"), "{}", s.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_server_on_the_same_store_is_refused() {
    let dir = temp_dir("lock");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    let mut first = Server::start(&dir, &[]);
    first.wait_ready();
    let mut second = Server::start(&dir, &[]);
    let status = second.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", second.log());
    assert!(
        second.log().contains("lock DB directory"),
        "{}",
        second.log()
    );
    // The first one still serves.
    assert_eq!(first.get("/-/ready").status, 200);
    first.signal("TERM");
    assert!(first.wait_exit().success(), "{}", first.log());
    let _ = std::fs::remove_dir_all(&dir);
}

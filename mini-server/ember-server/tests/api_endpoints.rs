//! The API endpoints whose answers depend on the server's live state (targets,
//! metadata, head statistics, flags, runtime facts) and on routing, checked against the
//! JSON Prometheus 2.42 writes for the same state (field names, order, types, sorting).
//! The golden test (`api_agrees_with_prometheus.rs`) covers what a Prometheus without
//! scrape targets can be compared on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ember_server::api::{
    Api, ApiRequest, ApiResponse, RuntimeInfo, ServerView, SharedDb, TargetMetadata,
};
use ember_server::{Config, Labels, ScrapeReport, TargetStatus, populate_labels};
use proptest::strategy::Strategy as _;
use serde_json::{Value, json};

struct View {
    active: Vec<TargetStatus>,
    dropped: Vec<(String, Labels)>,
    metadata: Vec<TargetMetadata>,
}

impl ServerView for View {
    fn active_targets(&self) -> Vec<TargetStatus> {
        self.active.clone()
    }
    fn dropped_targets(&self) -> Vec<(String, Labels)> {
        self.dropped.clone()
    }
    fn target_metadata(&self) -> Vec<TargetMetadata> {
        self.metadata.clone()
    }
    fn config_yaml(&self) -> String {
        "global:\n  scrape_interval: 15s\n# <tag> & \"quotes\"\n".to_owned()
    }
    fn flags(&self) -> Vec<(String, String)> {
        vec![
            ("web.listen-address".into(), "0.0.0.0:9090".into()),
            ("config.file".into(), "prometheus.yml".into()),
        ]
    }
    fn runtime_info(&self) -> RuntimeInfo {
        RuntimeInfo {
            start_time_ms: 1_700_000_000_123,
            cwd: "/srv".into(),
            reload_config_success: false,
            last_config_time_ms: 1_700_000_060_000,
            threads: 9,
            storage_retention: "15d".into(),
        }
    }
}

fn meta(target: &Labels, metric: &str, typ: &str, help: &str) -> TargetMetadata {
    TargetMetadata {
        target: target.clone(),
        metric: metric.into(),
        metric_type: typ.into(),
        help: help.into(),
        unit: String::new(),
    }
}

fn view() -> View {
    let cfg = Config::parse(
        "scrape_configs:\n- job_name: node\n  scrape_interval: 30s\n  scrape_timeout: 5s\n  static_configs:\n  - targets: ['b:9100', 'a:9100']\n- job_name: app\n  static_configs:\n  - targets: ['app:8080']\n",
        Path::new("prometheus.yml"),
    )
    .unwrap();
    let target = |addr: &str, job: usize| {
        populate_labels(
            Labels::from_pairs([("__address__", addr)]),
            &cfg.scrape_configs[job],
        )
        .unwrap()
        .unwrap()
    };
    let report = |error: Option<&str>| ScrapeReport {
        timestamp_ms: 1_700_000_000_250,
        duration: Duration::from_millis(12),
        scraped: 10,
        post_relabel: 10,
        series_added: 0,
        error: error.map(str::to_owned),
    };
    let (b, a, app) = (
        target("b:9100", 0),
        target("a:9100", 0),
        target("app:8080", 1),
    );
    View {
        metadata: vec![
            meta(&b.labels(), "node_load1", "gauge", "1m load average."),
            meta(&b.labels(), "up_seconds", "counter", "Uptime."),
            meta(&a.labels(), "node_load1", "gauge", "1m load average."),
            meta(
                &app.labels(),
                "node_load1",
                "gauge",
                "Load, as the app sees it.",
            ),
            meta(&app.labels(), "http_requests", "counter", "Requests."),
        ],
        active: vec![
            TargetStatus {
                job: "node".into(),
                target: b,
                last_report: Some(report(Some("connection refused"))),
            },
            TargetStatus {
                job: "node".into(),
                target: a,
                last_report: Some(report(None)),
            },
            TargetStatus {
                job: "app".into(),
                target: app,
                last_report: None,
            },
        ],
        dropped: vec![(
            "node".into(),
            Labels::from_pairs([("__address__", "c:9100"), ("job", "node")]),
        )],
    }
}

fn api_with(db: ember_tsdb::Db) -> Api {
    let db: SharedDb = Arc::new(parking_lot::RwLock::new(db));
    Api::new(db, ember_promql::EngineOptions::default(), Arc::new(view()))
}

fn temp_db(name: &str) -> (ember_tsdb::Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ember-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = ember_tsdb::Db::open(&dir, ember_tsdb::Options::default()).unwrap();
    (db, dir)
}

fn call(api: &Api, method: &str, path: &str, query: &str, body: &str) -> ApiResponse {
    api.handle(&ApiRequest {
        method,
        path,
        query,
        form_body: body.as_bytes(),
    })
}

fn data(r: &ApiResponse) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type, "application/json");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "success");
    v["data"].clone()
}

#[test]
fn targets_as_prometheus_lists_them() {
    let (db, dir) = temp_db("targets");
    let api = api_with(db);
    let d = data(&call(&api, "GET", "/targets", "", ""));
    let active = d["activeTargets"].as_array().unwrap();
    // Sorted by scrape pool, then by labels.
    assert_eq!(active.len(), 3);
    assert_eq!(active[0]["scrapePool"], "app");
    assert_eq!(
        active[1]["labels"],
        json!({"instance": "a:9100", "job": "node"})
    );
    assert_eq!(
        active[2]["labels"],
        json!({"instance": "b:9100", "job": "node"})
    );
    assert_eq!(
        active[1],
        json!({
            "discoveredLabels": {
                "__address__": "a:9100", "__metrics_path__": "/metrics", "__scheme__": "http",
                "__scrape_interval__": "30s", "__scrape_timeout__": "5s", "job": "node"
            },
            "labels": {"instance": "a:9100", "job": "node"},
            "scrapePool": "node",
            "scrapeUrl": "http://a:9100/metrics",
            "globalUrl": "http://a:9100/metrics",
            "lastError": "",
            "lastScrape": "2023-11-14T22:13:20.25Z",
            "lastScrapeDuration": 0.012,
            "health": "up",
            "scrapeInterval": "30s",
            "scrapeTimeout": "5s"
        })
    );
    // Field order as Prometheus writes it.
    let raw = String::from_utf8(call(&api, "GET", "/targets", "", "").body).unwrap();
    let order = [
        "\"discoveredLabels\"",
        "\"labels\"",
        "\"scrapePool\"",
        "\"scrapeUrl\"",
        "\"globalUrl\"",
        "\"lastError\"",
        "\"lastScrape\"",
        "\"lastScrapeDuration\"",
        "\"health\"",
        "\"scrapeInterval\"",
        "\"scrapeTimeout\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| raw.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{raw}");
    assert_eq!(active[2]["health"], "down");
    assert_eq!(active[2]["lastError"], "connection refused");
    assert_eq!(active[0]["health"], "unknown");
    assert_eq!(active[0]["lastScrape"], "0001-01-01T00:00:00Z");
    assert_eq!(
        d["droppedTargets"],
        json!([{"discoveredLabels": {"__address__": "c:9100", "job": "node"}}])
    );

    let only_dropped = data(&call(&api, "GET", "/targets", "state=Dropped", ""));
    assert_eq!(only_dropped["activeTargets"], json!([]));
    assert_eq!(only_dropped["droppedTargets"].as_array().unwrap().len(), 1);
    let only_active = data(&call(&api, "GET", "/targets", "state=active", ""));
    assert_eq!(only_active["droppedTargets"], json!([]));
    // An unknown state shows neither, as Prometheus.
    let neither = data(&call(&api, "GET", "/targets", "state=x", ""));
    assert_eq!(neither, json!({"activeTargets": [], "droppedTargets": []}));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn metadata_merges_targets_and_honours_limit_and_metric() {
    let (db, dir) = temp_db("metadata");
    let api = api_with(db);
    let d = data(&call(&api, "GET", "/metadata", "", ""));
    assert_eq!(
        d,
        json!({
            "http_requests": [{"type": "counter", "help": "Requests.", "unit": ""}],
            "node_load1": [
                {"type": "gauge", "help": "1m load average.", "unit": ""},
                {"type": "gauge", "help": "Load, as the app sees it.", "unit": ""}
            ],
            "up_seconds": [{"type": "counter", "help": "Uptime.", "unit": ""}]
        })
    );
    assert_eq!(
        data(&call(&api, "GET", "/metadata", "limit=1", ""))
            .as_object()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        data(&call(&api, "GET", "/metadata", "limit=0", "")),
        json!({})
    );
    assert_eq!(
        data(&call(&api, "GET", "/metadata", "metric=up_seconds", "")),
        json!({"up_seconds": [{"type": "counter", "help": "Uptime.", "unit": ""}]})
    );

    let all = data(&call(&api, "GET", "/targets/metadata", "", ""));
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert_eq!(
        all[0],
        json!({"target": {"instance": "b:9100", "job": "node"}, "metric": "node_load1",
               "type": "gauge", "help": "1m load average.", "unit": ""})
    );
    // With `metric`, the entries leave the metric name out.
    let load = data(&call(
        &api,
        "GET",
        "/targets/metadata",
        "metric=node_load1&match_target=%7Bjob%3D%22node%22%7D",
        "",
    ));
    assert_eq!(
        load,
        json!([
            {"target": {"instance": "b:9100", "job": "node"}, "type": "gauge", "help": "1m load average.", "unit": ""},
            {"target": {"instance": "a:9100", "job": "node"}, "type": "gauge", "help": "1m load average.", "unit": ""}
        ])
    );
    // `limit` is checked before each target, so a target's list is not cut.
    assert_eq!(
        data(&call(&api, "GET", "/targets/metadata", "limit=1", ""))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let bad = call(&api, "GET", "/targets/metadata", "match_target=up%2B1", "");
    assert_eq!(bad.status, 400);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tsdb_status_counts_the_head() {
    let (mut db, dir) = temp_db("tsdb");
    for (labels, n) in [
        (vec![("__name__", "up"), ("job", "a"), ("instance", "x")], 5),
        (vec![("__name__", "up"), ("job", "a"), ("instance", "y")], 5),
        (vec![("__name__", "up"), ("job", "b"), ("instance", "x")], 5),
        (vec![("__name__", "http_total"), ("job", "a")], 5),
    ] {
        let l = ember_tsdb::Labels::new(labels).unwrap();
        for i in 1..=n {
            db.append(&l, i * 1000, i as f64).unwrap();
        }
    }
    let api = api_with(db);
    let d = data(&call(&api, "GET", "/status/tsdb", "", ""));
    assert_eq!(
        d,
        json!({
            "headStats": {"numSeries": 4, "numLabelPairs": 6, "chunkCount": 4, "minTime": 1000, "maxTime": 5000},
            "seriesCountByMetricName": [{"name": "up", "value": 3}, {"name": "http_total", "value": 1}],
            "labelValueCountByLabelName": [
                {"name": "__name__", "value": 2}, {"name": "instance", "value": 2}, {"name": "job", "value": 2}
            ],
            "memoryInBytesByLabelName": [
                {"name": "__name__", "value": 12}, {"name": "instance", "value": 2}, {"name": "job", "value": 2}
            ],
            "seriesCountByLabelValuePair": [
                {"name": "__name__=up", "value": 3}, {"name": "job=a", "value": 3},
                {"name": "instance=x", "value": 2}, {"name": "__name__=http_total", "value": 1},
                {"name": "instance=y", "value": 1}, {"name": "job=b", "value": 1}
            ]
        })
    );
    // The head is queried too (the golden test only has blocks).
    let q = data(&call(&api, "GET", "/query", "query=sum(up)&time=5", ""));
    assert_eq!(q["result"][0]["value"], json!([5, "15"]));
    let v = data(&call(
        &api,
        "GET",
        "/label/instance/values",
        "match[]=up&start=0&end=10",
        "",
    ));
    assert_eq!(v, json!(["x", "y"]));
    // Outside the head's time range nothing is found.
    assert_eq!(
        data(&call(&api, "GET", "/labels", "start=100&end=200", "")),
        json!([])
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn status_flags_config_runtime_and_build() {
    let (db, dir) = temp_db("status");
    let api = api_with(db);
    let flags = call(&api, "GET", "/status/flags", "", "");
    assert_eq!(
        String::from_utf8(flags.body).unwrap(),
        r#"{"status":"success","data":{"config.file":"prometheus.yml","web.listen-address":"0.0.0.0:9090"}}"#
    );
    let cfg = call(&api, "GET", "/status/config", "", "");
    assert_eq!(
        String::from_utf8(cfg.body).unwrap(),
        r#"{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n# \u003ctag\u003e \u0026 \"quotes\"\n"}}"#
    );
    let rt = data(&call(&api, "GET", "/status/runtimeinfo", "", ""));
    assert_eq!(rt["startTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(rt["lastConfigTime"], "2023-11-14T22:14:20Z");
    assert_eq!(rt["reloadConfigSuccess"], false);
    assert_eq!(rt["goroutineCount"], 9);
    assert_eq!(rt["storageRetention"], "15d");
    assert_eq!(rt["CWD"], "/srv");
    let build = data(&call(&api, "GET", "/status/buildinfo", "", ""));
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    assert!(build.get("features").is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn routing_methods_and_forms() {
    let (db, dir) = temp_db("routing");
    let api = api_with(db);
    let options = call(&api, "OPTIONS", "/query", "", "");
    assert_eq!(
        (options.status, options.content_type, options.body.len()),
        (204, "", 0)
    );
    assert_eq!(call(&api, "HEAD", "/query", "query=1", "").status, 405);
    assert_eq!(call(&api, "GET", "/label//values", "", "").status, 404);
    assert_eq!(call(&api, "GET", "/label/a/b/values", "", "").status, 404);
    let nf = call(&api, "GET", "/nope", "", "");
    assert_eq!(
        (nf.status, nf.body.as_slice()),
        (404, b"404 page not found\n".as_slice())
    );
    // Body values come before URL values, as Go's r.Form orders them.
    let q = data(&call(&api, "POST", "/query", "query=1&time=10", "query=2"));
    assert_eq!(q, json!({"resultType": "scalar", "result": [10, "2"]}));
    // A GET body is not form data (Go reads the body of POST, PUT and PATCH only).
    let g = data(&call(&api, "GET", "/query", "query=1&time=10", "query=2"));
    assert_eq!(g["result"], json!([10, "1"]));
    // A request timeout that has passed already: Prometheus answers 503 timeout.
    let t = call(&api, "GET", "/query", "query=sum(up)&timeout=0", "");
    let v: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!((t.status, &v["errorType"]), (503, &json!("timeout")), "{v}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_api_can_be_shared_between_server_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Api>();
}

/// Edge values for times, durations and selectors.
const ODD: &[&str] = &[
    "",
    "0",
    "-1",
    "1e300",
    "-1e300",
    "9.3e18",
    "-9.3e18",
    "NaN",
    "Inf",
    "-Inf",
    "+Inf",
    "1.7e9",
    "0.0001",
    "abc",
    "%zz",
    "2023-11-14T22:13:20Z",
    "9999-12-31T23:59:59.999999999Z",
    "0001-01-01T00:00:00Z",
    "2023-11-14T22:13:20+25:00",
    "-292273086-05-16T16:47:06Z",
    "up",
    "{}",
    "{a=\"\"}",
    "up{a=~\"(\"}",
    "sum(",
    "1m",
    "1y",
    "999999999999y",
    "ü",
    "\u{0}",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// No request makes the API panic; every answer is one Prometheus could give.
    #[test]
    fn no_request_panics(
        path in proptest::sample::select(vec![
            "/query", "/query_range", "/series", "/labels", "/label/job/values",
            "/label/%ZZ/values", "/metadata", "/targets", "/targets/metadata", "/status/tsdb",
            "/query_exemplars", "/format_query", "/rules",
        ]),
        params in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "query", "time", "start", "end", "step", "timeout", "match[]", "limit",
                    "metric", "match_target", "state", "type",
                ]),
                proptest::prop_oneof![
                    proptest::sample::select(ODD.to_vec()).prop_map(str::to_owned),
                    "\\PC{0,12}",
                ],
            ),
            0..6,
        ),
        post in proptest::bool::ANY,
    ) {
        static API: std::sync::OnceLock<Api> = std::sync::OnceLock::new();
        let api = API.get_or_init(|| {
            let (mut db, _dir) = temp_db("fuzz");
            let l = ember_tsdb::Labels::new([("__name__", "up"), ("job", "a")]).unwrap();
            for i in 0..100 {
                db.append(&l, i * 15_000, 1.0).unwrap();
            }
            api_with(db)
        });
        let qs: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", k, v.replace('%', "%25").replace('&', "%26").replace('#', "%23")))
            .collect();
        let qs = qs.join("&");
        let (query, body) = if post { ("", qs.as_str()) } else { (qs.as_str(), "") };
        let r = call(api, if post { "POST" } else { "GET" }, path, query, body);
        proptest::prop_assert!(
            [200, 204, 400, 405, 422, 503].contains(&r.status),
            "{} {path}?{qs}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        if r.status != 204 && r.status != 405 {
            let v: Result<Value, _> = serde_json::from_slice(&r.body);
            proptest::prop_assert!(v.is_ok(), "{}", String::from_utf8_lossy(&r.body));
        }
    }
}

#[test]
fn extreme_times_do_not_panic() {
    // Times are wrapped into ±292 years as Prometheus does; `@` and `offset` beyond that
    // can still overflow the engine's arithmetic (in a debug build), which the API
    // answers as Prometheus answers a recovered runtime panic: 422 "unexpected error".
    let (mut db, dir) = temp_db("extreme");
    let l = ember_tsdb::Labels::new([("__name__", "up"), ("job", "a")]).unwrap();
    db.append(&l, 0, 1.0).unwrap();
    let api = api_with(db);
    for t in [
        "-9.3e18",
        "9.3e18",
        "-1e300",
        "1e300",
        "NaN",
        "Inf",
        "-Inf",
        "-292273086-05-16T16:47:06Z",
    ] {
        for q in [
            "up",
            "rate(up[5m])",
            "up offset 1h",
            "up @ 0",
            "max_over_time(up[1h:1m])",
            "time()",
            "up offset 290y",
            "up offset -290y",
            "up @ 9223372036854775",
            "up @ -9223372036854775",
            "rate(up[290y])",
            "max_over_time(up[290y:1y])",
            "up @ 1e300",
            "timestamp(up @ 9.2e15)",
        ] {
            let enc_q = q
                .replace('[', "%5B")
                .replace(']', "%5D")
                .replace(' ', "+")
                .replace('@', "%40");
            for (path, query) in [
                ("/query", format!("query={enc_q}&time={t}")),
                (
                    "/query_range",
                    format!("query={enc_q}&start={t}&end={t}&step=1"),
                ),
                ("/series", format!("match[]=up&start={t}&end={t}")),
                ("/labels", format!("start={t}")),
            ] {
                let r = call(&api, "GET", path, &query, "");
                assert!(
                    [200, 400, 422].contains(&r.status),
                    "{path}?{query}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

//! The golden test of the HTTP API: the same OpenMetrics data is backfilled into a real
//! Prometheus 2.42 (with `promtool tsdb create-blocks-from openmetrics`) and into an
//! ember-tsdb directory (with `ember_tsdb::import_openmetrics`, the library behind
//! `ember-tsdb import openmetrics`) served by [`ember_server::api::Api`]; the same
//! requests go to both and the answers must agree: status code, content type family,
//! `status`, `errorType`, and the body byte for byte (values, label sets, ordering, float
//! formatting), except where a case documents a normalisation.
//!
//! Skips (loudly) when `prometheus` or `promtool` is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ember_e2e::{Child, free_port, http_request, wait_for_http};
use ember_server::api::{Api, ApiRequest, RuntimeInfo, ServerView, SharedDb, TargetMetadata};
use ember_server::{Labels, TargetStatus};
use serde_json::Value;

/// First sample: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000;
/// 15 s for four hours.
const STEP: i64 = 15;
const POINTS: i64 = 4 * 3600 / STEP;

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The backfill: counters (one with a reset), gauges, a histogram, a series with a
/// 40-minute gap, one that stops after an hour, an untyped metric and labels that need
/// JSON escaping.
fn openmetrics() -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::new();
    out.push_str("# TYPE http_requests counter\n# HELP http_requests Requests served.\n");
    for instance in ["a:9100", "b:9100"] {
        for (code, method) in [("200", "get"), ("200", "post"), ("500", "get")] {
            let mut v: u64 = rng.next() % 100;
            for i in 0..POINTS {
                v += rng.next() % if code == "500" { 3 } else { 40 };
                // b's 500s restart at 2 h: a counter reset.
                let shown = if instance == "b:9100" && code == "500" && i >= POINTS / 2 {
                    v - 1_000.min(v)
                } else {
                    v
                };
                writeln!(
                    out,
                    "http_requests_total{{code=\"{code}\",instance=\"{instance}\",job=\"api\",method=\"{method}\"}} {shown} {}",
                    T0 + i * STEP
                )
                .unwrap();
            }
        }
    }
    out.push_str("# TYPE temperature_celsius gauge\n# UNIT temperature_celsius celsius\n");
    for (room, base) in [("kitchen", 21.5), ("hall", 18.25), ("cellar", 11.0)] {
        for i in 0..POINTS {
            let v = base + ((rng.next() % 400) as f64 - 200.0) / 100.0;
            writeln!(
                out,
                "temperature_celsius{{job=\"sensors\",room=\"{room}\"}} {v} {}",
                T0 + i * STEP
            )
            .unwrap();
        }
    }
    out.push_str("# TYPE request_duration_seconds histogram\n");
    let bounds = ["0.05", "0.1", "0.5", "1", "+Inf"];
    let mut counts = [0u64; 5];
    let mut sum = 0.0f64;
    for i in 0..POINTS {
        let n = rng.next() % 20;
        for _ in 0..n {
            let d = (rng.next() % 1500) as f64 / 1000.0;
            sum += d;
            for (b, c) in bounds.iter().zip(counts.iter_mut()) {
                if *b == "+Inf" || d <= b.parse::<f64>().unwrap() {
                    *c += 1;
                }
            }
        }
        let t = T0 + i * STEP;
        for (b, c) in bounds.iter().zip(counts) {
            writeln!(
                out,
                "request_duration_seconds_bucket{{job=\"api\",le=\"{b}\"}} {c} {t}"
            )
            .unwrap();
        }
        writeln!(
            out,
            "request_duration_seconds_count{{job=\"api\"}} {} {t}",
            counts[4]
        )
        .unwrap();
        writeln!(out, "request_duration_seconds_sum{{job=\"api\"}} {sum} {t}").unwrap();
    }
    out.push_str("# TYPE flaky_up gauge\n");
    for i in 0..POINTS {
        // No samples from 1h20m to 2h: queries there see the series go away.
        if (320..480).contains(&i) {
            continue;
        }
        writeln!(
            out,
            "flaky_up{{instance=\"c:9100\",job=\"flaky\"}} {} {}",
            i % 2,
            T0 + i * STEP
        )
        .unwrap();
    }
    out.push_str("# TYPE batch_last_success_seconds gauge\n");
    for i in 0..240 {
        writeln!(
            out,
            "batch_last_success_seconds{{batch=\"nightly\",job=\"batch\"}} {} {}",
            T0 + (i / 20) * 300,
            T0 + i * STEP
        )
        .unwrap();
    }
    out.push_str("# TYPE weird_labels unknown\n");
    for i in 0..POINTS {
        writeln!(
            out,
            "weird_labels{{job=\"odd\",path=\"/a<b>&c\",quote=\"say \\\"hi\\\"\",tab=\"x\\\\y\"}} {} {}",
            (i as f64) * 1e-7,
            T0 + i * STEP
        )
        .unwrap();
    }
    out.push_str("# EOF\n");
    out
}

/// A fixed server view: no targets (the Prometheus under test scrapes none either).
struct FixedView;

impl ServerView for FixedView {
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
        "global:\n  scrape_interval: 1m\n".to_owned()
    }
    fn flags(&self) -> Vec<(String, String)> {
        vec![
            ("storage.tsdb.path".into(), "data/".into()),
            ("web.listen-address".into(), "127.0.0.1:9090".into()),
        ]
    }
    fn runtime_info(&self) -> RuntimeInfo {
        RuntimeInfo {
            start_time_ms: 1_700_000_000_000,
            cwd: "/".into(),
            reload_config_success: true,
            last_config_time_ms: 1_700_000_000_000,
            threads: 4,
            storage_retention: "100y".into(),
        }
    }
}

/// Serves `api` under `/api/v1` with tiny_http; returns the address.
fn serve(api: Arc<Api>) -> String {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    std::thread::spawn(move || {
        while let Ok(mut req) = server.recv() {
            let url = req.url().to_owned();
            let (path, query) = url.split_once('?').unwrap_or((&url, ""));
            let method = req.method().as_str().to_owned();
            let mut body = Vec::new();
            let form = req.headers().iter().any(|h| {
                h.field.equiv("Content-Type")
                    && h.value
                        .as_str()
                        .starts_with("application/x-www-form-urlencoded")
            });
            std::io::Read::read_to_end(req.as_reader(), &mut body).unwrap();
            if !form {
                body.clear();
            }
            let resp = match path.strip_prefix("/api/v1") {
                Some(p) => api.handle(&ApiRequest {
                    method: &method,
                    path: p,
                    query,
                    form_body: &body,
                }),
                None => ember_server::api::ApiResponse {
                    status: 404,
                    content_type: "text/plain; charset=utf-8",
                    body: b"404 page not found\n".to_vec(),
                },
            };
            let mut r = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
            if !resp.content_type.is_empty() {
                r.add_header(
                    tiny_http::Header::from_bytes("Content-Type", resp.content_type).unwrap(),
                );
            }
            let _ = req.respond(r);
        }
    });
    addr
}

/// A running Prometheus over a backfilled data directory, killed on drop.
struct Prom {
    addr: String,
    dir: PathBuf,
    _child: Child,
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_prometheus(dir: &Path, om: &Path) -> Prom {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(om)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=100y")
        // Keep the backfilled 2 h blocks as they are (no compaction on start), so
        // both stores have the same blocks for time-bounded label lookups.
        .arg("--storage.tsdb.min-block-duration=2h")
        .arg("--storage.tsdb.max-block-duration=2h")
        .arg(format!("--web.listen-address={addr}"))
        .current_dir(dir);
    let child = Child::spawn("prometheus", cmd, &dir.join("prometheus.log")).unwrap();
    let p = Prom {
        addr,
        dir: dir.to_owned(),
        _child: child,
    };
    assert!(
        wait_for_http(&p.addr, "/-/ready", Duration::from_secs(60)),
        "prometheus did not become ready:\n{}",
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    );
    p
}

fn found(binary: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// How a case's answers are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    /// Status code, content type and body byte for byte.
    Exact,
    /// Status code and the envelope's `status` and `errorType`; the `error` text is
    /// left out because promql-parser words that error differently from Prometheus's
    /// Go parser (and knows no position for it), or because Prometheus's own text is
    /// not deterministic.
    ErrorType,
    /// Status code and the set of keys of `data` (build info: versions differ).
    Keys,
    /// Status code and `data` is an object (flags: each server has its own).
    Object,
}

struct Case {
    method: &'static str,
    target: String,
    body: String,
    cmp: Cmp,
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn get(target: impl Into<String>, cmp: Cmp) -> Case {
    Case {
        method: "GET",
        target: target.into(),
        body: String::new(),
        cmp,
    }
}

fn instant(q: &str, t: i64) -> Case {
    get(
        format!("/api/v1/query?query={}&time={t}", enc(q)),
        Cmp::Exact,
    )
}

fn range(q: &str, start: i64, end: i64, step: &str) -> Case {
    get(
        format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            enc(q)
        ),
        Cmp::Exact,
    )
}

fn cases() -> Vec<Case> {
    use Cmp::*;
    let t1 = T0 + 3600; // 1 h in
    let t2 = T0 + 2 * 3600 + 7; // 2 h in, between samples
    let gap = T0 + 6000; // 1h40m: flaky_up is in its gap
    let end = T0 + 4 * 3600;
    let mut c = vec![
        // Instant queries: vectors, scalars, strings, matrices.
        instant("http_requests_total", t2),
        instant("rate(http_requests_total[5m])", t2),
        instant("sum by (code) (rate(http_requests_total[5m]))", t2),
        instant(
            "sum without (instance) (increase(http_requests_total[1h]))",
            end,
        ),
        instant("irate(http_requests_total{code=\"500\"}[1m])", t2),
        instant(
            "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))",
            t2,
        ),
        instant(
            "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
            t1,
        ),
        instant("scalar(sum(temperature_celsius))", t1),
        instant("\"hello\"", t1),
        instant("42.5", t1),
        instant("temperature_celsius[1m]", t1),
        instant("avg_over_time(temperature_celsius[30m])", t1),
        instant(
            "max by (job) (temperature_celsius) - min by (job) (temperature_celsius)",
            t1,
        ),
        instant("topk(2, http_requests_total)", t1),
        instant("bottomk(1, temperature_celsius)", t1),
        instant("count_over_time(flaky_up[1h])", t2),
        instant("flaky_up", gap),
        instant("flaky_up", t2),
        instant("absent(nonexistent_metric)", t1),
        instant("http_requests_total offset 1h", t2),
        instant("http_requests_total @ 1700003600", t2),
        instant(
            "label_replace(temperature_celsius, \"where\", \"$1\", \"room\", \"(.)a.*\")",
            t1,
        ),
        instant("{__name__=~\"temp.*\", room!=\"hall\"}", t1),
        instant("vector(1) / 0", t1),
        instant("-1 / 0", t1),
        instant("0 / 0", t1),
        instant("weird_labels", t1),
        instant("batch_last_success_seconds", t2),
        instant("time() - batch_last_success_seconds", t1),
        instant("quantile_over_time(0.5, temperature_celsius[15m])", t1),
        instant("deriv(temperature_celsius[10m])", t1),
        instant("sort_desc(sum by (instance) (http_requests_total))", t1),
        get(
            format!("/api/v1/query?query=up&time={}", "2023-11-14T23:13:20.5Z"),
            Exact,
        ),
        get("/api/v1/query?query=nonexistent_metric", Exact),
        // Absurd times: Prometheus wraps them as Go's int64 arithmetic does.
        get("/api/v1/query?query=time()&time=-9.3e18", Exact),
        get("/api/v1/query?query=time()&time=NaN", Exact),
        get("/api/v1/query?query=time()&time=1e300", Exact),
        get(
            "/api/v1/query?query=time()&time=9999-12-31T23:59:59Z",
            Exact,
        ),
        get(
            "/api/v1/query_range?query=time()&start=-9.3e18&end=-9.3e18&step=1",
            Exact,
        ),
        get(
            format!(
                "/api/v1/query?query=time()&time={}",
                enc("1969-12-31T23:59:59.9995Z")
            ),
            Exact,
        ),
        // Range queries.
        range("rate(http_requests_total[5m])", t1, t1 + 1800, "60"),
        range(
            "sum by (code) (rate(http_requests_total[2m]))",
            t1,
            t1 + 900,
            "15s",
        ),
        range("scalar(sum(temperature_celsius))", t1, t1 + 600, "1m"),
        range(
            "histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
            t1,
            t1 + 1200,
            "120",
        ),
        range("flaky_up", gap - 1200, t2 + 300, "300"),
        range(
            "increase(http_requests_total{instance=\"b:9100\",code=\"500\"}[10m])",
            t2 - 900,
            t2 + 900,
            "90",
        ),
        range("weird_labels * 1e9", t1, t1 + 60, "30"),
        range("time()", t1, t1 + 60, "20.5"),
        Case {
            method: "POST",
            target: "/api/v1/query_range".into(),
            body: format!(
                "query={}&start={t1}&end={}&step=30",
                enc("avg(temperature_celsius)"),
                t1 + 300
            ),
            cmp: Exact,
        },
        Case {
            method: "POST",
            target: "/api/v1/query".into(),
            body: format!("query={}&time={t1}", enc("count(http_requests_total)")),
            cmp: Exact,
        },
        // Bad queries and parameters.
        get(
            format!("/api/v1/query?query={}&time={t1}", enc("sum(")),
            Exact,
        ),
        get(
            format!(
                "/api/v1/query?query={}&time={t1}",
                enc("rate(http_requests_total)")
            ),
            ErrorType,
        ),
        get(format!("/api/v1/query?query=&time={t1}"), Exact),
        get(
            format!(
                "/api/v1/query?query={}&time={t1}",
                enc("http_requests_total + on(job) http_requests_total")
            ),
            Exact,
        ),
        get(
            format!(
                "/api/v1/query_range?query={}&start={t1}&end={}&step=60",
                enc("http_requests_total[5m]"),
                t1 + 60
            ),
            Exact,
        ),
        get(
            format!(
                "/api/v1/query_range?query={}&start={t1}&end={}&step=60",
                enc("sum("),
                t1 + 60
            ),
            Exact,
        ),
        get("/api/v1/query?query=up&time=abc", Exact),
        get("/api/v1/query?query=up&time=2023-13-01T00:00:00Z", Exact),
        get("/api/v1/query?query=up&timeout=abc", Exact),
        get("/api/v1/query_range?query=up&end=10&step=1", Exact),
        get("/api/v1/query_range?query=up&start=10&end=x&step=1", Exact),
        get(
            "/api/v1/query_range?query=up&start=100&end=10&step=1",
            Exact,
        ),
        get("/api/v1/query_range?query=up&start=0&end=10&step=0", Exact),
        get("/api/v1/query_range?query=up&start=0&end=10&step=-5", Exact),
        get(
            "/api/v1/query_range?query=up&start=0&end=10&step=abc",
            Exact,
        ),
        get("/api/v1/query_range?query=up&start=0&end=10", Exact),
        get(
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            Exact,
        ),
        get(
            "/api/v1/query_range?query=up&start=0&end=11000&step=1",
            Exact,
        ),
        get(
            "/api/v1/query_range?query=up&start=0&end=10&step=1&timeout=1x",
            Exact,
        ),
        // Series, labels, label values.
        get("/api/v1/series?match[]=http_requests_total", Exact),
        get(
            format!(
                "/api/v1/series?match[]={}&match[]={}&start={t1}&end={t2}",
                enc("temperature_celsius{room=~\"h.*|k.*\"}"),
                enc("flaky_up")
            ),
            Exact,
        ),
        get(
            format!("/api/v1/series?match[]=batch_last_success_seconds&start={t2}"),
            Exact,
        ),
        get(
            format!("/api/v1/series?match[]={}", enc("{job=\"odd\"}")),
            Exact,
        ),
        // Between two samples of one chunk: Prometheus goes by chunk time ranges.
        get(
            format!(
                "/api/v1/series?match[]=flaky_up&match[]=temperature_celsius&start={}&end={}",
                t1 + 1,
                t1 + 14
            ),
            Exact,
        ),
        // In flaky_up's gap, no chunk of it overlaps.
        get(
            format!(
                "/api/v1/series?match[]=flaky_up&start={}&end={}",
                gap,
                gap + 600
            ),
            Exact,
        ),
        Case {
            method: "POST",
            target: "/api/v1/series".into(),
            body: format!("match[]={}", enc("{__name__=~\"request_duration.*\"}")),
            cmp: Exact,
        },
        get("/api/v1/series", Exact),
        get(
            format!("/api/v1/series?match[]={}", enc("{job=~\".*\"}")),
            Exact,
        ),
        get(format!("/api/v1/series?match[]={}", enc("up{")), Exact),
        get("/api/v1/series?match[]=up&start=abc", Exact),
        get("/api/v1/labels", Exact),
        get(
            format!("/api/v1/labels?match[]={}", enc("temperature_celsius")),
            Exact,
        ),
        get(
            format!(
                "/api/v1/labels?start={}&end={}",
                end + 86_400,
                end + 2 * 86_400
            ),
            Exact,
        ),
        get(format!("/api/v1/labels?start={t2}&end={end}"), Exact),
        get(format!("/api/v1/labels?match[]={}", enc("{a=\"\"}")), Exact),
        get("/api/v1/labels?end=x", Exact),
        // Prometheus's own bounds as Go formats them (what client_golang sends).
        get(
            "/api/v1/labels?start=-292273086-05-16T16:47:06Z&end=292277025-08-18T07:12:54.999999999Z",
            Exact,
        ),
        get(
            "/api/v1/series?match[]=flaky_up&start=-292273086-05-16T16:47:06Z&end=292277025-08-18T07:12:54.999999999Z",
            Exact,
        ),
        get("/api/v1/label/job/values", Exact),
        get("/api/v1/label/__name__/values", Exact),
        get(
            format!(
                "/api/v1/label/room/values?match[]={}",
                enc("{room!=\"hall\"}")
            ),
            Exact,
        ),
        get(
            format!("/api/v1/label/job/values?start={t2}&end={end}"),
            Exact,
        ),
        get("/api/v1/label/nonexistent/values", Exact),
        get(
            format!(
                "/api/v1/label/room/values?match[]={}",
                enc("temperature_celsius{room!=\"hall\"}")
            ),
            Exact,
        ),
        get(
            format!(
                "/api/v1/label/instance/values?match[]=flaky_up&match[]={}&start={t1}&end={t2}",
                enc("http_requests_total{code=\"500\"}")
            ),
            Exact,
        ),
        get(
            format!(
                "/api/v1/labels?match[]=batch_last_success_seconds&match[]=flaky_up&start={t2}"
            ),
            Exact,
        ),
        get("/api/v1/label/0bad/values", Exact),
        get(
            format!("/api/v1/label/job/values?match[]={}", enc("up{")),
            Exact,
        ),
        // Metadata and targets (no targets on either side).
        get("/api/v1/metadata", Exact),
        get("/api/v1/metadata?limit=1&metric=http_requests", Exact),
        get("/api/v1/metadata?limit=x", Exact),
        get("/api/v1/targets", Exact),
        get("/api/v1/targets?state=dropped", Exact),
        get("/api/v1/targets/metadata", Exact),
        get("/api/v1/targets/metadata?limit=y", Exact),
        get(
            format!("/api/v1/targets/metadata?match_target={}", enc("{job=")),
            Exact,
        ),
        // Status.
        get("/api/v1/status/buildinfo", Keys),
        get("/api/v1/status/runtimeinfo", Keys),
        get("/api/v1/status/config", Keys),
        get("/api/v1/status/flags", Object),
        get("/api/v1/status/tsdb", Exact),
        get("/api/v1/rules", Exact),
        get("/api/v1/rules?type=bad", Exact),
        get("/api/v1/alerts", Exact),
        get("/api/v1/alertmanagers", Exact),
        // Exemplars, formatting.
        get("/api/v1/query_exemplars?query=http_requests_total", Exact),
        get("/api/v1/query_exemplars?query=1%2B1", Exact),
        get("/api/v1/query_exemplars?query=sum(", Exact),
        get("/api/v1/format_query?query=sum(", Exact),
        get(
            format!("/api/v1/query?query={}&time=10", enc("sum(\n  rate(x[5m])")),
            Exact,
        ),
        get(
            format!("/api/v1/series?match[]={}", enc("{job=\"a\",\ninstance=")),
            Exact,
        ),
        get("/api/v1/query_exemplars?query=up&start=10&end=5", Exact),
        get(
            format!(
                "/api/v1/format_query?query={}",
                enc("sum(rate(http_requests_total{job=\"api\"}[5m]))by(code)")
            ),
            Exact,
        ),
        // Routing.
        get("/api/v1/nonexistent", Exact),
        get("/api/v1/label/job", Exact),
        Case {
            method: "PUT",
            target: "/api/v1/query?query=1".into(),
            body: String::new(),
            cmp: Exact,
        },
        Case {
            method: "POST",
            target: "/api/v1/targets".into(),
            body: String::new(),
            cmp: Exact,
        },
        Case {
            method: "DELETE",
            target: "/api/v1/labels".into(),
            body: String::new(),
            cmp: Exact,
        },
        Case {
            method: "DELETE",
            target: "/api/v1/series?match[]=up".into(),
            body: String::new(),
            cmp: Exact,
        },
        Case {
            method: "POST",
            target: "/api/v1/label/job/values".into(),
            body: String::new(),
            cmp: Exact,
        },
        Case {
            method: "POST",
            target: "/api/v1/format_query".into(),
            body: format!("query={}", enc("a   +   on(b)   group_left   c")),
            cmp: Exact,
        },
    ];
    // A `timeout` that has passed before the query starts: 503 timeout. The message is
    // compared loosely: Prometheus's says "in query queue" or "in query execution"
    // depending on which ready channel Go's `select` picks first.
    c.push(get(
        format!("/api/v1/query?query=count(http_requests_total)&time={t1}&timeout=0"),
        ErrorType,
    ));
    c.push(get(
        format!(
            "/api/v1/query_range?query=time()&start={t1}&end={}&step=60&timeout=0s",
            t1 + 60
        ),
        ErrorType,
    ));
    // A query with a `timeout` that is long enough.
    c.push(get(
        format!("/api/v1/query?query=count(http_requests_total)&time={t1}&timeout=30s"),
        Exact,
    ));
    c
}

fn send(addr: &str, case: &Case) -> (u16, String, String) {
    let headers: &[(&str, &str)] = if case.body.is_empty() {
        &[]
    } else {
        &[("Content-Type", "application/x-www-form-urlencoded")]
    };
    let r = http_request(
        addr,
        case.method,
        &case.target,
        headers,
        case.body.as_bytes(),
    )
    .unwrap();
    let ct = r.header("content-type").unwrap_or("").to_owned();
    (r.status, ct, r.text())
}

fn keys(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut k: Vec<String> = v["data"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn envelope(body: &str) -> (Value, Value) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    (v["status"].clone(), v["errorType"].clone())
}

#[test]
fn api_answers_as_prometheus_does() {
    for bin in ["prometheus", "promtool"] {
        if !found(bin) {
            eprintln!(
                "SKIPPED api_answers_as_prometheus_does: `{bin}` not found (apt-get install prometheus)"
            );
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("ember-api-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let om = openmetrics();
    let om_path = dir.join("data.om");
    std::fs::write(&om_path, &om).unwrap();

    // Ember: import, open, serve.
    let ember_dir = dir.join("ember");
    ember_tsdb::import_openmetrics(
        om.as_bytes(),
        &ember_dir,
        &ember_tsdb::ImportOptions::default(),
    )
    .unwrap();
    let (db, _) = ember_tsdb::Db::open(&ember_dir, ember_tsdb::Options::default()).unwrap();
    let db: SharedDb = Arc::new(parking_lot::RwLock::new(db));
    let api = Arc::new(Api::new(
        db,
        ember_promql::EngineOptions::default(),
        Arc::new(FixedView),
    ));
    let ember = serve(api);

    let prom = start_prometheus(&dir.join("prom"), &om_path);

    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let p = send(&prom.addr, case);
        let e = send(&ember, case);
        let what = format!("{} {} {}", case.method, case.target, case.body);
        if std::env::var_os("EMBER_API_GOLDEN_VERBOSE").is_some() {
            eprintln!(
                "{what}\n  -> {} {}",
                p.0,
                p.2.chars().take(300).collect::<String>()
            );
        }
        let same = match case.cmp {
            Cmp::Exact => p == e,
            Cmp::ErrorType => {
                p.0 == e.0 && p.1 == e.1 && envelope(&p.2) == envelope(&e.2) && p.0 >= 400
            }
            Cmp::Keys => p.0 == e.0 && keys(&p.2) == keys(&e.2) && !keys(&p.2).is_empty(),
            Cmp::Object => {
                p.0 == e.0
                    && serde_json::from_str::<Value>(&e.2).unwrap_or(Value::Null)["data"]
                        .is_object()
            }
        };
        if !same {
            failures.push(format!(
                "{what}\n  prometheus: {} {} {}\n  ember:      {} {} {}",
                p.0,
                p.1,
                p.2.trim_end(),
                e.0,
                e.1,
                e.2.trim_end()
            ));
        }
    }
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} requests answered differently:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} requests answered the same by Prometheus 2.42 and ember-server",
        cases.len()
    );
}

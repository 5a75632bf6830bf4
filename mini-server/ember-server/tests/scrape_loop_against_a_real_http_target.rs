//! The scrape loop against a real HTTP server started here (tiny_http), writing into an
//! in-memory appender: headers, formats, gzip, target labels, limits, failures, staleness
//! and the report series.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_server::{
    Config, MemoryAppender, ScrapeLoop, StoredSample, is_stale_marker, targets_from_group,
};

/// The headers of one request, as received.
type Headers = Vec<(String, String)>;

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    gzip: bool,
    delay: Duration,
}

fn text(body: &str) -> Reply {
    Reply {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: body.as_bytes().to_vec(),
        gzip: false,
        delay: Duration::ZERO,
    }
}

/// A target answering scripted replies in order and recording request headers.
struct TestTarget {
    addr: String,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Headers>>>,
    server: Arc<tiny_http::Server>,
}

impl TestTarget {
    fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap().to_string();
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Headers>>> = Arc::default();
        let (s, r, q) = (server.clone(), replies.clone(), requests.clone());
        std::thread::spawn(move || {
            while let Ok(req) = s.recv() {
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
                    .collect();
                q.lock().unwrap().push(headers);
                let reply = r.lock().unwrap().pop_front().unwrap_or_else(|| text(""));
                let r2 = reply.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(r2.delay);
                    let mut body = r2.body.clone();
                    let mut resp_headers = vec![
                        tiny_http::Header::from_bytes("Content-Type", r2.content_type).unwrap(),
                    ];
                    if r2.gzip {
                        let mut enc =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        enc.write_all(&body).unwrap();
                        body = enc.finish().unwrap();
                        resp_headers.push(
                            tiny_http::Header::from_bytes("Content-Encoding", "gzip").unwrap(),
                        );
                    }
                    let mut resp = tiny_http::Response::from_data(body).with_status_code(r2.status);
                    for h in resp_headers {
                        resp.add_header(h);
                    }
                    let _ = req.respond(resp);
                });
            }
        });
        TestTarget {
            addr,
            replies,
            requests,
            server,
        }
    }

    fn reply(&self, r: Reply) {
        self.replies.lock().unwrap().push_back(r);
    }

    fn last_request_header(&self, name: &str) -> Option<String> {
        let reqs = self.requests.lock().unwrap();
        let last = reqs.last()?;
        last.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn scrape_loop(target: &TestTarget, job_yaml: &str) -> ScrapeLoop<MemoryAppender> {
    let yaml = format!(
        "scrape_configs:\n- job_name: app\n  scrape_interval: 1s\n  scrape_timeout: 500ms\n  static_configs:\n  - targets: ['{}']\n    labels: {{env: test}}\n{job_yaml}",
        target.addr
    );
    let cfg = Config::parse(&yaml, Path::new("t.yml")).unwrap();
    let job = &cfg.scrape_configs[0];
    let t = targets_from_group(&job.static_configs[0], job)
        .unwrap()
        .remove(0);
    ScrapeLoop::new(t, job, MemoryAppender::default())
}

fn samples_at(l: &ScrapeLoop<MemoryAppender>, ts: i64) -> Vec<StoredSample> {
    l.appender()
        .committed()
        .into_iter()
        .filter(|s| s.timestamp_ms == ts)
        .collect()
}

fn value(samples: &[StoredSample], series: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.series.to_string() == series)
        .map(|s| s.value)
}

fn report(samples: &[StoredSample], name: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.series.get("__name__") == name)
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn sends_prometheus_headers_and_stores_samples_with_target_labels() {
    let t = TestTarget::start();
    t.reply(text("# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 7\nhttp_requests_total{code=\"500\",job=\"theirs\"} 1\ngo_goroutines 12\n"));
    let mut l = scrape_loop(
        &t,
        "  metric_relabel_configs:\n  - {source_labels: [__name__], regex: 'go_.*', action: drop}\n",
    );
    let r = l.scrape_once();
    assert_eq!(r.error, None);
    assert_eq!(
        t.last_request_header("Accept").as_deref(),
        Some(ember_expfmt::PROMETHEUS_2_ACCEPT)
    );
    assert_eq!(
        t.last_request_header("Accept-Encoding").as_deref(),
        Some("gzip")
    );
    assert_eq!(
        t.last_request_header("X-Prometheus-Scrape-Timeout-Seconds")
            .as_deref(),
        Some("0.5")
    );
    let s = samples_at(&l, r.timestamp_ms);
    let inst = &t.addr;
    assert_eq!(
        value(
            &s,
            &format!(
                r#"{{__name__="http_requests_total", code="200", env="test", instance="{inst}", job="app"}}"#
            )
        ),
        Some(7.0)
    );
    assert_eq!(
        value(
            &s,
            &format!(
                r#"{{__name__="http_requests_total", code="500", env="test", exported_job="theirs", instance="{inst}", job="app"}}"#
            )
        ),
        Some(1.0)
    );
    assert!(
        s.iter()
            .all(|x| x.series.get("__name__") != "go_goroutines")
    );
    assert_eq!(report(&s, "up"), 1.0);
    assert_eq!(report(&s, "scrape_samples_scraped"), 3.0);
    assert_eq!(report(&s, "scrape_samples_post_metric_relabeling"), 2.0);
    assert_eq!(report(&s, "scrape_series_added"), 2.0);
    assert!(report(&s, "scrape_duration_seconds") >= 0.0);
    let up = s.iter().find(|x| x.series.get("__name__") == "up").unwrap();
    assert_eq!(
        up.series.to_string(),
        format!(r#"{{__name__="up", env="test", instance="{inst}", job="app"}}"#)
    );
}

#[test]
fn honor_labels_keeps_the_targets_values() {
    let t = TestTarget::start();
    t.reply(text("m{job=\"theirs\",instance=\"x\"} 1\n"));
    let mut l = scrape_loop(&t, "  honor_labels: true\n");
    let r = l.scrape_once();
    let s = samples_at(&l, r.timestamp_ms);
    assert_eq!(
        value(
            &s,
            r#"{__name__="m", env="test", instance="x", job="theirs"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn gzip_and_openmetrics_with_timestamps() {
    let t = TestTarget::start();
    let om = "# TYPE c counter\nc_total 5 1700000000.5\n# EOF\n";
    let reply = Reply {
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
        gzip: true,
        ..text(om)
    };
    t.reply(reply.clone());
    t.reply(reply);
    let mut l = scrape_loop(&t, "");
    let r = l.scrape_once();
    assert_eq!(r.error, None);
    let c = l
        .appender()
        .committed()
        .into_iter()
        .find(|s| s.series.get("__name__") == "c_total")
        .unwrap();
    assert_eq!((c.timestamp_ms, c.value), (1_700_000_000_500, 5.0));

    let mut l = scrape_loop(&t, "  honor_timestamps: false\n");
    let r = l.scrape_once();
    let s = samples_at(&l, r.timestamp_ms);
    assert_eq!(
        s.iter()
            .find(|s| s.series.get("__name__") == "c_total")
            .unwrap()
            .value,
        5.0
    );
}

#[test]
fn vanished_series_get_staleness_markers() {
    let t = TestTarget::start();
    t.reply(text("a 1\nb 2\n"));
    t.reply(text("a 3\nc 4\n"));
    let mut l = scrape_loop(&t, "");
    l.scrape_once();
    // Keep the two scrapes' timestamps apart (a kept connection is fast).
    std::thread::sleep(Duration::from_millis(2));
    let r2 = l.scrape_once();
    let s = samples_at(&l, r2.timestamp_ms);
    let b = s.iter().find(|x| x.series.get("__name__") == "b").unwrap();
    assert!(is_stale_marker(b.value));
    assert_eq!(
        s.iter()
            .find(|x| x.series.get("__name__") == "a")
            .unwrap()
            .value,
        3.0
    );
    assert_eq!(report(&s, "scrape_series_added"), 1.0);
}

#[test]
fn failures_fail_only_that_scrape() {
    let t = TestTarget::start();
    // (reply of the second scrape, job settings, text the error must contain)
    let cases: Vec<(Reply, &str, &str)> = vec![
        (text("this is { not metrics\n"), "", ""),
        (
            Reply {
                status: 500,
                ..text("boom")
            },
            "",
            "server returned HTTP status 500 Internal Server Error",
        ),
        (
            text(&"x 1\n".repeat(100)),
            "  body_size_limit: 100B\n",
            "body size limit exceeded",
        ),
        (
            text("a 1\nb 2\nc 3\n"),
            "  sample_limit: 2\n",
            "sample limit exceeded",
        ),
        (
            text("a{x=\"1\",y=\"2\"} 1\n"),
            "  label_limit: 4\n",
            "label_limit exceeded",
        ),
        (
            Reply {
                delay: Duration::from_secs(3),
                ..text("late 1\n")
            },
            "",
            "",
        ),
        (
            // 400 bytes that gzip to far fewer than 100: the limit applies after decompression.
            Reply {
                gzip: true,
                ..text(&"x 1\n".repeat(100))
            },
            "  body_size_limit: 100B\n",
            "body size limit exceeded",
        ),
        (
            text("x 1\n"),
            "  metric_relabel_configs:\n  - {source_labels: [__name__], regex: x, target_label: __name__, replacement: 'bad-name'}\n",
            "invalid metric name or label names",
        ),
    ];
    for (reply, job, expected) in cases {
        t.reply(text("ok 1\n"));
        t.reply(reply);
        let mut l = scrape_loop(&t, job);
        let first = l.scrape_once();
        assert_eq!(first.error, None, "{job}");
        // Scrapes over a kept connection can take less than a millisecond: keep their
        // timestamps apart, as the scrape interval does.
        std::thread::sleep(Duration::from_millis(2));
        let r = l.scrape_once();
        let s = samples_at(&l, r.timestamp_ms);
        let err = r.error.clone().expect("the second scrape fails");
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
        assert_eq!(report(&s, "up"), 0.0, "{err}");
        // Nothing from the failed body is stored; the previous series went stale.
        let ok = s.iter().find(|x| x.series.get("__name__") == "ok").unwrap();
        assert!(is_stale_marker(ok.value), "{err}");
        assert_eq!(
            s.len(),
            1 + ember_server::REPORT_SERIES.len(),
            "{err}: {s:?}"
        );
        // The next good scrape brings the target back up.
        t.reply(text("ok 2\n"));
        std::thread::sleep(Duration::from_millis(2));
        let r = l.scrape_once();
        assert_eq!(r.error, None);
        assert_eq!(report(&samples_at(&l, r.timestamp_ms), "up"), 1.0);
    }
}

#[test]
fn basic_auth_is_sent_with_the_password_file_read_each_time() {
    let dir = std::env::temp_dir().join(format!("ember-scrape-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pw = dir.join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let t = TestTarget::start();
    let mut l = scrape_loop(
        &t,
        &format!(
            "  basic_auth: {{username: u, password_file: '{}'}}\n",
            pw.display()
        ),
    );
    l.scrape_once();
    // base64("u:s3cret")
    assert_eq!(
        t.last_request_header("Authorization").as_deref(),
        Some("Basic dTpzM2NyZXQ=")
    );
    std::fs::write(&pw, "other").unwrap();
    l.scrape_once();
    assert_eq!(
        t.last_request_header("Authorization").as_deref(),
        Some("Basic dTpvdGhlcg==")
    );
}

#[test]
fn long_credentials_and_urls_are_sent_whole() {
    let t = TestTarget::start();
    t.reply(text("a 1\n"));
    let token = "t".repeat(40_000);
    let param = "p".repeat(20_000);
    let mut l = scrape_loop(
        &t,
        &format!("  authorization: {{credentials: {token}}}\n  params: {{q: [{param}]}}\n"),
    );
    let r = l.scrape_once();
    assert_eq!(r.error, None);
    assert_eq!(
        t.last_request_header("Authorization"),
        Some(format!("Bearer {token}"))
    );
}

#[test]
fn stopping_marks_everything_stale() {
    let t = TestTarget::start();
    t.reply(text("a 1\n"));
    let l = scrape_loop(&t, "");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || l.run(rx));
    // Poll (bounded) until the target has been scraped once, then hang up to stop the loop.
    for _ in 0..500 {
        if !t.requests.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !t.requests.lock().unwrap().is_empty(),
        "the loop scraped within 5 s"
    );
    drop(tx);
    let l = handle.join().unwrap();
    let all = l.appender().committed();
    let last_ts = all.iter().map(|s| s.timestamp_ms).max().unwrap();
    let stale: Vec<&StoredSample> = all.iter().filter(|s| s.timestamp_ms == last_ts).collect();
    let names: Vec<&str> = stale.iter().map(|s| s.series.get("__name__")).collect();
    assert!(stale.iter().all(|s| is_stale_marker(s.value)), "{stale:?}");
    for n in ["a", "up", "scrape_duration_seconds", "scrape_series_added"] {
        assert!(names.contains(&n), "{n} not marked stale: {names:?}");
    }
}

#[test]
fn metadata_goes_to_the_appender_for_new_series_and_on_change() {
    use ember_tsdb::{Metadata, MetricType};
    let t = TestTarget::start();
    let om = |help: &str| Reply {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
        body: format!(
            "# TYPE req counter\n# HELP req {help}\nreq_total{{code=\"200\"}} 7\n\
             # TYPE lat_seconds histogram\n# UNIT lat_seconds seconds\n\
             lat_seconds_bucket{{le=\"+Inf\"}} 1\n\
             lat_seconds_count 1\nlat_seconds_sum 0.5\nuntyped_thing 3\n# EOF\n"
        )
        .into_bytes(),
        gzip: false,
        delay: Duration::ZERO,
    };
    t.reply(om("Requests."));
    t.reply(om("Requests."));
    t.reply(om("Requests served."));
    let mut l = scrape_loop(&t, "");
    let inst = t.addr.clone();
    let series = |name: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("__name__", name),
            ("env", "test"),
            ("instance", inst.as_str()),
            ("job", "app"),
        ];
        pairs.extend_from_slice(extra);
        ember_server::Labels::from_pairs(pairs)
    };
    assert_eq!(l.scrape_once().error, None);
    let req = series("req_total", &[("code", "200")]);
    let counter = |help: &str| Metadata {
        metric_type: MetricType::Counter,
        unit: String::new(),
        help: help.into(),
    };
    assert_eq!(l.appender().metadata(&req), Some(counter("Requests.")));
    let histogram = Metadata {
        metric_type: MetricType::Histogram,
        unit: "seconds".into(),
        help: String::new(),
    };
    assert_eq!(
        l.appender()
            .metadata(&series("lat_seconds_bucket", &[("le", "+Inf")])),
        Some(histogram.clone())
    );
    assert_eq!(
        l.appender().metadata(&series("untyped_thing", &[])),
        None,
        "no TYPE line, no metadata"
    );
    let families = l.metadata_handle().lock().clone();
    assert_eq!(families.get("req"), Some(&counter("Requests.")));
    assert_eq!(families.get("lat_seconds"), Some(&histogram));
    // A changed HELP reaches the series already known.
    assert_eq!(l.scrape_once().error, None);
    assert_eq!(l.scrape_once().error, None);
    assert_eq!(
        l.appender().metadata(&req),
        Some(counter("Requests served."))
    );
    assert_eq!(
        l.metadata_handle().lock().get("req"),
        Some(&counter("Requests served."))
    );
}

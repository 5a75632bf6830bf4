//! A real Prometheus 2.42 scrapes an Ember registry (it negotiates OpenMetrics with its
//! own Accept header) and answers PromQL over what it stored: the values we expose are
//! the values it sees, for every metric type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember::{Counter, Family, Gauge, Histogram, Info, Registry, StateSet, Summary};
use ember_e2e::Prometheus;

/// Serves `registry` on a loopback port, negotiating the format from `Accept`; counts
/// the scrapes and remembers the last Accept header.
fn serve(registry: Registry, scrapes: Arc<AtomicU64>, last_accept: Arc<Mutex<String>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut accept = None;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("accept") {
                        accept = Some(v.trim().to_string());
                    }
                }
                line.clear();
            }
            let n = ember_expfmt::negotiate(accept.as_deref());
            *last_accept.lock().unwrap() = accept.unwrap_or_default();
            let body = registry.encode_to_vec(n.format);
            scrapes.fetch_add(1, Ordering::Relaxed);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                n.content_type,
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    addr
}

fn value(p: &Prometheus, q: &str) -> f64 {
    let r = p
        .wait_for(q, Duration::from_secs(20), |r| !r.is_empty())
        .unwrap();
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0].1
}

#[test]
fn every_type_reads_back_through_promql() {
    let registry = Registry::new();
    registry.set_created_samples(true);
    let requests = Family::<[String; 2], Counter>::with_label_names(["method", "code"]).unwrap();
    registry
        .register("demo_requests", "Requests.", requests.clone())
        .unwrap();
    let queue = Gauge::default();
    registry
        .register("demo_queue", "Queue length.", queue.clone())
        .unwrap();
    let latency = Histogram::new([0.1, 0.2, 0.4, 0.8]).unwrap();
    registry
        .register_with_unit("demo_latency", "Latency.", "seconds", latency.clone())
        .unwrap();
    let sizes = Summary::builder()
        .quantiles(&[(0.5, 0.01)])
        .build()
        .unwrap();
    registry
        .register_with_unit("demo_size", "Sizes.", "bytes", sizes.clone())
        .unwrap();
    registry
        .register(
            "demo_build",
            "Build.",
            Info::new([("version", "1.2.3")]).unwrap(),
        )
        .unwrap();
    let mode = StateSet::new(["a", "b"]);
    registry
        .register("demo_mode", "Mode.", mode.clone())
        .unwrap();

    requests.with_label_values(&["GET", "200"]).inc_by(41);
    requests.with_label_values(&["POST", "500"]).inc();
    queue.set(-7);
    for i in 0..100 {
        latency.observe(f64::from(i) * 0.005); // 0 .. 0.495, uniform
        sizes.observe(f64::from(i));
    }
    mode.set_exclusive("b");

    let scrapes = Arc::new(AtomicU64::new(0));
    let last_accept = Arc::new(Mutex::new(String::new()));
    let addr = serve(registry.clone(), scrapes.clone(), last_accept.clone());
    let prom = Prometheus::start("ember", std::slice::from_ref(&addr), 1).unwrap();

    assert_eq!(value(&prom, "up{job=\"ember\"}"), 1.0, "{}", prom.log());
    assert_eq!(
        value(&prom, "demo_requests_total{method=\"GET\",code=\"200\"}"),
        41.0
    );
    assert_eq!(value(&prom, "sum(demo_requests_total)"), 42.0);
    assert_eq!(value(&prom, "demo_queue"), -7.0);
    assert_eq!(value(&prom, "demo_latency_seconds_count"), 100.0);
    assert_eq!(
        value(&prom, "demo_latency_seconds_bucket{le=\"0.2\"}"),
        41.0
    );
    assert_eq!(
        value(&prom, "demo_latency_seconds_bucket{le=\"+Inf\"}"),
        100.0
    );
    let sum = value(&prom, "demo_latency_seconds_sum");
    assert!((sum - 24.75).abs() < 1e-9, "{sum}");
    // 0.2 + (0.4 - 0.2) * (50 - 41) / (81 - 41): Prometheus's interpolation.
    let p50 = value(
        &prom,
        "histogram_quantile(0.5, demo_latency_seconds_bucket)",
    );
    assert!((p50 - 0.245).abs() < 1e-9, "{p50}");
    assert_eq!(value(&prom, "demo_size_bytes{quantile=\"0.5\"}"), 49.0);
    assert_eq!(value(&prom, "demo_size_bytes_count"), 100.0);
    assert_eq!(value(&prom, "demo_build_info{version=\"1.2.3\"}"), 1.0);
    assert_eq!(value(&prom, "demo_mode{demo_mode=\"b\"}"), 1.0);
    assert_eq!(value(&prom, "demo_mode{demo_mode=\"a\"}"), 0.0);
    let created = value(&prom, "demo_requests_created{method=\"GET\"}");
    assert!(created > 1.7e9, "{created}");

    // Counting goes on between scrapes and Prometheus follows.
    requests.with_label_values(&["GET", "200"]).inc_by(8);
    let r = prom
        .wait_for(
            "demo_requests_total{method=\"GET\"}",
            Duration::from_secs(20),
            |r| r.first().is_some_and(|s| s.1 == 49.0),
        )
        .unwrap();
    assert_eq!(r[0].1, 49.0);
    assert!(scrapes.load(Ordering::Relaxed) >= 2);

    // Prometheus sent its 2.42 Accept header, so it was answered in OpenMetrics.
    assert_eq!(
        *last_accept.lock().unwrap(),
        ember_expfmt::PROMETHEUS_2_ACCEPT
    );
}

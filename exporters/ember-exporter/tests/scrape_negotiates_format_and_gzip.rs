//! The telemetry path: text 0.0.4 by default, OpenMetrics for Prometheus 2.42's
//! `Accept`, gzip when asked, the exporter's own metrics unless disabled.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::Read;

use ember_e2e::http_get;
use ember_expfmt::{Format, PROMETHEUS_2_ACCEPT, parse};

fn names(body: &[u8], format: Format) -> Vec<String> {
    parse(body, format)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect()
}

#[test]
fn plain_scrape_is_text_with_collector_and_exporter_metrics() {
    let addr = common::start(vec![Box::new(common::Fixed("a"))], &[]);
    let r = http_get(&addr, "/metrics", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(ember_expfmt::TEXT_CONTENT_TYPE)
    );
    assert_eq!(r.header("content-encoding"), None);
    let text = r.text();
    assert!(text.contains("test_a_value 42\n"), "{text}");
    assert!(
        text.contains("test_scrape_collector_success{collector=\"a\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("# HELP test_scrape_collector_duration_seconds test_exporter: Duration of a collector scrape.\n"), "{text}");
    assert!(
        text.contains("test_exporter_build_info{branch=\"\",goarch=\""),
        "{text}"
    );
    assert!(text.contains("version=\"9.8.7\"} 1\n"), "{text}");
    assert!(
        text.contains("promhttp_metric_handler_requests_in_flight 1\n"),
        "{text}"
    );
    assert!(
        text.contains("promhttp_metric_handler_requests_total{code=\"200\"} 0\n"),
        "{text}"
    );
    let names = names(&r.body, Format::Text);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "families are sorted by name");
    if cfg!(target_os = "linux") {
        assert!(
            names.iter().any(|n| n == "process_resident_memory_bytes"),
            "{names:?}"
        );
    }

    // The first scrape is counted in the second.
    let text = http_get(&addr, "/metrics", &[]).unwrap().text();
    assert!(
        text.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1\n"),
        "{text}"
    );
}

#[test]
fn prometheus_2_42_gets_openmetrics_and_gzip() {
    let addr = common::start(vec![Box::new(common::Fixed("a"))], &[]);
    let r = http_get(
        &addr,
        "/metrics",
        &[("Accept", PROMETHEUS_2_ACCEPT), ("Accept-Encoding", "gzip")],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(ember_expfmt::OPENMETRICS_CONTENT_TYPE)
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut body)
        .unwrap();
    assert!(body.ends_with(b"# EOF\n"));
    let names = names(&body, Format::OpenMetrics);
    assert!(names.iter().any(|n| n == "test_a_value"), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n == "promhttp_metric_handler_requests"),
        "{names:?}"
    );
}

#[test]
fn disabling_exporter_metrics_leaves_only_collectors() {
    let addr = common::start(
        vec![Box::new(common::Fixed("a"))],
        &["--web.disable-exporter-metrics"],
    );
    let r = http_get(&addr, "/metrics", &[]).unwrap();
    assert_eq!(
        names(&r.body, Format::Text),
        [
            "test_a_value",
            "test_scrape_collector_duration_seconds",
            "test_scrape_collector_success"
        ]
    );
}

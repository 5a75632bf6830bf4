//! `ember::serve::MetricsServer` answers a Prometheus scrape and a plain request, over
//! a real socket.
#![cfg(feature = "tiny-http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ember::serve::MetricsServer;
use ember::{Counter, Registry};
use ember_expfmt::PROMETHEUS_2_ACCEPT;

fn registry() -> Registry {
    let r = Registry::new();
    let jobs = Counter::default();
    r.register("jobs", "Jobs done.", jobs.clone()).unwrap();
    jobs.inc_by(7);
    r
}

#[test]
fn prometheus_scrape_gets_gzipped_openmetrics() {
    let server = MetricsServer::start("127.0.0.1:0", registry()).unwrap();
    let a = common::get(
        server.local_addr(),
        "/metrics",
        &[("Accept", PROMETHEUS_2_ACCEPT), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(a.header("Content-Encoding"), Some("gzip"));
    assert_eq!(a.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(
        common::gunzip(&a.body),
        "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total 7\n# EOF\n"
    );
}

#[test]
fn plain_request_gets_uncompressed_text_format() {
    let server = MetricsServer::start("127.0.0.1:0", registry()).unwrap();
    let a = common::get(server.local_addr(), "/metrics?x=1", &[("Accept", "*/*")]);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(a.header("Content-Encoding"), None);
    assert_eq!(
        a.text(),
        "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 7\n"
    );
}

#[test]
fn head_landing_page_and_unknown_paths() {
    let server = MetricsServer::start_at("127.0.0.1:0", "/stats", registry()).unwrap();
    let addr = server.local_addr();
    let head = common::request(addr, "HEAD", "/stats", &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    let landing = common::get(addr, "/", &[]);
    assert_eq!(landing.status, 200);
    assert!(
        landing.text().contains("<a href=\"/stats\">"),
        "{}",
        landing.text()
    );

    assert_eq!(common::get(addr, "/metrics", &[]).status, 404);
    let post = common::request(addr, "POST", "/stats", &[], b"").unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn drop_stops_serving() {
    use std::io::{Read, Write};
    let server = MetricsServer::start("127.0.0.1:0", registry()).unwrap();
    let addr = server.local_addr();
    assert_eq!(common::get(addr, "/metrics", &[]).status, 200);
    drop(server);
    // tiny_http closes its listener from its accept thread, so right after the drop a
    // connect is either refused or reset; in neither case does an answer come.
    let answered = std::net::TcpStream::connect(addr).is_ok_and(|mut s| {
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        buf.starts_with(b"HTTP/")
    });
    assert!(!answered, "a dropped server must not answer");
}

#[test]
fn binding_a_taken_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = MetricsServer::start(taken.local_addr().unwrap(), Registry::new()).unwrap_err();
    assert!(
        matches!(err, ember::serve::ServeError::Bind { .. }),
        "{err}"
    );
}

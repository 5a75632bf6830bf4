//! `ember::hyper::metrics_response` behind a real hyper 1.x server, requested over a
//! raw socket.
#![cfg(feature = "hyper")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use ember::{Gauge, Registry};
use ember_expfmt::PROMETHEUS_2_ACCEPT;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Starts hyper on a free loopback port on a runtime thread; returns once it listens.
fn start(registry: Registry) -> SocketAddr {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let registry = registry.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let response = if req.uri().path() == "/metrics" {
                        ember::hyper::metrics_response(&registry, req.headers())
                    } else {
                        let mut r = Response::new(Default::default());
                        *r.status_mut() = StatusCode::NOT_FOUND;
                        r
                    };
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn registry() -> Registry {
    let r = Registry::new();
    let g = Gauge::default();
    r.register("workers", "Live workers.", g.clone()).unwrap();
    g.set(4);
    r
}

#[test]
fn prometheus_scrape_gets_gzipped_openmetrics() {
    let addr = start(registry());
    let a = common::get(
        addr,
        "/metrics",
        &[
            ("Accept", PROMETHEUS_2_ACCEPT),
            ("Accept-Encoding", "gzip, deflate"),
        ],
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
        "# HELP workers Live workers.\n# TYPE workers gauge\nworkers 4\n# EOF\n"
    );
}

#[test]
fn plain_request_gets_text_format() {
    let addr = start(registry());
    let a = common::get(addr, "/metrics", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(a.header("Content-Encoding"), None);
    assert_eq!(
        a.text(),
        "# HELP workers Live workers.\n# TYPE workers gauge\nworkers 4\n"
    );
    assert_eq!(common::get(addr, "/other", &[]).status, 404);
}

//! A small HTTP service whose handlers are instrumented with `#[ember::metric]` and which
//! serves its metrics on `/metrics` (content negotiation and gzip through ember-expfmt).
//!
//! Run with: `cargo run -p examples --bin web_app -- --listen 127.0.0.1:9184`
//!
//! Routes: `/hello`, `/work?ms=N` (answers after N milliseconds, at most 5000), `/fail`
//! (answers 500 from a handler returning `Err`), `/metrics`.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Greets.
#[ember::metric]
async fn hello() -> String {
    "hello\n".to_string()
}

/// Pretends to work for `ms` milliseconds.
#[ember::metric]
async fn work(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms.min(5000))).await;
    format!("worked {ms} ms\n")
}

/// Always fails, so `result="error"` has something to count.
#[ember::metric]
async fn fallible() -> Result<String, std::io::Error> {
    Err(std::io::Error::other("the backend said no"))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    Ok(match path {
        "/metrics" => ember::hyper::metrics_response(ember::default_registry(), req.headers()),
        "/hello" => text(StatusCode::OK, hello().await),
        "/work" => {
            let ms = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(10);
            text(StatusCode::OK, work(ms).await)
        }
        "/fail" => match fallible().await {
            Ok(body) => text(StatusCode::OK, body),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let listen = examples::flag(&args, "listen").unwrap_or_else(|| "127.0.0.1:9184".into());
    // Nothing to set up for `#[metric]`: the first scrape finds every instrumented
    // function and shows its series at zero.
    let listener = match TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("web_app: cannot listen on {listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("web_app listening on http://{listen}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let conn =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(route));
            if let Err(e) = conn.await {
                eprintln!("web_app: connection error: {e}");
            }
        });
    }
}

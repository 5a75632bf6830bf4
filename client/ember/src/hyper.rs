//! A `/metrics` response for hyper 1.x and axum (feature `hyper`).
//!
//! [`metrics_response`] turns the request's headers into a complete
//! `http::Response`: negotiated `Content-Type`, gzip when `Accept-Encoding` allows,
//! `Vary: Accept-Encoding`. It needs only the `http`, `http-body-util` and `bytes`
//! crates, so this feature adds no async runtime; the application brings hyper (or
//! axum) and its runtime.
//!
//! From a hyper 1.x `service_fn`:
//!
//! ```no_run
//! use std::convert::Infallible;
//! use hyper::{Request, body::Incoming, service::service_fn};
//! use hyper_util::rt::TokioIo;
//!
//! # async fn run() -> std::io::Result<()> {
//! let registry = ember::Registry::new();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9100").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let registry = registry.clone();
//!     let service = service_fn(move |req: Request<Incoming>| {
//!         let response = ember::hyper::metrics_response(&registry, req.headers());
//!         async move { Ok::<_, Infallible>(response) }
//!     });
//!     tokio::spawn(async move {
//!         let _ = hyper::server::conn::http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), service)
//!             .await;
//!     });
//! }
//! # }
//! ```
//!
//! As an axum handler (axum is not a dependency of Ember, so this block is not
//! compiled here; the response type is one axum accepts as it is):
//!
//! ```ignore
//! use axum::{Router, extract::State, http::HeaderMap, routing::get};
//!
//! async fn metrics(State(registry): State<ember::Registry>, headers: HeaderMap)
//!     -> http::Response<http_body_util::Full<bytes::Bytes>>
//! {
//!     ember::hyper::metrics_response(&registry, &headers)
//! }
//!
//! let app = Router::new().route("/metrics", get(metrics)).with_state(ember::Registry::new());
//! ```

use ::http::header::{CONTENT_ENCODING, CONTENT_TYPE, VARY};
use ::http::{HeaderMap, HeaderName, HeaderValue, Response};
use bytes::Bytes;
use http_body_util::Full;

use crate::Registry;
use crate::scrape;

/// The scrape response for a request with these headers: status 200, the registry in
/// the negotiated format, gzipped if the client accepts it.
///
/// ```
/// use ember::{Gauge, Registry};
/// use http::{HeaderMap, HeaderValue, header};
///
/// let registry = Registry::new();
/// let up = Gauge::default();
/// registry.register("workers", "Live workers.", up.clone()).unwrap();
/// up.set(3);
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::ACCEPT, HeaderValue::from_static("text/plain;version=0.0.4"));
/// let response = ember::hyper::metrics_response(&registry, &headers);
/// assert_eq!(response.status(), 200);
/// assert_eq!(
///     response.headers()[header::CONTENT_TYPE],
///     "text/plain; version=0.0.4; charset=utf-8"
/// );
/// assert_eq!(response.headers()[header::VARY], "Accept-Encoding");
/// assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
/// ```
pub fn metrics_response(registry: &Registry, headers: &HeaderMap) -> Response<Full<Bytes>> {
    let value = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let scrape = scrape::render(
        registry,
        value(::http::header::ACCEPT),
        value(::http::header::ACCEPT_ENCODING),
    );
    let mut response = Response::new(Full::new(Bytes::from(scrape.body)));
    let h = response.headers_mut();
    // `from_static` only panics on bytes a header cannot carry; these values are
    // ASCII constants of ember_expfmt and this module.
    h.insert(CONTENT_TYPE, HeaderValue::from_static(scrape.content_type));
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if scrape.gzipped {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

//! A blocking `/metrics` server on a background thread (feature `tiny-http`), for
//! programs with no async runtime.
//!
//! [`MetricsServer`] answers `GET` and `HEAD` on the telemetry path (default
//! `/metrics`) with the registry in the format the scraper's `Accept` header asks for,
//! gzipped when `Accept-Encoding` allows, with `Vary: Accept-Encoding`. `/` is a small
//! landing page that links to the telemetry path; anything else is 404. Requests are
//! answered one at a time on the server's thread: an encode is short, and one scraper
//! per target is the normal load. Dropping the server stops the thread and closes the
//! socket.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::Registry;
use crate::scrape;

/// The telemetry path [`MetricsServer::start`] serves.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";

/// What can go wrong when starting a [`MetricsServer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The telemetry path does not start with `/`, or is `/` (the landing page).
    #[error("invalid telemetry path `{0}`: must start with `/` and not be `/`")]
    InvalidPath(String),
    /// The HTTP server or its thread could not be started.
    #[error("cannot start the metrics server: {0}")]
    Start(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A `/metrics` endpoint served from a background thread; stops when dropped.
///
/// ```
/// use ember::{Counter, Registry};
/// use ember::serve::MetricsServer;
///
/// let registry = Registry::new();
/// registry.register("jobs", "Jobs done.", Counter::default()).unwrap();
/// let server = MetricsServer::start("127.0.0.1:0", registry).unwrap();
/// assert!(server.local_addr().port() != 0);
/// assert_eq!(server.telemetry_path(), "/metrics");
/// drop(server); // stops the thread and closes the socket
/// ```
pub struct MetricsServer {
    addr: SocketAddr,
    path: String,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves `registry` on `addr` at [`DEFAULT_TELEMETRY_PATH`]. Port 0 picks a free
    /// port; [`local_addr`](Self::local_addr) tells which.
    ///
    /// ```
    /// let server = ember::serve::MetricsServer::start(
    ///     "127.0.0.1:0",
    ///     ember::default_registry().clone(),
    /// )
    /// .unwrap();
    /// assert!(server.local_addr().ip().is_loopback());
    /// ```
    pub fn start(addr: impl ToSocketAddrs, registry: Registry) -> Result<Self, ServeError> {
        Self::start_at(addr, DEFAULT_TELEMETRY_PATH, registry)
    }

    /// Serves `registry` on `addr` at `telemetry_path` (as `--web.telemetry-path`).
    ///
    /// ```
    /// use ember::serve::{MetricsServer, ServeError};
    /// let r = ember::Registry::new();
    /// let server = MetricsServer::start_at("127.0.0.1:0", "/stats", r.clone()).unwrap();
    /// assert_eq!(server.telemetry_path(), "/stats");
    /// assert!(matches!(
    ///     MetricsServer::start_at("127.0.0.1:0", "stats", r),
    ///     Err(ServeError::InvalidPath(_))
    /// ));
    /// ```
    pub fn start_at(
        addr: impl ToSocketAddrs,
        telemetry_path: &str,
        registry: Registry,
    ) -> Result<Self, ServeError> {
        if !telemetry_path.starts_with('/') || telemetry_path == "/" {
            return Err(ServeError::InvalidPath(telemetry_path.to_string()));
        }
        let listener = TcpListener::bind(&addr).map_err(|source| ServeError::Bind {
            addr: describe(&addr),
            source,
        })?;
        let local = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: describe(&addr),
            source,
        })?;
        let server =
            Arc::new(tiny_http::Server::from_listener(listener, None).map_err(ServeError::Start)?);
        let stop = Arc::new(AtomicBool::new(false));
        let path = telemetry_path.to_string();
        let thread = {
            let (server, stop, path) = (Arc::clone(&server), Arc::clone(&stop), path.clone());
            std::thread::Builder::new()
                .name("ember-metrics".into())
                .spawn(move || serve_loop(&server, &stop, &path, &registry))
                .map_err(|e| ServeError::Start(Box::new(e)))?
        };
        Ok(Self {
            addr: local,
            path,
            server,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the real port when 0 was asked for).
    ///
    /// ```
    /// let s = ember::serve::MetricsServer::start("127.0.0.1:0", ember::Registry::new()).unwrap();
    /// assert_eq!(s.local_addr().ip().to_string(), "127.0.0.1");
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The path metrics are served on.
    ///
    /// ```
    /// let s = ember::serve::MetricsServer::start("127.0.0.1:0", ember::Registry::new()).unwrap();
    /// assert_eq!(s.telemetry_path(), ember::serve::DEFAULT_TELEMETRY_PATH);
    /// ```
    pub fn telemetry_path(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `unblock` queues a wake-up, so the thread sees it even if it is busy now.
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            // A panic in the thread has already been reported; nothing to add on drop.
            let _ = t.join();
        }
    }
}

fn describe(addr: &impl ToSocketAddrs) -> String {
    match addr.to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        Err(e) => format!("<unresolved: {e}>"),
    }
}

fn serve_loop(server: &tiny_http::Server, stop: &AtomicBool, path: &str, registry: &Registry) {
    loop {
        match server.recv() {
            Ok(request) => respond(request, path, registry),
            Err(_) if stop.load(Ordering::SeqCst) => return,
            // An accept error on one connection; the listener goes on.
            Err(_) => continue,
        }
    }
}

type Response = tiny_http::Response<io::Cursor<Vec<u8>>>;

fn with_header(response: Response, name: &str, value: &str) -> Response {
    // Every name and value passed here is a constant ASCII string, which tiny_http
    // accepts; a refusal would only drop the header.
    match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
        Ok(h) => response.with_header(h),
        Err(()) => response,
    }
}

fn request_header<'a>(request: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn respond(request: tiny_http::Request, path: &str, registry: &Registry) {
    let url_path = request.url().split('?').next().unwrap_or("");
    let is_read = matches!(
        request.method(),
        tiny_http::Method::Get | tiny_http::Method::Head
    );
    let response = if !is_read {
        let r = tiny_http::Response::from_string("method not allowed\n").with_status_code(405);
        with_header(r, "Allow", "GET, HEAD")
    } else if url_path == path {
        let scrape = scrape::render(
            registry,
            request_header(&request, "Accept"),
            request_header(&request, "Accept-Encoding"),
        );
        let mut r = tiny_http::Response::from_data(scrape.body);
        r = with_header(r, "Content-Type", scrape.content_type);
        r = with_header(r, "Vary", "Accept-Encoding");
        if scrape.gzipped {
            r = with_header(r, "Content-Encoding", "gzip");
        }
        r
    } else if url_path == "/" {
        let r = tiny_http::Response::from_string(landing_page(path));
        with_header(r, "Content-Type", "text/html; charset=utf-8")
    } else {
        let r = tiny_http::Response::from_string("404 page not found\n").with_status_code(404);
        with_header(r, "Content-Type", "text/plain; charset=utf-8")
    };
    // The scraper hung up; nothing to tell it.
    let _ = request.respond(response);
}

fn landing_page(path: &str) -> String {
    let href = path
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<!DOCTYPE html>\n<html><head><title>Metrics</title></head><body>\n\
         <h1>Metrics</h1>\n<p><a href=\"{href}\">Metrics</a></p>\n</body></html>\n"
    )
}

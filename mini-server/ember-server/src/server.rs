//! The HTTP server: hyper 1 on a single-threaded tokio runtime of its own thread, with
//! API requests run on the runtime's blocking pool.
//!
//! | path | answer |
//! |---|---|
//! | `/api/v1/...` | [`Api::handle`] (GET, and POST with a form body); 503 before ready |
//! | `/metrics` | the server's own metrics (process, `ember_tsdb_*`, `prometheus_*`) |
//! | `/-/healthy` | 200 `Prometheus Server is Healthy.` |
//! | `/-/ready` | 200 `Prometheus Server is Ready.`; 503 `Service Unavailable` before storage is open |
//! | `/-/reload`, `/-/quit` | POST or PUT with `--web.enable-lifecycle`; else 403 `Lifecycle API is not enabled.`; GET 405 |
//! | `/` | a small landing page |
//!
//! The thread also turns SIGHUP into a reload and SIGTERM/SIGINT into a shutdown,
//! handed to the owner of the live state as [`Control`] messages.

use std::convert::Infallible;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::api::{Api, ApiRequest};

/// Largest request body read (form-encoded API parameters).
const MAX_BODY_BYTES: usize = 16 << 20;

/// Most threads the blocking pool (API requests) grows to.
const MAX_BLOCKING_THREADS: usize = 8;

type Body = Full<Bytes>;

/// What the HTTP thread asks of the owner of the live state.
#[derive(Debug)]
pub enum Control {
    /// Reload the configuration; the outcome goes to the sender when there is one
    /// (`POST /-/reload`), else only to the log (SIGHUP).
    Reload(Option<tokio::sync::oneshot::Sender<Result<(), String>>>),
    /// Stop: SIGTERM, SIGINT or `POST /-/quit`.
    Quit,
}

/// What the HTTP handlers share.
#[derive(Debug)]
pub struct WebState {
    ready: AtomicBool,
    api: OnceLock<Arc<Api>>,
    registry: ember::Registry,
    enable_lifecycle: bool,
    control: Sender<Control>,
}

impl WebState {
    /// State for a server exposing `registry` at `/metrics`, sending reloads and
    /// shutdowns to `control`; not ready until [`WebState::set_ready`].
    pub fn new(
        registry: ember::Registry,
        enable_lifecycle: bool,
        control: Sender<Control>,
    ) -> Self {
        Self {
            ready: AtomicBool::new(false),
            api: OnceLock::new(),
            registry,
            enable_lifecycle,
            control,
        }
    }

    /// Storage is open: serve the API and answer `/-/ready` with 200.
    pub fn set_ready(&self, api: Api) {
        let _ = self.api.set(Arc::new(api));
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Shutting down: `/-/ready` answers 503 again.
    pub fn set_unready(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Whether [`WebState::set_ready`] was called (and not undone).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Binds `address` (`host:port`, or `:port` for every interface, as Prometheus).
pub fn bind(address: &str) -> std::io::Result<std::net::TcpListener> {
    let full = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    };
    let addr = full.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no address for {address:?}"),
        )
    })?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `listener` on a thread of its own. The returned receiver gets a message once
/// the signal handlers are installed (before that, SIGHUP would end the process).
pub fn spawn(
    listener: std::net::TcpListener,
    state: Arc<WebState>,
) -> std::io::Result<std::sync::mpsc::Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()?;
    let (installed_tx, installed_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            runtime.block_on(async move {
                install_signal_handlers(&state.control);
                let _ = installed_tx.send(());
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => accept_loop(l, state).await,
                    Err(e) => {
                        tracing::error!(err = %e, "cannot serve the listener");
                        let _ = state.control.send(Control::Quit);
                    }
                }
            });
        })?;
    Ok(installed_rx)
}

fn install_signal_handlers(control: &Sender<Control>) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        (SignalKind::hangup(), true),
        (SignalKind::terminate(), false),
        (SignalKind::interrupt(), false),
    ];
    for (kind, reload) in kinds {
        match signal(kind) {
            Ok(mut s) => {
                let control = control.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        let msg = if reload {
                            Control::Reload(None)
                        } else {
                            tracing::warn!("Received termination request, exiting gracefully...");
                            Control::Quit
                        };
                        if control.send(msg).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::error!(err = %e, "cannot install a signal handler"),
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<WebState>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Per-connection failures and a full fd table must not stop the server.
                tracing::warn!(err = %e, "accept failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn not_ready() -> Response<Body> {
    text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

async fn route(state: &Arc<WebState>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/api/v1") {
        if rest.is_empty() || rest.starts_with('/') {
            let rest = rest.to_owned();
            return api(state, req, rest).await;
        }
    }
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = matches!(*req.method(), Method::POST | Method::PUT);
    match path.as_str() {
        "/metrics" if get => ember::hyper::metrics_response(&state.registry, req.headers()),
        "/-/healthy" if get => text(StatusCode::OK, "Prometheus Server is Healthy.\n"),
        "/-/ready" if get => {
            if state.is_ready() {
                text(StatusCode::OK, "Prometheus Server is Ready.\n")
            } else {
                not_ready()
            }
        }
        "/-/reload" | "/-/quit" if post && !state.enable_lifecycle => {
            text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.")
        }
        "/-/reload" | "/-/quit" if get => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only POST or PUT requests allowed",
        ),
        "/-/reload" if post => reload(state).await,
        "/-/quit" if post => {
            let _ = state.control.send(Control::Quit);
            text(StatusCode::OK, "Requesting termination... Goodbye!")
        }
        "/" if get => landing_page(),
        "/graph" if get => redirect_home(),
        "/metrics" | "/-/healthy" | "/-/ready" | "/" | "/graph" | "/-/reload" | "/-/quit" => {
            text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

async fn reload(state: &Arc<WebState>) -> Response<Body> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if state.control.send(Control::Reload(Some(tx))).is_err() {
        return not_ready();
    }
    match rx.await {
        Ok(Ok(())) => text(StatusCode::OK, ""),
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        ),
        Err(_) => not_ready(),
    }
}

async fn api(state: &Arc<WebState>, req: Request<Incoming>, path: String) -> Response<Body> {
    let Some(api) = state.api.get().cloned() else {
        return not_ready();
    };
    let method = req.method().as_str().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let body = if form {
        match Limited::new(req.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}\n"),
                );
            }
        }
    } else {
        Bytes::new()
    };
    let answer = tokio::task::spawn_blocking(move || {
        api.handle(&ApiRequest {
            method: &method,
            path: &path,
            query: &query,
            form_body: &body,
        })
    })
    .await;
    match answer {
        Ok(a) => {
            let mut r = Response::new(Full::new(Bytes::from(a.body)));
            *r.status_mut() =
                StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
            r
        }
        Err(e) => {
            tracing::error!(err = %e, "API handler failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
        }
    }
}

fn redirect_home() -> Response<Body> {
    let mut r = text(StatusCode::FOUND, "");
    r.headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/"));
    r
}

fn landing_page() -> Response<Body> {
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\"><title>Ember Server</title></head>\n\
         <body>\n<h1>Ember Server</h1>\n<p>Version: {}</p>\n<ul>\n\
         <li><a href=\"/api/v1/targets\">Targets</a></li>\n\
         <li><a href=\"/api/v1/status/config\">Configuration</a></li>\n\
         <li><a href=\"/api/v1/status/flags\">Flags</a></li>\n\
         <li><a href=\"/metrics\">Metrics</a></li>\n\
         </ul>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

//! The HTTP server every exporter runs: hyper 1.x on tokio, one accept loop per
//! `--web.listen-address`.
//!
//! | path | answer |
//! |---|---|
//! | `/` | landing page: name, version, link to the telemetry path |
//! | `--web.telemetry-path` | the scrape: negotiated format, gzip, `--web.max-requests` (503 beyond) |
//! | `/-/healthy`, `/-/ready` | 200 |
//! | anything else | 404 |
//!
//! With `--web.config.file`, every path first passes [`WebConfig`]'s basic auth (401
//! with `WWW-Authenticate: Basic` otherwise); the file is re-read per request and one
//! that no longer parses answers 500.
//!
//! The scrape dispatches the [`Scheduler`]'s collectors to its own small pool and
//! waits for them without holding a thread, then encodes on the runtime;
//! `--web.max-requests` bounds how many scrapes wait at once.
//!
//! Concurrent scrapes share collections (see [`Rounds`]): a scrape never gets data
//! collected before it arrived, but scrapes that arrive while a collection runs all wait
//! for the next one, which starts when the running one ends, and are answered from it
//! (each encoding and gzip done once per format). So however many scrapers there are,
//! at most two collections are in memory (the running one and the one being answered)
//! and the collectors run at most back to back, never several times side by side.

use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ember_expfmt::{Encoder, MetricFamily};
use http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, VARY, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::self_metrics::SelfMetrics;
use crate::{
    AuthCache, Error, ExporterInfo, Flags, SCRAPE_TIMEOUT_HEADER, Scheduler, ScrapeTimeout,
    WebConfigFile,
};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An exporter's HTTP server, bound and ready to [`run`](Server::run).
///
/// ```no_run
/// use ember_exporter::{ExporterInfo, Flags, Scheduler, Server};
///
/// # async fn run() -> Result<(), ember_exporter::Error> {
/// let info = ExporterInfo {
///     name: "node_exporter",
///     description: "Prometheus exporter for machine metrics",
///     version: env!("CARGO_PKG_VERSION"),
///     namespace: "node",
///     default_listen_address: ":9100",
/// };
/// let flags = Flags::try_parse_from(&info, &[], std::env::args())?;
/// let scheduler = Scheduler::new("node", "node_exporter", Vec::new(), 4)?;
/// Server::bind(info, &flags, scheduler).await?.run().await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    info: ExporterInfo,
    telemetry_path: String,
    scheduler: Arc<Scheduler>,
    timeout: ScrapeTimeout,
    max_requests: usize,
    limit: Option<Arc<Semaphore>>,
    own: Option<SelfMetrics>,
    web_config: Option<Arc<WebConfigFile>>,
    /// Whether the listeners speak TLS (decided at start, as exporter-toolkit does).
    tls: bool,
    auth_cache: Arc<AuthCache>,
    rounds: parking_lot::Mutex<Rounds>,
}

type Body = Full<Bytes>;

impl Server {
    /// Binds every `--web.listen-address` of `flags`; `:PORT` means all interfaces
    /// (IPv6 and IPv4 where the host allows, else IPv4), as in Go.
    pub async fn bind(
        info: ExporterInfo,
        flags: &Flags,
        scheduler: Scheduler,
    ) -> Result<Server, Error> {
        // Refuse a bad file at start, as exporter-toolkit does, before listening.
        let web_config = flags
            .web_config_file
            .clone()
            .map(|p| Arc::new(WebConfigFile::new(p)));
        let tls = match &web_config {
            Some(file) => file.current()?.tls.is_some(),
            None => false,
        };
        let mut listeners = Vec::new();
        for address in &flags.listen_addresses {
            listeners.push(bind_one(address).await?);
        }
        let own = (!flags.disable_exporter_metrics).then(|| SelfMetrics::new(&info));
        Ok(Server {
            listeners,
            state: Arc::new(State {
                info,
                telemetry_path: flags.telemetry_path.clone(),
                scheduler: Arc::new(scheduler),
                timeout: ScrapeTimeout::default(),
                max_requests: flags.max_requests,
                limit: (flags.max_requests > 0)
                    .then(|| Arc::new(Semaphore::new(flags.max_requests))),
                own,
                web_config,
                tls,
                auth_cache: Arc::default(),
                rounds: parking_lot::Mutex::new(Rounds::default()),
            }),
        })
    }

    /// Replaces the default [`ScrapeTimeout`] (0.5 s offset, 120 s without a header).
    pub fn with_scrape_timeout(mut self, timeout: ScrapeTimeout) -> Server {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.timeout = timeout;
        }
        self
    }

    /// The bound addresses (the real ports when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Whether the server speaks HTTPS (`tls_server_config` in the web config file).
    pub fn is_tls(&self) -> bool {
        self.state.tls
    }

    /// Serves until an accept loop fails.
    pub async fn run(self) -> Result<(), Error> {
        let mut loops = JoinSet::new();
        for listener in self.listeners {
            loops.spawn(accept_loop(listener, Arc::clone(&self.state)));
        }
        while let Some(result) = loops.join_next().await {
            // A loop that panicked has stopped serving its address; the others go on.
            if let Ok(Err(e)) = result {
                return Err(e);
            }
        }
        Ok(())
    }
}

async fn bind_one(address: &str) -> Result<TcpListener, Error> {
    let bad = || Error::ListenAddress {
        address: address.to_owned(),
    };
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| bad())?;
        let v6 = SocketAddr::from(([0u16; 8], port));
        return match TcpListener::bind(v6).await {
            Ok(l) => Ok(l),
            Err(_) => {
                let v4 = SocketAddr::from(([0u8; 4], port));
                TcpListener::bind(v4).await.map_err(|source| Error::Bind {
                    address: v4,
                    source,
                })
            }
        };
    }
    let addr = address
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        address: addr,
        source,
    })
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) -> Result<(), Error> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            // Per-connection failures (the peer reset before accept, fd limit reached
            // for a moment) must not stop the server.
            // Back off briefly so that a full fd table does not become a busy loop.
            Err(e) if is_transient(&e) => {
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(Error::Accept(e)),
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            match (&state.web_config, state.tls) {
                (Some(file), true) => {
                    if let Some(tls) = handshake(Arc::clone(file), stream).await {
                        serve(state, tls).await;
                    }
                }
                _ => serve(state, stream).await,
            }
        });
    }
}

/// Re-reads the web config (as exporter-toolkit does per handshake) and runs the TLS
/// handshake; `None` when the config is broken or the client failed the handshake.
async fn handshake(
    file: Arc<WebConfigFile>,
    stream: tokio::net::TcpStream,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let path = file.path().to_owned();
    let loaded = match tokio::task::spawn_blocking(move || file.current()).await {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "TLS handshake refused: bad web config");
            return None;
        }
        Err(_) => return None,
    };
    let Some(config) = loaded.tls.clone() else {
        tracing::error!(file = %path.display(), "TLS handshake refused: tls_server_config was removed");
        return None;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

async fn serve<IO>(state: Arc<State>, io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    // A client that goes away mid-request is its own problem, not the server's.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE
}

async fn handle(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let Some(file) = &state.web_config else {
        return route(state, req).await;
    };
    let (verdict, headers) = authorize(
        Arc::clone(file),
        Arc::clone(&state.auth_cache),
        req.headers(),
    )
    .await;
    let mut response = match verdict {
        Some(refused) => refused,
        None => route(state, req).await,
    };
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    }
    match req.uri().path() {
        p if p == state.telemetry_path => scrape(state, req.headers()).await,
        "/" => landing_page(&state.info, &state.telemetry_path),
        "/-/healthy" | "/-/ready" => text(StatusCode::OK, "OK\n"),
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

/// Response headers from `http_server_config.headers`.
type ExtraHeaders = Vec<(http::HeaderName, HeaderValue)>;

/// `None` when the request may pass, else the answer to give; and the headers the
/// config adds to every response. The credentials never reach a log line.
async fn authorize(
    file: Arc<WebConfigFile>,
    cache: Arc<AuthCache>,
    headers: &HeaderMap,
) -> (Option<Response<Body>>, ExtraHeaders) {
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Reading the file and bcrypt both block.
    let verdict = tokio::task::spawn_blocking(move || {
        file.current().map(|loaded| {
            let c = &loaded.config;
            let ok = c.authorize_cached(authorization.as_deref(), &cache);
            let extra: ExtraHeaders = c
                .http_server_config
                .iter()
                .flat_map(|h| &h.headers)
                .filter_map(|(k, v)| {
                    Some((
                        http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                        HeaderValue::from_str(v).ok()?,
                    ))
                })
                .collect();
            (ok, extra)
        })
    })
    .await;
    match verdict {
        Ok(Ok((true, extra))) => (None, extra),
        Ok(Ok((false, extra))) => {
            tracing::debug!("request refused: missing or wrong basic auth credentials");
            let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            (Some(r), extra)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read web config");
            (
                Some(text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error\n",
                )),
                Vec::new(),
            )
        }
        Err(_) => (
            Some(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error\n",
            )),
            Vec::new(),
        ),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn landing_page(info: &ExporterInfo, telemetry_path: &str) -> Response<Body> {
    let name = html_escape(info.name);
    let description = html_escape(info.description);
    let version = html_escape(info.version);
    let path = html_escape(telemetry_path);
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\"><title>{name}</title></head>\n\
         <body>\n<h1>{name}</h1>\n<p>{description}</p>\n<p>Version: {version}</p>\n\
         <ul>\n<li><a href=\"{path}\">Metrics</a></li>\n</ul>\n</body>\n</html>\n"
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    r
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn scrape(state: &Arc<State>, headers: &HeaderMap) -> Response<Body> {
    let Some(own) = &state.own else {
        return scrape_limited(state, headers).await;
    };
    // The guard keeps the in-flight gauge right when the client goes away and this
    // future is dropped before the response is built.
    let in_flight = own.request_started();
    let response = scrape_limited(state, headers).await;
    in_flight.finished(response.status().as_u16());
    response
}

async fn scrape_limited(state: &Arc<State>, headers: &HeaderMap) -> Response<Body> {
    // Held until the response is built, so it bounds concurrent scrapes.
    let _permit = match &state.limit {
        Some(limit) => match Arc::clone(limit).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let body = format!(
                    "Limit of concurrent requests reached ({}), try again later.\n",
                    state.max_requests
                );
                let mut r = Response::new(Full::new(Bytes::from(body)));
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                return r;
            }
        },
        None => None,
    };
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let timeout = state.timeout.for_header(header(SCRAPE_TIMEOUT_HEADER));
    let deadline = Instant::now() + timeout;
    let negotiated = ember_expfmt::negotiate(header(ACCEPT.as_str()));
    let gzip = ember_expfmt::accepts_gzip(header(ACCEPT_ENCODING.as_str()));
    // The collectors run on the scheduler's pool; this task only waits for them, so a
    // scrape holds no thread. Encoding and gzip (about a millisecond for node_exporter's
    // 50 kB) then run right here: a thread per scrape for that would cost more (its
    // stack and, with glibc, a malloc arena) than it saves.
    let mut round = join_round(state, deadline);
    let collected = match round.wait_for(Option::is_some).await {
        Ok(c) => c.clone(),
        Err(_) => None, // the collecting task ended without a result (runtime shutdown)
    };
    let rendered = collected.and_then(|c| c.rendered(negotiated.format, gzip));
    let Some((body, gzipped)) = rendered else {
        let mut r = text(StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n");
        r.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        return r;
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(negotiated.content_type),
    );
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzipped {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// The collections shared by concurrent scrapes: the one running, and the one that
/// the scrapes which arrived meanwhile wait for.
///
/// A scrape that arrives when nothing runs starts a collection at once. One that
/// arrives while a collection runs joins the *pending* collection (creating it if
/// need be), which starts as soon as the running one has ended; so every scrape is
/// answered from a collection that started after it arrived. The pending collection's
/// deadline is the earliest of its scrapes' deadlines, so none is answered late. A
/// scrape whose deadline comes before the running collection's (a shorter
/// `X-Prometheus-Scrape-Timeout-Seconds` than the scrape that started it) cannot wait
/// for it and gets a collection of its own, started at once.
#[derive(Default)]
struct Rounds {
    running: Option<Arc<Round>>,
    pending: Option<Arc<Round>>,
}

impl std::fmt::Debug for Rounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rounds")
            .field("running", &self.running.is_some())
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

/// One collection and the scrapes waiting for it.
struct Round {
    /// The earliest deadline of the scrapes it serves; fixed once it starts.
    deadline: parking_lot::Mutex<Instant>,
    /// Set once, when the collection is done.
    done: watch::Sender<Option<Arc<Collected>>>,
}

impl Round {
    fn new(deadline: Instant) -> Arc<Round> {
        Arc::new(Round {
            deadline: parking_lot::Mutex::new(deadline),
            done: watch::Sender::new(None),
        })
    }
}

/// A finished collection: the families, sorted and merged, and their encodings so far.
struct Collected {
    families: Vec<MetricFamily>,
    /// By format and gzip; each encoded once, by the first scrape that asks for it.
    encoded: parking_lot::Mutex<Vec<(ember_expfmt::Format, bool, Bytes, bool)>>,
}

impl Collected {
    /// The body in `format`, gzipped if `gzip` (and gzip worked), and whether it is;
    /// `None` if encoding panicked.
    fn rendered(&self, format: ember_expfmt::Format, gzip: bool) -> Option<(Bytes, bool)> {
        let mut encoded = self.encoded.lock();
        if let Some((_, _, body, gzipped)) = encoded
            .iter()
            .find(|(f, g, _, _)| *f == format && *g == gzip)
        {
            return Some((body.clone(), *gzipped));
        }
        let (body, gzipped) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            encode(&self.families, format, gzip)
        }))
        .ok()?;
        let body = Bytes::from(body);
        encoded.push((format, gzip, body.clone(), gzipped));
        Some((body, gzipped))
    }
}

type Waiter = watch::Receiver<Option<Arc<Collected>>>;

/// The collection the scrape with `deadline`, arriving now, is answered from.
fn join_round(state: &Arc<State>, deadline: Instant) -> Waiter {
    let mut rounds = state.rounds.lock();
    let running_deadline = rounds.running.as_ref().map(|r| *r.deadline.lock());
    let can_wait = running_deadline.is_none_or(|d| deadline >= d);
    if !can_wait {
        let round = Round::new(deadline);
        let waiter = round.done.subscribe();
        tokio::spawn(collect_round(Arc::clone(state), round, None, false));
        return waiter;
    }
    if let Some(pending) = &rounds.pending {
        let mut d = pending.deadline.lock();
        *d = (*d).min(deadline);
        return pending.done.subscribe();
    }
    let round = Round::new(deadline);
    let waiter = round.done.subscribe();
    let after = rounds.running.as_ref().map(|r| r.done.subscribe());
    match after {
        Some(_) => rounds.pending = Some(Arc::clone(&round)),
        None => rounds.running = Some(Arc::clone(&round)),
    }
    tokio::spawn(collect_round(Arc::clone(state), round, after, true));
    waiter
}

/// Runs the collection of `round` once `after` (the running one) has ended; `shared`:
/// it is the one in [`Rounds`] (else a scrape's own).
async fn collect_round(state: Arc<State>, round: Arc<Round>, after: Option<Waiter>, shared: bool) {
    if let Some(mut after) = after {
        // An error means its task is gone (runtime shutdown): start anyway.
        let _ = after.wait_for(Option::is_some).await;
    }
    let deadline = if shared {
        let mut rounds = state.rounds.lock();
        if rounds
            .pending
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &round))
        {
            rounds.pending = None;
        }
        rounds.running = Some(Arc::clone(&round));
        // Read under the lock: no scrape joins once it is no longer pending.
        *round.deadline.lock()
    } else {
        *round.deadline.lock()
    };
    let pending = state.scheduler.scrape_async(deadline);
    // The exporter's own metrics are read while the collectors run.
    let mut own = Vec::new();
    if let Some(metrics) = &state.own {
        metrics.collect(&mut own);
    }
    let mut families = pending.await.families;
    families.append(&mut own);
    let collected = Arc::new(Collected {
        families: prepare(families),
        encoded: parking_lot::Mutex::new(Vec::new()),
    });
    if shared {
        let mut rounds = state.rounds.lock();
        if rounds
            .running
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(r, &round))
        {
            rounds.running = None;
        }
    }
    round.done.send_replace(Some(collected));
}

/// Sorts `families` by exposed name, as client_golang's gatherer orders them, and joins
/// those of the same name.
fn prepare(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    // client_golang sorts by the name it exposes, which for counters ends in `_total`.
    let key = |f: &MetricFamily| {
        let mut name = f.name.clone();
        if f.metric_type == ember_expfmt::MetricType::Counter {
            name.push_str("_total");
        }
        name
    };
    families.sort_by_cached_key(key);
    merge_same_names(families)
}

/// Encodes prepared `families`; returns the body and whether it is gzipped.
fn encode(families: &[MetricFamily], format: ember_expfmt::Format, gzip: bool) -> (Vec<u8>, bool) {
    let mut enc = Encoder::new(format);
    for f in families {
        enc.write_family(f);
    }
    let body = enc.finish();
    if gzip {
        // Gzip into memory only fails on allocation; fall back to the plain body.
        if let Ok(z) = ember_expfmt::gzip(&body) {
            return (z, true);
        }
    }
    (body, false)
}

/// Joins families of the same name (sorted next to each other) into one, as the
/// exposition formats require. A family whose type differs from the first of its name
/// is dropped: client_golang refuses such a gather, and with `ContinueOnError`, as
/// node_exporter serves, the rest is still served.
fn merge_same_names(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut out: Vec<MetricFamily> = Vec::with_capacity(families.len());
    for f in families {
        match out.last_mut() {
            Some(last) if last.name == f.name => {
                if last.metric_type == f.metric_type {
                    last.metrics.extend(f.metrics);
                }
            }
            _ => out.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ember_expfmt::{Format, Metric, MetricType, MetricValue};

    use super::*;

    fn gauge(name: &str, label: &str, metric_type: MetricType) -> MetricFamily {
        let value = match metric_type {
            MetricType::Counter => MetricValue::Counter {
                value: 1.0,
                exemplar: None,
            },
            _ => MetricValue::Gauge(1.0),
        };
        MetricFamily {
            name: name.into(),
            help: "Help.".into(),
            metric_type,
            unit: None,
            metrics: vec![Metric {
                labels: vec![("l".into(), label.into())],
                value,
                timestamp_ms: None,
                created: None,
            }],
        }
    }

    #[test]
    fn families_are_sorted_by_exposed_name_and_same_names_merged() {
        // By bare name `a` < `a_s`; exposed, `a_s` < `a_total`.
        let families = vec![
            gauge("b", "1", MetricType::Gauge),
            gauge("a_s", "1", MetricType::Gauge),
            gauge("a", "1", MetricType::Counter),
            gauge("b", "2", MetricType::Gauge),
            gauge("b", "3", MetricType::Counter),
        ];
        let (body, gzipped) = encode(&prepare(families), Format::Text, false);
        assert!(!gzipped);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "# HELP a_s Help.\n# TYPE a_s gauge\na_s{l=\"1\"} 1\n\
             # HELP a_total Help.\n# TYPE a_total counter\na_total{l=\"1\"} 1\n\
             # HELP b Help.\n# TYPE b gauge\nb{l=\"1\"} 1\nb{l=\"2\"} 1\n"
        );
    }

    #[tokio::test]
    async fn listen_addresses_are_go_style() {
        let any = bind_one(":0").await.unwrap().local_addr().unwrap();
        assert!(any.ip().is_unspecified(), "{any}");
        let lo = bind_one("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        assert_eq!(lo.ip(), std::net::Ipv4Addr::LOCALHOST);
        for bad in ["9100", ":http", "nohost", ""] {
            assert!(
                matches!(bind_one(bad).await, Err(Error::ListenAddress { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

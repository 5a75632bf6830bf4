//! One HTTP scrape as Prometheus 2.42's `targetScraper`: the request headers it sends,
//! gzip, the body size limit, and the status check.

use std::io::Read;
use std::time::Duration;

use ember_expfmt::PROMETHEUS_2_ACCEPT;

use crate::config::{HttpClientConfig, TlsConfig};

/// Where CA certificates are read from when `tls_config.ca_file` is not set (Debian's
/// bundle; the same file Go's crypto/x509 reads first on Linux).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The `User-Agent` scrapes are sent with.
pub const USER_AGENT: &str = concat!("ember-server/", env!("CARGO_PKG_VERSION"));

/// Why a scrape produced no body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// The target answered something other than 200.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The (decompressed) body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// Connecting, sending, reading or decompressing failed, or the timeout passed.
    #[error("{0}")]
    Transport(String),
    /// A credentials or password file could not be read.
    #[error("unable to read {what} file {path}: {source}")]
    Credentials {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A scheme other than `http` and `https`.
    #[error("scheme {0:?} is not supported by this build")]
    UnsupportedScheme(String),
    /// A `tls_config` file could not be used, or a setting is not supported.
    #[error("{0}")]
    Tls(String),
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn read_secret(what: &'static str, path: &str) -> Result<String, ScrapeError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| ScrapeError::Credentials {
            what,
            path: path.to_owned(),
            source,
        })
}

/// The `Authorization` header for `http`, with files re-read on every scrape as Prometheus does.
fn authorization(http: &HttpClientConfig) -> Result<Option<String>, ScrapeError> {
    if let Some(b) = &http.basic_auth {
        let password = if b.password_file.is_empty() {
            b.password.clone()
        } else {
            read_secret("password", &b.password_file)?
        };
        let creds = base64(format!("{}:{}", b.username, password).as_bytes());
        return Ok(Some(format!("Basic {creds}")));
    }
    if let Some(a) = &http.authorization {
        let creds = if a.credentials_file.is_empty() {
            a.credentials.clone()
        } else {
            read_secret("credentials", &a.credentials_file)?
        };
        return Ok(Some(format!("{} {creds}", a.kind)));
    }
    Ok(None)
}

/// Reads at most `limit` bytes into `body` (cleared first, its allocation reused);
/// reaching the limit is an error, as in Prometheus (`n >= bodySizeLimit`), so memory stays
/// bounded by the limit.
fn read_limited(r: impl Read, limit: u64, body: &mut Vec<u8>) -> Result<(), ScrapeError> {
    body.clear();
    let n = r
        .take(limit)
        .read_to_end(body)
        .map_err(|e| ScrapeError::Transport(e.to_string()))?;
    if n as u64 >= limit {
        return Err(ScrapeError::BodySizeLimit);
    }
    Ok(())
}

/// Bytes read from the connection at a time.
const INPUT_BUFFER: usize = 32 << 10;

/// Room for the request line and headers (more when the URL or credentials need it:
/// each request line and header must fit whole).
const OUTPUT_BUFFER: usize = 16 << 10;

/// An agent with the scrape's settings (`tls`: for `https`).
fn agent(
    output_buffer: usize,
    timeout: Duration,
    http: &HttpClientConfig,
    tls: Option<ureq::tls::TlsConfig>,
) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder();
    if let Some(tls) = tls {
        config = config.tls_config(tls);
    }
    let config = config
        // ureq's defaults (128 KiB each) are allocated and zeroed for every connection,
        // and every scrape has its own; a GET's header fits in far less, and the input
        // buffer grows when a response header needs it.
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(output_buffer)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(if http.follow_redirects { 10 } else { 0 })
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        LiteralResolver::default(),
    )
}

/// ureq's resolver, except that an address given as an IP literal is used as it is:
/// ureq's own starts a thread for every lookup that has a timeout, which for a scrape of
/// `127.0.0.1:9100` cost more than the HTTP exchange.
#[derive(Debug, Default)]
struct LiteralResolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        match literal_address(uri) {
            Some(addr) => {
                let mut out = self.empty();
                out.push(addr);
                Ok(out)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The socket address of a URI whose host is an IP literal (`[...]` for IPv6), with its
/// port or the scheme's.
fn literal_address(uri: &ureq::http::Uri) -> Option<std::net::SocketAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    let port = match uri.port_u16() {
        Some(p) => p,
        None => match uri.scheme_str()? {
            "http" => 80,
            "https" => 443,
            _ => return None,
        },
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// Body buffers not in use, shared by every scrape loop: a loop holds one only from its
/// fetch to the end of its parse, so the process keeps about as many bodies as scrapes run
/// at once rather than one per target.
static BODIES: parking_lot::Mutex<Vec<Vec<u8>>> = parking_lot::Mutex::new(Vec::new());

/// At most this many idle body buffers are kept.
const POOLED_BODIES: usize = 8;

/// A body buffer larger than this is freed rather than pooled.
const POOLED_BODY_MAX: usize = 16 << 20;

/// One target's HTTP client, scrape after scrape: the body is read into a buffer taken
/// from a pool shared by all targets ([`Client::release`] gives it back). The agent (and so the connection) is new for every scrape: a kept-alive
/// connection saved no CPU in `benches/scrape.rs` and added ≈ 10 ms of latency per scrape
/// against a target that does not set `TCP_NODELAY` (tiny_http), and for `https` it
/// re-reads changed certificate files.
#[derive(Debug, Default)]
pub(crate) struct Client {
    /// The last body read (decompressed), until [`Client::release`].
    pub(crate) body: Vec<u8>,
}

impl Client {
    /// Gives the body buffer back to the shared pool (the body is gone).
    pub(crate) fn release(&mut self) {
        let mut body = std::mem::take(&mut self.body);
        if body.capacity() == 0 || body.capacity() > POOLED_BODY_MAX {
            return;
        }
        body.clear();
        let mut pool = BODIES.lock();
        if pool.len() < POOLED_BODIES {
            pool.push(body);
        }
    }

    /// GETs `url` with Prometheus's headers, reads the decompressed body into
    /// [`Client::body`] and returns the `Content-Type`.
    pub(crate) fn fetch(
        &mut self,
        url: &str,
        timeout: Duration,
        http: &HttpClientConfig,
        body_size_limit: u64,
    ) -> Result<String, ScrapeError> {
        let auth = authorization(http)?;
        let output = OUTPUT_BUFFER.max(url.len() + auth.as_ref().map_or(0, String::len) + 1024);
        let agent = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("http") | None => agent(output, timeout, http, None),
            Some("https") => agent(output, timeout, http, Some(tls_config(&http.tls_config)?)),
            Some(scheme) => return Err(ScrapeError::UnsupportedScheme(scheme.to_owned())),
        };
        let mut req = agent
            .get(url)
            .header("Accept", PROMETHEUS_2_ACCEPT)
            .header("Accept-Encoding", "gzip")
            .header("User-Agent", USER_AGENT)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                timeout.as_secs_f64().to_string(),
            );
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let resp = req
            .call()
            .map_err(|e| ScrapeError::Transport(e.to_string()))?;
        let status = resp.status();
        if status.as_u16() != 200 {
            let reason = status.canonical_reason().unwrap_or("");
            return Err(ScrapeError::Status(
                format!("{} {reason}", status.as_u16())
                    .trim_end()
                    .to_owned(),
            ));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let content_type = header("Content-Type");
        let gzipped = header("Content-Encoding") == "gzip";
        let limit = if body_size_limit == 0 {
            u64::MAX
        } else {
            body_size_limit
        };
        let reader = resp.into_body().into_reader();
        if self.body.capacity() == 0 {
            self.body = BODIES.lock().pop().unwrap_or_default();
        }
        if gzipped {
            // Decompressed straight into the body buffer, no compressed copy kept.
            read_limited(flate2::read::GzDecoder::new(reader), limit, &mut self.body)?;
        } else {
            read_limited(reader, limit, &mut self.body)?;
        }
        Ok(content_type)
    }
}

fn read_pem(what: &str, path: &str) -> Result<Vec<ureq::tls::PemItem<'static>>, ScrapeError> {
    let pem = std::fs::read(path)
        .map_err(|e| ScrapeError::Tls(format!("unable to read {what} file {path}: {e}")))?;
    ureq::tls::parse_pem(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ScrapeError::Tls(format!("unable to parse {what} file {path}: {e}")))
}

fn certificates(
    what: &str,
    path: &str,
) -> Result<Vec<ureq::tls::Certificate<'static>>, ScrapeError> {
    let certs: Vec<_> = read_pem(what, path)?
        .into_iter()
        .filter_map(|item| match item {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ScrapeError::Tls(format!(
            "no certificate found in {what} file {path}"
        )));
    }
    Ok(certs)
}

/// The TLS settings of an `https` scrape from `tls_config`, files read now (so changed
/// certificates are picked up by the next scrape, as Prometheus re-reads them).
fn tls_config(tls: &TlsConfig) -> Result<ureq::tls::TlsConfig, ScrapeError> {
    if !tls.server_name.is_empty() {
        return Err(ScrapeError::Tls(
            "tls_config.server_name is not supported by this build".to_owned(),
        ));
    }
    let mut b = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .disable_verification(tls.insecure_skip_verify);
    if !tls.insecure_skip_verify {
        let roots = if tls.ca_file.is_empty() {
            certificates("CA", SYSTEM_CA_BUNDLE)?
        } else {
            certificates("CA", &tls.ca_file)?
        };
        b = b.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    if !tls.cert_file.is_empty() {
        let chain = certificates("client certificate", &tls.cert_file)?;
        let key = read_pem("client key", &tls.key_file)?
            .into_iter()
            .find_map(|item| match item {
                ureq::tls::PemItem::PrivateKey(k) => Some(k),
                _ => None,
            })
            .ok_or_else(|| ScrapeError::Tls(format!("no private key found in {}", tls.key_file)))?;
        b = b.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_as_rfc_4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn ip_literals_resolve_without_lookup() {
        let addr = |u: &str| super::literal_address(&u.parse().unwrap());
        assert_eq!(
            addr("http://127.0.0.1:9100/metrics"),
            Some("127.0.0.1:9100".parse().unwrap())
        );
        assert_eq!(
            addr("https://[::1]/metrics"),
            Some("[::1]:443".parse().unwrap())
        );
        assert_eq!(
            addr("http://10.0.0.1/m"),
            Some("10.0.0.1:80".parse().unwrap())
        );
        assert_eq!(addr("http://localhost:9100/metrics"), None);
    }

    #[test]
    fn body_limit_is_reached_at_equality() {
        let mut body = vec![b'x'; 10];
        assert!(super::read_limited(&b"abc"[..], 4, &mut body).is_ok());
        assert_eq!(body, b"abc");
        assert!(matches!(
            super::read_limited(&b"abcd"[..], 4, &mut body),
            Err(super::ScrapeError::BodySizeLimit)
        ));
    }
}

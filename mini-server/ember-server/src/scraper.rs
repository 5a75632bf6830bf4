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

/// A fetched body and its `Content-Type`.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: String,
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

/// Reads at most `limit` bytes; reaching the limit is an error, as in Prometheus
/// (`n >= bodySizeLimit`), so memory stays bounded by the limit.
fn read_limited(r: impl Read, limit: u64) -> Result<Vec<u8>, ScrapeError> {
    let mut body = Vec::new();
    let n = r
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| ScrapeError::Transport(e.to_string()))?;
    if n as u64 >= limit {
        return Err(ScrapeError::BodySizeLimit);
    }
    Ok(body)
}

/// GETs `url` with Prometheus's headers and returns the decompressed body.
pub(crate) fn fetch(
    url: &str,
    timeout: Duration,
    http: &HttpClientConfig,
    body_size_limit: u64,
) -> Result<Fetched, ScrapeError> {
    let mut config = ureq::Agent::config_builder();
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("http") | None => {}
        Some("https") => config = config.tls_config(tls_config(&http.tls_config)?),
        Some(scheme) => return Err(ScrapeError::UnsupportedScheme(scheme.to_owned())),
    }
    let agent: ureq::Agent = config
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(if http.follow_redirects { 10 } else { 0 })
        .build()
        .into();
    let mut req = agent
        .get(url)
        .header("Accept", PROMETHEUS_2_ACCEPT)
        .header("Accept-Encoding", "gzip")
        .header("User-Agent", USER_AGENT)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            timeout.as_secs_f64().to_string(),
        );
    if let Some(auth) = authorization(http)? {
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
    let body = if gzipped {
        read_limited(flate2::read::GzDecoder::new(reader), limit)?
    } else {
        read_limited(reader, limit)?
    };
    Ok(Fetched { body, content_type })
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
    fn body_limit_is_reached_at_equality() {
        assert!(super::read_limited(&b"abc"[..], 4).is_ok());
        assert!(matches!(
            super::read_limited(&b"abcd"[..], 4),
            Err(super::ScrapeError::BodySizeLimit)
        ));
    }
}

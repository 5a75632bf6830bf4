//! `--web.config.file` in Prometheus exporter-toolkit's schema.
//!
//! | key | what |
//! |---|---|
//! | `tls_server_config` | [`TlsServerConfig`]: serve HTTPS through rustls (see `tls.rs`) |
//! | `http_server_config` | [`HttpServerConfig`]: extra response headers; `http2` is accepted and ignored |
//! | `basic_auth_users` | user name to bcrypt hash |
//!
//! The file is read again on every request (and, with TLS, on every handshake), as
//! upstream does, so a changed password or certificate takes effect without a restart;
//! a file that no longer parses fails requests with 500 until it is fixed. Relative
//! paths in it are taken relative to the file's directory, as exporter-toolkit does.
//!
//! As upstream, answers of bcrypt checks are remembered ([`AuthCache`]) so that a scraper
//! sending the same credentials does not pay for bcrypt on every scrape. Passwords are
//! never logged.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use base64::Engine as _;
use serde::Deserialize;

use crate::Error;

/// The parsed web configuration file.
///
/// ```
/// use ember_exporter::WebConfig;
/// // The hash of "secret" at cost 4.
/// let hash = "$2b$04$KolGP2ydKsw.7LlQgKtuCesjPqHHZQSX6qov19lEaDQKn1yNo9uEu";
/// let config = WebConfig::parse(&format!("basic_auth_users:\n  alice: {hash}\n"), "web.yml").unwrap();
/// assert!(config.authorize(Some("Basic YWxpY2U6c2VjcmV0"))); // alice:secret
/// assert!(!config.authorize(Some("Basic YWxpY2U6d3Jvbmc="))); // alice:wrong
/// assert!(!config.authorize(None));
/// assert!(config.tls_server_config.is_none());
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// User name to bcrypt hash; empty means no authentication.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// HTTPS settings; `None` (or a section with nothing set) serves plain HTTP.
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// HTTP settings.
    #[serde(default)]
    pub http_server_config: Option<HttpServerConfig>,
}

/// `tls_server_config` of exporter-toolkit.
///
/// `cipher_suites`, `curve_preferences` and `client_allowed_sans` are refused rather than
/// ignored, so that a file relying on them does not silently get weaker settings.
/// rustls speaks TLS 1.2 and 1.3 only: `min_version: TLS10`/`TLS11` means TLS 1.2, and a
/// `max_version` below TLS 1.2 is refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain file (server certificate first).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The certificate chain inline, instead of `cert_file`.
    #[serde(default)]
    pub cert: Option<String>,
    /// The private key inline, instead of `key_file`.
    #[serde(default)]
    pub key: Option<String>,
    /// Which client certificates are asked for and checked.
    #[serde(default)]
    pub client_auth_type: ClientAuthType,
    /// PEM file of the CAs that client certificates are verified against.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// The oldest TLS version accepted (default TLS 1.2).
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    /// The newest TLS version accepted (default TLS 1.3).
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
    /// Prefer the server's cipher suite order (rustls: ignore the client's order).
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    cipher_suites: Option<serde_norway::Value>,
    #[serde(default)]
    curve_preferences: Option<serde_norway::Value>,
    #[serde(default)]
    client_allowed_sans: Option<serde_norway::Value>,
}

/// `client_auth_type`, with Go's `tls.ClientAuthType` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuthType {
    /// No client certificate is asked for (the default; also spelled as an empty string).
    #[default]
    #[serde(alias = "")]
    NoClientCert,
    /// A certificate is asked for but not required, and not verified.
    RequestClientCert,
    /// A certificate is required but not verified.
    RequireAnyClientCert,
    /// A certificate is not required, but one that is sent must verify against
    /// `client_ca_file`.
    VerifyClientCertIfGiven,
    /// A certificate is required and must verify against `client_ca_file`.
    RequireAndVerifyClientCert,
}

/// `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0 (rustls does not speak it).
    TLS10,
    /// TLS 1.1 (rustls does not speak it).
    TLS11,
    /// TLS 1.2.
    TLS12,
    /// TLS 1.3.
    TLS13,
}

/// `http_server_config` of exporter-toolkit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Accepted for compatibility; the server speaks HTTP/1.1.
    #[serde(default)]
    pub http2: Option<bool>,
    /// Headers added to every response; only the security headers exporter-toolkit
    /// allows.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The response headers `http_server_config.headers` may set, as in exporter-toolkit.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

impl TlsServerConfig {
    /// Whether nothing that asks for TLS is set (exporter-toolkit then serves plain
    /// HTTP).
    pub fn is_empty(&self) -> bool {
        self.cert_file.is_none()
            && self.key_file.is_none()
            && self.cert.is_none()
            && self.key.is_none()
            && self.client_ca_file.is_none()
            && self.client_auth_type == ClientAuthType::NoClientCert
    }

    fn validate(&self) -> Result<(), String> {
        if self.cipher_suites.as_ref().is_some_and(|v| !v.is_null()) {
            return Err("tls_server_config.cipher_suites is not supported".into());
        }
        if self
            .curve_preferences
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err("tls_server_config.curve_preferences is not supported".into());
        }
        if self
            .client_allowed_sans
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err("tls_server_config.client_allowed_sans is not supported".into());
        }
        match (&self.cert_file, &self.cert) {
            (None, None) => return Err("missing cert_file or cert".into()),
            (Some(_), Some(_)) => {
                return Err("at most one of cert and cert_file must be configured".into());
            }
            _ => {}
        }
        match (&self.key_file, &self.key) {
            (None, None) => return Err("missing key_file or key".into()),
            (Some(_), Some(_)) => {
                return Err("at most one of key and key_file must be configured".into());
            }
            _ => {}
        }
        let verifies = matches!(
            self.client_auth_type,
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert
        );
        if self.client_ca_file.is_some() && self.client_auth_type == ClientAuthType::NoClientCert {
            return Err("Client CA's have been configured without a Client Auth Policy".into());
        }
        if verifies && self.client_ca_file.is_none() {
            return Err(format!(
                "client_auth_type {:?} needs client_ca_file",
                self.client_auth_type
            ));
        }
        if self.max_version.is_some_and(|v| v < TlsVersion::TLS12) {
            return Err(
                "max_version below TLS12 is not supported (rustls speaks TLS 1.2 and 1.3)".into(),
            );
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version) {
            if min > max {
                return Err(format!("min_version {min:?} is above max_version {max:?}"));
            }
        }
        Ok(())
    }

    fn resolve(&mut self, dir: &Path) {
        for p in [
            &mut self.cert_file,
            &mut self.key_file,
            &mut self.client_ca_file,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }
}

/// A bcrypt hash to verify against when the user is unknown, so that the answer takes
/// as long as for a known user with a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| bcrypt::hash("ember-exporter", bcrypt::DEFAULT_COST).ok());

impl WebConfig {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<WebConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::WebConfig {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        WebConfig::parse(&text, path)
    }

    /// Parses the file's contents; `path` names it in errors.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<WebConfig, Error> {
        let err = |reason: String| Error::WebConfig {
            path: PathBuf::from(path.as_ref()),
            reason,
        };
        // An empty file is a valid, empty configuration, as in exporter-toolkit.
        if text.trim().is_empty() {
            return Ok(WebConfig::default());
        }
        let mut config: WebConfig = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if config
            .tls_server_config
            .as_ref()
            .is_some_and(TlsServerConfig::is_empty)
        {
            config.tls_server_config = None;
        }
        if let Some(tls) = &mut config.tls_server_config {
            tls.validate().map_err(err)?;
            let dir = path.as_ref().parent().unwrap_or(Path::new(""));
            tls.resolve(dir);
        }
        if let Some(http) = &config.http_server_config {
            for name in http.headers.keys() {
                if !ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                    return Err(err(format!(
                        "http_server_config.headers: header {name} is not allowed"
                    )));
                }
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(err(format!("http_server_config.headers: bad name {name}")));
                }
            }
            for value in http.headers.values() {
                if http::HeaderValue::from_str(value).is_err() {
                    return Err(err(format!(
                        "http_server_config.headers: bad value {value:?}"
                    )));
                }
            }
        }
        for (user, hash) in &config.basic_auth_users {
            if !looks_like_bcrypt(hash) {
                return Err(err(format!(
                    "the password of user `{user}` is not a bcrypt hash"
                )));
            }
        }
        Ok(config)
    }

    /// Whether a request with this `Authorization` header may pass. Always true when
    /// no users are configured. Runs bcrypt: call it off the async executor.
    pub fn authorize(&self, authorization: Option<&str>) -> bool {
        self.check(authorization, None)
    }

    /// [`authorize`](WebConfig::authorize), remembering the answer for a known user in
    /// `cache` so that a scraper sending the same credentials every 15 s costs one
    /// bcrypt verification, not one per scrape.
    ///
    /// ```
    /// use ember_exporter::{AuthCache, WebConfig};
    /// let hash = "$2b$04$KolGP2ydKsw.7LlQgKtuCesjPqHHZQSX6qov19lEaDQKn1yNo9uEu";
    /// let config = WebConfig::parse(&format!("basic_auth_users:\n  alice: {hash}\n"), "w").unwrap();
    /// let cache = AuthCache::default();
    /// assert!(config.authorize_cached(Some("Basic YWxpY2U6c2VjcmV0"), &cache));
    /// assert!(config.authorize_cached(Some("Basic YWxpY2U6c2VjcmV0"), &cache));
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn authorize_cached(&self, authorization: Option<&str>, cache: &AuthCache) -> bool {
        self.check(authorization, Some(cache))
    }

    fn check(&self, authorization: Option<&str>, cache: Option<&AuthCache>) -> bool {
        if self.basic_auth_users.is_empty() {
            return true;
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        let Some(hash) = self.basic_auth_users.get(&user) else {
            if let Some(dummy) = DUMMY_HASH.as_deref() {
                let _ = bcrypt::verify(&password, dummy);
            }
            return false;
        };
        // The stored hash is part of the key, so a changed file never reuses an answer.
        let key = (user, hash.clone(), password);
        if let Some(ok) = cache.and_then(|c| c.entries.lock().get(&key).copied()) {
            return ok;
        }
        let ok = bcrypt::verify(&key.2, hash).unwrap_or(false);
        if let Some(cache) = cache {
            let mut entries = cache.entries.lock();
            if entries.len() >= AUTH_CACHE_MAX {
                entries.clear();
            }
            entries.insert(key, ok);
        }
        ok
    }
}

/// Entries kept before the cache is emptied; bounds what guessing can make it hold.
const AUTH_CACHE_MAX: usize = 256;

/// Answers of earlier bcrypt checks, keyed by user, stored hash and offered password, as
/// exporter-toolkit keeps them. Its `Debug` shows only the number of entries.
#[derive(Default)]
pub struct AuthCache {
    entries: parking_lot::Mutex<HashMap<(String, String, String), bool>>,
}

impl AuthCache {
    /// The number of remembered answers.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("entries", &self.len())
            .finish()
    }
}

/// `$2a$`, `$2b$`, `$2x$` or `$2y$`, a two-digit cost, `$`, 53 characters of salt and
/// hash.
fn looks_like_bcrypt(hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    matches!(parts.as_slice(), ["", "2a" | "2b" | "2x" | "2y", cost, rest]
        if cost.len() == 2 && cost.bytes().all(|b| b.is_ascii_digit()) && rest.len() == 53)
}

/// User and password of a `Basic` `Authorization` header.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(users: &[(&str, &str)]) -> WebConfig {
        let mut text = String::from("basic_auth_users:\n");
        for (user, password) in users {
            let hash = bcrypt::hash(password, 4).unwrap();
            text.push_str(&format!("  {user}: '{hash}'\n"));
        }
        WebConfig::parse(&text, "web.yml").unwrap()
    }

    fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn empty_file_and_no_users_let_everyone_in() {
        assert!(WebConfig::parse("", "w").unwrap().authorize(None));
        assert!(
            WebConfig::parse("basic_auth_users: {}\n", "w")
                .unwrap()
                .authorize(None)
        );
    }

    #[test]
    fn only_the_right_password_of_a_known_user_passes() {
        let c = config(&[("alice", "s3cret:with colon"), ("bob", "pw")]);
        assert!(c.authorize(Some(&basic("alice", "s3cret:with colon"))));
        assert!(c.authorize(Some(&basic("bob", "pw"))));
        assert!(!c.authorize(Some(&basic("alice", "pw"))));
        assert!(!c.authorize(Some(&basic("carol", "pw"))));
        assert!(!c.authorize(Some("Bearer abc")));
        assert!(!c.authorize(Some("Basic !!!")));
        assert!(!c.authorize(None));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let reason = |text: &str| match WebConfig::parse(text, "/etc/web.yml") {
            Err(Error::WebConfig { path, reason }) => {
                assert_eq!(path, Path::new("/etc/web.yml"));
                reason
            }
            other => panic!("not refused: {other:?}"),
        };
        assert!(
            reason("basic_auth_users:\n  a: plain\n").contains("user `a` is not a bcrypt hash")
        );
        assert!(reason("tls_server_config:\n  cert_file: c\n").contains("missing key_file or key"));
        assert!(
            reason(
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Bogus\n"
            )
            .contains("Bogus")
        );
        assert!(
            reason("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n")
                .contains("without a Client Auth Policy")
        );
        assert!(
            reason("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n")
                .contains("needs client_ca_file")
        );
        assert!(
            reason("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n  max_version: TLS12\n")
                .contains("above max_version")
        );
        assert!(
            reason("tls_server_config:\n  cert_file: c\n  key_file: k\n  max_version: TLS11\n")
                .contains("below TLS12")
        );
        assert!(
            reason("tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [X]\n")
                .contains("cipher_suites")
        );
        assert!(reason("http_server_config:\n  headers:\n    Server: x\n").contains("not allowed"));
        assert!(reason("unknown_key: 1\n").contains("unknown field"));
        assert!(reason("basic_auth_users: [\n").contains("line"));
    }

    #[test]
    fn tls_paths_are_relative_to_the_file_and_an_empty_section_is_plain_http() {
        let c = WebConfig::parse(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: /abs/k.pem\n  \
             client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n  \
             min_version: TLS13\n",
            "/etc/ember/web.yml",
        )
        .unwrap();
        let tls = c.tls_server_config.unwrap();
        assert_eq!(tls.cert_file.unwrap(), Path::new("/etc/ember/c.pem"));
        assert_eq!(tls.key_file.unwrap(), Path::new("/abs/k.pem"));
        assert_eq!(tls.client_ca_file.unwrap(), Path::new("/etc/ember/ca.pem"));
        assert_eq!(
            tls.client_auth_type,
            ClientAuthType::VerifyClientCertIfGiven
        );
        assert_eq!(tls.min_version, Some(TlsVersion::TLS13));
        let plain = WebConfig::parse(
            "tls_server_config: {}\nhttp_server_config:\n  http2: false\n",
            "w",
        )
        .unwrap();
        assert!(plain.tls_server_config.is_none());
    }

    #[test]
    fn cached_answers_follow_the_file() {
        let cache = AuthCache::default();
        let first = config(&[("alice", "pw")]);
        assert!(first.authorize_cached(Some(&basic("alice", "pw")), &cache));
        assert!(!first.authorize_cached(Some(&basic("alice", "no")), &cache));
        assert_eq!(cache.len(), 2);
        // Same password, new hash: the old answer is not reused.
        let second = config(&[("alice", "other")]);
        assert!(!second.authorize_cached(Some(&basic("alice", "pw")), &cache));
        assert!(second.authorize_cached(Some(&basic("alice", "other")), &cache));
        // Unknown users are never remembered.
        assert!(!second.authorize_cached(Some(&basic("mallory", "x")), &cache));
        assert_eq!(cache.len(), 4);
        assert_eq!(format!("{cache:?}"), "AuthCache { entries: 4 }");
    }

    #[test]
    fn bcrypt_shape_is_checked() {
        let h = bcrypt::hash("x", 4).unwrap();
        assert!(looks_like_bcrypt(&h));
        assert!(!looks_like_bcrypt("$2b$4$abc"));
        assert!(!looks_like_bcrypt(
            "$1$10$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ));
    }
}

//! `--web.config.file` in Prometheus exporter-toolkit's schema.
//!
//! Supported so far: `basic_auth_users`, a map of user name to bcrypt hash. The file is
//! read again on every request, as upstream does, so a changed password takes effect
//! without a restart; a file that no longer parses fails requests with 500 until it is
//! fixed. `tls_server_config` and `http_server_config` are refused with an error rather
//! than ignored: serving plain HTTP to a user who asked for TLS would be worse than not
//! starting.
//!
//! As upstream, answers of bcrypt checks are remembered ([`AuthCache`]) so that a scraper
//! sending the same credentials does not pay for bcrypt on every scrape.

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
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// User name to bcrypt hash; empty means no authentication.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    tls_server_config: Option<serde_norway::Value>,
    #[serde(default)]
    http_server_config: Option<serde_norway::Value>,
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
        let config: WebConfig = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if config
            .tls_server_config
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err(err("tls_server_config is not supported yet".into()));
        }
        if config
            .http_server_config
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err(err("http_server_config is not supported yet".into()));
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
        assert!(reason("tls_server_config:\n  cert_file: c\n").contains("tls_server_config"));
        assert!(reason("unknown_key: 1\n").contains("unknown field"));
        assert!(reason("basic_auth_users: [\n").contains("line"));
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

//! Push to a Prometheus Pushgateway (feature `push`), as client_golang's `push`
//! package does.
//!
//! [`Pusher::push`] replaces the whole group (`PUT`), [`Pusher::push_add`] replaces
//! only the families pushed (`POST`), [`Pusher::delete`] removes the group
//! (`DELETE`). The URL is `<gateway>/metrics/job/<job>` followed by one
//! `/<label>/<value>` pair per grouping label; a job or value that contains `/` or is
//! empty is sent as `<label>@base64/<value in URL-safe base64>` (an empty value as
//! `=`), other values percent-encoded. The body is the text format 0.0.4; the gateway
//! accepts it as well as client_golang's protobuf.
//!
//! The HTTP client is `ureq` 3 without default features: blocking, plain HTTP, no
//! TLS and no async runtime. It was picked over a hand-written HTTP/1.1 exchange
//! because it handles chunked answers, proxies (`HTTP_PROXY`/`NO_PROXY`) and
//! timeouts, and it shares the `http` crate with the `hyper` feature.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ember_expfmt::{Format, MetricType, TEXT_CONTENT_TYPE};

use crate::Registry;

/// What can go wrong when pushing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The job name is empty.
    #[error("job name is empty")]
    EmptyJob,
    /// A grouping label name is not a valid label name.
    #[error("grouping label has invalid name `{0}`")]
    InvalidLabelName(String),
    /// The gateway URL uses a scheme other than `http`.
    #[error("unsupported gateway URL `{0}`: only http:// is supported")]
    UnsupportedScheme(String),
    /// A pushed metric carries a `job` label of its own.
    #[error("pushed metric `{metric}` already contains a job label")]
    JobLabelInMetric {
        /// The family name.
        metric: String,
    },
    /// A pushed metric carries a label that is also in the grouping key.
    #[error("pushed metric `{metric}` already contains grouping label `{label}`")]
    GroupingLabelInMetric {
        /// The family name.
        metric: String,
        /// The clashing label.
        label: String,
    },
    /// The request did not get an answer (connection refused, timeout, ...).
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The full URL.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The gateway answered with a status other than success.
    #[error("unexpected status code {status} from {url}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The full URL.
        url: String,
        /// The gateway's answer body (its reason).
        body: String,
    },
}

/// Pushes a registry's metrics to a Pushgateway under a job and grouping key.
///
/// ```
/// use ember::push::Pusher;
/// let p = Pusher::new("127.0.0.1:9091", "backup")
///     .grouping("instance", "db/1")
///     .grouping("zone", "");
/// assert_eq!(
///     p.url().unwrap(),
///     "http://127.0.0.1:9091/metrics/job/backup/instance@base64/ZGIvMQ/zone@base64/="
/// );
/// ```
#[derive(Clone)]
pub struct Pusher {
    gateway: String,
    job: String,
    grouping: BTreeMap<String, String>,
    timeout: Duration,
}

impl fmt::Debug for Pusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pusher")
            .field("gateway", &self.gateway)
            .field("job", &self.job)
            .field("grouping", &self.grouping)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Pusher {
    /// A pusher to `gateway` (`host:port` or `http://host:port[/prefix]`, without the
    /// `/metrics/job/...` part) for `job`.
    ///
    /// ```
    /// let p = ember::push::Pusher::new("http://gw:9091/", "nightly batch");
    /// assert_eq!(p.url().unwrap(), "http://gw:9091/metrics/job/nightly%20batch");
    /// ```
    pub fn new(gateway: impl Into<String>, job: impl Into<String>) -> Self {
        let mut gateway = gateway.into();
        if !gateway.contains("://") {
            gateway.insert_str(0, "http://");
        }
        while gateway.ends_with('/') {
            gateway.pop();
        }
        Self {
            gateway,
            job: job.into(),
            grouping: BTreeMap::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Adds a label to the grouping key, replacing one of the same name. The pushed
    /// metrics must not carry this label themselves.
    ///
    /// ```
    /// let p = ember::push::Pusher::new("gw:9091", "j").grouping("a", "1").grouping("a", "2");
    /// assert_eq!(p.url().unwrap(), "http://gw:9091/metrics/job/j/a/2");
    /// ```
    pub fn grouping(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grouping.insert(name.into(), value.into());
        self
    }

    /// Sets the limit on each whole request, connect to last byte (default 10 s).
    ///
    /// ```
    /// let p = ember::push::Pusher::new("gw:9091", "j").timeout(std::time::Duration::from_secs(2));
    /// # let _ = p;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL pushes and deletes go to.
    ///
    /// ```
    /// use ember::push::{Pusher, PushError};
    /// assert!(matches!(Pusher::new("gw", "").url(), Err(PushError::EmptyJob)));
    /// assert_eq!(
    ///     Pusher::new("gw", "a/b").url().unwrap(),
    ///     "http://gw/metrics/job@base64/YS9i"
    /// );
    /// ```
    pub fn url(&self) -> Result<String, PushError> {
        if self.job.is_empty() {
            return Err(PushError::EmptyJob);
        }
        if !self.gateway.starts_with("http://") {
            return Err(PushError::UnsupportedScheme(self.gateway.clone()));
        }
        let mut url = format!("{}/metrics", self.gateway);
        push_component(&mut url, "job", &self.job);
        for (name, value) in &self.grouping {
            if crate::error::check_label_name(name).is_err() {
                return Err(PushError::InvalidLabelName(name.clone()));
            }
            push_component(&mut url, name, value);
        }
        Ok(url)
    }

    /// Pushes `registry`, replacing every metric of the group (HTTP `PUT`).
    ///
    /// ```no_run
    /// let registry = ember::Registry::new();
    /// let done = ember::Gauge::default();
    /// registry.register("backup_last_success_timestamp_seconds", "Last good backup.", done.clone())?;
    /// done.set(1_700_000_000);
    /// ember::push::Pusher::new("127.0.0.1:9091", "backup").push(&registry)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, registry: &Registry) -> Result<(), PushError> {
        self.send("PUT", registry)
    }

    /// Pushes `registry`, replacing only the group's metrics with the same names
    /// (HTTP `POST`).
    ///
    /// ```no_run
    /// let registry = ember::Registry::new();
    /// ember::push::Pusher::new("127.0.0.1:9091", "backup").push_add(&registry)?;
    /// # Ok::<(), ember::push::PushError>(())
    /// ```
    pub fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        self.send("POST", registry)
    }

    /// Deletes the group from the gateway (HTTP `DELETE`).
    ///
    /// ```no_run
    /// ember::push::Pusher::new("127.0.0.1:9091", "backup").grouping("instance", "db1").delete()?;
    /// # Ok::<(), ember::push::PushError>(())
    /// ```
    pub fn delete(&self) -> Result<(), PushError> {
        let url = self.url()?;
        let answer = self.agent().delete(&url).call();
        check(answer, url)
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .build()
            .into()
    }

    fn send(&self, method: &str, registry: &Registry) -> Result<(), PushError> {
        let url = self.url()?;
        let body = registry.encode_to_vec(Format::Text);
        self.check_labels(&body)?;
        let agent = self.agent();
        let request = if method == "PUT" {
            agent.put(&url)
        } else {
            agent.post(&url)
        };
        let answer = request
            .header("Content-Type", TEXT_CONTENT_TYPE)
            .send(&body[..]);
        check(answer, url)
    }

    /// Refuses metrics that carry `job` or a grouping label, as client_golang does.
    fn check_labels(&self, body: &[u8]) -> Result<(), PushError> {
        // Our own writer produced `body`; a parse failure would be a writer bug, and
        // the gateway would refuse the body with its reason anyway.
        let Ok(families) = ember_expfmt::parse_text(body) else {
            return Ok(());
        };
        for family in &families {
            for sample in &family.samples {
                for (name, _) in &sample.labels {
                    let name = name.as_str();
                    let own = (family.metric_type == MetricType::Histogram && name == "le")
                        || (family.metric_type == MetricType::Summary && name == "quantile");
                    if own {
                        continue;
                    }
                    if name == "job" {
                        return Err(PushError::JobLabelInMetric {
                            metric: family.name.clone(),
                        });
                    }
                    if self.grouping.contains_key(name) {
                        return Err(PushError::GroupingLabelInMetric {
                            metric: family.name.clone(),
                            label: name.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn check(
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: String,
) -> Result<(), PushError> {
    let response = answer.map_err(|e| PushError::Transport {
        url: url.clone(),
        source: Box::new(e),
    })?;
    let status = response.status().as_u16();
    // Pushgateway 0.10+ answers 200 to pushes and 202 to deletes; older ones 202.
    if status == 200 || status == 202 {
        return Ok(());
    }
    let body = response
        .into_body()
        .read_to_string()
        .unwrap_or_else(|e| format!("<unreadable body: {e}>"));
    Err(PushError::Status {
        status,
        url,
        body: body.trim_end().to_string(),
    })
}

/// Appends `/<name>/<value>`, or `/<name>@base64/<value>` when the value has a `/` or
/// is empty (which a path segment cannot carry).
fn push_component(url: &mut String, name: &str, value: &str) {
    url.push('/');
    url.push_str(name);
    if value.is_empty() {
        url.push_str("@base64/=");
    } else if value.contains('/') {
        url.push_str("@base64/");
        base64_url(url, value.as_bytes());
    } else {
        url.push('/');
        percent_encode(url, value);
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// URL-safe base64 without padding (Go's `base64.RawURLEncoding`).
fn base64_url(out: &mut String, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        let mut out = String::new();
        base64_url(&mut out, s.as_bytes());
        out
    }

    #[test]
    fn base64_matches_rfc4648_vectors_without_padding() {
        let table = [
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
            ("/a/b", "L2EvYg"),
            // 0xfb 0xff exercises the URL-safe letters `-` and `_`.
            ("\u{7ff}\u{ffff}", "37_vv78"),
        ];
        for (plain, encoded) in table {
            assert_eq!(b64(plain), encoded, "{plain:?}");
        }
    }

    #[test]
    fn url_is_built_as_client_golang_builds_it() {
        let p = Pusher::new("http://gw:9091", "my job")
            .grouping("instance", "/a/b")
            .grouping("empty", "")
            .grouping("plain", "x.y-z");
        assert_eq!(
            p.url().unwrap(),
            "http://gw:9091/metrics/job/my%20job/empty@base64/=/instance@base64/L2EvYg/plain/x.y-z"
        );
        let bad = Pusher::new("gw", "j").grouping("__x", "1");
        assert!(matches!(bad.url(), Err(PushError::InvalidLabelName(n)) if n == "__x"));
        let tls = Pusher::new("https://gw", "j");
        assert!(matches!(tls.url(), Err(PushError::UnsupportedScheme(_))));
    }

    #[test]
    fn metrics_with_grouping_or_job_labels_are_refused() {
        let r = Registry::new();
        let tagged = r.sub_registry_with_labels([("instance", "x")]).unwrap();
        tagged
            .register("hits", "Hits.", crate::Counter::default())
            .unwrap();
        let p = Pusher::new("127.0.0.1:1", "j").grouping("instance", "y");
        let err = p.push(&r).unwrap_err();
        assert!(
            matches!(&err, PushError::GroupingLabelInMetric { metric, label }
                if metric == "hits_total" && label == "instance"),
            "{err}"
        );
        let r = Registry::new();
        let tagged = r.sub_registry_with_labels([("job", "x")]).unwrap();
        tagged
            .register("hits", "Hits.", crate::Counter::default())
            .unwrap();
        let err = Pusher::new("127.0.0.1:1", "j").push_add(&r).unwrap_err();
        assert!(matches!(err, PushError::JobLabelInMetric { .. }), "{err}");
    }

    #[test]
    fn histogram_le_is_not_taken_for_a_grouping_label() {
        let r = Registry::new();
        r.register("lat", "Latency.", crate::Histogram::default())
            .unwrap();
        let p = Pusher::new("127.0.0.1:1", "j").grouping("le", "1");
        assert!(p.check_labels(&r.encode_to_vec(Format::Text)).is_ok());
    }
}

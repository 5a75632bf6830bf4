//! The scrape deadline, from Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` header.
//!
//! node_exporter ignores the header and lets a slow collector hold the scrape until
//! Prometheus gives up. mysqld_exporter reads it and subtracts `--timeout-offset`
//! (0.25 s), unless the offset would leave no time, in which case it uses the header's
//! value as it is. Ember does the same for every exporter, with a 0.5 s default offset
//! (encoding, gzip and the network need time after the collectors stop), and bounds a
//! request without the header by a default of 120 s so that no scrape waits forever.

use std::time::Duration;

/// The header Prometheus sends with the scrape timeout in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// How the deadline of a scrape is derived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeTimeout {
    /// Subtracted from the header's timeout; default 0.5 s.
    pub offset: Duration,
    /// The timeout of a request without (or with an unreadable) header; default 120 s.
    pub default: Duration,
}

impl Default for ScrapeTimeout {
    fn default() -> Self {
        ScrapeTimeout {
            offset: Duration::from_millis(500),
            default: Duration::from_secs(120),
        }
    }
}

impl ScrapeTimeout {
    /// The time the collectors get for a request with this header value.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ember_exporter::ScrapeTimeout;
    /// let t = ScrapeTimeout::default();
    /// assert_eq!(t.for_header(Some("10")), Duration::from_millis(9_500));
    /// assert_eq!(t.for_header(Some("0.4")), Duration::from_millis(400));
    /// assert_eq!(t.for_header(None), Duration::from_secs(120));
    /// assert_eq!(t.for_header(Some("soon")), Duration::from_secs(120));
    /// ```
    pub fn for_header(&self, value: Option<&str>) -> Duration {
        let Some(secs) = value
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        else {
            return self.default;
        };
        // Bounded above so that Duration::from_secs_f64 cannot overflow.
        let timeout = Duration::from_secs_f64(secs.min(1e9));
        if self.offset >= timeout {
            timeout
        } else {
            timeout - self.offset
        }
    }
}

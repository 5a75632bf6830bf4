//! Formats, their content types, and content negotiation.
//!
//! [`negotiate`] follows client_golang's `expfmt.NegotiateIncludingOpenMetrics`: the
//! `Accept` entries are taken in order of q-value (more specific first on ties), and the
//! first that names a format we write wins: `application/openmetrics-text` with version
//! `1.0.0`, `0.0.1` or none, or `text/plain` with version `0.0.4` or none. Anything else
//! (protobuf, `text/plain;version=1.0.0`, `*/*`) is skipped, and the text format is the
//! fallback. `q=0` means "not acceptable".

use std::io::{self, Write};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    #[default]
    Text,
    /// OpenMetrics text 1.0.
    OpenMetrics,
}

/// `Content-Type` of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` answered to a client asking for OpenMetrics 0.0.1.
pub const OPENMETRICS_001_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=0.0.1; charset=utf-8";

/// The `Accept` header Prometheus 2.42 sends when scraping.
pub const PROMETHEUS_2_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The outcome of negotiation: what to write and the `Content-Type` to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The format to encode.
    pub format: Format,
    /// The exact `Content-Type` header value.
    pub content_type: &'static str,
}

impl Format {
    /// The `Content-Type` for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format a scrape response is in, judged by its `Content-Type` as Prometheus
    /// does: OpenMetrics for `application/openmetrics-text`, else the text format.
    ///
    /// ```
    /// use ember_expfmt::Format;
    /// assert_eq!(
    ///     Format::from_content_type("application/openmetrics-text; version=1.0.0"),
    ///     Format::OpenMetrics
    /// );
    /// assert_eq!(Format::from_content_type("text/plain"), Format::Text);
    /// ```
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRange<'a> {
    /// Type, such as `text` or `*`.
    pub media_type: &'a str,
    /// Subtype, such as `plain` or `*`.
    pub subtype: &'a str,
    /// The `version` parameter, if any.
    pub version: Option<&'a str>,
    /// Quality in `[0, 1]` (1 if not given).
    pub q: f32,
}

/// Parses an `Accept` header into media ranges sorted by preference (q-value descending,
/// then concrete types before wildcards, then header order).
///
/// ```
/// let ranges = ember_expfmt::parse_accept("text/plain;q=0.5, application/json");
/// assert_eq!(ranges[0].subtype, "json");
/// assert_eq!(ranges[1].q, 0.5);
/// ```
pub fn parse_accept(header: &str) -> Vec<MediaRange<'_>> {
    let mut out: Vec<MediaRange<'_>> = header
        .split(',')
        .filter_map(|part| {
            let mut params = part.split(';');
            let media = params.next()?.trim();
            let (media_type, subtype) = media.split_once('/')?;
            let mut range = MediaRange {
                media_type: media_type.trim(),
                subtype: subtype.trim(),
                version: None,
                q: 1.0,
            };
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"');
                match k.trim() {
                    k if k.eq_ignore_ascii_case("q") => {
                        range.q = v.parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
                    }
                    k if k.eq_ignore_ascii_case("version") => range.version = Some(v),
                    _ => {}
                }
            }
            Some(range)
        })
        .collect();
    let specificity =
        |r: &MediaRange<'_>| u8::from(r.media_type != "*") + u8::from(r.subtype != "*");
    out.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then_with(|| specificity(b).cmp(&specificity(a)))
    });
    out
}

/// Picks the format and `Content-Type` for an `Accept` header (`None` if absent).
///
/// ```
/// use ember_expfmt::{negotiate, Format, PROMETHEUS_2_ACCEPT};
/// let n = negotiate(Some(PROMETHEUS_2_ACCEPT));
/// assert_eq!(n.format, Format::OpenMetrics);
/// assert_eq!(n.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
/// assert_eq!(negotiate(None).content_type, "text/plain; version=0.0.4; charset=utf-8");
/// ```
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let text = Negotiated {
        format: Format::Text,
        content_type: TEXT_CONTENT_TYPE,
    };
    let Some(accept) = accept else {
        return text;
    };
    for r in parse_accept(accept) {
        if r.q <= 0.0 {
            continue;
        }
        if r.media_type.eq_ignore_ascii_case("text")
            && r.subtype.eq_ignore_ascii_case("plain")
            && matches!(r.version, None | Some("0.0.4"))
        {
            return text;
        }
        if r.media_type.eq_ignore_ascii_case("application")
            && r.subtype.eq_ignore_ascii_case("openmetrics-text")
        {
            match r.version {
                Some("1.0.0") => {
                    return Negotiated {
                        format: Format::OpenMetrics,
                        content_type: OPENMETRICS_CONTENT_TYPE,
                    };
                }
                None | Some("0.0.1") => {
                    return Negotiated {
                        format: Format::OpenMetrics,
                        content_type: OPENMETRICS_001_CONTENT_TYPE,
                    };
                }
                _ => {}
            }
        }
    }
    text
}

/// Whether an `Accept-Encoding` header accepts gzip (explicitly or through `*`) with a
/// non-zero q-value.
///
/// ```
/// assert!(ember_expfmt::accepts_gzip(Some("gzip, deflate")));
/// assert!(!ember_expfmt::accepts_gzip(Some("gzip;q=0, identity")));
/// assert!(!ember_expfmt::accepts_gzip(None));
/// ```
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(h) = accept_encoding else {
        return false;
    };
    let mut star = None;
    for part in h.split(',') {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q = it
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return q > 0.0;
        }
        if coding == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

/// Compresses `body` with gzip (the `Content-Encoding: gzip` of a scrape response).
///
/// ```
/// let z = ember_expfmt::gzip(b"up 1\n").unwrap();
/// assert_eq!(&z[..2], &[0x1f, 0x8b]);
/// ```
pub fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_of_real_scrapers() {
        let table: &[(&str, Format, &str)] = &[
            // Prometheus 2.42 (scrape.acceptHeader).
            (
                PROMETHEUS_2_ACCEPT,
                Format::OpenMetrics,
                OPENMETRICS_CONTENT_TYPE,
            ),
            // Prometheus 3.x default scrape protocols.
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                 application/openmetrics-text;version=0.0.1;q=0.4,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,\
                 text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
                Format::OpenMetrics,
                OPENMETRICS_CONTENT_TYPE,
            ),
            // Prometheus 3.x with native histograms: protobuf first, which we skip.
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                 encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,\
                 text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                Format::OpenMetrics,
                OPENMETRICS_CONTENT_TYPE,
            ),
            // Prometheus 3.x configured with scrape_protocols: [PrometheusText0.0.4].
            (
                "text/plain;version=0.0.4;q=0.5,*/*;q=0.4",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            // Prometheus 3.x PrometheusText1.0.0 only: not ours, fall back to 0.0.4.
            (
                "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.4",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            // Prometheus 2.x before OpenMetrics negotiation.
            (
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            (
                "application/openmetrics-text;version=0.0.1",
                Format::OpenMetrics,
                OPENMETRICS_001_CONTENT_TYPE,
            ),
            (
                "application/openmetrics-text",
                Format::OpenMetrics,
                OPENMETRICS_001_CONTENT_TYPE,
            ),
            // curl, browsers.
            ("*/*", Format::Text, TEXT_CONTENT_TYPE),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            // Lower q wins only when the higher one is not a format of ours.
            (
                "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.8",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            (
                "application/openmetrics-text;version=1.0.0;q=0,text/plain",
                Format::Text,
                TEXT_CONTENT_TYPE,
            ),
            ("", Format::Text, TEXT_CONTENT_TYPE),
        ];
        for (accept, format, ct) in table {
            let n = negotiate(Some(accept));
            assert_eq!(
                (n.format, n.content_type),
                (*format, *ct),
                "Accept: {accept}"
            );
        }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let body = b"# TYPE up gauge\nup 1\n".repeat(100);
        let z = gzip(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("br;q=1.0, gzip;q=0.8, *;q=0.1")));
        assert!(!accepts_gzip(Some("identity")));
    }
}

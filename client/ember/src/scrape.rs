//! The body of a scrape response, shared by the `tiny-http` server and the `hyper`
//! handler: negotiation and gzip through [`ember_expfmt`], so both answer alike.

use crate::Registry;

/// An encoded scrape answer and the headers that describe it.
#[derive(Debug)]
pub(crate) struct ScrapeBody {
    /// The exposition, gzipped when `gzipped` is set.
    pub(crate) body: Vec<u8>,
    /// The negotiated `Content-Type`.
    pub(crate) content_type: &'static str,
    /// Whether `body` is gzip (answer with `Content-Encoding: gzip`).
    pub(crate) gzipped: bool,
}

/// Encodes `registry` for a request with these `Accept` and `Accept-Encoding` headers.
pub(crate) fn render(
    registry: &Registry,
    accept: Option<&str>,
    accept_encoding: Option<&str>,
) -> ScrapeBody {
    let negotiated = ember_expfmt::negotiate(accept);
    let body = registry.encode_to_vec(negotiated.format);
    if ember_expfmt::accepts_gzip(accept_encoding) {
        // Gzip into memory only fails on allocation; fall back to the plain body.
        if let Ok(z) = ember_expfmt::gzip(&body) {
            return ScrapeBody {
                body: z,
                content_type: negotiated.content_type,
                gzipped: true,
            };
        }
    }
    ScrapeBody {
        body,
        content_type: negotiated.content_type,
        gzipped: false,
    }
}

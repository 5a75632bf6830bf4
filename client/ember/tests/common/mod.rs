//! Shared by the serving tests: the raw HTTP client of the `ember-e2e` harness, taking
//! `SocketAddr`s and panicking on transport errors, plus gunzip.

#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::unwrap_used)]

use std::io::Read;
use std::net::SocketAddr;

pub use ember_e2e::HttpResponse as Answer;

/// Sends `method path` with `headers` and `body`; see [`ember_e2e::http_request`].
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    ember_e2e::http_request(&addr.to_string(), method, path, headers, body)
}

/// `GET path`, which must be answered.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "GET", path, headers, b"").expect("GET answered")
}

/// Gunzips a body.
pub fn gunzip(body: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut s)
        .expect("valid gzip");
    s
}

//! Harness for end-to-end tests: start real peers (Prometheus, and the programs under
//! test) on free loopback ports, wait until they are ready, and ask them questions.
//!
//! | piece | what |
//! |---|---|
//! | [`free_port`] | a loopback port nobody listens on |
//! | [`Child`] | a spawned process killed when dropped |
//! | [`http_get`], [`http_request`] | a minimal HTTP/1.1 client over a `TcpStream` |
//! | [`Prometheus`] | the `prometheus` binary scraping given targets, with a query API |
//! | [`Pushgateway`] | the `prometheus-pushgateway` binary |
//!
//! A test that needs a binary that is missing fails with the Debian package to install.

mod http;
mod process;
mod prometheus;
mod pushgateway;

pub use http::{HttpResponse, http_get, http_request, wait_for_http};
pub use process::{Child, free_port, require_binary};
pub use prometheus::{Prometheus, VectorSample};
pub use pushgateway::Pushgateway;

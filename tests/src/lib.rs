//! Harness for end-to-end tests: start real peers (Prometheus, and the programs under
//! test) on free loopback ports, wait until they are ready, and ask them questions.
//!
//! | piece | what |
//! |---|---|
//! | [`free_port`] | a loopback port nobody listens on |
//! | [`Child`] | a spawned process killed when dropped (or terminated with SIGTERM) |
//! | [`cargo_bin`] | a binary of another workspace package, built by Cargo on demand |
//! | [`http_get`], [`http_request`] | a minimal HTTP/1.1 client over a `TcpStream` |
//! | [`Server`], [`ServerKind`] | `ember-server` (or the reference `prometheus`) from a `prometheus.yml`, restartable on its data directory, with its query API |
//! | [`success_data`], [`instant_result`], [`range_result`] | the Prometheus API's JSON |
//! | [`Prometheus`] | the `prometheus` binary scraping given targets, with a query API |
//! | [`Pushgateway`] | the `prometheus-pushgateway` binary |
//!
//! A test that needs a binary that is missing fails with the Debian package to install.

mod api;
mod cargo_bin;
mod http;
mod process;
mod prometheus;
mod pushgateway;
mod server;

pub use api::{RangeSeries, VectorSample, instant_result, range_result, success_data, url_encode};
pub use cargo_bin::{cargo_bin, workspace_root};
pub use http::{HttpResponse, http_get, http_request, wait_for_http};
pub use process::{Child, free_port, require_binary};
pub use prometheus::Prometheus;
pub use pushgateway::Pushgateway;
pub use server::{Server, ServerKind, unix_now};

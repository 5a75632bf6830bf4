//! Errors of the exporter framework and of individual collectors.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong while setting up or running an exporter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line was refused (unknown flag, bad value); `clap` renders the message.
    #[error(transparent)]
    Flags(#[from] clap::Error),
    /// A `--web.listen-address` that is neither `host:port` nor `:port`.
    #[error("listen address `{address}` is not `host:port` or `:port`")]
    ListenAddress {
        /// The address as given.
        address: String,
    },
    /// Binding a listen address failed (in use, no permission).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address that could not be bound.
        address: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Accepting connections failed.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] io::Error),
    /// The collector thread pool could not start a thread.
    #[error("cannot start collector thread: {0}")]
    Thread(#[source] io::Error),
    /// The `--web.config.file` could not be read or is not valid.
    #[error("web config file {}: {reason}", path.display())]
    WebConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A process-wide `tracing` subscriber was installed already.
    #[error("a tracing subscriber is already installed")]
    Logging,
    /// A collector could not be constructed (bad flag value, ...).
    #[error("{0}")]
    Collector(String),
    /// The tokio runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] io::Error),
    /// A `--web.telemetry-path` that does not start with `/`.
    #[error("telemetry path `{0}` must start with `/`")]
    TelemetryPath(String),
}

/// Why a collector's update failed. The scheduler reports it as
/// `<ns>_scrape_collector_success{collector} 0`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorError {
    /// Reading a file (under `/proc`, `/sys`, ...) failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A file or answer was read but its contents were not understood.
    #[error("parsing {what}: {reason}")]
    Parse {
        /// What was being parsed (a path, a query).
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The collector has nothing to report on this host (node_exporter's `ErrNoData`).
    #[error("collector returned no data")]
    NoData,
    /// Any other failure, with its source.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong loading configuration or scraping.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A YAML or JSON file did not parse or hold a valid value; the message names the field
    /// and, where known, the line and column.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Field, position and reason.
        message: String,
    },
    /// The configuration parsed but breaks a rule across fields (as Prometheus's checks).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        message: String,
    },
}

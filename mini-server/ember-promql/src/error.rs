//! The engine's error type, with Prometheus's `errorType` strings.

/// An error from parsing or evaluating a query.
///
/// [`Error::error_type`] gives the `errorType` string the Prometheus HTTP API reports
/// for it, and `Display` gives the `error` string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query text does not parse, or its types do not fit (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed, e.g. many-to-many matching or duplicate series (`execution`).
    #[error("{0}")]
    Execution(String),
    /// The query would load more samples than allowed (`execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran past its timeout (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was canceled (`canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The storage failed to answer a select (`internal`).
    #[error("{0}")]
    Storage(String),
}

impl Error {
    /// The `errorType` string Prometheus's HTTP API uses for this error.
    ///
    /// ```
    /// use ember_promql::Error;
    /// assert_eq!(Error::Timeout("query execution").error_type(), "timeout");
    /// assert_eq!(Error::TooManySamples("query execution").error_type(), "execution");
    /// ```
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::BadData(_) => "bad_data",
            Error::Execution(_) | Error::TooManySamples(_) => "execution",
            Error::Timeout(_) => "timeout",
            Error::Canceled(_) => "canceled",
            Error::Storage(_) => "internal",
        }
    }

    pub(crate) fn exec(msg: impl Into<String>) -> Self {
        Error::Execution(msg.into())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

//! Errors of the client library.

/// What can go wrong when defining or registering metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name `{0}`: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`.
    #[error("invalid label name `{0}`: must match [a-zA-Z_][a-zA-Z0-9_]* and not start with `__`")]
    InvalidLabelName(String),
    /// A label name that the metric type uses itself.
    #[error("label name `{name}` is reserved for {metric_type} {purpose}")]
    ReservedLabelName {
        /// The label name.
        name: String,
        /// The metric type that reserves it.
        metric_type: &'static str,
        /// What it is reserved for.
        purpose: &'static str,
    },
    /// The same label name given twice.
    #[error("duplicate label name `{0}`")]
    DuplicateLabelName(String),
    /// A family with this name, or one whose samples would clash with it, exists.
    #[error("a metric named `{0}` is already registered")]
    AlreadyRegistered(String),
    /// Histogram buckets that are not finite and strictly increasing.
    #[error("invalid histogram buckets: {0}")]
    InvalidBuckets(String),
    /// Summary settings out of range.
    #[error(transparent)]
    Summary(#[from] crate::summary::SummaryError),
    /// A unit that is not a valid metric name suffix.
    #[error("invalid unit `{0}`: must match [a-zA-Z0-9_:]+")]
    InvalidUnit(String),
}

/// Checks a metric name.
pub(crate) fn check_metric_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidMetricName(name.to_string()))
    }
}

/// Checks a label name.
pub(crate) fn check_label_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    } && !name.starts_with("__");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidLabelName(name.to_string()))
    }
}

//! Errors of the parsers.

/// An exposition could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is malformed at a position (1-based line and column, in bytes).
    #[error("line {line}, column {column}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// 1-based column (byte offset in the line plus one).
        column: usize,
        /// What is wrong, lowercase and specific.
        message: String,
    },
}

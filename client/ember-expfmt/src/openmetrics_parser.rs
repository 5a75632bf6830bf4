//! Parser of the Prometheus OpenMetrics 1.0 (placeholder until implemented).
use crate::{Error, ParsedFamily};

/// Parses the OpenMetrics 1.0.
pub fn parse_openmetrics(_input: &[u8]) -> Result<Vec<ParsedFamily>, Error> {
    Err(Error::Parse {
        line: 1,
        column: 1,
        message: "not implemented".into(),
    })
}

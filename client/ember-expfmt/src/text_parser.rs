//! Parser of the Prometheus text format 0.0.4 (placeholder until implemented).
use crate::{Error, ParsedFamily};

/// Parses the text format 0.0.4.
pub fn parse_text(_input: &[u8]) -> Result<Vec<ParsedFamily>, Error> {
    Err(Error::Parse {
        line: 1,
        column: 1,
        message: "not implemented".into(),
    })
}

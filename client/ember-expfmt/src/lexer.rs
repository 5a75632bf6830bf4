//! Byte-level pieces both parsers share: character classes of names, unescaping of label
//! values and HELP text, and turning a byte offset into the line and column of an
//! [`Error`].
//!
//! Unescaping follows the reference parsers exactly: a backslash followed by one of the
//! recognised characters is replaced, any other backslash is kept as it is together with
//! the character after it (Prometheus's `strings.Replacer`, client_python's
//! `_replace_escaping`). Label values recognise `\\`, `\"` and `\n` in both formats; HELP
//! text recognises `\\` and `\n` in the text format and `\"` as well in OpenMetrics.

use std::borrow::Cow;

use crate::Error;

/// Whether `c` may start a metric name (`[a-zA-Z_:]`).
pub(crate) fn is_metric_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

/// Whether `c` may continue a metric name (`[a-zA-Z0-9_:]`).
pub(crate) fn is_metric_name_char(c: u8) -> bool {
    is_metric_name_start(c) || c.is_ascii_digit()
}

/// Whether `c` may start a label name (`[a-zA-Z_]`).
pub(crate) fn is_label_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// Whether `c` may continue a label name (`[a-zA-Z0-9_]`).
pub(crate) fn is_label_name_char(c: u8) -> bool {
    is_label_name_start(c) || c.is_ascii_digit()
}

/// Length of the metric name at the start of `b`, 0 if `b` does not start with one.
pub(crate) fn metric_name_len(b: &[u8]) -> usize {
    match b.first() {
        Some(&c) if is_metric_name_start(c) => {
            1 + b[1..]
                .iter()
                .take_while(|&&c| is_metric_name_char(c))
                .count()
        }
        _ => 0,
    }
}

/// Length of the label name at the start of `b`, 0 if `b` does not start with one.
pub(crate) fn label_name_len(b: &[u8]) -> usize {
    match b.first() {
        Some(&c) if is_label_name_start(c) => {
            1 + b[1..]
                .iter()
                .take_while(|&&c| is_label_name_char(c))
                .count()
        }
        _ => 0,
    }
}

/// `s` as a `&str` when the caller has already checked it is ASCII or valid UTF-8.
pub(crate) fn checked_str(s: &[u8]) -> &str {
    // Callers only pass names (ASCII) or spans whose UTF-8 they validated; the empty
    // fallback is never taken.
    std::str::from_utf8(s).unwrap_or_default()
}

/// Unescapes a label value: `\\`, `\"` and `\n`.
pub(crate) fn unescape_label_value(s: &str) -> Cow<'_, str> {
    unescape(s, true)
}

/// Unescapes HELP text: `\\` and `\n`, and `\"` too when `quote` is set (OpenMetrics).
pub(crate) fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(first) = bytes.iter().position(|&c| c == b'\\') else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let replacement = match bytes.get(i + 1) {
            Some(b'\\') => "\\",
            Some(b'n') => "\n",
            Some(b'"') if quote => "\"",
            // Unknown escapes stay as written; the next byte is read normally.
            _ => {
                i += 1;
                continue;
            }
        };
        // `i` and `i + 2` sit next to ASCII bytes, so both are char boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        out.push_str(replacement);
        i += 2;
        start = i;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    Cow::Owned(out)
}

/// 1-based line and column (in bytes) of `offset` in `input`.
pub(crate) fn position(input: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(input.len());
    let before = &input[..offset];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

/// An [`Error::Parse`] at byte `offset` of `input`.
pub(crate) fn error_at(input: &[u8], offset: usize, message: impl Into<String>) -> Error {
    let (line, column) = position(input, offset);
    Error::Parse {
        line,
        column,
        message: message.into(),
    }
}

/// A short description of what is at `offset` for error messages: "end of line", "end of
/// input" or the character in backticks.
pub(crate) fn found(input: &[u8], offset: usize) -> String {
    match input.get(offset) {
        None => "end of input".into(),
        Some(b'\n') => "end of line".into(),
        Some(&c) if c.is_ascii() => format!("`{}`", (c as char).escape_debug()),
        Some(_) => {
            let end = (offset + 4).min(input.len());
            match String::from_utf8_lossy(&input[offset..end]).chars().next() {
                Some(ch) if ch != char::REPLACEMENT_CHARACTER => format!("`{ch}`"),
                _ => format!("byte 0x{:02x}", input[offset]),
            }
        }
    }
}

/// `s` shortened for an error message, with control characters escaped.
pub(crate) fn excerpt(s: &[u8]) -> String {
    const MAX: usize = 40;
    let text = String::from_utf8_lossy(&s[..s.len().min(MAX)]);
    let mut out: String = text.escape_debug().collect();
    if s.len() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(metric_name_len(b"a:b_1{"), 5);
        assert_eq!(metric_name_len(b"1a"), 0);
        assert_eq!(label_name_len(b"_a1:"), 3);
        assert_eq!(label_name_len(b":a"), 0);
    }

    #[test]
    fn unescaping_keeps_unknown_escapes() {
        assert_eq!(unescape_label_value(r#"a\"b\\c\nd"#), "a\"b\\c\nd");
        assert_eq!(unescape_label_value(r"\t\z\"), r"\t\z\");
        assert_eq!(unescape_label_value(r"\\n"), r"\n");
        assert_eq!(unescape(r#"\" \n"#, false), "\\\" \n");
        assert_eq!(unescape(r#"\" \n"#, true), "\" \n");
        assert_eq!(unescape("plain ✓", true), "plain ✓");
        assert_eq!(unescape(r"\✓", true), r"\✓");
        assert!(matches!(unescape("no escapes", true), Cow::Borrowed(_)));
    }

    #[test]
    fn positions_are_one_based() {
        let input = b"ab\ncd\n";
        assert_eq!(position(input, 0), (1, 1));
        assert_eq!(position(input, 1), (1, 2));
        assert_eq!(position(input, 3), (2, 1));
        assert_eq!(position(input, 6), (3, 1));
        assert_eq!(position(input, 99), (3, 1));
    }

    #[test]
    fn found_describes_the_byte() {
        assert_eq!(found(b"a\n", 1), "end of line");
        assert_eq!(found(b"a", 1), "end of input");
        assert_eq!(found(b"'", 0), "`\\'`");
        assert_eq!(found("é".as_bytes(), 0), "`é`");
        assert_eq!(found(b"\xff", 0), "byte 0xff");
        assert_eq!(excerpt(b"a\tb"), "a\\tb");
    }
}

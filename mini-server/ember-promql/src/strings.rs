//! String literals as Prometheus reads them.
//!
//! Prometheus unquotes `"…"` and `'…'` literals with Go's `strconv.Unquote` and takes
//! `` `…` `` literals raw. The `promql-parser` crate keeps the text between the quotes as
//! written (escapes included) and rejects backslashes in raw strings. So the engine
//! rewrites raw strings that contain a backslash as double-quoted ones before parsing
//! ([`requote_raw_strings`]), and unquotes every string it takes from the syntax tree
//! ([`unescape`]): matcher values, string arguments and string literals.

use std::borrow::Cow;

/// Rewrites each `` `…` `` literal that contains a backslash, a double quote or a line
/// break as the equivalent `"…"` literal; other text (comments, quoted strings) is kept.
pub(crate) fn requote_raw_strings(query: &str) -> Cow<'_, str> {
    if !query.contains('`') {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len() + 8);
    let mut chars = query.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '#' => {
                out.push(c);
                for (_, c) in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' => {
                out.push(c);
                while let Some((_, d)) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some((_, e)) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c {
                        break;
                    }
                }
            }
            '`' => {
                let mut content = String::new();
                let mut closed = false;
                for (_, d) in chars.by_ref() {
                    if d == '`' {
                        closed = true;
                        break;
                    }
                    content.push(d);
                }
                if closed && content.contains(['\\', '"', '\n', '\r']) {
                    out.push('"');
                    for d in content.chars() {
                        match d {
                            '\\' => out.push_str("\\\\"),
                            '"' => out.push_str("\\\""),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            d => out.push(d),
                        }
                    }
                    out.push('"');
                } else {
                    out.push('`');
                    out.push_str(&content);
                    if closed {
                        out.push('`');
                    }
                }
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Resolves Go escape sequences (`\a \b \f \n \r \t \v \\ \' \" \ooo \xhh \uhhhh
/// \Uhhhhhhhh`) in the text of a string literal as the parser left it. A sequence that
/// is not valid (the parser rejects those) is kept as written.
pub(crate) fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let Some(c) = tail.chars().next() else {
            out.push('\\');
            rest = "";
            break;
        };
        let simple = match c {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' => Some(c),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            rest = &tail[c.len_utf8()..];
            continue;
        }
        let (digits, radix) = match c {
            '0'..='7' => (3, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => (0, 0),
        };
        let start = usize::from(radix == 16);
        let code = tail
            .get(start..start + digits)
            .and_then(|d| u32::from_str_radix(d, radix).ok());
        match code {
            // `\ooo` and `\xhh` are bytes in Go; as one-byte UTF-8 only below 0x80.
            Some(n) if radix == 8 || c == 'x' => {
                if n < 0x80 {
                    out.push(char::from(n as u8));
                } else {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
                rest = &tail[start + digits..];
            }
            Some(n) => match char::from_u32(n) {
                Some(ch) => {
                    out.push(ch);
                    rest = &tail[start + digits..];
                }
                None => {
                    out.push('\\');
                    rest = tail;
                }
            },
            None => {
                out.push('\\');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_go_sequences() {
        assert_eq!(unescape(r"a\\+b"), r"a\+b");
        assert_eq!(unescape(r#"\"q\" \'s\'"#), r#""q" 's'"#);
        assert_eq!(unescape(r"\n\t\x41\101\u00e9\U0001F600"), "\n\tAAé😀");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn raw_strings_become_quoted() {
        assert_eq!(requote_raw_strings(r"x{a=~`\d+`}"), r#"x{a=~"\\d+"}"#);
        assert_eq!(requote_raw_strings("x{a=`b`}"), "x{a=`b`}");
        assert_eq!(
            requote_raw_strings(r#"x{a="`\\"} # `c\`"#),
            r#"x{a="`\\"} # `c\`"#
        );
        assert_eq!(unescape(&requote_raw_strings(r#"`a\"b`"#)), r#""a\"b""#);
    }
}

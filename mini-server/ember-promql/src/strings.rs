//! String literals as Prometheus reads them.
//!
//! Prometheus unquotes `"…"` and `'…'` literals with Go's rules and takes `` `…` ``
//! literals raw. The `promql-parser` crate keeps the text between the quotes as written
//! (escapes included), compiles regex matchers from that text (so `"\\(a\\)"` is an
//! illegal regex to it, while Prometheus reads `\(a\)`), and rejects backslashes in raw
//! strings. So before parsing, the engine swaps every literal that contains a backslash
//! for a placeholder ([`protect_strings`]), puts the literal back into the syntax tree
//! after parsing ([`restore_strings`], escaped as in a `"…"` literal), and unquotes every
//! string it takes from the tree ([`unescape`]): matcher values, string arguments and
//! string literals.

use std::borrow::Cow;

use promql_parser::label::Matcher;
use promql_parser::parser::{Expr, VectorSelector};

/// Brackets a placeholder's index (a private-use character, valid in any regex).
const MARK: char = '\u{F8FF}';

/// Escape letters the parser accepts after a backslash in a quoted string.
const ESCAPES: &str = r"abfnrtv\01234567xuU";

/// Replaces each string literal that contains a backslash by a placeholder literal, and
/// returns the text with the literals' contents (in `"…"` escaping). Comments, literals
/// without a backslash and literals the parser will reject (unterminated, unknown escape)
/// are kept as written.
pub(crate) fn protect_strings(query: &str) -> (Cow<'_, str>, Vec<String>) {
    let mut values = Vec::new();
    if !query.contains('\\') {
        return (Cow::Borrowed(query), values);
    }
    let mut out = String::with_capacity(query.len() + 8);
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' | '`' => {
                let mut content = String::new();
                let mut closed = false;
                let mut valid = true;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    content.push(d);
                    if d == '\\' && c != '`' {
                        match chars.next() {
                            Some(e) => {
                                valid &= e == c || ESCAPES.contains(e);
                                content.push(e);
                            }
                            None => break,
                        }
                    }
                }
                if closed && valid && content.contains('\\') {
                    values.push(if c == '`' {
                        content.replace('\\', "\\\\")
                    } else {
                        content
                    });
                    out.push('"');
                    out.push(MARK);
                    out.push_str(&(values.len() - 1).to_string());
                    out.push(MARK);
                    out.push('"');
                } else {
                    out.push(c);
                    out.push_str(&content);
                    if closed {
                        out.push(c);
                    }
                }
            }
            c => out.push(c),
        }
    }
    (Cow::Owned(out), values)
}

/// Puts the literals [`protect_strings`] took out back into the parsed expression.
pub(crate) fn restore_strings(expr: &mut Expr, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let put = |s: &mut String| {
        let idx = s
            .strip_prefix(MARK)
            .and_then(|r| r.strip_suffix(MARK))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(v) = idx.and_then(|i| values.get(i)) {
            v.clone_into(s);
        }
    };
    let selector = |vs: &mut VectorSelector| {
        if let Some(n) = vs.name.as_mut() {
            put(n);
        }
        let ors = vs.matchers.or_matchers.iter_mut().flatten();
        for m in vs.matchers.matchers.iter_mut().chain(ors) {
            let m: &mut Matcher = m;
            put(&mut m.value);
        }
    };
    match expr {
        Expr::Aggregate(a) => {
            restore_strings(&mut a.expr, values);
            if let Some(p) = a.param.as_mut() {
                restore_strings(p, values);
            }
        }
        Expr::Unary(u) => restore_strings(&mut u.expr, values),
        Expr::Binary(b) => {
            restore_strings(&mut b.lhs, values);
            restore_strings(&mut b.rhs, values);
        }
        Expr::Paren(p) => restore_strings(&mut p.expr, values),
        Expr::Subquery(s) => restore_strings(&mut s.expr, values),
        Expr::StringLiteral(s) => put(&mut s.val),
        Expr::VectorSelector(vs) => selector(vs),
        Expr::MatrixSelector(ms) => selector(&mut ms.vs),
        Expr::Call(c) => {
            for a in &mut c.args.args {
                restore_strings(a, values);
            }
        }
        Expr::NumberLiteral(_) | Expr::Extension(_) => {}
    }
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
    fn protected_literals_come_back() {
        let q = r#"x{a=~"\\(b\\)", c=`\d+`} # "\z"
 + label_join(y, "j", "\t", 'k\'')"#;
        let (text, values) = protect_strings(q);
        assert!(!text.contains('\\') || text.contains(r#""\z""#));
        assert_eq!(values, [r"\\(b\\)", r"\\d+", r"\t", r"k\'"]);
        let mut e = promql_parser::parser::parse(&text).expect("parses");
        restore_strings(&mut e, &values);
        let Expr::Binary(b) = e else { panic!("binary") };
        let Expr::VectorSelector(vs) = *b.lhs else {
            panic!("selector")
        };
        let got: Vec<String> = vs
            .matchers
            .matchers
            .iter()
            .map(|m| unescape(&m.value).into_owned())
            .collect();
        assert!(got.contains(&r"\(b\)".to_string()) && got.contains(&r"\d+".to_string()));
        assert_eq!(protect_strings("x{a=\"b\"}").1.len(), 0);
        assert_eq!(protect_strings(r#"x{a="\."}"#).0, r#"x{a="\."}"#);
    }
}

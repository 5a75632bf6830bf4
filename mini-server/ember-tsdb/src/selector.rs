//! Series selectors as `ember-tsdb dump --match` takes them: `name`, `{label="v",...}`
//! or `name{label="v",...}` with `=`, `!=`, `=~`, `!~`.
//!
//! Values are quoted with `"`, `'` or `` ` `` (raw); in the first two, `\\`, `\"`, `\'`,
//! `\n` and `\t` are escapes, as in PromQL.

use crate::Error;
use crate::matcher::{MatchOp, Matcher};

/// Parses a selector into matchers (the metric name becomes `__name__="name"`).
///
/// ```
/// use ember_tsdb::{MatchOp, parse_selector};
///
/// let m = parse_selector(r#"up{job=~"node|mysql", instance!="a\"b"}"#)?;
/// assert_eq!(m.len(), 3);
/// assert_eq!((m[0].name(), m[0].value()), ("__name__", "up"));
/// assert_eq!((m[1].op(), m[1].value()), (MatchOp::Regex, "node|mysql"));
/// assert_eq!(m[2].value(), "a\"b");
/// assert!(parse_selector("up{job=}").is_err());
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, Error> {
    let mut p = Parser { s, pos: 0 };
    let mut out = Vec::new();
    p.skip_ws();
    let name = p.ident(true);
    if !name.is_empty() {
        out.push(Matcher::equal("__name__", name));
    }
    p.skip_ws();
    if p.eat('{') {
        loop {
            p.skip_ws();
            if p.eat('}') {
                break;
            }
            let label = p.ident(false);
            if label.is_empty() {
                return Err(p.err("expected a label name"));
            }
            p.skip_ws();
            let op = if p.eat_str("=~") {
                MatchOp::Regex
            } else if p.eat_str("!~") {
                MatchOp::NotRegex
            } else if p.eat_str("!=") {
                MatchOp::NotEqual
            } else if p.eat('=') {
                MatchOp::Equal
            } else {
                return Err(p.err("expected one of = != =~ !~"));
            };
            p.skip_ws();
            let value = p.quoted()?;
            out.push(Matcher::new(op, label, value)?);
            p.skip_ws();
            if p.eat(',') {
                continue;
            }
            if p.eat('}') {
                break;
            }
            return Err(p.err("expected `,` or `}`"));
        }
    } else if name.is_empty() {
        return Err(p.err("expected a metric name or `{`"));
    }
    p.skip_ws();
    if p.pos != s.len() {
        return Err(p.err("unexpected text after the selector"));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn err(&self, reason: &str) -> Error {
        Error::InvalidSelector {
            at: self.pos,
            reason: reason.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (colons only in metric names).
    fn ident(&mut self, metric: bool) -> &'a str {
        let r = self.rest();
        let len = r
            .char_indices()
            .find(|&(i, c)| {
                let ok = c.is_ascii_alphabetic()
                    || c == '_'
                    || (metric && c == ':')
                    || (i > 0 && c.is_ascii_digit());
                !ok
            })
            .map_or(r.len(), |(i, _)| i);
        self.pos += len;
        &r[..len]
    }

    fn quoted(&mut self) -> Result<String, Error> {
        let Some(q) = self
            .rest()
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\'' | '`'))
        else {
            return Err(self.err("expected a quoted value"));
        };
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == q {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' && q != '`' {
                let Some((_, e)) = chars.next() else { break };
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    '\\' | '"' | '\'' => e,
                    _ => {
                        self.pos += i;
                        return Err(self.err("unknown escape sequence"));
                    }
                });
            } else {
                out.push(c);
            }
        }
        self.pos = self.s.len();
        Err(self.err("unterminated quoted value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> Vec<String> {
        parse_selector(s)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn selectors_parse_to_matchers() {
        assert_eq!(show("up"), ["__name__=\"up\""]);
        assert_eq!(show(" job:rate5m { } "), ["__name__=\"job:rate5m\""]);
        assert_eq!(
            show("{a='x', b!=`\\d`,c!~\"y\\n\",}"),
            ["a=\"x\"", "b!=\"\\\\d\"", "c!~\"y\\n\""]
        );
    }

    #[test]
    fn bad_selectors_say_where() {
        for (s, at) in [
            ("", 0),
            ("{", 1),
            ("up{a}", 4),
            ("up{a=\"x}", 8),
            ("up{a=\"x\" b}", 9),
            ("up x", 3),
            ("{a=~\"(\"}", 0),
        ] {
            match parse_selector(s) {
                Err(Error::InvalidSelector { at: got, .. }) => assert_eq!(got, at, "{s}"),
                Err(Error::InvalidRegex { .. }) => assert_eq!(s, "{a=~\"(\"}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }
}

//! Label matchers: `=`, `!=`, `=~`, `!~`, with Prometheus's semantics.
//!
//! A series without the label matches as if the label's value were the empty string.
//! Regular expressions are fully anchored (`^(?s:RE)$`, so `.` also matches a newline, as
//! in Prometheus). Three shapes skip the regex engine: `.*` (anything), `.+` (anything
//! but the empty string) and alternations of plain literals such as `a|b|c` (a sorted
//! set lookup; these also select through the postings of each literal).

use std::fmt;

use regex::Regex;

use crate::Error;

/// The comparison a [`Matcher`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: the whole value matches the regex.
    Regex,
    /// `!~`: the whole value does not match the regex.
    NotRegex,
}

impl MatchOp {
    /// The operator as written in a selector.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

#[derive(Debug, Clone)]
enum Pattern {
    /// `=` / `!=`: compare with the value.
    Literal,
    /// `.*`.
    Any,
    /// `.+`.
    NonEmpty,
    /// An alternation of literals, sorted and deduplicated.
    Set(Vec<String>),
    /// Anything else, anchored.
    Regex(Regex),
}

/// One condition on a label.
///
/// ```
/// use ember_tsdb::{MatchOp, Matcher};
///
/// let m = Matcher::new(MatchOp::Regex, "code", "2..|404")?;
/// assert!(m.matches("200") && m.matches("404"));
/// assert!(!m.matches("4040")); // anchored
/// let set = Matcher::new(MatchOp::Regex, "job", "node|mysql")?;
/// assert_eq!(set.literal_values(), Some(&["mysql".to_string(), "node".to_string()][..]));
/// assert!(Matcher::new(MatchOp::NotRegex, "job", ".*")?.matches("") == false);
/// assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
/// assert_eq!(m.to_string(), "code=~\"2..|404\"");
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    pattern: Pattern,
}

impl Matcher {
    /// A matcher; for `=~` and `!~` the value is compiled as a regex.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, Error> {
        let name = name.into();
        let value = value.into();
        let pattern = match op {
            MatchOp::Equal | MatchOp::NotEqual => Pattern::Literal,
            MatchOp::Regex | MatchOp::NotRegex => compile(&value)?,
        };
        Ok(Self {
            name,
            op,
            value,
            pattern,
        })
    }

    /// `name="value"` (cannot fail).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            pattern: Pattern::Literal,
        }
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or regex as given.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value (`""` for a missing label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        let positive = match &self.pattern {
            Pattern::Literal => v == self.value,
            Pattern::Any => true,
            Pattern::NonEmpty => !v.is_empty(),
            Pattern::Set(set) => set.binary_search_by(|s| s.as_str().cmp(v)).is_ok(),
            Pattern::Regex(re) => re.is_match(v),
        };
        match self.op {
            MatchOp::Equal | MatchOp::Regex => positive,
            MatchOp::NotEqual | MatchOp::NotRegex => !positive,
        }
    }

    /// For a positive matcher that selects exactly a known set of values (`=` or an
    /// alternation of literals), those values, sorted.
    pub fn literal_values(&self) -> Option<&[String]> {
        match (&self.pattern, self.op) {
            (Pattern::Literal, MatchOp::Equal) => Some(std::slice::from_ref(&self.value)),
            (Pattern::Set(set), MatchOp::Regex) => Some(set),
            _ => None,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

fn compile(re: &str) -> Result<Pattern, Error> {
    match re {
        ".*" => return Ok(Pattern::Any),
        ".+" => return Ok(Pattern::NonEmpty),
        _ => {}
    }
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
    ];
    if !re.contains(META) {
        let mut set: Vec<String> = re.split('|').map(str::to_string).collect();
        set.sort_unstable();
        set.dedup();
        return Ok(Pattern::Set(set));
    }
    Regex::new(&format!("^(?s:{re})$"))
        .map(Pattern::Regex)
        .map_err(|e| Error::InvalidRegex {
            pattern: re.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "l", v).unwrap()
    }

    #[test]
    fn equality_treats_missing_as_empty() {
        assert!(m(MatchOp::Equal, "").matches(""));
        assert!(!m(MatchOp::Equal, "").matches("x"));
        assert!(m(MatchOp::NotEqual, "").matches("x"));
        assert!(!m(MatchOp::NotEqual, "x").matches("x"));
        assert!(m(MatchOp::NotEqual, "x").matches(""));
    }

    #[test]
    fn regexes_are_anchored_and_dot_matches_newline() {
        let r = m(MatchOp::Regex, "fo+");
        assert!(r.matches("foo") && !r.matches("xfoo") && !r.matches("foox"));
        assert!(m(MatchOp::Regex, "a.b").matches("a\nb"));
        assert!(m(MatchOp::Regex, "a|b.*").matches("bcd"));
        assert!(!m(MatchOp::Regex, "a|b.*").matches("ab"));
        assert!(m(MatchOp::NotRegex, "fo+").matches("bar"));
        assert!(!m(MatchOp::NotRegex, "fo+").matches("foo"));
        assert!(m(MatchOp::Regex, "(?i)FOO").matches("foo"));
        assert!(m(MatchOp::Regex, "\\d+").matches("123"));
    }

    #[test]
    fn fast_paths_agree_with_the_regex_engine() {
        let values = ["", "a", "b", "c", "ab", "a|b", "\n", "x\ny"];
        for pat in [".*", ".+", "a|b|c", "a", "", "a|", "|", "b|a|b"] {
            let re = Regex::new(&format!("^(?s:{pat})$")).unwrap();
            for op in [MatchOp::Regex, MatchOp::NotRegex] {
                let fast = m(op, pat);
                for v in values {
                    let want = re.is_match(v) == (op == MatchOp::Regex);
                    assert_eq!(fast.matches(v), want, "{pat} {op:?} {v:?}");
                }
            }
        }
        assert!(matches!(m(MatchOp::Regex, "a|b").pattern, Pattern::Set(_)));
        assert!(matches!(m(MatchOp::Regex, ".*").pattern, Pattern::Any));
        assert!(matches!(m(MatchOp::Regex, ".+").pattern, Pattern::NonEmpty));
        assert!(matches!(m(MatchOp::Regex, "a.").pattern, Pattern::Regex(_)));
    }

    #[test]
    fn literal_values_only_for_positive_exact_matchers() {
        assert_eq!(
            m(MatchOp::Equal, "x").literal_values(),
            Some(&["x".to_string()][..])
        );
        assert_eq!(m(MatchOp::NotEqual, "x").literal_values(), None);
        assert_eq!(m(MatchOp::NotRegex, "a|b").literal_values(), None);
        assert_eq!(m(MatchOp::Regex, "a.").literal_values(), None);
        assert_eq!(
            m(MatchOp::Regex, "b|a").literal_values(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
    }

    #[test]
    fn bad_regex_is_a_typed_error() {
        let e = Matcher::new(MatchOp::Regex, "l", "a(").unwrap_err();
        assert!(matches!(e, Error::InvalidRegex { .. }), "{e}");
    }
}

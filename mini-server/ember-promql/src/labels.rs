//! Label sets and label matchers.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use regex::Regex;

use crate::error::{Error, Result};

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: name and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value.
    pub value: String,
}

/// An immutable label set, sorted by name, cheap to clone (shared), with its hash
/// computed once so that maps keyed by label sets do not rehash strings.
///
/// ```
/// use ember_promql::Labels;
/// let l = Labels::from_pairs(&[("job", "api"), ("__name__", "up")]);
/// assert_eq!(l.to_string(), r#"up{job="api"}"#);
/// assert_eq!(l.get("job"), Some("api"));
/// ```
#[derive(Clone)]
pub struct Labels(Arc<Inner>);

struct Inner {
    hash: u64,
    labels: Box<[Label]>,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.labels == other.0.labels)
    }
}

impl Eq for Labels {}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.labels.cmp(&other.0.labels)
    }
}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl Default for Labels {
    fn default() -> Self {
        Self::empty()
    }
}

/// Hasher for maps keyed by [`Labels`]: passes the precomputed hash through.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // One u64 passes through unchanged; several are mixed.
        self.0 = self.0.rotate_left(23) ^ v;
    }
}

/// A hash map keyed by label sets, hashing with their precomputed hash.
pub(crate) type LabelMap<V> =
    std::collections::HashMap<Labels, V, std::hash::BuildHasherDefault<PassThroughHasher>>;

/// A hash set of label sets.
pub(crate) type LabelSet =
    std::collections::HashSet<Labels, std::hash::BuildHasherDefault<PassThroughHasher>>;

fn hash_labels(labels: &[Label]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for l in labels {
        h.write(l.name.as_bytes());
        h.write_u8(0xff);
        h.write(l.value.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

impl Labels {
    fn from_sorted(labels: Vec<Label>) -> Self {
        Labels(Arc::new(Inner {
            hash: hash_labels(&labels),
            labels: labels.into_boxed_slice(),
        }))
    }

    /// The empty label set.
    pub fn empty() -> Self {
        Self::from_sorted(Vec::new())
    }

    /// Builds a label set from labels in any order; empty values are dropped and the
    /// last of repeated names wins.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        // Keep the last of equal names.
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(prev) if prev.name == l.name => *prev = l,
                _ => out.push(l),
            }
        }
        Self::from_sorted(out)
    }

    /// Builds a label set from `(name, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::new(
            pairs
                .iter()
                .map(|(n, v)| Label {
                    name: (*n).to_string(),
                    value: (*v).to_string(),
                })
                .collect(),
        )
    }

    /// The labels, sorted by name.
    pub fn as_slice(&self) -> &[Label] {
        &self.0.labels
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.labels.len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.labels.is_empty()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        let l = &self.0.labels;
        l.binary_search_by(|x| x.name.as_str().cmp(name))
            .ok()
            .map(|i| l[i].value.as_str())
    }

    /// The value of label `name`, or "" when absent (Prometheus's `Labels.Get`).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether a metric name is present.
    pub fn has_name(&self) -> bool {
        self.get(METRIC_NAME).is_some()
    }

    /// This set without `__name__` (shares storage when there is none).
    pub fn without_name(&self) -> Labels {
        if !self.has_name() {
            return self.clone();
        }
        self.filter(|n| n != METRIC_NAME)
    }

    /// This set keeping only labels for which `keep` is true.
    pub fn filter(&self, mut keep: impl FnMut(&str) -> bool) -> Labels {
        Self::from_sorted(
            self.0
                .labels
                .iter()
                .filter(|l| keep(&l.name))
                .cloned()
                .collect(),
        )
    }

    /// This set with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut v: Vec<Label> = self
            .0
            .labels
            .iter()
            .filter(|l| l.name != name)
            .cloned()
            .collect();
        if !value.is_empty() {
            v.push(Label {
                name: name.to_string(),
                value: value.to_string(),
            });
            v.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Self::from_sorted(v)
    }

    /// A 64-bit hash of the label set.
    pub fn hash_u64(&self) -> u64 {
        self.0.hash
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get(METRIC_NAME);
        if let Some(n) = name {
            f.write_str(n)?;
        }
        let rest: Vec<&Label> = self
            .0
            .labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .collect();
        if rest.is_empty() && name.is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, l) in rest.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// How a [`LabelMatcher`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored regex)
    Regex,
    /// `!~` (anchored regex)
    NotRegex,
}

/// A label matcher; regexes are anchored as in Prometheus.
///
/// ```
/// use ember_promql::{LabelMatcher, MatchOp};
/// let m = LabelMatcher::new(MatchOp::Regex, "job", "api|web").unwrap();
/// assert!(m.matches("api"));
/// assert!(!m.matches("apis"));
/// ```
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or regex source.
    pub value: String,
    re: Option<Regex>,
}

impl LabelMatcher {
    /// Builds a matcher; fails with `bad_data` on an invalid regex.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Self> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| Error::BadData(format!("invalid regular expression: {e}")))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether the matcher matches the empty string (absent label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_drop_empty_and_keep_last_duplicate() {
        let l = Labels::new(vec![
            Label {
                name: "b".into(),
                value: "1".into(),
            },
            Label {
                name: "a".into(),
                value: "".into(),
            },
            Label {
                name: "b".into(),
                value: "2".into(),
            },
            Label {
                name: "__name__".into(),
                value: "m".into(),
            },
        ]);
        assert_eq!(l.to_string(), r#"m{b="2"}"#);
        assert_eq!(l.len(), 2);
        assert_eq!(l.without_name().to_string(), r#"{b="2"}"#);
        assert_eq!(l.with("c", "x").with("b", "").to_string(), r#"m{c="x"}"#);
        assert_eq!(Labels::empty().to_string(), "{}");
    }

    #[test]
    fn equal_sets_hash_and_compare_equal() {
        let a = Labels::from_pairs(&[("x", "1"), ("y", "2")]);
        let b = Labels::from_pairs(&[("y", "2"), ("x", "1")]);
        assert_eq!(a, b);
        assert_eq!(a.hash_u64(), b.hash_u64());
        let mut m: LabelMap<u32> = LabelMap::default();
        m.insert(a.clone(), 1);
        assert_eq!(m.get(&b), Some(&1));
        // Name/value boundaries are part of the hash: {ab="c"} differs from {a="bc"}.
        let c = Labels::from_pairs(&[("ab", "c")]);
        let d = Labels::from_pairs(&[("a", "bc")]);
        assert_ne!(c, d);
        assert_ne!(c.hash_u64(), d.hash_u64());
        // Ordering compares label by label, as Prometheus's labels.Compare.
        let e = Labels::from_pairs(&[("x", "1")]);
        assert!(e < a);
    }

    #[test]
    fn regex_matchers_are_anchored() {
        let m = LabelMatcher::new(MatchOp::Regex, "a", "b.*").expect("valid regex");
        assert!(m.matches("bcd"));
        assert!(!m.matches("abc"));
        let n = LabelMatcher::new(MatchOp::NotRegex, "a", "").expect("valid regex");
        assert!(!n.matches_empty());
        assert!(LabelMatcher::new(MatchOp::Regex, "a", "(").is_err());
    }
}

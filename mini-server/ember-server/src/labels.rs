//! A label set as Prometheus's `labels.Labels`: names sorted, unique, no empty values.

use std::collections::BTreeMap;
use std::fmt;

/// A set of labels, sorted by name; setting a label to the empty string removes it, as
/// Prometheus's `labels.Builder` does.
///
/// ```
/// use ember_server::Labels;
/// let mut l = Labels::from_pairs([("job", "node"), ("a", "1")]);
/// l.set("a", "");
/// assert_eq!(l.to_string(), r#"{job="node"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    /// The empty label set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from name/value pairs; later pairs win, empty values are skipped.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut l = Self::new();
        for (n, v) in pairs {
            l.set(n, v);
        }
        l
    }

    /// The value of `name`, or `""` when absent (as Go's `Labels.Get`).
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        if value.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, value);
        }
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// Keeps only the labels for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|n, v| keep(n, v));
    }

    /// Iterates over `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Labels {
    /// Formats as Prometheus does: `{a="1", b="2"}` with Go-quoted values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}=\"")?;
            for c in v.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// Whether `name` is a valid label name in Prometheus 2.42: `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// ```
/// assert!(ember_server::is_valid_label_name("__address__"));
/// assert!(!ember_server::is_valid_label_name("0a"));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// assert!(ember_server::is_valid_metric_name("job:up:sum"));
/// assert!(!ember_server::is_valid_metric_name("a-b"));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// A label name checked while it is read, so YAML errors point at it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LabelName(pub(crate) String);

impl std::str::FromStr for LabelName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if is_valid_label_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("{s:?} is not a valid label name"))
        }
    }
}

impl<'de> serde::Deserialize<'de> for LabelName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(crate::duration::ParseVisitor(
            std::marker::PhantomData,
            "a label name",
        ))
    }
}

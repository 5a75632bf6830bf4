//! Label sets: the identity of a series.

use crate::Error;

/// A series' labels as `(name, value)` pairs sorted by name, names unique.
///
/// ```
/// use ember_tsdb::Labels;
///
/// let l = Labels::new([("job", "node"), ("__name__", "up")])?;
/// assert_eq!(l.get("__name__"), Some("up"));
/// assert_eq!(l.pairs()[0].0, "__name__"); // sorted
/// assert!(Labels::new([("a", "1"), ("a", "2")]).is_err());
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Sorts the pairs by name; a name given twice is an error.
    pub fn new<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, Error> {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::DuplicateLabel(w[0].0.clone()));
        }
        Ok(Self(v))
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }
}

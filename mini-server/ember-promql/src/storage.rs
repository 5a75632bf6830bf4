//! The read interface the engine queries ([`Queryable`]) and an in-memory store.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::labels::{LabelMatcher, Labels};

/// Bit pattern of Prometheus's staleness marker, a NaN that marks a series as gone.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the staleness marker (and not any other NaN).
///
/// ```
/// use ember_promql::{is_stale_nan, STALE_NAN};
/// assert!(is_stale_nan(STALE_NAN));
/// assert!(!is_stale_nan(f64::NAN));
/// ```
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One stored sample: timestamp in milliseconds and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// Value (may be [`STALE_NAN`]).
    pub v: f64,
}

/// A series found by [`Queryable::select`]: its labels and its samples in time order.
pub struct SelectedSeries<'a> {
    /// The series' labels.
    pub labels: Labels,
    /// Samples with `mint <= t <= maxt`, ascending by time (a store may yield more; the
    /// engine filters).
    pub samples: Box<dyn Iterator<Item = Sample> + 'a>,
}

impl std::fmt::Debug for SelectedSeries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedSeries")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// What the engine needs from a store.
pub trait Queryable {
    /// The series matching all `matchers` that have samples in `[mint, maxt]`
    /// (milliseconds), sorted by labels.
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries<'_>>>;
}

/// An in-memory store: series in a sorted map, samples in vectors.
///
/// ```
/// use ember_promql::{Labels, MemStorage};
/// let mut s = MemStorage::new();
/// s.append(&Labels::from_pairs(&[("__name__", "up")]), 0, 1.0);
/// assert_eq!(s.num_series(), 1);
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    series: BTreeMap<Labels, Vec<Sample>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; a sample at an existing timestamp replaces the old one.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        let s = self.series.entry(labels.clone()).or_default();
        match s.last() {
            Some(last) if last.t < t => s.push(Sample { t, v }),
            None => s.push(Sample { t, v }),
            _ => match s.binary_search_by(|x| x.t.cmp(&t)) {
                Ok(i) => s[i].v = v,
                Err(i) => s.insert(i, Sample { t, v }),
            },
        }
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Number of series stored.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }
}

impl Queryable for MemStorage {
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries<'_>>> {
        let mut out = Vec::new();
        for (labels, samples) in &self.series {
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get_or_empty(&m.name)))
            {
                continue;
            }
            let lo = samples.partition_point(|s| s.t < mint);
            let hi = samples.partition_point(|s| s.t <= maxt);
            if lo >= hi {
                continue;
            }
            out.push(SelectedSeries {
                labels: labels.clone(),
                samples: Box::new(samples[lo..hi].iter().copied()),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::MatchOp;

    #[test]
    fn appends_keep_time_order_and_replace_equal_timestamps() {
        let mut s = MemStorage::new();
        let l = Labels::from_pairs(&[("__name__", "a")]);
        s.append(&l, 20, 2.0);
        s.append(&l, 10, 1.0);
        s.append(&l, 20, 3.0);
        s.append(&l, 30, STALE_NAN);
        let m = [LabelMatcher::new(MatchOp::Equal, "__name__", "a").expect("matcher")];
        let got: Vec<Sample> = s
            .select(&m, 0, 25)
            .expect("select")
            .remove(0)
            .samples
            .collect();
        assert_eq!(
            got,
            vec![Sample { t: 10, v: 1.0 }, Sample { t: 20, v: 3.0 }]
        );
        let got: Vec<Sample> = s
            .select(&m, 25, 40)
            .expect("select")
            .remove(0)
            .samples
            .collect();
        assert!(is_stale_nan(got[0].v));
        assert!(s.select(&m, 31, 40).expect("select").is_empty());
    }

    #[test]
    fn select_matches_absent_labels_as_empty() {
        let mut s = MemStorage::new();
        s.append(
            &Labels::from_pairs(&[("__name__", "a"), ("job", "x")]),
            0,
            1.0,
        );
        s.append(&Labels::from_pairs(&[("__name__", "a")]), 0, 1.0);
        let m = [LabelMatcher::new(MatchOp::Equal, "job", "").expect("matcher")];
        let got = s.select(&m, 0, 0).expect("select");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels.to_string(), "a");
    }
}

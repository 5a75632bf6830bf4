//! Queries over blocks and the head: select series by matchers over a time range, label
//! names and values, and a merge across several sources.
//!
//! A [`Querier`] returns [`Series`] sorted by label set, each holding the chunks that
//! overlap the range; [`Series::iter`] decodes them lazily, merging overlapping chunks by
//! timestamp (on equal timestamps the chunk of the source listed first wins) and keeping
//! only samples in `mint..=maxt`. Values come back bit for bit, staleness markers
//! included.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::block::Block;
use crate::chunk::{Chunk, ChunkIter};
use crate::head::Head;
use crate::labels::Labels;
use crate::matcher::Matcher;

/// A chunk and the time range it covers (an upper bound for `max_time` is allowed).
#[derive(Debug, Clone)]
pub struct TimedChunk {
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp, or a bound above it.
    pub max_time: i64,
    /// The chunk.
    pub chunk: Chunk,
}

/// A selected series: labels and the chunks overlapping the query range.
#[derive(Debug, Clone)]
pub struct Series {
    labels: Labels,
    chunks: Vec<TimedChunk>,
    mint: i64,
    maxt: i64,
}

impl Series {
    /// A series from chunks (any order) and the inclusive range to return.
    pub fn new(labels: Labels, mut chunks: Vec<TimedChunk>, mint: i64, maxt: i64) -> Self {
        // Stable: among chunks starting together, the earlier source keeps priority.
        chunks.sort_by_key(|c| c.min_time);
        Self {
            labels,
            chunks,
            mint,
            maxt,
        }
    }

    /// The series' labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The chunks, sorted by start time.
    pub fn chunks(&self) -> &[TimedChunk] {
        &self.chunks
    }

    /// Whether at least one sample is in the query range (chunks may overlap the range
    /// without one: sources only return series for which this holds).
    pub fn has_samples(&self) -> bool {
        self.iter().next().is_some()
    }

    /// The samples in the query range, in time order, without duplicate timestamps.
    pub fn iter(&self) -> SampleIter<'_> {
        SampleIter {
            chunks: &self.chunks,
            next: 0,
            next_min: self.chunks.first().map_or(i64::MAX, |c| c.min_time),
            active: Vec::new(),
            mint: self.mint,
            maxt: self.maxt,
        }
    }
}

/// Iterator over a [`Series`]' samples.
#[derive(Debug)]
pub struct SampleIter<'a> {
    chunks: &'a [TimedChunk],
    next: usize,
    /// `min_time` of `chunks[next]`, or `i64::MAX` past the end.
    next_min: i64,
    active: Vec<(Option<(i64, f64)>, ChunkIter<'a>)>,
    mint: i64,
    maxt: i64,
}

impl SampleIter<'_> {
    fn activate(&mut self) {
        let chunks = self.chunks;
        let c = &chunks[self.next];
        self.set_next(self.next + 1);
        let mut it = c.chunk.iter();
        if let Some(s) = it.next() {
            self.active.push((Some(s), it));
        }
    }

    fn set_next(&mut self, next: usize) {
        self.next = next;
        self.next_min = self.chunks.get(next).map_or(i64::MAX, |c| c.min_time);
    }

    fn min_peek(&self) -> Option<i64> {
        self.active.iter().filter_map(|a| a.0.map(|s| s.0)).min()
    }
}

impl Iterator for SampleIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        // Fast path: one chunk being read and the next one starting later.
        if let [(Some(s), it)] = self.active.as_mut_slice() {
            let s = *s;
            if s.0 < self.next_min && s.0 >= self.mint && s.0 <= self.maxt {
                match it.next() {
                    Some(n) => self.active[0].0 = Some(n),
                    None => self.active.clear(),
                }
                return Some(s);
            }
        }
        loop {
            while self.active.is_empty() {
                while self
                    .chunks
                    .get(self.next)
                    .is_some_and(|c| c.max_time < self.mint)
                {
                    self.set_next(self.next + 1);
                }
                match self.chunks.get(self.next) {
                    Some(c) if c.min_time <= self.maxt => self.activate(),
                    _ => return None,
                }
            }
            let mut min_t = self.min_peek()?;
            while self
                .chunks
                .get(self.next)
                .is_some_and(|c| c.min_time <= min_t)
            {
                self.activate();
                min_t = self.min_peek()?;
            }
            let mut out = None;
            for (peek, it) in &mut self.active {
                if let Some(s) = *peek {
                    if s.0 == min_t {
                        out.get_or_insert(s);
                        *peek = it.next();
                    }
                }
            }
            self.active.retain(|a| a.0.is_some());
            if min_t > self.maxt {
                self.active.clear();
                self.set_next(self.chunks.len());
                return None;
            }
            if min_t >= self.mint {
                return out;
            }
        }
    }
}

/// Something that answers label-matcher queries: a block, the head, or a merge of them.
///
/// ```
/// use ember_tsdb::{Head, HeadOptions, Labels, Matcher, MatchOp, Querier};
///
/// let mut head = Head::new(HeadOptions::default());
/// for (job, v) in [("node", 1.0), ("mysql", 0.0)] {
///     let id = head.series_id(Labels::new([("__name__", "up"), ("job", job)])?);
///     head.append(id, 1_000, v)?;
/// }
/// let sel = head.select(&[Matcher::new(MatchOp::Regex, "job", "n.*")?], 0, 2_000)?;
/// assert_eq!(sel.len(), 1);
/// assert_eq!(sel[0].iter().collect::<Vec<_>>(), [(1_000, 1.0)]);
/// assert_eq!(head.label_values("job", &[])?, ["mysql", "node"]);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub trait Querier {
    /// Series matching every matcher with at least one sample in `mint..=maxt`, sorted
    /// by labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error>;

    /// Label names of the series matching every matcher (all series if none), sorted.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error>;

    /// Values of label `name` on the series matching every matcher, sorted.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error>;
}

fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
}

impl Block {
    /// Positions of the series matching every matcher, ascending (so sorted by labels).
    fn matching(&self, matchers: &[Matcher]) -> Vec<usize> {
        let index = self.index();
        // Narrow with postings: a positive matcher that does not match "" needs the label,
        // so only series in the union of its matching values' postings can match.
        let mut candidates: Option<BTreeSet<u32>> = None;
        for m in matchers.iter().filter(|m| !m.matches("")) {
            let mut union = BTreeSet::new();
            match m.literal_values() {
                Some(values) => {
                    for v in values {
                        union.extend(index.postings(m.name(), v).iter().copied());
                    }
                }
                None => {
                    for (v, refs) in index.postings.get(m.name()).into_iter().flatten() {
                        if m.matches(v) {
                            union.extend(refs.iter().copied());
                        }
                    }
                }
            }
            candidates = Some(match candidates {
                None => union,
                Some(c) => c.intersection(&union).copied().collect(),
            });
        }
        let check = |i: usize| {
            self.series(i)
                .is_some_and(|(labels, _)| matches_all(labels, matchers))
        };
        match candidates {
            Some(c) => c
                .into_iter()
                .map(|i| i as usize)
                .filter(|&i| check(i))
                .collect(),
            None => (0..self.num_series()).filter(|&i| check(i)).collect(),
        }
    }
}

impl Querier for Block {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        let mut out = Vec::new();
        if mint > maxt || self.meta().max_time <= mint || self.meta().min_time > maxt {
            return Ok(out);
        }
        for i in self.matching(matchers) {
            let Some((labels, metas)) = self.series(i) else {
                continue;
            };
            let mut chunks = Vec::new();
            for m in metas
                .iter()
                .filter(|m| m.max_time >= mint && m.min_time <= maxt)
            {
                chunks.push(TimedChunk {
                    min_time: m.min_time,
                    max_time: m.max_time,
                    chunk: self.read_chunk(m)?,
                });
            }
            let series = Series::new(labels.clone(), chunks, mint, maxt);
            if series.has_samples() {
                out.push(series);
            }
        }
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        if matchers.is_empty() {
            return Ok(self.index().postings.keys().cloned().collect());
        }
        let mut names = BTreeSet::new();
        for i in self.matching(matchers) {
            if let Some((labels, _)) = self.series(i) {
                names.extend(labels.pairs().iter().map(|(n, _)| n.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        if matchers.is_empty() {
            let values = self.index().postings.get(name).into_iter().flatten();
            return Ok(values.map(|(v, _)| v.clone()).collect());
        }
        let mut values = BTreeSet::new();
        for i in self.matching(matchers) {
            if let Some(v) = self.series(i).and_then(|(l, _)| l.get(name)) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }
}

impl Querier for Head {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        let mut out = Vec::new();
        if mint > maxt {
            return Ok(out);
        }
        for (_, labels, closed, open) in self.series_chunks() {
            if !matches_all(&labels, matchers) {
                continue;
            }
            let open_chunk = Chunk::from_bytes(open.bytes().to_vec())?;
            let all = closed.iter().chain(std::iter::once(&open_chunk));
            let starts: Vec<Option<i64>> =
                all.clone().map(|c| c.iter().next().map(|s| s.0)).collect();
            let mut chunks = Vec::new();
            for (k, c) in all.enumerate() {
                let Some(min_time) = starts[k] else { continue };
                // Head chunks are in order and disjoint: a chunk ends before the next
                // starts; the open one ends at the series' last sample.
                let max_time = match starts.get(k + 1).copied().flatten() {
                    Some(next) => next - 1,
                    None => open.last_timestamp().unwrap_or(i64::MAX),
                };
                if max_time >= mint && min_time <= maxt {
                    chunks.push(TimedChunk {
                        min_time,
                        max_time,
                        chunk: c.clone(),
                    });
                }
            }
            let series = Series::new(labels, chunks, mint, maxt);
            if series.has_samples() {
                out.push(series);
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let mut names = BTreeSet::new();
        for (_, labels, _, _) in self.series_chunks() {
            if matches_all(&labels, matchers) {
                names.extend(labels.pairs().iter().map(|(n, _)| n.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let mut values = BTreeSet::new();
        for (_, labels, _, _) in self.series_chunks() {
            if matches_all(&labels, matchers) {
                if let Some(v) = labels.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}

/// Several sources queried as one: series with equal labels are merged, and on equal
/// timestamps the sample of the source listed first is kept.
///
/// ```
/// use ember_tsdb::{Head, HeadOptions, Labels, MergeQuerier, Querier};
///
/// let up = Labels::new([("__name__", "up")])?;
/// let mut a = Head::new(HeadOptions::default());
/// let mut b = Head::new(HeadOptions::default());
/// let (ia, ib) = (a.series_id(up.clone()), b.series_id(up.clone()));
/// a.append(ia, 10, 1.0)?;
/// b.append(ib, 10, 9.0)?;
/// b.append(ib, 20, 2.0)?;
/// let merged = MergeQuerier::new(vec![&a as &dyn Querier, &b]);
/// let sel = merged.select(&[], i64::MIN, i64::MAX)?;
/// assert_eq!(sel[0].iter().collect::<Vec<_>>(), [(10, 1.0), (20, 2.0)]);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Default)]
pub struct MergeQuerier<'a> {
    sources: Vec<&'a dyn Querier>,
}

impl std::fmt::Debug for MergeQuerier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeQuerier")
            .field("sources", &self.sources.len())
            .finish()
    }
}

impl<'a> MergeQuerier<'a> {
    /// A querier over `sources`, in priority order.
    pub fn new(sources: Vec<&'a dyn Querier>) -> Self {
        Self { sources }
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        let mut merged: BTreeMap<Labels, Vec<TimedChunk>> = BTreeMap::new();
        for s in &self.sources {
            for series in s.select(matchers, mint, maxt)? {
                merged
                    .entry(series.labels)
                    .or_default()
                    .extend(series.chunks);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, chunks)| Series::new(labels, chunks, mint, maxt))
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let mut all = BTreeSet::new();
        for s in &self.sources {
            all.extend(s.label_names(matchers)?);
        }
        Ok(all.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let mut all = BTreeSet::new();
        for s in &self.sources {
            all.extend(s.label_values(name, matchers)?);
        }
        Ok(all.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;

//! The head: recent samples of every series, in memory, in compressed chunks.
//!
//! Series are keyed by their sorted [`Labels`] (stored once; the lookup table holds ids
//! and hashes only) and get small integer ids, reused after a series is removed by a
//! [`Head::cut`]. Each series has an open XOR [`ChunkAppender`]; when it holds
//! [`HeadOptions::chunk_samples`] samples it is cut and re-encoded with
//! [`Chunk::encode_quick`] (one encode, the encoding chosen from the samples' statistics).
//!
//! Ingestion rules follow Prometheus's defaults: a sample before the head's minimum valid
//! time (set by the last [`Head::cut`]) is rejected as out of bounds; one older than the
//! series' last sample is rejected as out of order; one at the same timestamp with the
//! same value bits is a no-op; one at the same timestamp with a different value is
//! rejected as a duplicate. Each outcome is counted in [`HeadStats`].
//!
//! The head knows nothing of the WAL; [`crate::Db`] logs to the WAL and replays into the
//! head.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;

use crate::Error;
use crate::chunk::{Chunk, ChunkAppender, ChunkIter};
use crate::labels::Labels;
use crate::record::Metadata;

/// WAL records naming a series slot at or past this are treated as corrupt (a live head
/// reuses slots, so its slots stay below the most series it held at once).
pub const MAX_SERIES: u64 = 1 << 24;

/// Id of a series in a [`Head`]; the same number names the series in the WAL.
///
/// The low 32 bits are a slot, reused after the series in it is removed by a cut; the
/// high 32 bits count the slot's reuses, so an id cached before a cut (a scrape loop's
/// cache) names no series afterwards ([`Error::UnknownSeries`]) rather than another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u64);

impl SeriesId {
    fn slot(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    /// How many times the slot was reused before this series.
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    fn new(slot: usize, generation: u32) -> SeriesId {
        SeriesId((u64::from(generation) << 32) | slot as u64)
    }

    /// The id the slot gets for its next series.
    fn next_generation(self) -> SeriesId {
        let generation = ((self.0 >> 32) as u32).wrapping_add(1);
        SeriesId((u64::from(generation) << 32) | (self.0 & 0xffff_ffff))
    }
}

/// Head settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadOptions {
    /// Samples per chunk before it is cut (Prometheus uses 120).
    pub chunk_samples: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { chunk_samples: 120 }
    }
}

/// Counters of what the head accepted and rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series created.
    pub series_created: u64,
    /// Series removed (by a cut that left them without samples, or a rolled-back batch).
    pub series_removed: u64,
    /// Samples stored.
    pub samples_appended: u64,
    /// Samples rejected: older than the series' last sample.
    pub out_of_order: u64,
    /// Samples rejected: before the head's minimum valid time (the last cut).
    pub out_of_bounds: u64,
    /// Samples rejected: same timestamp as the last sample, different value.
    pub duplicates: u64,
    /// Samples ignored: same timestamp and value bits as the last sample.
    pub identical_ignored: u64,
    /// Chunks started (each series' open chunk counts once it holds a sample).
    pub chunks_created: u64,
    /// Chunks dropped from memory (handed out by a cut, or re-encoded by one).
    pub chunks_removed: u64,
}

/// What a [`Head::cut`] handed out and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutStats {
    /// Series that had samples before the cut time.
    pub series_handed_out: u64,
    /// Chunks given to the sink.
    pub chunks_handed_out: u64,
    /// Samples in those chunks.
    pub samples_handed_out: u64,
    /// Series removed because no sample at or after the cut time was left.
    pub series_removed: u64,
}

/// Receives what a [`Head::cut`] drops from memory, so it can be persisted (as a block)
/// first. Called once per series that has samples before the cut time, with those
/// samples as chunks in time order (chunks straddling the cut time are split and
/// re-encoded, so every sample handed out is before it).
///
/// An error stops the cut: series already handed out stay cut, the others stay whole,
/// the minimum valid time is raised to the cut time all the same, and
/// [`crate::Db::cut`] writes no checkpoint, so the WAL still holds everything (after a
/// restart the cut series are whole again, and a later cut hands them out again).
///
/// Closures `FnMut(&Labels, Option<&Metadata>, &[Chunk]) -> Result<(), Error>` are sinks.
pub trait BlockSink {
    /// One series' samples before the cut time.
    fn write_series(
        &mut self,
        labels: &Labels,
        metadata: Option<&Metadata>,
        chunks: &[Chunk],
    ) -> Result<(), Error>;
}

impl<F> BlockSink for F
where
    F: FnMut(&Labels, Option<&Metadata>, &[Chunk]) -> Result<(), Error>,
{
    fn write_series(
        &mut self,
        labels: &Labels,
        metadata: Option<&Metadata>,
        chunks: &[Chunk],
    ) -> Result<(), Error> {
        self(labels, metadata, chunks)
    }
}

/// Label names and values of the head's series, each held once however many series
/// use it, with a count of its uses; a series holds symbol numbers.
#[derive(Debug, Default)]
struct Symbols {
    /// By symbol number; empty for free numbers.
    strings: Vec<Box<str>>,
    /// Uses of each symbol (pairs of series naming it).
    refs: Vec<u32>,
    /// Numbers free for reuse.
    free: Vec<u32>,
    /// Symbol numbers by string hash.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Symbols {
    /// The number of `s`, one more use of it.
    fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        let strings = &self.strings;
        if let Some(&id) = self.index.find(hash, |&id| &*strings[id as usize] == s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = s.into();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(s.into());
                self.refs.push(1);
                (self.strings.len() - 1) as u32
            }
        };
        let (strings, hasher) = (&self.strings, &self.hasher);
        self.index
            .insert_unique(hash, id, |&j| hasher.hash_one(&*strings[j as usize]));
        id
    }

    /// One use of symbol `id` fewer; the symbol goes with its last use.
    fn release(&mut self, id: u32) {
        let i = id as usize;
        let Some(refs) = self.refs.get_mut(i) else {
            return;
        };
        *refs = refs.saturating_sub(1);
        if *refs > 0 {
            return;
        }
        let hash = self.hasher.hash_one(&*self.strings[i]);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == id) {
            entry.remove();
        }
        self.strings[i] = Box::default();
        self.free.push(id);
    }

    fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }
}

/// A label set as symbol numbers: name, value, name, value, ... in name order. A series'
/// labels cost 8 bytes a pair, the strings being shared by all series (a scrape target's
/// series share their job, instance and most names and values).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackedLabels(Box<[u32]>);

impl PackedLabels {
    fn new(labels: &Labels, symbols: &mut Symbols) -> Self {
        let mut ids = Vec::with_capacity(labels.pairs().len() * 2);
        for (n, v) in labels.pairs() {
            ids.push(symbols.intern(n));
            ids.push(symbols.intern(v));
        }
        Self(ids.into_boxed_slice())
    }

    /// Gives its symbols back (the series is removed).
    fn release(&self, symbols: &mut Symbols) {
        for &id in &self.0 {
            symbols.release(id);
        }
    }

    fn pairs<'a>(&'a self, symbols: &'a Symbols) -> LabelPairs<'a> {
        LabelPairs {
            ids: &self.0,
            symbols,
        }
    }

    fn get<'a>(&'a self, symbols: &'a Symbols, name: &str) -> Option<&'a str> {
        self.pairs(symbols)
            .find(|&(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The labels (names were unique when packed, so this does not fail).
    fn to_labels(&self, symbols: &Symbols) -> Result<Labels, Error> {
        Labels::new(self.pairs(symbols))
    }

    fn eq_labels(&self, symbols: &Symbols, labels: &Labels) -> bool {
        self.pairs(symbols)
            .eq(labels.pairs().iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

/// The `(name, value)` pairs of a head series, in name order, borrowed from the head.
#[derive(Debug, Clone)]
pub struct LabelPairs<'a> {
    ids: &'a [u32],
    symbols: &'a Symbols,
}

impl<'a> Iterator for LabelPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let [n, v, rest @ ..] = self.ids else {
            return None;
        };
        self.ids = rest;
        Some((self.symbols.get(*n), self.symbols.get(*v)))
    }
}

/// Hash of a label set, the same whether packed or not.
fn hash_pairs<'a>(
    hasher: &DefaultHashBuilder,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> u64 {
    let mut h = hasher.build_hasher();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

fn hash_labels(hasher: &DefaultHashBuilder, labels: &Labels) -> u64 {
    hash_pairs(
        hasher,
        labels.pairs().iter().map(|(n, v)| (n.as_str(), v.as_str())),
    )
}

/// A series in its slot of the head (the slot index is the low half of its id).
#[derive(Debug)]
struct MemSeries {
    labels: PackedLabels,
    /// Closed chunks, in time order (a boxed slice: one is added per `chunk_samples`
    /// samples, and most series hold none or few).
    chunks: Box<[Chunk]>,
    open: ChunkAppender,
    /// Last accepted sample's timestamp and value bits (pending ones of a batch
    /// included); meaningful when `has_last`.
    last_t: i64,
    last_v: u64,
    /// The high half of the series' id.
    generation: u32,
    has_last: bool,
    /// Shared with every series of equal metadata (interned by [`MetadataTable`]).
    meta: Option<Arc<Metadata>>,
}

impl MemSeries {
    fn new(generation: u32, labels: &Labels, symbols: &mut Symbols) -> Self {
        Self {
            labels: PackedLabels::new(labels, symbols),
            chunks: Box::default(),
            open: new_open(),
            last_t: 0,
            last_v: 0,
            generation,
            has_last: false,
            meta: None,
        }
    }

    /// The series' id, given its slot.
    fn id(&self, slot: usize) -> SeriesId {
        SeriesId::new(slot, self.generation)
    }

    /// Last accepted sample `(t, value bits)`, pending ones of a batch included.
    fn last(&self) -> Option<(i64, u64)> {
        self.has_last.then_some((self.last_t, self.last_v))
    }

    fn set_last(&mut self, last: Option<(i64, u64)>) {
        self.has_last = last.is_some();
        (self.last_t, self.last_v) = last.unwrap_or_default();
    }

    /// Adds a closed chunk after the others (the slice is reallocated to the exact size).
    fn push_chunk(&mut self, c: Chunk) {
        let mut chunks = std::mem::take(&mut self.chunks).into_vec();
        chunks.reserve_exact(1);
        chunks.push(c);
        self.chunks = chunks.into_boxed_slice();
    }

    fn num_chunks(&self) -> usize {
        self.chunks.len() + usize::from(!self.open.is_empty())
    }

    /// The last stored sample (pending ones excluded).
    fn last_stored(&self) -> Option<(i64, u64)> {
        let from = |it: ChunkIter<'_>| it.last().map(|(t, v)| (t, v.to_bits()));
        from(self.open.iter()).or_else(|| self.chunks.last().and_then(|c| from(c.iter())))
    }
}

/// Series per page of [`Slots`].
const PAGE: usize = 256;

/// The head's series by slot, in pages of [`PAGE`] slots (the series are stored inline,
/// not boxed; pages keep growth from copying them all or leaving a doubled vector
/// half-empty). Only the last page may be partly allocated: it grows by doubling up to
/// [`PAGE`] slots, so a small head stays small.
#[derive(Debug, Default)]
struct Slots {
    pages: Vec<Vec<Option<MemSeries>>>,
    /// Slots in use or freed: one past the highest slot ever occupied.
    len: usize,
}

impl Slots {
    fn len(&self) -> usize {
        self.len
    }

    /// The series in slot `i`, if any.
    fn get(&self, i: usize) -> Option<&MemSeries> {
        self.pages.get(i / PAGE)?.get(i % PAGE)?.as_ref()
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut MemSeries> {
        self.entry(i)?.as_mut()
    }

    /// Slot `i` (below [`Slots::len`]).
    fn entry(&mut self, i: usize) -> Option<&mut Option<MemSeries>> {
        self.pages.get_mut(i / PAGE)?.get_mut(i % PAGE)
    }

    /// Makes slots below `n` exist (new ones empty).
    fn grow_to(&mut self, n: usize) {
        while self.len < n {
            let page = match self.pages.last_mut() {
                Some(p) if p.len() < PAGE => p,
                _ => {
                    let first = if self.pages.is_empty() { 4 } else { PAGE };
                    self.pages.push(Vec::with_capacity(first));
                    let Some(p) = self.pages.last_mut() else {
                        return;
                    };
                    p
                }
            };
            if page.len() == page.capacity() {
                let more = page.capacity().clamp(1, PAGE - page.len());
                page.reserve_exact(more);
            }
            page.push(None);
            self.len += 1;
        }
    }

    /// Every series with its slot, in slot order.
    fn iter(&self) -> impl Iterator<Item = (usize, &MemSeries)> + '_ {
        self.pages
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.as_ref()?)))
    }

    /// Every series, in slot order.
    fn values(&self) -> impl Iterator<Item = &MemSeries> + '_ {
        self.pages.iter().flatten().flatten()
    }
}

/// Distinct metadata of the head's series, so that series with equal metadata (every
/// series of a metric family) share one allocation.
///
/// Entries no series refers to any more are dropped by [`MetadataTable::purge`] (at each
/// [`Head::cut`], and when the table has doubled since the last purge), so the table stays
/// within about twice the distinct metadata in use.
#[derive(Debug, Default)]
struct MetadataTable {
    table: HashTable<Arc<Metadata>>,
    hasher: DefaultHashBuilder,
    /// Purge before an insert at this many entries.
    purge_at: usize,
}

impl MetadataTable {
    /// The shared copy of `metadata`, added if new.
    fn intern(&mut self, metadata: Metadata) -> Arc<Metadata> {
        let hash = self.hasher.hash_one(&metadata);
        if let Some(m) = self.table.find(hash, |m| **m == metadata) {
            return Arc::clone(m);
        }
        if self.table.len() >= self.purge_at {
            self.purge();
        }
        let m = Arc::new(metadata);
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, Arc::clone(&m), |m| hasher.hash_one(&**m));
        m
    }

    /// Drops the entries no series refers to.
    fn purge(&mut self) {
        self.table.retain(|m| Arc::strong_count(m) > 1);
        self.purge_at = (2 * self.table.len()).max(64);
    }
}

/// In-memory series and their chunks.
///
/// ```
/// use ember_tsdb::{Head, HeadOptions, Labels};
///
/// let mut head = Head::new(HeadOptions::default());
/// let id = head.series_id(Labels::new([("__name__", "up"), ("job", "node")])?);
/// head.append(id, 1_000, 1.0)?;
/// head.append(id, 16_000, 1.0)?;
/// assert!(head.append(id, 2_000, 0.0).is_err()); // out of order
/// assert_eq!(head.samples(id)?.collect::<Vec<_>>(), [(1_000, 1.0), (16_000, 1.0)]);
/// assert_eq!(head.stats().out_of_order, 1);
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Head {
    options: HeadOptions,
    hasher: DefaultHashBuilder,
    /// The slot of every live series, by the hash of its labels (4 bytes an entry; the
    /// hash is computed again from the packed labels when the table grows).
    index: HashTable<u32>,
    /// Slot `i` holds the series whose id has slot `i`; `None` for free slots.
    series: Slots,
    /// Ids for free slots (next generation), reused last-in first-out.
    free: Vec<SeriesId>,
    live: usize,
    chunks: usize,
    min_valid_time: i64,
    stats: HeadStats,
    /// Smallest and largest timestamp stored (`(i64::MAX, i64::MIN)` for none), kept by
    /// [`Head::store`]; `None` after a removal until a cut or replay recomputes it.
    bounds: Option<(i64, i64)>,
    metadata: MetadataTable,
    /// The strings of the series' labels.
    symbols: Symbols,
}

/// [`Head`]'s `bounds` when nothing is stored.
const NO_BOUNDS: (i64, i64) = (i64::MAX, i64::MIN);

impl Head {
    /// An empty head. A `chunk_samples` of 0 is treated as 1; above
    /// [`crate::MAX_CHUNK_SAMPLES`] as that maximum.
    pub fn new(options: HeadOptions) -> Self {
        let chunk_samples = options.chunk_samples.clamp(1, crate::MAX_CHUNK_SAMPLES);
        Self {
            options: HeadOptions { chunk_samples },
            hasher: DefaultHashBuilder::default(),
            index: HashTable::new(),
            series: Slots::default(),
            free: Vec::new(),
            live: 0,
            chunks: 0,
            min_valid_time: i64::MIN,
            stats: HeadStats::default(),
            bounds: Some(NO_BOUNDS),
            metadata: MetadataTable::default(),
            symbols: Symbols::default(),
        }
    }

    /// The id of the series with these labels, creating the series if it is new.
    pub fn series_id(&mut self, labels: Labels) -> SeriesId {
        self.get_or_create(&labels).0
    }

    /// The id of the series with these labels and whether it was created by this call.
    pub fn get_or_create(&mut self, labels: &Labels) -> (SeriesId, bool) {
        if let Some(id) = self.get(labels) {
            return (id, false);
        }
        let id = self
            .free
            .pop()
            .unwrap_or(SeriesId(self.series.len() as u64));
        self.insert_at(id, labels);
        (id, true)
    }

    /// Creates series `id` with `labels`, replacing whatever series had that id (WAL
    /// replay: a series record names the id). If another id already has these labels,
    /// nothing is created and that id is returned; `None` for an id of [`MAX_SERIES`] or
    /// more.
    pub(crate) fn replay_series(&mut self, id: SeriesId, labels: Labels) -> Option<SeriesId> {
        if id.slot() as u64 >= MAX_SERIES {
            return None;
        }
        if let Some(existing) = self.get(&labels) {
            return Some(existing);
        }
        if let Some(occupant) = self.series.get(id.slot()).map(|s| s.id(id.slot())) {
            self.remove(occupant);
        }
        self.free.retain(|&f| f.slot() != id.slot());
        self.insert_at(id, &labels);
        Some(id)
    }

    /// After a replay that named ids out of order: every empty slot below the highest id
    /// becomes reusable.
    pub(crate) fn rebuild_free_list(&mut self) {
        self.free = (0..self.series.len())
            .rev()
            .filter(|&i| self.series.get(i).is_none())
            .map(|i| SeriesId(i as u64))
            .collect();
    }

    fn insert_at(&mut self, id: SeriesId, labels: &Labels) {
        let hash = hash_labels(&self.hasher, labels);
        let i = id.slot();
        self.series.grow_to(i + 1);
        if let Some(slot) = self.series.entry(i) {
            *slot = Some(MemSeries::new(id.generation(), labels, &mut self.symbols));
        }
        let (series, hasher, symbols) = (&self.series, &self.hasher, &self.symbols);
        // Slots are below 2^32 (the low half of an id).
        self.index.insert_unique(hash, i as u32, |&j| {
            series
                .get(j as usize)
                .map_or(0, |s| hash_pairs(hasher, s.labels.pairs(symbols)))
        });
        self.live += 1;
        self.stats.series_created += 1;
    }

    /// Removes a series and frees its id.
    pub(crate) fn remove(&mut self, id: SeriesId) {
        let Some(slot) = self.series.entry(id.slot()) else {
            return;
        };
        if slot
            .as_ref()
            .is_none_or(|s| s.generation != id.generation())
        {
            return;
        }
        let Some(s) = slot.take() else {
            return;
        };
        let hash = hash_pairs(&self.hasher, s.labels.pairs(&self.symbols));
        if let Ok(entry) = self.index.find_entry(hash, |&j| j as usize == id.slot()) {
            entry.remove();
        }
        s.labels.release(&mut self.symbols);
        self.chunks -= s.num_chunks();
        self.stats.chunks_removed += s.num_chunks() as u64;
        self.free.push(id.next_generation());
        self.bounds = None;
        self.live -= 1;
        self.stats.series_removed += 1;
    }

    /// The id of an existing series.
    pub fn get(&self, labels: &Labels) -> Option<SeriesId> {
        let hash = hash_labels(&self.hasher, labels);
        let slot = *self.index.find(hash, |&j| {
            self.series
                .get(j as usize)
                .is_some_and(|s| s.labels.eq_labels(&self.symbols, labels))
        })? as usize;
        self.series.get(slot).map(|s| s.id(slot))
    }

    /// The labels of a series (built from the head's packed form).
    pub fn labels(&self, id: SeriesId) -> Option<Labels> {
        self.slot(id)
            .and_then(|s| s.labels.to_labels(&self.symbols).ok())
    }

    /// The label pairs of a series, borrowed (no allocation), in name order.
    pub fn label_pairs(&self, id: SeriesId) -> Option<LabelPairs<'_>> {
        self.slot(id).map(|s| s.labels.pairs(&self.symbols))
    }

    /// The value of label `name` of a series.
    pub fn label_value(&self, id: SeriesId, name: &str) -> Option<&str> {
        self.slot(id)
            .and_then(|s| s.labels.get(&self.symbols, name))
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.live
    }

    /// Number of chunks held (closed chunks plus open ones holding a sample).
    pub fn num_chunks(&self) -> usize {
        self.chunks
    }

    /// Counters since creation.
    pub fn stats(&self) -> HeadStats {
        self.stats
    }

    /// Samples before this time are refused (out of bounds); `i64::MIN` until a cut.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time
    }

    pub(crate) fn raise_min_valid_time(&mut self, t: i64) {
        self.min_valid_time = self.min_valid_time.max(t);
    }

    /// Appends a sample to a series, applying the rules in the [`Head`] docs.
    pub fn append(&mut self, id: SeriesId, t: i64, v: f64) -> Result<(), Error> {
        if self.admit(id, t, v)? {
            self.store(id, t, v)?;
        }
        Ok(())
    }

    /// Checks a sample against the rules and, if it is to be stored, records it as the
    /// series' last sample; `Ok(false)` for an identical sample (to be ignored). The
    /// caller must then [`Head::store`] it or [`Head::forget_pending`] the series.
    pub(crate) fn admit(&mut self, id: SeriesId, t: i64, v: f64) -> Result<bool, Error> {
        self.admit_checked(id, t, v, true)
    }

    /// [`Head::append`] for WAL replay: the minimum valid time is not checked (the WAL
    /// holds only samples that passed it when they were appended).
    pub(crate) fn append_replayed(&mut self, id: SeriesId, t: i64, v: f64) -> Result<(), Error> {
        if self.admit_checked(id, t, v, false)? {
            self.store(id, t, v)?;
        }
        Ok(())
    }

    fn admit_checked(
        &mut self,
        id: SeriesId,
        t: i64,
        v: f64,
        check_bounds: bool,
    ) -> Result<bool, Error> {
        let min_valid = self.min_valid_time;
        let s = slot_mut(&mut self.series, id)?;
        if check_bounds && t < min_valid {
            self.stats.out_of_bounds += 1;
            return Err(Error::OutOfBounds { t, min_valid });
        }
        if let Some((last_t, last_v)) = s.last() {
            if t < last_t {
                self.stats.out_of_order += 1;
                return Err(Error::OutOfOrder { t, last: last_t });
            }
            if t == last_t {
                if v.to_bits() == last_v {
                    self.stats.identical_ignored += 1;
                    return Ok(false);
                }
                self.stats.duplicates += 1;
                return Err(Error::DuplicateSample { t });
            }
        }
        s.set_last(Some((t, v.to_bits())));
        Ok(true)
    }

    /// Stores an admitted sample in the series' chunks.
    pub(crate) fn store(&mut self, id: SeriesId, t: i64, v: f64) -> Result<(), Error> {
        let chunk_samples = self.options.chunk_samples;
        let s = slot_mut(&mut self.series, id)?;
        if s.open.len() >= chunk_samples {
            let samples: Vec<(i64, f64)> = s.open.iter().collect();
            s.push_chunk(encode_tight(&samples)?);
            s.open = new_open();
        }
        if s.open.is_empty() {
            self.chunks += 1;
            self.stats.chunks_created += 1;
        }
        s.open.append(t, v)?;
        if let Some((lo, hi)) = &mut self.bounds {
            *lo = (*lo).min(t);
            *hi = (*hi).max(t);
        }
        self.stats.samples_appended += 1;
        Ok(())
    }

    /// Forgets admitted samples that were not stored (a batch rolled back): the series'
    /// last sample is again its last stored one.
    pub(crate) fn forget_pending(&mut self, id: SeriesId) {
        if let Ok(s) = slot_mut(&mut self.series, id) {
            let last = s.last_stored();
            s.set_last(last);
        }
    }

    /// Whether the series has a last sample, stored or pending (for a series created in
    /// the current batch: whether the batch has a sample of it).
    pub(crate) fn has_pending(&self, id: SeriesId) -> bool {
        self.slot(id).is_some_and(|s| s.has_last)
    }

    /// Sets a series' metadata (held once for all series with equal metadata).
    pub fn set_metadata(&mut self, id: SeriesId, metadata: Metadata) -> Result<(), Error> {
        let s = slot_mut(&mut self.series, id)?;
        if s.meta.as_deref() != Some(&metadata) {
            s.meta = Some(self.metadata.intern(metadata));
        }
        Ok(())
    }

    /// A series' metadata as last set.
    pub fn metadata(&self, id: SeriesId) -> Option<&Metadata> {
        self.slot(id).and_then(|s| s.meta.as_deref())
    }

    /// All samples of a series in time order.
    pub fn samples(&self, id: SeriesId) -> Result<HeadSamples<'_>, Error> {
        self.samples_in(id, i64::MIN, i64::MAX)
    }

    /// Samples of a series with `mint <= t <= maxt`, in time order.
    pub fn samples_in(&self, id: SeriesId, mint: i64, maxt: i64) -> Result<HeadSamples<'_>, Error> {
        let s = self.slot(id).ok_or(Error::UnknownSeries(id.0))?;
        Ok(HeadSamples::new(s, mint, maxt))
    }

    /// Every series (in slot order) with its samples in `mint..=maxt`; series without a
    /// sample in the range are skipped. (Label-matcher selection is the `Querier`'s.)
    pub fn series_in_range(
        &self,
        mint: i64,
        maxt: i64,
    ) -> impl Iterator<Item = HeadSeries<'_>> + '_ {
        self.series.iter().filter_map(move |(i, s)| {
            let mut samples = HeadSamples::new(s, mint, maxt);
            samples.peek()?;
            Some(HeadSeries {
                id: s.id(i),
                labels: s.labels.to_labels(&self.symbols).ok()?,
                samples,
            })
        })
    }

    /// Ids of every series, in id order.
    pub fn series_ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.series.iter().map(|(i, s)| s.id(i))
    }

    /// Label names of all series, sorted, each once.
    pub fn all_label_names(&self) -> Vec<String> {
        let mut names: Vec<&str> = self
            .series
            .values()
            .flat_map(|s| s.labels.pairs(&self.symbols).map(|(n, _)| n))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter().map(str::to_owned).collect()
    }

    /// Values of label `name` over all series, sorted, each once.
    pub fn all_label_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<&str> = self
            .series
            .values()
            .filter_map(|s| s.labels.get(&self.symbols, name))
            .collect();
        values.sort_unstable();
        values.dedup();
        values.into_iter().map(str::to_owned).collect()
    }

    /// Every series in slot order: its id, labels, closed chunks and open chunk (read-only
    /// access for queries and for writing blocks). The labels are built from the head's
    /// packed form ([`Head::label_pairs`] borrows them instead).
    pub fn series_chunks(
        &self,
    ) -> impl Iterator<Item = (SeriesId, Labels, &[Chunk], &ChunkAppender)> + '_ {
        self.series.iter().filter_map(|(i, s)| {
            Some((
                s.id(i),
                s.labels.to_labels(&self.symbols).ok()?,
                &s.chunks[..],
                &s.open,
            ))
        })
    }

    /// The smallest and largest timestamp of the samples held (pending ones of an open
    /// batch excluded), `None` when the head holds no sample.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        match self.bounds {
            Some((lo, hi)) if lo <= hi => Some((lo, hi)),
            Some(_) => None,
            None => self.scan_time_range(),
        }
    }

    /// Recomputes the time range from the series (after a replay).
    pub(crate) fn recompute_time_range(&mut self) {
        self.bounds = Some(self.scan_time_range().unwrap_or(NO_BOUNDS));
    }

    /// [`Head::time_range`] from every series' chunks.
    fn scan_time_range(&self) -> Option<(i64, i64)> {
        let mut out: Option<(i64, i64)> = None;
        for s in self.series.values() {
            // The first sample's timestamp is the chunk's first field (one decode); the
            // last is the open appender's, or the last closed chunk's when the open one is
            // empty (decoded only then): no chunk is read through.
            let first = s
                .chunks
                .first()
                .and_then(|c| c.iter().next())
                .or_else(|| s.open.iter().next());
            let last = s.open.last_timestamp().or_else(|| {
                s.chunks
                    .last()
                    .and_then(|c| c.iter().last())
                    .map(|(t, _)| t)
            });
            let (Some((lo, _)), Some(hi)) = (first, last) else {
                continue;
            };
            out = Some(match out {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        out
    }

    /// Bytes of chunk data held (closed chunks plus open appenders).
    pub fn chunk_bytes(&self) -> usize {
        self.series
            .values()
            .map(|s| {
                s.chunks.iter().map(|c| c.as_bytes().len()).sum::<usize>() + s.open.bytes().len()
            })
            .sum()
    }

    /// Hands every sample before `t` to `sink` (per series, as chunks), drops them from
    /// memory, removes series left without samples, and refuses later appends before `t`
    /// (out of bounds). See [`BlockSink`] for what an error leaves.
    pub fn cut(&mut self, t: i64, sink: &mut dyn BlockSink) -> Result<CutStats, Error> {
        let mut stats = CutStats::default();
        // Recomputed when the cut completes; until then (or after an error) scanned.
        self.bounds = None;
        self.raise_min_valid_time(t);
        for i in 0..self.series.len() {
            let Some(s) = self.series.get_mut(i) else {
                continue;
            };
            let id = s.id(i);
            let before = s.num_chunks();
            let Some((old, keep_from)) = split_series(s, t)? else {
                continue;
            };
            sink.write_series(
                &s.labels.to_labels(&self.symbols)?,
                s.meta.as_deref(),
                &old.chunks,
            )?;
            stats.series_handed_out += 1;
            stats.chunks_handed_out += old.chunks.len() as u64;
            stats.samples_handed_out += old.samples;
            // Chunks [0, keep_from) are entirely before `t`; a straddling chunk at
            // `keep_from` (or the open one) was split: its later part replaces it.
            let mut rest: Vec<Chunk> = std::mem::take(&mut s.chunks)
                .into_vec()
                .split_off(keep_from);
            if let Some(tail) = old.straddling_tail {
                match tail {
                    Tail::Closed(c) => rest[0] = c,
                    Tail::Open(app) => s.open = app,
                }
            }
            s.chunks = rest.into_boxed_slice();
            let after = s.num_chunks();
            self.chunks = self.chunks - before + after;
            self.stats.chunks_removed += (before - after) as u64 + u64::from(old.split);
            self.stats.chunks_created += u64::from(old.split);
            if after == 0 {
                self.remove(id);
                stats.series_removed += 1;
            }
        }
        // Series with no samples at all (created, never appended to) go as well.
        for i in 0..self.series.len() {
            if let Some(id) = self
                .series
                .get(i)
                .filter(|s| s.num_chunks() == 0)
                .map(|s| s.id(i))
            {
                self.remove(id);
                stats.series_removed += 1;
            }
        }
        self.recompute_time_range();
        self.metadata.purge();
        Ok(stats)
    }

    fn slot(&self, id: SeriesId) -> Option<&MemSeries> {
        self.series
            .get(id.slot())
            .filter(|s| s.generation == id.generation())
    }
}

fn slot_mut(series: &mut Slots, id: SeriesId) -> Result<&mut MemSeries, Error> {
    series
        .get_mut(id.slot())
        .filter(|s| s.generation == id.generation())
        .ok_or_else(|| Error::UnknownSeries(id.0))
}

/// A series and its samples in a range, from [`Head::series_in_range`].
#[derive(Debug)]
pub struct HeadSeries<'a> {
    /// The series' id.
    pub id: SeriesId,
    /// Its labels.
    pub labels: Labels,
    /// Its samples in the range, in time order.
    pub samples: HeadSamples<'a>,
}

/// Samples of one head series in a time range, in time order.
#[derive(Debug, Clone)]
pub struct HeadSamples<'a> {
    chunks: std::slice::Iter<'a, Chunk>,
    open: Option<&'a ChunkAppender>,
    cur: Option<ChunkIter<'a>>,
    peeked: Option<(i64, f64)>,
    mint: i64,
    maxt: i64,
}

impl<'a> HeadSamples<'a> {
    fn new(s: &'a MemSeries, mint: i64, maxt: i64) -> Self {
        Self {
            chunks: s.chunks.iter(),
            open: Some(&s.open),
            cur: None,
            peeked: None,
            mint,
            maxt,
        }
    }

    fn peek(&mut self) -> Option<(i64, f64)> {
        if self.peeked.is_none() {
            self.peeked = self.next_raw();
        }
        self.peeked
    }

    fn next_raw(&mut self) -> Option<(i64, f64)> {
        loop {
            if let Some(it) = &mut self.cur {
                for (t, v) in it.by_ref() {
                    if t > self.maxt {
                        self.chunks = [].iter();
                        self.open = None;
                        self.cur = None;
                        return None;
                    }
                    if t >= self.mint {
                        return Some((t, v));
                    }
                }
            }
            self.cur = match self.chunks.next() {
                Some(c) => Some(c.iter()),
                None => Some(self.open.take()?.iter()),
            };
        }
    }
}

impl Iterator for HeadSamples<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        self.peeked.take().or_else(|| self.next_raw())
    }
}

enum Tail {
    Closed(Chunk),
    Open(ChunkAppender),
}

struct OldPart {
    chunks: Vec<Chunk>,
    samples: u64,
    /// Whether a chunk was split in two.
    split: bool,
    straddling_tail: Option<Tail>,
}

/// What of series `s` is before `t`: the chunks to hand out and the index of the first
/// closed chunk to keep; `None` if nothing is before `t`.
fn split_series(s: &MemSeries, t: i64) -> Result<Option<(OldPart, usize)>, Error> {
    let mut old = OldPart {
        chunks: Vec::new(),
        samples: 0,
        split: false,
        straddling_tail: None,
    };
    for (i, c) in s.chunks.iter().enumerate() {
        let samples: Vec<(i64, f64)> = c.iter().collect();
        let n_old = samples.partition_point(|&(ts, _)| ts < t);
        if n_old == samples.len() {
            old.chunks.push(c.clone());
            old.samples += n_old as u64;
            continue;
        }
        if n_old > 0 {
            old.chunks.push(Chunk::encode_quick(&samples[..n_old])?);
            old.samples += n_old as u64;
            old.split = true;
            old.straddling_tail = Some(Tail::Closed(encode_tight(&samples[n_old..])?));
        }
        return Ok((!old.chunks.is_empty()).then_some((old, i)));
    }
    let samples: Vec<(i64, f64)> = s.open.iter().collect();
    let n_old = samples.partition_point(|&(ts, _)| ts < t);
    if n_old > 0 {
        old.chunks.push(Chunk::encode_quick(&samples[..n_old])?);
        old.samples += n_old as u64;
        let mut app = new_open();
        for &(ts, v) in &samples[n_old..] {
            app.append(ts, v)?;
        }
        old.split = n_old < samples.len();
        old.straddling_tail = Some(Tail::Open(app));
    }
    Ok((!old.chunks.is_empty()).then_some((old, s.chunks.len())))
}

/// [`Chunk::encode_quick`] into a buffer of exactly the chunk's size (the encoder's
/// buffer grows by doubling; the head keeps closed chunks for hours).
fn encode_tight(samples: &[(i64, f64)]) -> Result<Chunk, Error> {
    let c = Chunk::encode_quick(samples)?;
    Chunk::from_bytes(c.as_bytes().to_vec())
}

/// An open chunk: XOR, its buffer growing by small steps (the head holds one per series).
fn new_open() -> ChunkAppender {
    ChunkAppender::xor_tight()
}

#[cfg(test)]
mod tests;

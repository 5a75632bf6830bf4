//! Families: one metric per label set, created on first use.
//!
//! Children live in append-only storage (`segments.rs`) and are found through an
//! insert-only hash index (`index.rs`), so a lookup is atomic loads, one hash and one key
//! comparison: no lock, no read-modify-write, no allocation, and the child is returned as
//! `&M` borrowed from the family (no refcount traffic). The price: storage is only freed
//! with the family. `remove` and `clear` mark children removed (not encoded, not found);
//! a removed label set that comes back gets a new child and reuses its index entry, so
//! the index grows with distinct label sets and the storage with creations. A family
//! whose label sets churn without end (a label per request id) grows without end; cap it
//! with [`Family::set_max_series`] or recreate it.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use ember_expfmt::{FamilyEncoder, MetricType, render_labels};
use hashbrown::DefaultHashBuilder;
use parking_lot::Mutex;

use crate::error::{Error, check_label_name};
use crate::index::Index;
use crate::labels::{
    LabelSet, NOT_PACKED, PACKED, StaticLabelSet, hash_label_values, hash_packed, label_value_eq,
    pack_values,
};
use crate::metric::EncodeMetric;
use crate::segments::Segmented;

/// A metric type that can be the child of a [`Family`].
pub trait FamilyMember: EncodeMetric + Clone {
    /// The family's type.
    const TYPE: MetricType;
    /// Label names the type writes itself, which a family's label set must not use.
    const RESERVED_LABELS: &'static [&'static str] = &[];
}

impl FamilyMember for crate::Counter {
    const TYPE: MetricType = MetricType::Counter;
}
impl FamilyMember for crate::FloatCounter {
    const TYPE: MetricType = MetricType::Counter;
}
impl FamilyMember for crate::Gauge {
    const TYPE: MetricType = MetricType::Gauge;
}
impl FamilyMember for crate::FloatGauge {
    const TYPE: MetricType = MetricType::Gauge;
}
impl FamilyMember for crate::Histogram {
    const TYPE: MetricType = MetricType::Histogram;
    const RESERVED_LABELS: &'static [&'static str] = &["le"];
}
impl FamilyMember for crate::Summary {
    const TYPE: MetricType = MetricType::Summary;
    const RESERVED_LABELS: &'static [&'static str] = &["quantile"];
}

/// The value every label of the overflow series has, once a family reached its cap.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// Metrics of one type keyed by label set: `http_requests_total{method, status}`.
///
/// A `Family` is a handle (clones share the children). [`get_or_create`] returns `&M`
/// borrowed from the family, never a lock guard, so holding two children of one family
/// (or of two) cannot deadlock; `.clone()` it for an owned handle. Lookups of existing
/// children take no lock, do no atomic read-modify-write and do not allocate. Series are
/// encoded in the order they were created.
///
/// A cap ([`set_max_series`]) bounds the number of children: past it, new label sets
/// share one overflow series whose labels are all `__overflow__`, and the refusals are
/// counted (see [`rejected_label_sets`] and the registry's
/// `ember_label_sets_rejected_total`).
///
/// With string labels, the arity is part of the type:
///
/// ```
/// use ember::{Counter, Family};
/// let requests = Family::<[String; 2], Counter>::with_label_names(["method", "status"]).unwrap();
/// requests.with_label_values(&["GET", "200"]).inc();
/// let ok = requests.with_label_values(&["GET", "200"]);
/// ok.inc();
/// assert_eq!(ok.get(), 2);
/// // An owned handle outlives the borrow of the family.
/// let owned: Counter = ok.clone();
/// # drop(owned);
/// ```
///
/// A reserved name is refused: at run time for string labels, at compile time for
/// derived label sets (`le` on a histogram family fails to build).
///
/// ```
/// use ember::{Family, Histogram};
/// assert!(Family::<[String; 1], Histogram>::with_label_names(["le"]).is_err());
/// ```
///
/// [`get_or_create`]: Family::get_or_create
/// [`set_max_series`]: Family::set_max_series
/// [`rejected_label_sets`]: Family::rejected_label_sets
pub struct Family<L, M> {
    inner: Arc<FamilyCore<L, M>>,
}

struct FamilyCore<L, M> {
    names: Box<[Box<str>]>,
    make: Box<dyn Fn() -> M + Send + Sync>,
    hasher: DefaultHashBuilder,
    /// `None`: keys hash with `Hash` through `hasher` and are not packed.
    strings: Option<StringKeys<L>>,
    /// Every child ever created, in creation order (removed ones flagged).
    children: Segmented<Child<L, M>>,
    /// Label-set hash → position in `children` of the key's latest child.
    index: Index,
    /// Serializes creation, removal and the cap check.
    write: Mutex<()>,
    /// Children not removed (the overflow series not included).
    live: AtomicUsize,
    /// Position of the overflow child plus one, 0 when there is none.
    overflow: AtomicUsize,
    max_series: AtomicUsize,
    rejected: AtomicU64,
}

struct Child<L, M> {
    /// `None` for the overflow series.
    key: Option<L>,
    /// String label values packed (`pack_values`), so lookups compare words, not
    /// strings; `[NOT_PACKED, ..]` for typed label sets and values that do not pack.
    packed: [u64; PACKED],
    metric: M,
    rendered: Box<str>,
    removed: AtomicBool,
}

impl<L, M> Clone for Family<L, M> {
    fn clone(&self) -> Self {
        Family {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<L, M> fmt::Debug for Family<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("label_names", &self.inner.names)
            .field("series", &self.inner.live.load(Ordering::Relaxed))
            .finish()
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn uses_reserved(names: &[&str], reserved: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = 0;
        while j < reserved.len() {
            if str_eq(names[i], reserved[j]) {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

impl<L: StaticLabelSet, M: FamilyMember + Default> Family<L, M> {
    /// A family whose children start as `M::default()`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::new_with_constructor(M::default)
    }
}

impl<L: StaticLabelSet, M: FamilyMember> Family<L, M> {
    /// A family whose children are made by `make` (for histogram buckets other than the
    /// default, or a summary's quantiles).
    ///
    /// ```
    /// use ember::{Family, Histogram};
    /// let f = Family::<[String; 1], Histogram>::with_label_names_and_constructor(
    ///     ["path"],
    ///     || Histogram::new([0.1, 1.0]).unwrap_or_default(),
    /// ).unwrap();
    /// assert_eq!(f.with_label_values(&["/"]).bounds(), [0.1, 1.0]);
    /// ```
    pub fn new_with_constructor(make: impl Fn() -> M + Send + Sync + 'static) -> Self {
        const {
            assert!(
                !uses_reserved(L::NAMES, M::RESERVED_LABELS),
                "the label set uses a label name this metric type reserves (`le` for \
                 histograms, `quantile` for summaries)"
            );
        }
        Self::build(
            L::NAMES.iter().map(|n| Box::from(*n)).collect(),
            Box::new(make),
            None,
        )
    }
}

impl<const N: usize, M: FamilyMember + Default> Family<[String; N], M> {
    /// A family with string label values under these names.
    pub fn with_label_names(names: [&str; N]) -> Result<Self, Error> {
        Self::with_label_names_and_constructor(names, M::default)
    }
}

impl<const N: usize, M: FamilyMember> Family<[String; N], M> {
    /// A family with string label values under these names, children made by `make`.
    pub fn with_label_names_and_constructor(
        names: [&str; N],
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        for (i, n) in names.iter().enumerate() {
            check_label_name(n)?;
            if let Some(r) = M::RESERVED_LABELS.iter().find(|r| *r == n) {
                return Err(reserved_error(r, M::TYPE));
            }
            if names[..i].contains(n) {
                return Err(Error::DuplicateLabelName((*n).to_string()));
            }
        }
        Ok(Self::build(
            names.iter().map(|n| Box::from(*n)).collect(),
            Box::new(make),
            Some(StringKeys {
                hash: |hasher, key| hash_label_values(hasher, key.iter().map(String::as_str)),
                pack: |key| pack_values(key.iter().map(String::as_str)),
            }),
        ))
    }

    /// The child for these label values, created if new. Does not allocate, lock or do
    /// an atomic read-modify-write when the child exists.
    #[inline]
    pub fn with_label_values(&self, values: &[&str; N]) -> &M {
        let packed = pack_values(values.iter().copied());
        let hash = if packed[0] == NOT_PACKED {
            hash_label_values(&self.inner.hasher, values.iter().copied())
        } else {
            hash_packed(&self.inner.hasher, packed.get(..N).unwrap_or(&packed))
        };
        let eq = |c: &Child<[String; N], M>| {
            if packed[0] == NOT_PACKED {
                c.key
                    .as_ref()
                    .is_some_and(|key| values.iter().zip(key).all(|(a, b)| label_value_eq(a, b)))
            } else {
                // Exact: equal packed words are equal values, and a child whose
                // values do not pack (`NOT_PACKED`) cannot equal packable ones. Word by
                // word over the `N` used words: the probe's words stay in registers (a
                // whole-array compare loads them back from the stack as one vector,
                // which stalls on store forwarding).
                (0..N).all(|i| c.packed.get(i) == packed.get(i))
            }
        };
        match self.lookup(hash, eq) {
            Some(m) => m,
            None => self.insert(hash, eq, || values.map(str::to_string)),
        }
    }
}

fn reserved_error(name: &str, t: MetricType) -> Error {
    Error::ReservedLabelName {
        name: name.to_string(),
        metric_type: match t {
            MetricType::Summary => "summaries",
            _ => "histograms",
        },
        purpose: match t {
            MetricType::Summary => "quantiles",
            _ => "buckets",
        },
    }
}

/// How string-array families hash and pack their keys, so `[&str; N]` probes need no
/// `String` (typed label sets hash with `Hash` and do not pack).
struct StringKeys<L> {
    hash: fn(&DefaultHashBuilder, &L) -> u64,
    pack: fn(&L) -> [u64; PACKED],
}

impl<L: LabelSet, M: FamilyMember> Family<L, M> {
    fn build(
        names: Box<[Box<str>]>,
        make: Box<dyn Fn() -> M + Send + Sync>,
        strings: Option<StringKeys<L>>,
    ) -> Self {
        Family {
            inner: Arc::new(FamilyCore {
                names,
                make,
                hasher: DefaultHashBuilder::default(),
                strings,
                children: Segmented::new(),
                index: Index::new(),
                write: Mutex::new(()),
                live: AtomicUsize::new(0),
                overflow: AtomicUsize::new(0),
                max_series: AtomicUsize::new(usize::MAX),
                rejected: AtomicU64::new(0),
            }),
        }
    }

    /// The child for this label set, created if new. Does not allocate, lock or do an
    /// atomic read-modify-write when the child exists.
    #[inline]
    pub fn get_or_create(&self, labels: &L) -> &M {
        let hash = self.hash(labels);
        let eq = |c: &Child<L, M>| c.key.as_ref() == Some(labels);
        match self.lookup(hash, eq) {
            Some(m) => m,
            None => self.insert(hash, eq, || labels.clone()),
        }
    }

    /// The child for this label set if it exists.
    pub fn get(&self, labels: &L) -> Option<&M> {
        self.lookup(self.hash(labels), |c| c.key.as_ref() == Some(labels))
    }

    #[inline]
    fn hash(&self, labels: &L) -> u64 {
        match &self.inner.strings {
            Some(strings) => (strings.hash)(&self.inner.hasher, labels),
            None => self.inner.hasher.hash_one(labels),
        }
    }

    /// The latest child `eq` accepts (removed or not), and its position. `eq` must
    /// reject the overflow child (no key).
    #[inline]
    fn find(&self, hash: u64, eq: impl Fn(&Child<L, M>) -> bool) -> Option<(usize, &Child<L, M>)> {
        let children = &self.inner.children;
        self.inner.index.find(hash, |pos| {
            let child = children.get(pos)?;
            eq(child).then_some((pos, child))
        })
    }

    #[inline]
    fn lookup(&self, hash: u64, eq: impl Fn(&Child<L, M>) -> bool) -> Option<&M> {
        let (_, child) = self.find(hash, eq)?;
        (!child.removed.load(Ordering::Relaxed)).then_some(&child.metric)
    }

    #[cold]
    fn insert(&self, hash: u64, eq: impl Fn(&Child<L, M>) -> bool, key: impl FnOnce() -> L) -> &M {
        let core = &*self.inner;
        let _write = core.write.lock();
        let existing = self.find(hash, &eq);
        if let Some((_, child)) = existing {
            if !child.removed.load(Ordering::Relaxed) {
                return &child.metric;
            }
        }
        if core.live.load(Ordering::Relaxed) >= core.max_series.load(Ordering::Relaxed) {
            core.rejected.fetch_add(1, Ordering::Relaxed);
            return self.overflow();
        }
        let key = key();
        let rendered = {
            let values = key.label_values();
            render_labels(
                core.names
                    .iter()
                    .map(|n| &**n)
                    .zip(values.iter().map(|v| &**v)),
            )
        };
        let packed = match &core.strings {
            Some(strings) => (strings.pack)(&key),
            None => [NOT_PACKED; PACKED],
        };
        let (pos, child) = self.push(Some(key), packed, rendered.into());
        match existing {
            Some((old, _)) => {
                core.index.repoint(hash, |p| p == old, pos);
            }
            None => core.index.insert(hash, pos),
        }
        core.live.fetch_add(1, Ordering::Relaxed);
        &child.metric
    }

    /// Stores a new child.
    fn push(
        &self,
        key: Option<L>,
        packed: [u64; PACKED],
        rendered: Box<str>,
    ) -> (usize, &Child<L, M>) {
        self.inner.children.push(Child {
            key,
            packed,
            metric: (self.inner.make)(),
            rendered,
            removed: AtomicBool::new(false),
        })
    }

    /// The overflow series, created on first use. Called under `write`.
    fn overflow(&self) -> &M {
        let core = &*self.inner;
        let existing = core.overflow.load(Ordering::Relaxed).checked_sub(1);
        if let Some(child) = existing.and_then(|p| core.children.get(p)) {
            return &child.metric;
        }
        let rendered = render_labels(core.names.iter().map(|n| (&**n, OVERFLOW_LABEL_VALUE)));
        let (pos, child) = self.push(None, [NOT_PACKED; PACKED], rendered.into());
        core.overflow.store(pos + 1, Ordering::Release);
        &child.metric
    }

    /// Removes the child for this label set; returns whether it existed. Handles to it
    /// (clones) stay usable but are no longer exposed; a later lookup of the same label
    /// set creates a new child.
    pub fn remove(&self, labels: &L) -> bool {
        let core = &*self.inner;
        let _write = core.write.lock();
        let hash = self.hash(labels);
        match self.find(hash, |c| c.key.as_ref() == Some(labels)) {
            Some((_, child)) if !child.removed.swap(true, Ordering::Relaxed) => {
                core.live.fetch_sub(1, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Removes every child (and the overflow series).
    pub fn clear(&self) {
        let core = &*self.inner;
        let _write = core.write.lock();
        core.children
            .for_each(|child| child.removed.store(true, Ordering::Relaxed));
        core.overflow.store(0, Ordering::Relaxed);
        core.live.store(0, Ordering::Relaxed);
    }

    /// Number of children (the overflow series not included).
    pub fn len(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    /// Whether the family has no children.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Caps the number of children; further label sets go to the overflow series.
    ///
    /// ```
    /// use ember::{Counter, Family};
    /// let f = Family::<[String; 1], Counter>::with_label_names(["user"]).unwrap();
    /// f.set_max_series(1);
    /// f.with_label_values(&["ann"]).inc();
    /// f.with_label_values(&["bob"]).inc();
    /// assert_eq!((f.len(), f.rejected_label_sets()), (1, 1));
    /// ```
    pub fn set_max_series(&self, max: usize) {
        self.inner.max_series.store(max, Ordering::Relaxed);
    }

    /// How many times a new label set was refused because of the cap.
    pub fn rejected_label_sets(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }
}

impl<L: LabelSet, M: FamilyMember> EncodeMetric for Family<L, M> {
    fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        let core = &*self.inner;
        let mut joined = String::new();
        let mut write = |child: &Child<L, M>| {
            if child.removed.load(Ordering::Relaxed) {
                return;
            }
            let (metric, rendered) = (&child.metric, &*child.rendered);
            if labels.is_empty() {
                metric.encode(family, rendered);
            } else if rendered.is_empty() {
                metric.encode(family, labels);
            } else {
                joined.clear();
                joined.push_str(labels);
                joined.push(',');
                joined.push_str(rendered);
                metric.encode(family, &joined);
            }
        };
        core.children.for_each(|child| {
            if child.key.is_some() {
                write(child);
            }
        });
        let overflow = core.overflow.load(Ordering::Acquire).checked_sub(1);
        if let Some(child) = overflow.and_then(|p| core.children.get(p)) {
            write(child);
        }
    }

    fn rejected_label_sets(&self) -> Option<u64> {
        (self.inner.max_series.load(Ordering::Relaxed) != usize::MAX)
            .then(|| self.rejected_label_sets())
    }
}

#[cfg(test)]
mod tests;

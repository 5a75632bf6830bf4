//! Histograms: observations counted into cumulative buckets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Instant;

use ember_expfmt::{FamilyEncoder, Format, MetricType, float, render_labels};
use parking_lot::Mutex;

use crate::cells::{Range, Slots};
use crate::counter::encode_created;
use crate::error::Error;
use crate::metric::{EncodeMetric, now_seconds};

/// client_golang's default buckets, for request latencies in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `count` buckets of `width` starting at `start`.
///
/// ```
/// assert_eq!(ember::linear_buckets(1.0, 2.0, 3), [1.0, 3.0, 5.0]);
/// ```
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Vec<f64> {
    (0..count).map(|i| start + width * i as f64).collect()
}

/// `count` buckets starting at `start`, each `factor` times the previous.
///
/// ```
/// assert_eq!(ember::exponential_buckets(1.0, 10.0, 3), [1.0, 10.0, 100.0]);
/// ```
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    let mut b = Vec::with_capacity(count);
    let mut v = start;
    for _ in 0..count {
        b.push(v);
        v *= factor;
    }
    b
}

/// `count` exponential buckets from `min` to `max` inclusive.
///
/// ```
/// let b = ember::exponential_buckets_range(1.0, 100.0, 3);
/// assert_eq!(b.len(), 3);
/// assert!((b[1] - 10.0).abs() < 1e-9);
/// ```
pub fn exponential_buckets_range(min: f64, max: f64, count: usize) -> Vec<f64> {
    if count < 2 {
        return vec![min];
    }
    let factor = (max / min).powf(1.0 / (count - 1) as f64);
    exponential_buckets(min, factor, count)
}

/// A histogram with fixed bucket bounds.
///
/// Observing takes no lock and no atomic read-modify-write: the bucket (found by a
/// branch-free count over up to 16 bounds, a binary search past that) and the sum are
/// cells the calling thread owns, written with a relaxed load and store (see `cells.rs`).
/// Buckets are
/// stored non-cumulative and summed when encoded, so `_count` always equals the `+Inf`
/// bucket; `_sum` may trail an observation that is in flight during a scrape. The `le`
/// label of each bucket is rendered once per format, shared by all histograms with the
/// same bounds.
///
/// ```
/// use ember::Histogram;
/// let h = Histogram::new([0.1, 1.0]).unwrap();
/// h.observe(0.05);
/// h.observe(0.5);
/// h.observe(7.0);
/// let mut enc = ember_expfmt::Encoder::new(ember_expfmt::Format::Text);
/// let mut fam = enc.family("rt", "", ember_expfmt::MetricType::Histogram, None);
/// ember::EncodeMetric::encode(&h, &mut fam, "");
/// assert_eq!(
///     String::from_utf8(enc.finish()).unwrap(),
///     "# TYPE rt histogram\nrt_bucket{le=\"0.1\"} 1\nrt_bucket{le=\"1\"} 2\n\
///      rt_bucket{le=\"+Inf\"} 3\nrt_count 3\nrt_sum 7.55\n"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Histogram {
    /// `inner.cells`' range and `inner.layout`, here so an observation skips a hop.
    cells: Range,
    layout: Arc<Layout>,
    inner: Arc<HistogramCore>,
}

#[derive(Debug)]
struct HistogramCore {
    layout: Arc<Layout>,
    /// Owns the cells (see `Histogram::cells`): non-cumulative counts (the last one is
    /// the `+Inf` bucket), then the sum as f64 bits.
    _slots: Slots,
    /// Totals at the last reset, which reads subtract; `None` until the first reset.
    base: Mutex<Option<Base>>,
    /// Whether `base` was ever set, so reads before any reset skip the lock.
    was_reset: AtomicBool,
    created: AtomicU64,
}

#[derive(Debug)]
struct Base {
    counts: Box<[u64]>,
    sum: f64,
}

impl Default for Histogram {
    /// A histogram with [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        Self::from_valid_bounds(DEFAULT_BUCKETS.to_vec())
    }
}

/// Buckets that fit a stack buffer when reading.
const STACK_BUCKETS: usize = 32;

impl Histogram {
    /// A histogram with these upper bounds; they must be strictly increasing and not NaN.
    /// A trailing `+Inf` is accepted and implied otherwise.
    pub fn new(buckets: impl IntoIterator<Item = f64>) -> Result<Self, Error> {
        let mut bounds: Vec<f64> = buckets.into_iter().collect();
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        for w in bounds.windows(2) {
            if w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less) {
                return Err(Error::InvalidBuckets(format!(
                    "bounds must be strictly increasing, got {} then {}",
                    w[0], w[1]
                )));
            }
        }
        if let Some(b) = bounds.iter().find(|b| b.is_nan() || **b == f64::INFINITY) {
            return Err(Error::InvalidBuckets(format!("bound {b} is not allowed")));
        }
        Ok(Self::from_valid_bounds(bounds))
    }

    fn from_valid_bounds(bounds: Vec<f64>) -> Self {
        let cells = Slots::new(bounds.len() + 2);
        let layout = Layout::shared(bounds);
        Histogram {
            cells: cells.range(),
            layout: layout.clone(),
            inner: Arc::new(HistogramCore {
                layout,
                _slots: cells,
                base: Mutex::new(None),
                was_reset: AtomicBool::new(false),
                created: AtomicU64::new(now_seconds().to_bits()),
            }),
        }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let bounds = &self.layout.bounds[..];
        // NaN counts as +Inf, so it lands in the +Inf bucket as client_golang does (the
        // sum still gets the NaN).
        let key = if v.is_nan() { f64::INFINITY } else { v };
        let idx = match &self.layout.padded {
            Some(p) => {
                // Branch-free binary search for the number of bounds below `key`: four
                // compares whatever the value, so varying values do not mispredict.
                // `& 15` keeps every index provably inside the array.
                let mut i = 8 * usize::from(key > p[7]);
                i += 4 * usize::from(key > p[(i + 3) & 15]);
                i += 2 * usize::from(key > p[(i + 1) & 15]);
                i + usize::from(key > p[i & 15])
            }
            None => bounds.partition_point(|&b| b < key),
        };
        let cells = self.cells.writer();
        cells.add(idx, 1);
        cells.add_f64(bounds.len() + 1, v);
    }

    /// The bucket upper bounds, without `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.inner.layout.bounds
    }

    /// Calls `f` with the non-cumulative bucket counts (`+Inf` last) and the sum, summed
    /// over threads, minus the totals at the last reset.
    fn read<R>(&self, f: impl FnOnce(&[u64], f64) -> R) -> R {
        let core = &*self.inner;
        let n = core.layout.bounds.len() + 1;
        let mut stack = [0u64; STACK_BUCKETS];
        let mut heap = Vec::new();
        let counts = if n <= STACK_BUCKETS {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap[..]
        };
        // Held while summing, so a concurrent reset cannot slip between base and cells.
        let base = core
            .was_reset
            .load(Ordering::Acquire)
            .then(|| core.base.lock());
        let mut sum = 0.0;
        self.cells.for_each_arena(|cells| {
            for (acc, c) in counts.iter_mut().zip(cells) {
                *acc = acc.wrapping_add(c.load(Ordering::Relaxed));
            }
            if let Some(c) = cells.get(n) {
                sum += f64::from_bits(c.load(Ordering::Relaxed));
            }
        });
        if let Some(Some(base)) = base.as_deref() {
            for (acc, b) in counts.iter_mut().zip(&base.counts) {
                *acc = acc.wrapping_sub(*b);
            }
            sum -= base.sum;
        }
        f(counts, sum)
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.read(|counts, _| counts.iter().fold(0u64, |a, c| a.wrapping_add(*c)))
    }

    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        self.read(|_, sum| sum)
    }

    /// Cumulative counts per bound, `+Inf` last.
    pub fn cumulative_counts(&self) -> Vec<u64> {
        self.read(|counts, _| {
            let mut acc = 0u64;
            counts
                .iter()
                .map(|c| {
                    acc = acc.wrapping_add(*c);
                    acc
                })
                .collect()
        })
    }

    /// Unix time in seconds when the histogram was created or last reset.
    pub fn created(&self) -> f64 {
        f64::from_bits(self.inner.created.load(Ordering::Relaxed))
    }

    /// Clears all buckets and the sum, and sets `_created` to now. Observations that race
    /// with the reset count either before or after it. Cells other threads own are not
    /// written: the totals at the reset become a base that reads subtract (so a sum that
    /// became NaN stays NaN).
    pub fn reset(&self) {
        let core = &*self.inner;
        let mut base = core.base.lock();
        let n = core.layout.bounds.len() + 1;
        let mut counts = vec![0u64; n];
        let mut sum = 0.0;
        self.cells.for_each_arena(|cells| {
            for (acc, c) in counts.iter_mut().zip(cells) {
                *acc = acc.wrapping_add(c.load(Ordering::Relaxed));
            }
            if let Some(c) = cells.get(n) {
                sum += f64::from_bits(c.load(Ordering::Relaxed));
            }
        });
        *base = Some(Base {
            counts: counts.into_boxed_slice(),
            sum,
        });
        core.created
            .store(now_seconds().to_bits(), Ordering::Relaxed);
        core.was_reset.store(true, Ordering::Release);
    }

    /// Starts a timer that observes the elapsed seconds when dropped.
    ///
    /// ```
    /// let h = ember::Histogram::default();
    /// {
    ///     let _t = h.start_timer();
    /// }
    /// assert_eq!(h.count(), 1);
    /// ```
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        HistogramTimer {
            histogram: self,
            start: Instant::now(),
            armed: true,
        }
    }

    /// Runs `f` and observes how long it took in seconds.
    ///
    /// ```
    /// let h = ember::Histogram::default();
    /// let answer = h.time(|| 6 * 7);
    /// assert_eq!((answer, h.count()), (42, 1));
    /// ```
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let _t = self.start_timer();
        f()
    }
}

/// Observes the seconds since it was started into its histogram when dropped (or when
/// [`stop_and_record`](HistogramTimer::stop_and_record) is called).
#[derive(Debug)]
#[must_use = "the timer records when dropped; dropping it at once records ~0s"]
pub struct HistogramTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
    armed: bool,
}

impl HistogramTimer<'_> {
    /// Records now and returns the elapsed seconds.
    pub fn stop_and_record(mut self) -> f64 {
        self.armed = false;
        let secs = self.start.elapsed().as_secs_f64();
        self.histogram.observe(secs);
        secs
    }

    /// Stops without recording.
    pub fn stop_and_discard(mut self) {
        self.armed = false;
    }
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.histogram.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

impl EncodeMetric for Histogram {
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        let layout = &*self.inner.layout;
        let les = if family.format() == Format::OpenMetrics {
            &layout.le_openmetrics
        } else {
            &layout.le_text
        };
        self.read(|counts, sum| {
            let mut acc: u64 = 0;
            for (c, le) in counts.iter().zip(les.iter()) {
                acc = acc.wrapping_add(*c);
                family
                    .sample("_bucket")
                    .rendered_labels(labels)
                    .rendered_labels(le)
                    .value(acc);
            }
            family.sample("_count").rendered_labels(labels).value(acc);
            family.sample("_sum").rendered_labels(labels).value(sum);
        });
        encode_created(family, labels, self.created());
    }
}

/// Bounds and their `le` labels rendered once per format, shared by every histogram with
/// the same bounds (a family of 10,000 histograms holds one).
#[derive(Debug)]
struct Layout {
    bounds: Box<[f64]>,
    /// The bounds padded with `+Inf` to 16 when there are at most 15, for a branch-free
    /// binary search. No key is above `+Inf`, so the padding never counts, and the last
    /// slot is always padding, so the search never needs a 17th slot.
    padded: Option<[f64; 16]>,
    /// `le="0.005"` per bucket, `+Inf` last, as the text format spells floats.
    le_text: Box<[Box<str>]>,
    /// The same in OpenMetrics spelling (`le="1.0"`).
    le_openmetrics: Box<[Box<str>]>,
}

/// Layouts in use, by the bits of their bounds; entries die with their last histogram.
type Layouts = HashMap<Box<[u64]>, Weak<Layout>>;

impl Layout {
    fn shared(bounds: Vec<f64>) -> Arc<Layout> {
        static LAYOUTS: LazyLock<Mutex<Layouts>> = LazyLock::new(Mutex::default);
        let key: Box<[u64]> = bounds.iter().map(|b| b.to_bits()).collect();
        let mut layouts = LAYOUTS.lock();
        if let Some(l) = layouts.get(&key).and_then(Weak::upgrade) {
            return l;
        }
        let render = |spell: fn(f64) -> String| -> Box<[Box<str>]> {
            bounds
                .iter()
                .chain([&f64::INFINITY])
                .map(|b| render_labels([("le", spell(*b).as_str())]).into())
                .collect()
        };
        let padded = (bounds.len() <= 15).then(|| {
            let mut p = [f64::INFINITY; 16];
            for (slot, b) in p.iter_mut().zip(&bounds) {
                *slot = *b;
            }
            p
        });
        let layout = Arc::new(Layout {
            padded,
            le_text: render(float::text),
            le_openmetrics: render(float::openmetrics),
            bounds: bounds.into_boxed_slice(),
        });
        if layouts.len() >= 64 {
            layouts.retain(|_, l| l.strong_count() > 0);
        }
        layouts.insert(key, Arc::downgrade(&layout));
        layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_buckets() {
        assert!(Histogram::new([1.0, 1.0]).is_err());
        assert!(Histogram::new([2.0, 1.0]).is_err());
        assert!(Histogram::new([f64::NAN]).is_err());
        assert_eq!(
            Histogram::new([1.0, f64::INFINITY]).unwrap().bounds(),
            [1.0]
        );
    }

    #[test]
    fn boundaries_are_inclusive_and_nan_goes_to_inf() {
        let h = Histogram::new([1.0, 2.0]).unwrap();
        for v in [1.0, 2.0, 2.5, f64::NAN] {
            h.observe(v);
        }
        assert_eq!(h.cumulative_counts(), [1, 2, 4]);
        assert!(h.sum().is_nan());
    }

    proptest::proptest! {
        /// Each value lands in the bucket a plain scan picks, for every bound count on
        /// both sides of the 15-bound branch-free search.
        #[test]
        fn bucket_search_agrees_with_a_scan(
            mut bounds in proptest::collection::vec(-1e3f64..1e3, 1..24),
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    -2e3f64..2e3,
                    proptest::strategy::Just(f64::NAN),
                    proptest::strategy::Just(f64::INFINITY),
                    proptest::strategy::Just(f64::NEG_INFINITY),
                ],
                1..20,
            ),
        ) {
            bounds.sort_by(f64::total_cmp);
            bounds.dedup();
            // Values equal to a bound must land in that bound's bucket.
            let mut values = values;
            values.extend(bounds.iter().copied());
            let h = Histogram::new(bounds.clone()).unwrap();
            let mut want = vec![0u64; bounds.len() + 1];
            for &v in &values {
                h.observe(v);
                let key = if v.is_nan() { f64::INFINITY } else { v };
                want[bounds.iter().filter(|&&b| key > b).count()] += 1;
            }
            let mut acc = 0;
            let cumulative: Vec<u64> = want.iter().map(|c| { acc += c; acc }).collect();
            proptest::prop_assert_eq!(h.cumulative_counts(), cumulative);
        }
    }

    #[test]
    fn many_bounds_use_binary_search_with_same_answer() {
        let bounds = linear_buckets(0.0, 1.0, 40);
        let h = Histogram::new(bounds.clone()).unwrap();
        for v in [-1.0, 0.0, 0.5, 17.0, 39.0, 39.5, 1e9] {
            h.observe(v);
        }
        assert_eq!(h.cumulative_counts()[0], 2);
        assert_eq!(h.cumulative_counts()[17], 4);
        assert_eq!(h.cumulative_counts()[39], 5);
        assert_eq!(*h.cumulative_counts().last().unwrap(), 7);
        // NaN goes to +Inf here too, as with few bounds.
        h.observe(f64::NAN);
        assert_eq!(h.cumulative_counts()[39], 5);
        assert_eq!(*h.cumulative_counts().last().unwrap(), 8);
    }

    #[test]
    fn concurrent_observations_all_counted() {
        let h = Histogram::default();
        std::thread::scope(|s| {
            for t in 0..4 {
                let h = &h;
                s.spawn(move || (0..5000).for_each(|i| h.observe(f64::from(i % 7 + t) * 0.1)));
            }
        });
        assert_eq!(h.count(), 20_000);
    }

    #[test]
    fn exiting_threads_and_resets_keep_buckets_consistent() {
        let h = Histogram::new([1.0, 2.0]).unwrap();
        for _ in 0..10 {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| (0..300).for_each(|i| h.observe(f64::from(i % 3) + 0.5)));
                }
            });
        }
        assert_eq!(h.cumulative_counts(), [2000, 4000, 6000]);
        assert_eq!(h.sum(), 9000.0);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    h.observe(1.5);
                }
            });
            for _ in 0..100 {
                h.reset();
                let c = h.cumulative_counts();
                assert!(
                    c.windows(2).all(|w| w[0] <= w[1]) && c[2] < 1 << 40,
                    "{c:?}"
                );
            }
            stop.store(true, Ordering::Relaxed);
        });
        h.reset();
        assert_eq!((h.count(), h.sum()), (0, 0.0));
        h.observe(0.5);
        assert_eq!(h.cumulative_counts(), [1, 1, 1]);
        assert_eq!(h.sum(), 0.5);
    }
}

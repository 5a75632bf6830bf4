//! Histograms: observations counted into cumulative buckets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ember_expfmt::{FamilyEncoder, MetricType};

use crate::counter::{add_f64, encode_created};
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
/// Observing is lock-free: one atomic add on the bucket (found by a short linear scan,
/// or a binary search past 16 bounds) and a compare-and-swap on the sum. Buckets are
/// stored non-cumulative and summed when encoded, so `_count` always equals the `+Inf`
/// bucket; `_sum` may trail an observation that is in flight during a scrape.
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
    inner: Arc<HistogramCore>,
}

#[derive(Debug)]
struct HistogramCore {
    bounds: Box<[f64]>,
    /// Non-cumulative counts; the last one is the `+Inf` bucket.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    created: AtomicU64,
}

impl Default for Histogram {
    /// A histogram with [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        Self::from_valid_bounds(DEFAULT_BUCKETS.to_vec())
    }
}

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
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            inner: Arc::new(HistogramCore {
                bounds: bounds.into_boxed_slice(),
                counts,
                sum: AtomicU64::new(0f64.to_bits()),
                created: AtomicU64::new(now_seconds().to_bits()),
            }),
        }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let core = &*self.inner;
        let bounds = &core.bounds[..];
        let idx = if bounds.len() <= 16 {
            // `!(v > b)` puts NaN in the +Inf bucket, as client_golang does.
            bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len())
        } else {
            bounds.partition_point(|&b| b < v)
        };
        if let Some(c) = core.counts.get(idx) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        add_f64(&core.sum, v);
    }

    /// The bucket upper bounds, without `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.inner.bounds
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.inner.sum.load(Ordering::Relaxed))
    }

    /// Cumulative counts per bound, `+Inf` last.
    pub fn cumulative_counts(&self) -> Vec<u64> {
        let mut acc = 0;
        self.inner
            .counts
            .iter()
            .map(|c| {
                acc += c.load(Ordering::Relaxed);
                acc
            })
            .collect()
    }

    /// Unix time in seconds when the histogram was created or last reset.
    pub fn created(&self) -> f64 {
        f64::from_bits(self.inner.created.load(Ordering::Relaxed))
    }

    /// Clears all buckets and the sum, and sets `_created` to now.
    pub fn reset(&self) {
        for c in self.inner.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.inner.sum.store(0f64.to_bits(), Ordering::Relaxed);
        self.inner
            .created
            .store(now_seconds().to_bits(), Ordering::Relaxed);
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
        let core = &*self.inner;
        let mut acc: u64 = 0;
        for (i, c) in core.counts.iter().enumerate() {
            acc += c.load(Ordering::Relaxed);
            let le = core.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            family
                .sample("_bucket")
                .rendered_labels(labels)
                .label_float("le", le)
                .value(acc);
        }
        family.sample("_count").rendered_labels(labels).value(acc);
        family
            .sample("_sum")
            .rendered_labels(labels)
            .value(self.sum());
        encode_created(family, labels, self.created());
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
}

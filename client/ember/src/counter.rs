//! Counters: values that only go up (and reset to zero when the process restarts).
//!
//! Values live in thread-owned cells (see `cells.rs`): an increment is a relaxed load and
//! store on the calling thread's own cell, with no atomic read-modify-write; reading sums
//! the cells of all threads. `reset` does not touch cells other threads own: it records
//! the current total as a base that reads subtract.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ember_expfmt::{FamilyEncoder, MetricType};

use crate::cells::{Range, Slots};
use crate::metric::{EncodeMetric, now_seconds};

/// A monotonically increasing integer counter, exposed with `_total` (and `_created` in
/// OpenMetrics).
///
/// A `Counter` is a handle: clones share the same value, so one can be registered and
/// the others kept where the counting happens. An increment is a relaxed load and store
/// on a cell the calling thread owns (no atomic read-modify-write, no lost updates).
///
/// ```
/// use ember::{Counter, Registry};
/// let registry = Registry::new();
/// let jobs = Counter::default();
/// registry.register("jobs", "Jobs processed.", jobs.clone()).unwrap();
/// jobs.inc();
/// jobs.inc_by(2);
/// assert_eq!(jobs.get(), 3);
/// assert_eq!(
///     registry.encode_to_string(ember_expfmt::Format::Text),
///     "# HELP jobs_total Jobs processed.\n# TYPE jobs_total counter\njobs_total 3\n"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Counter {
    /// `inner.cells`' range, copied here so an increment skips a pointer hop.
    cells: Range,
    inner: Arc<CounterCore>,
}

impl Default for Counter {
    fn default() -> Self {
        let inner = Arc::new(CounterCore::default());
        Counter {
            cells: inner.cells.range(),
            inner,
        }
    }
}

#[derive(Debug)]
struct CounterCore {
    /// One cell: the count (or f64 bits for [`FloatCounter`]).
    cells: Slots,
    /// The total at the last reset (f64 bits for [`FloatCounter`]); reads subtract it.
    base: AtomicU64,
    /// `_created` as f64 bits.
    created: AtomicU64,
}

impl Default for CounterCore {
    fn default() -> Self {
        CounterCore {
            cells: Slots::new(1),
            base: AtomicU64::new(0),
            created: AtomicU64::new(now_seconds().to_bits()),
        }
    }
}

impl CounterCore {
    fn created(&self) -> f64 {
        f64::from_bits(self.created.load(Ordering::Relaxed))
    }

    /// Stores `_created` first, then (with `Release`) the base, so a reader that sees
    /// the new base also sees the new `_created`.
    fn reset_to(&self, base: u64) {
        self.created
            .store(now_seconds().to_bits(), Ordering::Relaxed);
        self.base.store(base, Ordering::Release);
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.cells.writer().add(0, 1);
    }

    /// Adds `v`.
    #[inline]
    pub fn inc_by(&self, v: u64) {
        self.cells.writer().add(0, v);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        // Base first: a reader that sees a reset's base then sums cells at least as
        // large as those the reset summed, so the difference is never negative.
        let base = self.inner.base.load(Ordering::Acquire);
        self.cells.sum(0).wrapping_sub(base)
    }

    /// Unix time in seconds when the counter was created or last reset.
    pub fn created(&self) -> f64 {
        self.inner.created()
    }

    /// Sets the value to zero and `_created` to now. Increments that race with the reset
    /// count either before or after it, never twice and never lost.
    pub fn reset(&self) {
        self.inner.reset_to(self.cells.sum(0));
    }
}

impl EncodeMetric for Counter {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        family
            .sample("_total")
            .rendered_labels(labels)
            .value(self.get());
        encode_created(family, labels, self.created());
    }
}

/// Writes `_created` where the format has it (OpenMetrics).
pub(crate) fn encode_created(family: &mut FamilyEncoder<'_>, labels: &str, created: f64) {
    if family.writes_created() {
        family
            .sample("_created")
            .rendered_labels(labels)
            .value(created);
    }
}

/// A monotonically increasing float counter, for totals that are not whole numbers
/// (seconds of CPU, bytes scaled from another unit).
///
/// Like [`Counter`], increments write a thread-owned cell without a read-modify-write.
/// After [`reset`](FloatCounter::reset) the value is the total minus the total at the
/// reset, so it carries the rounding of the larger total.
///
/// ```
/// let busy = ember::FloatCounter::default();
/// busy.inc_by(0.25);
/// busy.inc_by(0.5);
/// assert_eq!(busy.get(), 0.75);
/// ```
#[derive(Debug, Clone)]
pub struct FloatCounter {
    /// `inner.cells`' range, copied here so an increment skips a pointer hop.
    cells: Range,
    inner: Arc<CounterCore>,
}

impl Default for FloatCounter {
    fn default() -> Self {
        let inner = Arc::new(CounterCore::default());
        FloatCounter {
            cells: inner.cells.range(),
            inner,
        }
    }
}

impl FloatCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1.0);
    }

    /// Adds `v`; negative and NaN increments are ignored, as a counter cannot go down.
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v > 0.0 {
            self.cells.writer().add_f64(0, v);
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        let base = f64::from_bits(self.inner.base.load(Ordering::Acquire));
        let total = self.cells.sum_f64(0);
        if base == 0.0 {
            total
        } else {
            (total - base).max(0.0)
        }
    }

    /// Unix time in seconds when the counter was created or last reset.
    pub fn created(&self) -> f64 {
        self.inner.created()
    }

    /// Sets the value to zero and `_created` to now.
    pub fn reset(&self) {
        self.inner.reset_to(self.cells.sum_f64(0).to_bits());
    }
}

impl EncodeMetric for FloatCounter {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        family
            .sample("_total")
            .rendered_labels(labels)
            .value(self.get());
        encode_created(family, labels, self.created());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_expfmt::{Encoder, Format};

    fn render(format: Format, m: &dyn EncodeMetric) -> String {
        let mut enc = Encoder::new(format);
        let mut fam = enc.family("c", "", m.metric_type(), None);
        m.encode(&mut fam, "a=\"1\"");
        String::from_utf8(enc.finish()).unwrap()
    }

    #[test]
    fn counts_from_many_threads() {
        let c = Counter::default();
        let f = FloatCounter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        c.inc();
                        f.inc_by(0.5);
                    }
                });
            }
        });
        assert_eq!(c.get(), 40_000);
        assert_eq!(f.get(), 20_000.0);
    }

    #[test]
    fn reset_moves_created_and_zeroes() {
        let c = Counter::default();
        c.inc_by(5);
        let before = c.created();
        std::thread::sleep(std::time::Duration::from_millis(2));
        c.reset();
        assert_eq!(c.get(), 0);
        assert!(c.created() > before);
    }

    #[test]
    fn threads_that_exit_leave_their_counts() {
        let c = Counter::default();
        let f = FloatCounter::default();
        for _ in 0..20 {
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        for _ in 0..500 {
                            c.inc();
                            f.inc_by(0.25);
                        }
                    });
                }
            });
        }
        assert_eq!((c.get(), f.get()), (30_000, 7_500.0));
    }

    #[test]
    fn reset_under_concurrent_increments_is_never_negative_and_loses_nothing_after() {
        let c = Counter::default();
        let f = FloatCounter::default();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        c.inc();
                        f.inc_by(1.0);
                    }
                });
            }
            for _ in 0..200 {
                c.reset();
                f.reset();
                // A wrapped (negative) value would be near u64::MAX.
                assert!(c.get() < 1 << 40, "{}", c.get());
                assert!(f.get() >= 0.0);
            }
            stop.store(true, Ordering::Relaxed);
        });
        c.reset();
        f.reset();
        assert_eq!((c.get(), f.get()), (0, 0.0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| c.inc()));
            }
        });
        assert_eq!(c.get(), 4000);
    }

    #[test]
    fn float_counter_ignores_decrements() {
        let f = FloatCounter::default();
        f.inc_by(-1.0);
        f.inc_by(f64::NAN);
        assert_eq!(f.get(), 0.0);
    }

    #[test]
    fn exposition_in_both_formats() {
        let c = Counter::default();
        c.inc_by(7);
        assert_eq!(
            render(Format::Text, &c),
            "# TYPE c_total counter\nc_total{a=\"1\"} 7\n"
        );
        let om = render(Format::OpenMetrics, &c);
        assert!(
            om.starts_with("# TYPE c counter\nc_total{a=\"1\"} 7\nc_created{a=\"1\"} 1."),
            "{om}"
        );
        assert!(om.ends_with("\n# EOF\n"));
    }
}

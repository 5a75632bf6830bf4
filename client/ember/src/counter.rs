//! Counters: values that only go up (and reset to zero when the process restarts).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ember_expfmt::{FamilyEncoder, MetricType};

use crate::metric::{EncodeMetric, now_seconds};

/// A monotonically increasing integer counter, exposed with `_total` (and `_created` in
/// OpenMetrics).
///
/// A `Counter` is a handle: clones share the same value, so one can be registered and
/// the others kept where the counting happens. Increments are a single relaxed atomic
/// add.
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
#[derive(Debug, Clone, Default)]
pub struct Counter {
    inner: Arc<CounterCore>,
}

#[derive(Debug)]
struct CounterCore {
    value: AtomicU64,
    /// `_created` as f64 bits.
    created: AtomicU64,
}

impl Default for CounterCore {
    fn default() -> Self {
        CounterCore {
            value: AtomicU64::new(0),
            created: AtomicU64::new(now_seconds().to_bits()),
        }
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inner.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `v`.
    #[inline]
    pub fn inc_by(&self, v: u64) {
        self.inner.value.fetch_add(v, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.inner.value.load(Ordering::Relaxed)
    }

    /// Unix time in seconds when the counter was created or last reset.
    pub fn created(&self) -> f64 {
        f64::from_bits(self.inner.created.load(Ordering::Relaxed))
    }

    /// Sets the value to zero and `_created` to now.
    pub fn reset(&self) {
        self.inner.value.store(0, Ordering::Relaxed);
        self.inner
            .created
            .store(now_seconds().to_bits(), Ordering::Relaxed);
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
    if family.format() == ember_expfmt::Format::OpenMetrics {
        family
            .sample("_created")
            .rendered_labels(labels)
            .value(created);
    }
}

/// A monotonically increasing float counter, for totals that are not whole numbers
/// (seconds of CPU, bytes scaled from another unit).
///
/// ```
/// let busy = ember::FloatCounter::default();
/// busy.inc_by(0.25);
/// busy.inc_by(0.5);
/// assert_eq!(busy.get(), 0.75);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FloatCounter {
    inner: Arc<CounterCore>,
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
            add_f64(&self.inner.value, v);
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.inner.value.load(Ordering::Relaxed))
    }

    /// Unix time in seconds when the counter was created or last reset.
    pub fn created(&self) -> f64 {
        f64::from_bits(self.inner.created.load(Ordering::Relaxed))
    }

    /// Sets the value to zero and `_created` to now.
    pub fn reset(&self) {
        self.inner.value.store(0f64.to_bits(), Ordering::Relaxed);
        self.inner
            .created
            .store(now_seconds().to_bits(), Ordering::Relaxed);
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

/// Atomically adds `v` to an f64 stored as bits.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, v: f64) {
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + v).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(cur) => old = cur,
        }
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

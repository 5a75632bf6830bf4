//! Gauges: values that go up and down.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use ember_expfmt::{FamilyEncoder, MetricType};

use crate::cells::add_f64_rmw as add_f64;
use crate::metric::{EncodeMetric, now_seconds};

/// An integer gauge (queue lengths, connections, items in a cache).
///
/// A handle: clones share the value.
///
/// ```
/// let in_flight = ember::Gauge::default();
/// in_flight.inc();
/// in_flight.add(3);
/// in_flight.dec();
/// assert_eq!(in_flight.get(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Gauge {
    value: Arc<AtomicI64>,
}

impl Gauge {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.value.fetch_sub(1, Ordering::Relaxed);
    }

    /// Adds `v` (which may be negative).
    #[inline]
    pub fn add(&self, v: i64) {
        self.value.fetch_add(v, Ordering::Relaxed);
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: i64) {
        self.value.fetch_sub(v, Ordering::Relaxed);
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.value.store(v, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Increments now and decrements when the returned guard is dropped: the number of
    /// callers inside a section.
    ///
    /// ```
    /// let g = ember::Gauge::default();
    /// {
    ///     let _guard = g.track_inflight();
    ///     assert_eq!(g.get(), 1);
    /// }
    /// assert_eq!(g.get(), 0);
    /// ```
    pub fn track_inflight(&self) -> InflightGuard<'_> {
        self.inc();
        InflightGuard { gauge: self }
    }
}

/// Decrements its gauge on drop; see [`Gauge::track_inflight`].
#[derive(Debug)]
#[must_use = "the gauge is decremented when the guard is dropped"]
pub struct InflightGuard<'a> {
    gauge: &'a Gauge,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl EncodeMetric for Gauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        family.sample("").rendered_labels(labels).value(self.get());
    }
}

/// A float gauge (temperatures, ratios, timestamps).
///
/// ```
/// let temp = ember::FloatGauge::default();
/// temp.set(21.5);
/// temp.add(-0.5);
/// assert_eq!(temp.get(), 21.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FloatGauge {
    bits: Arc<AtomicU64>,
}

impl FloatGauge {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Adds `v` (which may be negative).
    #[inline]
    pub fn add(&self, v: f64) {
        add_f64(&self.bits, v);
    }

    /// Subtracts `v`.
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Sets the value to the current Unix time in seconds (for "last success" gauges).
    pub fn set_to_current_time(&self) {
        self.set(now_seconds());
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl EncodeMetric for FloatGauge {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        family.sample("").rendered_labels(labels).value(self.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_gauge_adds_concurrently() {
        let g = FloatGauge::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| g.add(0.25)));
            }
        });
        assert_eq!(g.get(), 1000.0);
        g.set_to_current_time();
        assert!(g.get() > 1.7e9);
    }

    #[test]
    fn gauge_goes_both_ways() {
        let g = Gauge::default();
        g.sub(5);
        g.set(-3);
        g.add(1);
        assert_eq!(g.get(), -2);
    }
}

//! StateSet: a set of named boolean states, typically one of them set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ember_expfmt::{FamilyEncoder, MetricType};

use crate::metric::EncodeMetric;

/// A set of states, each on or off, exposed one sample per state with the state in a
/// label named after the family (`<name>{<name>="state"} 1`).
///
/// ```
/// use ember::{Registry, StateSet};
/// let registry = Registry::new();
/// let mode = StateSet::new(["starting", "serving", "draining"]);
/// registry.register("server_mode", "Lifecycle state.", mode.clone()).unwrap();
/// mode.set_exclusive("serving");
/// assert_eq!(
///     registry.encode_to_string(ember_expfmt::Format::OpenMetrics),
///     "# HELP server_mode Lifecycle state.\n# TYPE server_mode stateset\n\
///      server_mode{server_mode=\"starting\"} 0\nserver_mode{server_mode=\"serving\"} 1\n\
///      server_mode{server_mode=\"draining\"} 0\n# EOF\n"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct StateSet {
    inner: Arc<[(Box<str>, AtomicBool)]>,
}

impl StateSet {
    /// A state set with these states, all off.
    pub fn new<'a>(states: impl IntoIterator<Item = &'a str>) -> Self {
        StateSet {
            inner: states
                .into_iter()
                .map(|s| (Box::from(s), AtomicBool::new(false)))
                .collect(),
        }
    }

    /// Turns `state` on or off; returns false if there is no such state.
    pub fn set(&self, state: &str, on: bool) -> bool {
        match self.inner.iter().find(|(s, _)| &**s == state) {
            Some((_, b)) => {
                b.store(on, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Turns `state` on and every other state off; returns false if there is no such
    /// state (and then changes nothing).
    pub fn set_exclusive(&self, state: &str) -> bool {
        if !self.inner.iter().any(|(s, _)| &**s == state) {
            return false;
        }
        for (s, b) in self.inner.iter() {
            b.store(&**s == state, Ordering::Relaxed);
        }
        true
    }

    /// Whether `state` is on (`None` if there is no such state).
    pub fn get(&self, state: &str) -> Option<bool> {
        self.inner
            .iter()
            .find(|(s, _)| &**s == state)
            .map(|(_, b)| b.load(Ordering::Relaxed))
    }
}

impl EncodeMetric for StateSet {
    fn metric_type(&self) -> MetricType {
        MetricType::StateSet
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        let name = family.name();
        for (state, on) in self.inner.iter() {
            family
                .sample("")
                .rendered_labels(labels)
                .label(name, state)
                .value(u64::from(on.load(Ordering::Relaxed)));
        }
    }
}

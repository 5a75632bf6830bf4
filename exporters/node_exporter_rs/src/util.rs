//! Small helpers the collectors share: reading files under the roots with errors that
//! name the file, and building families.

use std::path::Path;

use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::CollectorError;

/// Reads a whole file as UTF-8, naming the file in the error.
pub fn read_string(path: &Path) -> Result<String, CollectorError> {
    std::fs::read_to_string(path).map_err(|source| CollectorError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A parse error naming the file and what was wrong.
pub fn parse_error(path: &Path, reason: impl Into<String>) -> CollectorError {
    CollectorError::Parse {
        what: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A family under construction: name, HELP, type, and its samples in insertion order.
#[derive(Debug)]
pub struct Family(MetricFamily);

impl Family {
    /// An empty family.
    pub fn new(name: impl Into<String>, help: impl Into<String>, metric_type: MetricType) -> Self {
        Family(MetricFamily {
            name: name.into(),
            help: help.into(),
            metric_type,
            unit: None,
            metrics: Vec::new(),
        })
    }

    /// An empty gauge family.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Gauge)
    }

    /// An empty counter family.
    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Counter)
    }

    /// An empty untyped family.
    pub fn untyped(name: impl Into<String>, help: impl Into<String>) -> Self {
        Family::new(name, help, MetricType::Unknown)
    }

    /// Adds one sample with the given labels; the value's kind follows the family type.
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let value = match self.0.metric_type {
            MetricType::Counter => MetricValue::Counter {
                value,
                exemplar: None,
            },
            MetricType::Gauge => MetricValue::Gauge(value),
            _ => MetricValue::Unknown(value),
        };
        self.0.metrics.push(Metric {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            value,
            timestamp_ms: None,
            created: None,
        });
        self
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.0.metrics.is_empty()
    }

    /// Pushes the family to `out` if it has samples.
    pub fn push_to(self, out: &mut Vec<MetricFamily>) {
        if !self.0.metrics.is_empty() {
            out.push(self.0);
        }
    }

    /// The finished family.
    pub fn into_inner(self) -> MetricFamily {
        self.0
    }
}

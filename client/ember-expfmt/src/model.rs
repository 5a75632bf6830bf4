//! The exposition data model shared by the parsers and the writers.
//!
//! Two views of the same data exist:
//!
//! * the *structured* view, [`MetricFamily`] holding [`Metric`]s whose [`MetricValue`] is
//!   typed (a histogram owns its buckets, a summary its quantiles), which is what a writer
//!   renders and what a custom collector produces;
//! * the *flat* view, [`Sample`]s as they appear on the wire, one line each (`foo_bucket`,
//!   `foo_count`, ...), which is what the parsers return in a [`ParsedFamily`] and what a
//!   scraper stores.
//!
//! [`MetricFamily::samples`] turns the first into the second with OpenMetrics sample names,
//! so a written family can be compared with what the parser read back.

use std::fmt;

/// A label: name and value.
pub type Label = (String, String);

/// The type of a metric family, as declared by a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// A monotonically increasing value (`_total`, `_created`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets with `_count`, `_sum` and `_created`.
    Histogram,
    /// Buckets of a current distribution with `_gcount` and `_gsum` (OpenMetrics only).
    GaugeHistogram,
    /// Quantiles with `_count`, `_sum` and `_created`.
    Summary,
    /// Textual information as labels on a `_info` sample of value 1 (OpenMetrics only).
    Info,
    /// A set of boolean states, one sample per state (OpenMetrics only).
    StateSet,
    /// No type given (`untyped` in the text format, `unknown` in OpenMetrics).
    #[default]
    Unknown,
}

impl MetricType {
    /// The spelling in an OpenMetrics `# TYPE` line.
    pub fn as_openmetrics_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The spelling in a text format 0.0.4 `# TYPE` line. Types that format does not know
    /// are written as the closest type it has: info and stateset as `gauge`, gauge
    /// histograms and unknown as `untyped`.
    pub fn as_text_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Info | MetricType::StateSet => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::GaugeHistogram | MetricType::Unknown => "untyped",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_openmetrics_str())
    }
}

/// An exemplar: a sample of a trace that fell into a bucket or counted towards a counter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exemplar {
    /// Exemplar labels, for example `trace_id`.
    pub labels: Vec<Label>,
    /// The observed value.
    pub value: f64,
    /// Unix time in seconds, if known.
    pub timestamp: Option<f64>,
}

/// One line of an exposition: a sample name, its labels and its value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// The full sample name, suffix included (`http_requests_total`, `latency_bucket`).
    pub name: String,
    /// Labels in the order they appeared.
    pub labels: Vec<Label>,
    /// The value. Staleness and other NaN payloads are kept bit for bit.
    pub value: f64,
    /// Milliseconds since the Unix epoch, if the exposition gave one.
    pub timestamp_ms: Option<i64>,
    /// An exemplar attached to this sample.
    pub exemplar: Option<Exemplar>,
}

/// A family as read by a parser: metadata and the flat samples that belong to it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFamily {
    /// The family name (in OpenMetrics without the `_total` of counters).
    pub name: String,
    /// Declared type, [`MetricType::Unknown`] if none was declared.
    pub metric_type: MetricType,
    /// HELP text, unescaped, if given.
    pub help: Option<String>,
    /// UNIT, if given (OpenMetrics only).
    pub unit: Option<String>,
    /// Samples in exposition order.
    pub samples: Vec<Sample>,
}

/// A histogram bucket with its cumulative count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bucket {
    /// Inclusive upper bound (`le`). The last bucket of a histogram is `+Inf`.
    pub upper_bound: f64,
    /// Number of observations less than or equal to the bound.
    pub cumulative_count: f64,
    /// An exemplar that fell into this bucket.
    pub exemplar: Option<Exemplar>,
}

/// A summary quantile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quantile {
    /// The quantile, in `[0, 1]`.
    pub quantile: f64,
    /// Its estimated value.
    pub value: f64,
}

/// The typed value of one metric (one label set) of a family.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A counter value, optionally with an exemplar.
    Counter {
        /// The running total.
        value: f64,
        /// An exemplar of the last increment.
        exemplar: Option<Exemplar>,
    },
    /// A gauge value.
    Gauge(f64),
    /// An untyped value.
    Unknown(f64),
    /// A classic histogram; buckets are cumulative and the last one is `+Inf`.
    Histogram {
        /// Cumulative buckets in increasing order of bound.
        buckets: Vec<Bucket>,
        /// Total number of observations (equal to the `+Inf` bucket).
        count: f64,
        /// Sum of observations, if tracked.
        sum: Option<f64>,
    },
    /// A gauge histogram; buckets are cumulative and the last one is `+Inf`.
    GaugeHistogram {
        /// Cumulative buckets in increasing order of bound.
        buckets: Vec<Bucket>,
        /// Current number of observations.
        gcount: f64,
        /// Current sum of observations, if tracked.
        gsum: Option<f64>,
    },
    /// A summary.
    Summary {
        /// Quantiles in increasing order.
        quantiles: Vec<Quantile>,
        /// Number of observations.
        count: f64,
        /// Sum of observations.
        sum: f64,
    },
    /// Information carried as labels of a sample with value 1.
    Info(Vec<Label>),
    /// States and whether each is set; the state label is named after the family.
    StateSet(Vec<(String, bool)>),
}

impl MetricValue {
    /// The family type this value belongs to.
    pub fn metric_type(&self) -> MetricType {
        match self {
            MetricValue::Counter { .. } => MetricType::Counter,
            MetricValue::Gauge(_) => MetricType::Gauge,
            MetricValue::Unknown(_) => MetricType::Unknown,
            MetricValue::Histogram { .. } => MetricType::Histogram,
            MetricValue::GaugeHistogram { .. } => MetricType::GaugeHistogram,
            MetricValue::Summary { .. } => MetricType::Summary,
            MetricValue::Info(_) => MetricType::Info,
            MetricValue::StateSet(_) => MetricType::StateSet,
        }
    }
}

/// One metric of a family: a label set and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Labels, without `le`, `quantile` or the state label, which the value supplies.
    pub labels: Vec<Label>,
    /// The typed value.
    pub value: MetricValue,
    /// Milliseconds since the Unix epoch, if the value is not "now".
    pub timestamp_ms: Option<i64>,
    /// Unix time in seconds when the counter, histogram or summary was created or reset.
    pub created: Option<f64>,
}

/// A metric family: name, metadata and metrics of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name: for counters without `_total`, for info without `_info`; with the
    /// unit suffix if a unit is given.
    pub name: String,
    /// HELP text, unescaped (empty for none).
    pub help: String,
    /// The family type; every metric's value must be of this type.
    pub metric_type: MetricType,
    /// Unit, such as `seconds` or `bytes`.
    pub unit: Option<String>,
    /// The metrics, one per label set.
    pub metrics: Vec<Metric>,
}

impl MetricFamily {
    /// The flat samples of this family as OpenMetrics names them: counters get `_total`
    /// and `_created`, histograms `_bucket` with `le`, `_count`, `_sum`, `_created`, gauge
    /// histograms `_bucket`, `_gcount`, `_gsum`, summaries `quantile` samples, `_count`,
    /// `_sum`, `_created`, info `_info`, and statesets one sample per state. A (gauge)
    /// histogram without a sum has no `_count` (`_gcount`) either, as OpenMetrics requires.
    ///
    /// ```
    /// use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
    /// let fam = MetricFamily {
    ///     name: "jobs".into(),
    ///     help: "Jobs run.".into(),
    ///     metric_type: MetricType::Counter,
    ///     unit: None,
    ///     metrics: vec![Metric {
    ///         labels: vec![("queue".into(), "a".into())],
    ///         value: MetricValue::Counter { value: 3.0, exemplar: None },
    ///         timestamp_ms: None,
    ///         created: Some(1.5),
    ///     }],
    /// };
    /// let names: Vec<_> = fam.samples().into_iter().map(|s| (s.name, s.value)).collect();
    /// assert_eq!(names, [("jobs_total".to_string(), 3.0), ("jobs_created".to_string(), 1.5)]);
    /// ```
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for m in &self.metrics {
            self.push_metric_samples(m, &mut out);
        }
        out
    }

    fn push_metric_samples(&self, m: &Metric, out: &mut Vec<Sample>) {
        let sample = |suffix: &str, extra: Option<Label>, value: f64, ex: &Option<Exemplar>| {
            let mut labels = m.labels.clone();
            labels.extend(extra);
            Sample {
                name: format!("{}{}", self.name, suffix),
                labels,
                value,
                timestamp_ms: m.timestamp_ms,
                exemplar: ex.clone(),
            }
        };
        let created = |out: &mut Vec<Sample>| {
            if let Some(c) = m.created {
                out.push(sample("_created", None, c, &None));
            }
        };
        match &m.value {
            MetricValue::Counter { value, exemplar } => {
                out.push(sample("_total", None, *value, exemplar));
                created(out);
            }
            MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
                out.push(sample("", None, *v, &None))
            }
            MetricValue::Histogram {
                buckets,
                count,
                sum,
            } => {
                push_buckets(buckets, &sample, out);
                // OpenMetrics has `_count` if and only if it has `_sum`.
                if let Some(s) = sum {
                    out.push(sample("_count", None, *count, &None));
                    out.push(sample("_sum", None, *s, &None));
                }
                created(out);
            }
            MetricValue::GaugeHistogram {
                buckets,
                gcount,
                gsum,
            } => {
                push_buckets(buckets, &sample, out);
                if let Some(s) = gsum {
                    out.push(sample("_gcount", None, *gcount, &None));
                    out.push(sample("_gsum", None, *s, &None));
                }
            }
            MetricValue::Summary {
                quantiles,
                count,
                sum,
            } => {
                for q in quantiles {
                    let label = (
                        "quantile".to_string(),
                        crate::float::openmetrics(q.quantile),
                    );
                    out.push(sample("", Some(label), q.value, &None));
                }
                out.push(sample("_count", None, *count, &None));
                out.push(sample("_sum", None, *sum, &None));
                created(out);
            }
            MetricValue::Info(info) => {
                let mut s = sample("_info", None, 1.0, &None);
                s.labels.extend(info.iter().cloned());
                out.push(s);
            }
            MetricValue::StateSet(states) => {
                for (state, on) in states {
                    let label = (self.name.clone(), state.clone());
                    out.push(sample("", Some(label), if *on { 1.0 } else { 0.0 }, &None));
                }
            }
        }
    }
}

/// Builds one sample of a metric: suffix, extra label, value, exemplar.
type SampleFn<'a> = dyn Fn(&str, Option<Label>, f64, &Option<Exemplar>) -> Sample + 'a;

fn push_buckets(buckets: &[Bucket], sample: &SampleFn<'_>, out: &mut Vec<Sample>) {
    for b in buckets {
        let label = ("le".to_string(), crate::float::openmetrics(b.upper_bound));
        out.push(sample(
            "_bucket",
            Some(label),
            b.cumulative_count,
            &b.exemplar,
        ));
    }
}

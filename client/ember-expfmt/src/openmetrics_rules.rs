//! The semantic rules of OpenMetrics 1.0, checked line by line as the parser streams.
//!
//! The syntax is [`OpenMetricsParser`](crate::OpenMetricsParser)'s job; this module keeps
//! the state the rules need across lines: the current family and its metrics, the sample
//! names every earlier family may use, and the buckets of the current histogram point.
//! The rules follow the specification and the reference parser the conformance cases come
//! from (client_python's `openmetrics/parser.py`):
//!
//! * families: a family starts at metadata for a new name or at a sample that cannot
//!   belong to the current one; each of HELP, TYPE and UNIT at most once and before the
//!   family's samples; no family may use a sample name another family may use (counter
//!   `foo` owns `foo`, `foo_total` and `foo_created`, so a later gauge `foo_created`
//!   clashes), which also forbids interleaving families; a unit must end the family name
//!   after an underscore and info and stateset families have none;
//! * metrics: the samples of a metric (its labels without `le`, `quantile` or the state
//!   label) are together, with timestamps on all of them or none, never going backwards;
//! * values: counter totals, histogram buckets, counts and sums, summary counts and sums
//!   are not NaN and not negative, gauge histogram sums are not NaN; bucket values and
//!   counts are integers; quantile values are not negative; stateset values are 0 or 1 and
//!   info values 1;
//! * labels: buckets carry an `le` that is a number, not NaN, and `+Inf` spelled exactly so;
//!   quantiles carry a `quantile` between 0 and 1; stateset samples carry the family name
//!   as a label; `le` and `quantile` appear nowhere else in their families;
//! * histogram points (a metric at one timestamp): buckets in increasing `le` with
//!   non-decreasing counts ending with `+Inf`; `_count` (`_gcount`) equal to the `+Inf`
//!   bucket and present if and only if `_sum` (`_gsum`) is; no `_sum` with negative
//!   buckets; a negative `_gsum` only with negative buckets;
//! * exemplars only on counter `_total` and (gauge) histogram `_bucket` samples.
//!
//! Where the reference parser is looser than the specification this module follows the
//! specification: `le` on a histogram's `_count`, or `quantile` on a summary's `_sum`, is
//! refused, and the samples of an info family are grouped by their full label set (the
//! reference puts them all in one group).

use std::borrow::Cow;
use std::collections::HashSet;

use crate::Error;
use crate::family_builder::openmetrics_suffixes;
use crate::lexer::error_at;
use crate::model::MetricType;
use crate::number::parse_number;

/// One piece of metadata.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Metadata<'a> {
    /// `# HELP`.
    Help,
    /// `# TYPE`.
    Type(MetricType),
    /// `# UNIT` and the unit.
    Unit(&'a str),
}

/// What the rules need to know about a sample line.
#[derive(Debug)]
pub(crate) struct SampleFacts<'s, 'a> {
    pub(crate) name: &'a str,
    pub(crate) labels: &'s [(&'a str, Cow<'a, str>)],
    pub(crate) value: f64,
    /// Nanoseconds since the epoch.
    pub(crate) timestamp: Option<i128>,
    pub(crate) has_exemplar: bool,
    /// Offsets of the line, the value and the exemplar (for error positions).
    pub(crate) line_at: usize,
    pub(crate) value_at: usize,
    pub(crate) exemplar_at: usize,
}

/// The state of the rules across lines.
#[derive(Debug)]
pub(crate) struct Rules<'a> {
    input: &'a [u8],
    family: Option<Family<'a>>,
    /// Sample names the finished families may use.
    claimed: HashSet<String>,
    /// Scratch: the group key of the current sample and the label order to build it.
    key: String,
    order: Vec<usize>,
}

#[derive(Debug)]
struct Family<'a> {
    name: &'a str,
    at: usize,
    metric_type: MetricType,
    typed: bool,
    help_seen: bool,
    unit: Option<(&'a str, usize)>,
    has_samples: bool,
    groups: HashSet<String>,
    group: Option<Group>,
    point: Option<Point>,
}

#[derive(Debug)]
struct Group {
    key: String,
    timestamp: Option<i128>,
}

/// A histogram or gauge histogram point being read.
#[derive(Debug, Default)]
struct Point {
    at: usize,
    last_le: Option<f64>,
    last_bucket: f64,
    count: Option<(f64, usize)>,
    sum_at: Option<usize>,
    gsum_at: Option<usize>,
    negative_gsum_at: Option<usize>,
    negative_buckets: bool,
}

impl<'a> Family<'a> {
    fn new(name: &'a str, at: usize) -> Self {
        Family {
            name,
            at,
            metric_type: MetricType::Unknown,
            typed: false,
            help_seen: false,
            unit: None,
            has_samples: false,
            groups: HashSet::new(),
            group: None,
            point: None,
        }
    }

    fn allows(&self, sample: &str) -> bool {
        sample
            .strip_prefix(self.name)
            .is_some_and(|suffix| openmetrics_suffixes(self.metric_type).contains(&suffix))
    }

    fn is_histogram(&self) -> bool {
        matches!(
            self.metric_type,
            MetricType::Histogram | MetricType::GaugeHistogram
        )
    }
}

impl<'a> Rules<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Rules {
            input,
            family: None,
            claimed: HashSet::new(),
            key: String::new(),
            order: Vec::new(),
        }
    }

    /// A metadata line for `name` at offset `at`.
    pub(crate) fn metadata(
        &mut self,
        name: &'a str,
        meta: Metadata<'a>,
        at: usize,
    ) -> Result<(), Error> {
        let input = self.input;
        let same = self.family.as_ref().is_some_and(|f| f.name == name);
        if !same {
            self.finish_family()?;
        }
        let family = self.family.get_or_insert_with(|| Family::new(name, at));
        if family.has_samples {
            return Err(error_at(
                input,
                at,
                format!("metadata for `{name}` after its samples"),
            ));
        }
        let (seen, what) = match meta {
            Metadata::Help => (std::mem::replace(&mut family.help_seen, true), "HELP"),
            Metadata::Type(t) => {
                family.metric_type = t;
                (std::mem::replace(&mut family.typed, true), "TYPE")
            }
            Metadata::Unit(unit) => (family.unit.replace((unit, at)).is_some(), "UNIT"),
        };
        if seen {
            return Err(error_at(
                input,
                at,
                format!("second {what} line for `{name}`"),
            ));
        }
        Ok(())
    }

    /// A sample line.
    pub(crate) fn sample(&mut self, s: &SampleFacts<'_, 'a>) -> Result<(), Error> {
        if !self.family.as_ref().is_some_and(|f| f.allows(s.name)) {
            if let Some(family) = self.family.as_ref().filter(|f| f.name == s.name) {
                // It would start a family of the same name, which always clashes.
                let names: Vec<String> = openmetrics_suffixes(family.metric_type)
                    .iter()
                    .map(|suffix| format!("`{}{suffix}`", family.name))
                    .collect();
                return Err(error_at(
                    self.input,
                    s.line_at,
                    format!(
                        "sample `{}` does not belong to the {} family `{}` (its samples are {})",
                        s.name,
                        family.metric_type,
                        family.name,
                        names.join(", ")
                    ),
                ));
            }
            self.finish_family()?;
            self.family = Some(Family::new(s.name, s.line_at));
        }
        let Rules {
            input,
            family,
            key,
            order,
            ..
        } = self;
        let Some(family) = family.as_mut() else {
            return Ok(());
        };
        let suffix = s.name.get(family.name.len()..).unwrap_or_default();
        check_sample(input, family, suffix, s)?;
        let exemplar_allowed = match family.metric_type {
            MetricType::Counter => suffix == "_total",
            MetricType::Histogram | MetricType::GaugeHistogram => suffix == "_bucket",
            _ => false,
        };
        if s.has_exemplar && !exemplar_allowed {
            return Err(error_at(
                input,
                s.exemplar_at,
                "exemplars are only allowed on counter `_total` and histogram `_bucket` samples",
            ));
        }
        group_key(family, suffix, s.labels, key, order);
        let same_group = family.group.as_ref().is_some_and(|g| g.key == *key);
        let new_point = if same_group {
            let Some(group) = family.group.as_mut() else {
                return Ok(());
            };
            if group.timestamp.is_some() != s.timestamp.is_some() {
                return Err(error_at(
                    input,
                    s.line_at,
                    "some samples of this metric have a timestamp and others do not",
                ));
            }
            if let (Some(before), Some(now)) = (group.timestamp, s.timestamp) {
                if now < before {
                    return Err(error_at(
                        input,
                        s.line_at,
                        "timestamps of a metric must not go backwards",
                    ));
                }
            }
            let changed = group.timestamp != s.timestamp;
            group.timestamp = s.timestamp;
            changed
        } else {
            if family.groups.contains(key.as_str()) {
                return Err(error_at(
                    input,
                    s.line_at,
                    format!(
                        "samples of one metric of `{}` are not together (metrics are interleaved)",
                        family.name
                    ),
                ));
            }
            family.groups.insert(key.clone());
            family.group = Some(Group {
                key: key.clone(),
                timestamp: s.timestamp,
            });
            true
        };
        if family.is_histogram() {
            if new_point {
                if let Some(point) = family.point.take() {
                    finish_point(input, family.name, &point)?;
                }
            }
            let point = family.point.get_or_insert_with(|| Point {
                at: s.line_at,
                ..Point::default()
            });
            add_to_point(input, point, suffix, s)?;
        }
        family.has_samples = true;
        Ok(())
    }

    /// Whether the next sample, if it has the same name and labels as the last one and
    /// no exemplar, may be checked by [`Self::repeated_sample`]: the last sample was
    /// accepted into a metric of a family that is not a (gauge) histogram, whose points
    /// need the whole line.
    pub(crate) fn repeat_allowed(&self) -> bool {
        self.family
            .as_ref()
            .is_some_and(|f| f.group.is_some() && f.has_samples && !f.is_histogram())
    }

    /// A sample with the same name and labels as the last one [`Self::sample`] accepted,
    /// no metadata or other sample in between, and no exemplar (see
    /// [`Self::repeat_allowed`]): the checks [`Self::sample`] makes, less those that
    /// only depend on the name and labels, which passed. It belongs to the same family
    /// and metric (same group key), so what is left is the value against the type and the
    /// metric's timestamps.
    pub(crate) fn repeated_sample(&mut self, s: &SampleFacts<'_, 'a>) -> Result<(), Error> {
        let input = self.input;
        let Some(family) = self.family.as_mut() else {
            return self.sample(s);
        };
        let suffix = s.name.get(family.name.len()..).unwrap_or_default();
        check_sample(input, family, suffix, s)?;
        let Some(group) = family.group.as_mut() else {
            return self.sample(s);
        };
        if group.timestamp.is_some() != s.timestamp.is_some() {
            return Err(error_at(
                input,
                s.line_at,
                "some samples of this metric have a timestamp and others do not",
            ));
        }
        if let (Some(before), Some(now)) = (group.timestamp, s.timestamp) {
            if now < before {
                return Err(error_at(
                    input,
                    s.line_at,
                    "timestamps of a metric must not go backwards",
                ));
            }
        }
        group.timestamp = s.timestamp;
        Ok(())
    }

    /// The end of the exposition.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        self.finish_family()
    }

    fn finish_family(&mut self) -> Result<(), Error> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        let input = self.input;
        if let Some(point) = &family.point {
            finish_point(input, family.name, point)?;
        }
        if let Some((unit, at)) = family.unit.filter(|(u, _)| !u.is_empty()) {
            let suffixed = family
                .name
                .strip_suffix(unit)
                .is_some_and(|rest| rest.ends_with('_'));
            if !suffixed {
                return Err(error_at(
                    input,
                    at,
                    format!(
                        "unit `{unit}` must be the suffix of the family name `{}` after an \
                         underscore",
                        family.name
                    ),
                ));
            }
            if matches!(family.metric_type, MetricType::Info | MetricType::StateSet) {
                return Err(error_at(
                    input,
                    at,
                    format!("{} families must not have a unit", family.metric_type),
                ));
            }
        }
        let suffixes = openmetrics_suffixes(family.metric_type);
        let extra = (!suffixes.contains(&"")).then_some(&"");
        for suffix in extra.into_iter().chain(suffixes) {
            let full = format!("{}{suffix}", family.name);
            if self.claimed.contains(&full) {
                return Err(error_at(
                    input,
                    family.at,
                    format!(
                        "family `{}` clashes with an earlier family over the name `{full}`",
                        family.name
                    ),
                ));
            }
            self.claimed.insert(full);
        }
        Ok(())
    }
}

/// The value of the label `name`.
fn label<'s>(labels: &'s [(&str, Cow<'_, str>)], name: &str) -> Option<&'s str> {
    labels
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_ref())
}

/// Checks the value and the labels of a sample against its family's type.
fn check_sample(
    input: &[u8],
    family: &Family<'_>,
    suffix: &str,
    s: &SampleFacts<'_, '_>,
) -> Result<(), Error> {
    let value_error =
        |what: &str| error_at(input, s.value_at, format!("value of `{}` {what}", s.name));
    let counter_like = |integer: bool| {
        if s.value.is_nan() {
            return Err(value_error("must not be NaN"));
        }
        if s.value < 0.0 {
            return Err(value_error("must not be negative"));
        }
        if integer && s.value.fract() != 0.0 {
            return Err(value_error("must be an integer"));
        }
        Ok(())
    };
    let reserved = |name: &str, owner: &str| match label(s.labels, name) {
        Some(_) => Err(error_at(
            input,
            s.line_at,
            format!(
                "label `{name}` is reserved for {owner} in `{}`",
                family.name
            ),
        )),
        None => Ok(()),
    };
    match (family.metric_type, suffix) {
        (MetricType::Counter, "_total") => counter_like(false),
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
            let Some(le) = label(s.labels, "le") else {
                return Err(error_at(
                    input,
                    s.line_at,
                    format!("bucket `{}` has no `le` label", s.name),
                ));
            };
            let bound = parse_le(le)
                .map_err(|why| error_at(input, s.line_at, format!("invalid `le` `{le}`: {why}")))?;
            if bound.is_nan() {
                return Err(error_at(input, s.line_at, "`le` must not be NaN"));
            }
            counter_like(true)
        }
        (MetricType::Histogram | MetricType::GaugeHistogram, _) => {
            reserved("le", "histogram buckets")?;
            match suffix {
                "_count" | "_gcount" => counter_like(true),
                "_sum" => counter_like(false),
                "_gsum" if s.value.is_nan() => Err(value_error("must not be NaN")),
                _ => Ok(()),
            }
        }
        (MetricType::Summary, "") => {
            let Some(q) = label(s.labels, "quantile") else {
                return Err(error_at(
                    input,
                    s.line_at,
                    format!("summary quantile `{}` has no `quantile` label", s.name),
                ));
            };
            match parse_number(q.as_bytes()) {
                Ok(v) if (0.0..=1.0).contains(&v) => {}
                _ => {
                    return Err(error_at(
                        input,
                        s.line_at,
                        format!("quantile `{q}` is not a number between 0 and 1"),
                    ));
                }
            }
            if s.value < 0.0 {
                return Err(value_error("must not be negative"));
            }
            Ok(())
        }
        (MetricType::Summary, _) => {
            reserved("quantile", "summary quantiles")?;
            match suffix {
                "_count" => counter_like(true),
                "_sum" => counter_like(false),
                _ => Ok(()),
            }
        }
        (MetricType::StateSet, _) => {
            if label(s.labels, family.name).is_none() {
                return Err(error_at(
                    input,
                    s.line_at,
                    format!("stateset sample has no `{}` label", family.name),
                ));
            }
            if s.value != 0.0 && s.value != 1.0 {
                return Err(value_error("must be 0 or 1"));
            }
            Ok(())
        }
        (MetricType::Info, _) if s.value != 1.0 => Err(value_error("must be 1")),
        _ => Ok(()),
    }
}

/// An `le` value: a number, where positive infinity must be spelled `+Inf`.
fn parse_le(le: &str) -> Result<f64, &'static str> {
    let v = parse_number(le.as_bytes()).map_err(|e| e.describe())?;
    if v == f64::INFINITY && le != "+Inf" {
        return Err("positive infinity must be spelled `+Inf`");
    }
    Ok(v)
}

/// Writes the key of the metric `s` belongs to into `key`: its labels without the one the
/// type adds, sorted by name.
fn group_key(
    family: &Family<'_>,
    suffix: &str,
    labels: &[(&str, Cow<'_, str>)],
    key: &mut String,
    order: &mut Vec<usize>,
) {
    let skip = match (family.metric_type, suffix) {
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
        (MetricType::Summary, "") => Some("quantile"),
        (MetricType::StateSet, _) => Some(family.name),
        _ => None,
    };
    order.clear();
    order.extend((0..labels.len()).filter(|&i| Some(labels[i].0) != skip));
    order.sort_unstable_by_key(|&i| labels[i].0);
    key.clear();
    for &i in order.iter() {
        let (name, value) = &labels[i];
        // Length-prefixed values keep the key unambiguous whatever the values hold.
        key.push_str(name);
        key.push('=');
        key.push_str(itoa::Buffer::new().format(value.len()));
        key.push(':');
        key.push_str(value);
    }
}

/// Adds a histogram sample to its point.
fn add_to_point(
    input: &[u8],
    point: &mut Point,
    suffix: &str,
    s: &SampleFacts<'_, '_>,
) -> Result<(), Error> {
    match suffix {
        "_bucket" => {
            let bound = label(s.labels, "le")
                .and_then(|le| parse_le(le).ok())
                .unwrap_or(f64::NAN);
            if point.last_le.is_some_and(|last| bound <= last) {
                return Err(error_at(
                    input,
                    s.line_at,
                    "buckets must be in increasing order of `le`",
                ));
            }
            if s.value < point.last_bucket {
                return Err(error_at(
                    input,
                    s.value_at,
                    "bucket counts must not decrease (buckets are cumulative)",
                ));
            }
            point.negative_buckets |= bound < 0.0;
            point.last_le = Some(bound);
            point.last_bucket = s.value;
        }
        "_count" | "_gcount" => point.count = Some((s.value, s.value_at)),
        "_sum" => point.sum_at = Some(s.line_at),
        "_gsum" => {
            point.gsum_at = Some(s.line_at);
            if s.value < 0.0 {
                point.negative_gsum_at = Some(s.line_at);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The rules on a complete histogram point.
fn finish_point(input: &[u8], name: &str, point: &Point) -> Result<(), Error> {
    if point.last_le != Some(f64::INFINITY) {
        return Err(error_at(
            input,
            point.at,
            format!("histogram `{name}` has a metric point without a `+Inf` bucket"),
        ));
    }
    if let Some((count, at)) = point.count {
        if count != point.last_bucket {
            return Err(error_at(
                input,
                at,
                format!(
                    "count {count} of `{name}` does not equal its `+Inf` bucket {}",
                    point.last_bucket
                ),
            ));
        }
        if point.sum_at.is_none() && point.gsum_at.is_none() {
            return Err(error_at(
                input,
                at,
                format!("`{name}` has a count but no sum (both or neither must be present)"),
            ));
        }
    } else if let Some(at) = point.sum_at.or(point.gsum_at) {
        return Err(error_at(
            input,
            at,
            format!("`{name}` has a sum but no count (both or neither must be present)"),
        ));
    }
    if let (true, Some(at)) = (point.negative_buckets, point.sum_at) {
        return Err(error_at(
            input,
            at,
            format!("histogram `{name}` has negative buckets and must not have a `_sum`"),
        ));
    }
    if let (false, Some(at)) = (point.negative_buckets, point.negative_gsum_at) {
        return Err(error_at(
            input,
            at,
            format!("`_gsum` of `{name}` may only be negative when it has negative buckets"),
        ));
    }
    Ok(())
}

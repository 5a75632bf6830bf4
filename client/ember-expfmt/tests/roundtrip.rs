//! Whatever the writer renders, the matching parser reads back: arbitrary families of every
//! type (label values and HELP with any UTF-8, backslashes, quotes and newlines included;
//! floats including NaN, infinities, subnormals and negative zero) written with
//! `Encoder::write_family` and parsed again give `MetricFamily::samples()`.
//!
//! Floats compare bit for bit, with two exceptions that are the formats' own: every NaN is
//! read back as Prometheus's normal NaN (the text has no payload), and negative zero is
//! written as `0`, as Go's writers do, so it reads back as positive zero.
//!
//! The text format carries less than OpenMetrics, so its expectation is adjusted: no
//! `_created` samples and no exemplars, `le` and `quantile` spelled as Go's `%g` (`1`, not
//! `1.0`), `_count` written even without a sum, timestamps that are not negative (the
//! only ones Prometheus's text parser reads), and HELP text made only of blanks and NUL
//! bytes read as empty (Prometheus's lexer skips it as whitespace).

use ember_expfmt::{
    Bucket, Encoder, Exemplar, Format, Label, Metric, MetricFamily, MetricType, MetricValue,
    ParsedFamily, Quantile, Sample, float, parse_openmetrics, parse_text,
};
use proptest::prelude::*;
use proptest::sample::SizeRange;

/// Strings that stress escaping, mixed with arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z \\\\\"\n\t\0#{}=,]{0,12}",
        Just(String::new()),
        Just("\\".to_string()),
        Just("\"\\n\"".to_string()),
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}"
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}"
}

/// Any float, with the special values made likely.
fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            5e-324,
            -2.2250738585072014e-308,
            f64::MAX,
            f64::MIN,
            1.0,
            0.1,
        ]),
    ]
}

/// Floats that OpenMetrics allows where a value must not be NaN or negative.
fn non_negative() -> impl Strategy<Value = f64> {
    any_float().prop_map(|f| if f.is_nan() { 0.0 } else { f.abs() })
}

/// Whole, non-negative counts, sometimes beyond 2^53.
fn count() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0u32..1000).prop_map(f64::from),
        1 => (0.0f64..1e25).prop_map(f64::trunc),
    ]
}

/// Label names (distinct, none of `reserved`) with arbitrary values.
fn labels(size: impl Into<SizeRange>, reserved: Vec<String>) -> impl Strategy<Value = Vec<Label>> {
    prop::collection::btree_map(label_name(), text(), size).prop_map(move |m| {
        m.into_iter()
            .filter(|(n, _)| !reserved.contains(n))
            .collect()
    })
}

fn exemplar() -> impl Strategy<Value = Option<Exemplar>> {
    let labels = prop::collection::btree_map(label_name(), "[a-zA-Z0-9 ✓\"\\\\\n]{0,20}", 0..3);
    let timestamp = prop::option::of(any_float().prop_filter("finite", |f| f.is_finite()));
    prop::option::of(
        (labels, any_float(), timestamp).prop_map(|(labels, value, timestamp)| Exemplar {
            labels: labels.into_iter().collect(),
            value,
            timestamp,
        }),
    )
}

/// Cumulative buckets ending with `+Inf`; returns them and whether a bound is negative.
fn buckets() -> impl Strategy<Value = (Vec<Bucket>, bool)> {
    let bounds = prop::collection::vec(any_float().prop_filter("finite", |f| f.is_finite()), 0..5);
    (bounds, prop::collection::vec((count(), exemplar()), 6)).prop_map(|(mut bounds, counts)| {
        // Distinct bounds in increasing order (0 and -0 are one bound).
        bounds.sort_by(f64::total_cmp);
        bounds.dedup_by(|a, b| a == b);
        bounds.push(f64::INFINITY);
        let negative = bounds[0] < 0.0;
        let mut cumulative = 0.0;
        let buckets = bounds
            .into_iter()
            .zip(counts)
            .map(|(upper_bound, (c, exemplar))| {
                cumulative += c;
                Bucket {
                    upper_bound,
                    cumulative_count: cumulative,
                    exemplar,
                }
            })
            .collect();
        (buckets, negative)
    })
}

/// A value of type `t` for a metric whose labels are `taken`, valid for OpenMetrics.
fn value(t: MetricType, family: String, taken: Vec<Label>) -> BoxedStrategy<MetricValue> {
    match t {
        MetricType::Counter => (non_negative(), exemplar())
            .prop_map(|(value, exemplar)| MetricValue::Counter { value, exemplar })
            .boxed(),
        MetricType::Gauge => any_float().prop_map(MetricValue::Gauge).boxed(),
        MetricType::Unknown => any_float().prop_map(MetricValue::Unknown).boxed(),
        MetricType::Histogram => (buckets(), prop::option::of(non_negative()))
            .prop_map(|((buckets, negative), sum)| {
                let count = buckets.last().map_or(0.0, |b| b.cumulative_count);
                let sum = if negative { None } else { sum };
                MetricValue::Histogram {
                    buckets,
                    count,
                    sum,
                }
            })
            .boxed(),
        MetricType::GaugeHistogram => (buckets(), prop::option::of(any_float()))
            .prop_map(|((buckets, negative), gsum)| {
                let gcount = buckets.last().map_or(0.0, |b| b.cumulative_count);
                let gsum = gsum
                    .filter(|s| !s.is_nan())
                    .map(|s| if negative { s } else { s.abs() });
                MetricValue::GaugeHistogram {
                    buckets,
                    gcount,
                    gsum,
                }
            })
            .boxed(),
        MetricType::Summary => {
            let quantile = (0.0f64..=1.0, any_float()).prop_map(|(quantile, v)| Quantile {
                quantile,
                value: if v.is_nan() { v } else { v.abs() },
            });
            (
                prop::collection::vec(quantile, 0..4),
                count(),
                non_negative(),
            )
                .prop_map(|(quantiles, count, sum)| MetricValue::Summary {
                    quantiles,
                    count,
                    sum,
                })
                .boxed()
        }
        MetricType::Info => {
            let reserved = taken.into_iter().map(|(n, _)| n).collect();
            labels(0..3, reserved).prop_map(MetricValue::Info).boxed()
        }
        MetricType::StateSet => {
            let _ = family;
            prop::collection::vec((text(), any::<bool>()), 0..4)
                .prop_map(MetricValue::StateSet)
                .boxed()
        }
    }
}

/// A metric of type `t` in `family`, with a timestamp if `timestamps` allows.
fn metric(
    t: MetricType,
    family: String,
    timestamps: BoxedStrategy<Option<i64>>,
) -> impl Strategy<Value = Metric> {
    let reserved = match t {
        MetricType::Histogram | MetricType::GaugeHistogram => vec!["le".to_string()],
        MetricType::Summary => vec!["quantile".to_string()],
        MetricType::StateSet => vec![family.clone()],
        _ => vec![],
    };
    labels(0..3, reserved).prop_flat_map(move |labels| {
        let created = if matches!(
            t,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        ) {
            prop::option::of(any_float()).boxed()
        } else {
            Just(None).boxed()
        };
        (
            value(t, family.clone(), labels.clone()),
            timestamps.clone(),
            created,
        )
            .prop_map(move |(value, timestamp_ms, created)| Metric {
                labels: labels.clone(),
                value,
                timestamp_ms,
                created,
            })
    })
}

fn metric_type() -> impl Strategy<Value = MetricType> {
    prop::sample::select(vec![
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::GaugeHistogram,
        MetricType::Summary,
        MetricType::Info,
        MetricType::StateSet,
        MetricType::Unknown,
    ])
}

/// A family valid for OpenMetrics; timestamps not negative unless `negative_timestamps`.
fn family(negative_timestamps: bool) -> impl Strategy<Value = MetricFamily> {
    let timestamps = if negative_timestamps {
        prop::option::of(any::<i64>()).boxed()
    } else {
        prop::option::of(0..=i64::MAX).boxed()
    };
    let unit = prop::option::of("[a-z]{1,6}");
    (metric_type(), metric_name(), label_name(), unit, text()).prop_flat_map(
        move |(t, name, state_name, unit, help)| {
            let unit = unit.filter(|_| !matches!(t, MetricType::Info | MetricType::StateSet));
            let name = match (&unit, t) {
                // A state set's name is also its state label's name.
                (_, MetricType::StateSet) => state_name,
                (Some(u), _) => format!("{name}_{u}"),
                (None, MetricType::Counter) if name.ends_with("_total") => format!("{name}_x"),
                (None, _) => name,
            };
            let metrics = prop::collection::vec(metric(t, name.clone(), timestamps.clone()), 0..4)
                .prop_map(|mut metrics| {
                    // One metric per label set.
                    let mut seen = std::collections::HashSet::new();
                    metrics.retain(|m| {
                        let mut key = m.labels.clone();
                        key.sort();
                        seen.insert(key)
                    });
                    metrics
                });
            (Just((t, name, unit, help)), metrics).prop_map(|((t, name, unit, help), metrics)| {
                MetricFamily {
                    name,
                    help,
                    metric_type: t,
                    unit,
                    metrics,
                }
            })
        },
    )
}

fn render(format: Format, family: &MetricFamily) -> Vec<u8> {
    let mut enc = Encoder::new(format);
    enc.write_family(family);
    enc.finish()
}

/// Equal bits, both NaN, or both zero (negative zero is written as `0`).
fn same_float(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits()
        || (got.is_nan() && want.is_nan())
        || (got == 0.0 && want == 0.0)
}

fn same_exemplar(got: &Option<Exemplar>, want: &Option<Exemplar>) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => {
            g.labels == w.labels
                && same_float(g.value, w.value)
                && match (g.timestamp, w.timestamp) {
                    (None, None) => true,
                    (Some(a), Some(b)) => same_float(a, b),
                    _ => false,
                }
        }
        _ => false,
    }
}

fn check_samples(got: &[Sample], want: &[Sample]) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        got.len(),
        want.len(),
        "sample count: got {:#?}\nwant {:#?}",
        got,
        want
    );
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(&g.name, &w.name);
        prop_assert_eq!(&g.labels, &w.labels);
        prop_assert!(
            same_float(g.value, w.value),
            "{}: value {:e} ({:#x}) read back as {:e} ({:#x})",
            w.name,
            w.value,
            w.value.to_bits(),
            g.value,
            g.value.to_bits()
        );
        prop_assert_eq!(g.timestamp_ms, w.timestamp_ms, "{}", w.name);
        prop_assert!(
            same_exemplar(&g.exemplar, &w.exemplar),
            "{}: exemplar {:?} read back as {:?}",
            w.name,
            w.exemplar,
            g.exemplar
        );
    }
    Ok(())
}

fn all_samples(families: &[ParsedFamily]) -> Vec<Sample> {
    families.iter().flat_map(|f| f.samples.clone()).collect()
}

/// What the text format carries of `family`'s samples.
fn text_samples(family: &MetricFamily) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in &family.metrics {
        let one = MetricFamily {
            metrics: vec![m.clone()],
            ..family.clone()
        };
        let mut samples: Vec<Sample> = one
            .samples()
            .into_iter()
            .filter(|s| {
                !(has_created(family.metric_type) && s.name == format!("{}_created", family.name))
            })
            .map(|mut s| {
                s.exemplar = None;
                let synthesized = match family.metric_type {
                    MetricType::Histogram | MetricType::GaugeHistogram => {
                        s.name.ends_with("_bucket")
                    }
                    MetricType::Summary => s.name == family.name,
                    _ => false,
                };
                if synthesized {
                    if let Some((_, v)) = s.labels.last_mut() {
                        if let Ok(bound) = v.parse::<f64>() {
                            *v = float::text(bound);
                        }
                    }
                }
                s
            })
            .collect();
        // The text format writes the count of a histogram without a sum too.
        let count = match &m.value {
            MetricValue::Histogram {
                count, sum: None, ..
            } => Some(("_count", *count)),
            MetricValue::GaugeHistogram {
                gcount, gsum: None, ..
            } => Some(("_gcount", *gcount)),
            _ => None,
        };
        if let Some((suffix, value)) = count {
            samples.push(Sample {
                name: format!("{}{suffix}", family.name),
                labels: m.labels.clone(),
                value,
                timestamp_ms: m.timestamp_ms,
                exemplar: None,
            });
        }
        out.extend(samples);
    }
    out
}

fn has_created(t: MetricType) -> bool {
    matches!(
        t,
        MetricType::Counter | MetricType::Histogram | MetricType::Summary
    )
}

/// HELP as the text format reads it back.
fn text_help(help: &str) -> Option<String> {
    if help.is_empty() {
        None
    } else if help.chars().all(|c| matches!(c, ' ' | '\t' | '\0')) {
        Some(String::new())
    } else {
        Some(help.to_string())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn openmetrics_reads_back_what_it_wrote(family in family(true)) {
        let body = render(Format::OpenMetrics, &family);
        let parsed = parse_openmetrics(&body).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&body)))
        })?;
        prop_assert_eq!(parsed.len(), 1, "{}", String::from_utf8_lossy(&body));
        let p = &parsed[0];
        prop_assert_eq!(&p.name, &family.name);
        prop_assert_eq!(p.metric_type, family.metric_type);
        prop_assert_eq!(p.help.as_deref(), Some(family.help.as_str()).filter(|h| !h.is_empty()));
        prop_assert_eq!(p.unit.as_deref(), family.unit.as_deref().filter(|u| !u.is_empty()));
        check_samples(&p.samples, &family.samples())?;
    }

    #[test]
    fn text_format_reads_back_what_it_wrote(family in family(false)) {
        let body = render(Format::Text, &family);
        let parsed = parse_text(&body).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&body)))
        })?;
        prop_assert!(!parsed.is_empty());
        let first = &parsed[0];
        let name = match family.metric_type {
            MetricType::Counter => format!("{}_total", family.name),
            MetricType::Info => format!("{}_info", family.name),
            _ => family.name.clone(),
        };
        prop_assert_eq!(&first.name, &name);
        let text_type = match family.metric_type {
            MetricType::Info | MetricType::StateSet => MetricType::Gauge,
            MetricType::GaugeHistogram => MetricType::Unknown,
            t => t,
        };
        prop_assert_eq!(first.metric_type, text_type);
        prop_assert_eq!(first.help.clone(), text_help(&family.help));
        check_samples(&all_samples(&parsed), &text_samples(&family))?;
    }

    #[test]
    fn any_value_and_label_round_trips_exactly(
        value in any_float(),
        label in text(),
        help in text(),
        ts in 0..=i64::MAX,
    ) {
        let family = MetricFamily {
            name: "g".into(),
            help,
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric {
                labels: vec![("l".into(), label.clone())],
                value: MetricValue::Gauge(value),
                timestamp_ms: Some(ts),
                created: None,
            }],
        };
        for (format, parse) in [
            (Format::Text, parse_text as fn(&[u8]) -> _),
            (Format::OpenMetrics, parse_openmetrics),
        ] {
            let body = render(format, &family);
            let parsed = parse(&body).map_err(|e: ember_expfmt::Error| {
                TestCaseError::fail(format!("{format:?}: {e}"))
            })?;
            let s = &parsed[0].samples[0];
            prop_assert_eq!(&s.labels[0].1, &label);
            prop_assert!(same_float(s.value, value), "{:?}: {:e} became {:e}", format, value, s.value);
            prop_assert_eq!(s.timestamp_ms, Some(ts));
        }
    }
}

/// The writer bug the round trip found: OpenMetrics wrote `_count` for a histogram without
/// a sum, which OpenMetrics forbids (`_count` if and only if `_sum`).
#[test]
fn histogram_without_sum_has_no_count_in_openmetrics() {
    let family = MetricFamily {
        name: "h".into(),
        help: String::new(),
        metric_type: MetricType::Histogram,
        unit: None,
        metrics: vec![Metric {
            labels: vec![],
            value: MetricValue::Histogram {
                buckets: vec![
                    Bucket {
                        upper_bound: -1.0,
                        cumulative_count: 1.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: f64::INFINITY,
                        cumulative_count: 2.0,
                        exemplar: None,
                    },
                ],
                count: 2.0,
                sum: None,
            },
            timestamp_ms: None,
            created: None,
        }],
    };
    let body = render(Format::OpenMetrics, &family);
    assert_eq!(
        String::from_utf8(body.clone()).unwrap(),
        "# TYPE h histogram\nh_bucket{le=\"-1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\n# EOF\n"
    );
    let parsed = parse_openmetrics(&body).unwrap();
    assert_eq!(parsed[0].samples, family.samples());
    // The text format keeps the count, as Go's writers always do.
    let text = String::from_utf8(render(Format::Text, &family)).unwrap();
    assert!(text.ends_with("h_count 2\n"), "{text}");
}

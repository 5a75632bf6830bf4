//! Parsing a scrape of about 10,000 series, in both formats, through the collecting
//! functions and through the streaming parsers.
//!
//! The bodies are written by `Encoder::write_family`: 20 counter and 20 gauge families of
//! 200 metrics each, and 10 histogram families of 16 metrics with 11 buckets, for 10,080
//! sample lines in the text format (OpenMetrics adds `_created` lines and `# EOF`).
//! No peer crate parses expositions (`prometheus-client` and `prometheus` only write), so
//! there is nothing to compare against in the same run.
//!
//! Run: `cargo bench -p ember-expfmt --bench parse`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_expfmt::{
    Bucket, Encoder, Entry, Format, Metric, MetricFamily, MetricType, MetricValue,
    OpenMetricsParser, TextParser, parse_openmetrics, parse_text,
};

fn metric(labels: Vec<(String, String)>, value: MetricValue) -> Metric {
    Metric {
        labels,
        value,
        timestamp_ms: None,
        created: Some(1_700_000_000.125),
    }
}

fn families() -> Vec<MetricFamily> {
    let mut out = Vec::new();
    let route = |i: usize| {
        vec![
            (
                "method".to_string(),
                ["GET", "POST", "PUT", "DELETE"][i % 4].to_string(),
            ),
            ("code".to_string(), ["200", "404", "500"][i % 3].to_string()),
            ("handler".to_string(), format!("/api/v1/resource/{i}")),
        ]
    };
    for f in 0..20 {
        out.push(MetricFamily {
            name: format!("app_requests_{f}"),
            help: "Requests served, by method, code and handler.".into(),
            metric_type: MetricType::Counter,
            unit: None,
            metrics: (0..200)
                .map(|i| {
                    let value = MetricValue::Counter {
                        value: (i * 7919 % 100_000) as f64,
                        exemplar: None,
                    };
                    metric(route(i), value)
                })
                .collect(),
        });
        out.push(MetricFamily {
            name: format!("app_queue_depth_{f}"),
            help: "Items waiting, with \"quotes\" and a \\ backslash.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: (0..200)
                .map(|i| metric(route(i), MetricValue::Gauge(i as f64 * 0.37 - 12.5)))
                .collect(),
        });
    }
    let bounds = [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        f64::INFINITY,
    ];
    for f in 0..10 {
        out.push(MetricFamily {
            name: format!("app_latency_{f}_seconds"),
            help: "Request latency.".into(),
            metric_type: MetricType::Histogram,
            unit: Some("seconds".into()),
            metrics: (0..16)
                .map(|i| {
                    let buckets = bounds
                        .iter()
                        .enumerate()
                        .map(|(b, &upper_bound)| Bucket {
                            upper_bound,
                            cumulative_count: (b * 10 + i) as f64,
                            exemplar: None,
                        })
                        .collect();
                    let value = MetricValue::Histogram {
                        buckets,
                        count: (100 + i) as f64,
                        sum: Some(i as f64 * 1.5),
                    };
                    metric(route(i), value)
                })
                .collect(),
        });
    }
    out
}

fn body(format: Format) -> Vec<u8> {
    let mut enc = Encoder::new(format);
    for f in families() {
        enc.write_family(&f);
    }
    enc.finish()
}

fn parse(c: &mut Criterion) {
    for (format, name) in [(Format::Text, "text"), (Format::OpenMetrics, "openmetrics")] {
        let body = body(format);
        let families = match format {
            Format::Text => parse_text(&body),
            Format::OpenMetrics => parse_openmetrics(&body),
        };
        let samples: usize = families
            .expect("the benchmark body parses")
            .iter()
            .map(|f| f.samples.len())
            .sum();
        println!("{name}: {} bytes, {samples} samples", body.len());
        let mut group = c.benchmark_group(format!("parse_10k_series/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("collect", |b| {
            b.iter(|| match format {
                Format::Text => parse_text(black_box(&body)).map(|f| f.len()),
                Format::OpenMetrics => parse_openmetrics(black_box(&body)).map(|f| f.len()),
            })
        });
        group.bench_function("stream", |b| {
            b.iter(|| {
                let count = |e: &Entry<'_>| match e {
                    Entry::Sample(s) => s.labels.iter().count() + 1,
                    _ => 0,
                };
                let mut n = 0;
                match format {
                    Format::Text => {
                        for e in TextParser::new(black_box(&body)).flatten() {
                            n += count(&e);
                        }
                    }
                    Format::OpenMetrics => {
                        for e in OpenMetricsParser::new(black_box(&body)).flatten() {
                            n += count(&e);
                        }
                    }
                }
                n
            })
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);

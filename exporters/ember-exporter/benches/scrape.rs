//! The scheduler's per-scrape overhead: 40 collectors (node_exporter's default count on
//! Linux) that each return one small family at once, run through the pool and reported.
//! What is measured is the framework's cost, not any collector's reads.
//!
//! Run with: `cargo bench -p ember-exporter --bench scrape`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ember_expfmt::{Encoder, Format, Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::{Collector, CollectorError, Scheduler};

#[derive(Debug)]
struct Small(String);

impl Collector for Small {
    fn name(&self) -> &str {
        &self.0
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        out.push(MetricFamily {
            name: format!("node_{}_value", self.0),
            help: "A value.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: (0..8)
                .map(|i| Metric {
                    labels: vec![("device".into(), format!("dev{i}"))],
                    value: MetricValue::Gauge(f64::from(i)),
                    timestamp_ms: None,
                    created: None,
                })
                .collect(),
        });
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let collectors: Vec<Box<dyn Collector>> = (0..40)
        .map(|i| Box::new(Small(format!("c{i}"))) as Box<dyn Collector>)
        .collect();
    let scheduler = Scheduler::new("node", "node_exporter", collectors, 4).unwrap();
    c.bench_function("scheduler_scrape_40_collectors", |b| {
        b.iter(|| {
            let scrape = scheduler.scrape(Instant::now() + Duration::from_secs(10));
            black_box(scrape.families.len())
        })
    });
    c.bench_function("scheduler_scrape_and_encode_text", |b| {
        b.iter(|| {
            let scrape = scheduler.scrape(Instant::now() + Duration::from_secs(10));
            let mut enc = Encoder::new(Format::Text);
            for f in &scrape.families {
                enc.write_family(f);
            }
            black_box(enc.finish().len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

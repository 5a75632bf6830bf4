//! `cargo bench` in this directory: the added cost of each attribute is its time minus
//! `plain`'s.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("vs");
    g.bench_function("plain", |b| b.iter(|| vs_autometrics::plain(black_box(7))));
    g.bench_function("ember_metric", |b| {
        b.iter(|| vs_autometrics::ember_metric(black_box(7)))
    });
    g.bench_function("ember_metric_result", |b| {
        b.iter(|| vs_autometrics::ember_metric_result(black_box(7)))
    });
    g.bench_function("autometrics", |b| {
        b.iter(|| vs_autometrics::autometrics(black_box(7)))
    });
    g.bench_function("autometrics_result", |b| {
        b.iter(|| vs_autometrics::autometrics_result(black_box(7)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

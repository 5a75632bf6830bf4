//! Cost of `#[metric]`: the same tiny function with and without the attribute, and the
//! clock reads the attribute makes, for comparison.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[ember::metric]
#[inline(never)]
fn instrumented(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[ember::metric]
#[inline(never)]
fn instrumented_result(x: u64) -> Result<u64, ()> {
    Ok(black_box(x).wrapping_mul(31))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("metric");
    g.bench_function("plain", |b| b.iter(|| plain(black_box(7))));
    g.bench_function("instrumented", |b| b.iter(|| instrumented(black_box(7))));
    g.bench_function("instrumented_result", |b| {
        b.iter(|| instrumented_result(black_box(7)))
    });
    g.bench_function("two_instant_reads", |b| {
        b.iter(|| {
            let t = Instant::now();
            black_box(t.elapsed())
        })
    });
    // The parts of the added cost that are not clock reads.
    let counter = ember::Counter::default();
    g.bench_function("counter_inc", |b| b.iter(|| black_box(&counter).inc()));
    let histogram = ember::Histogram::new(ember::FUNCTION_CALLS_BUCKETS).unwrap_or_default();
    g.bench_function("histogram_observe", |b| {
        b.iter(|| black_box(&histogram).observe(black_box(0.001)))
    });
    let gauge = ember::Gauge::default();
    g.bench_function("gauge_inc_dec", |b| {
        b.iter(|| {
            black_box(&gauge).inc();
            black_box(&gauge).dec();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cost of `#[metric]`: the same tiny function with and without the attribute, and the
//! clock reads the attribute makes, for comparison.
//!
//! `cargo bench -p ember-macros --bench metric -- --warm-up-time 1 --measurement-time 3`

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
    // The clock reads `#[metric]` makes (TSC through `quanta`), and `Instant`'s.
    let clock = quanta::Clock::new();
    g.bench_function("two_tsc_reads", |b| {
        b.iter(|| {
            let t = clock.raw();
            black_box(clock.delta_as_nanos(t, clock.raw()))
        })
    });
    g.bench_function("two_instant_reads", |b| {
        b.iter(|| {
            let t = Instant::now();
            black_box(t.elapsed())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

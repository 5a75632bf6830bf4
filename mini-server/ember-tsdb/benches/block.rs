//! Block write and read throughput on data shaped like `gen_dataset.py` (10 hosts, 24 h at
//! 15 s: 290 series, 1,670,400 samples, one chunk per series): `write_block` (chunk
//! encoding by trial, DEFLATE pages, index, fsync) and reading every sample back through
//! `Querier::select` and `Series::iter`, plus a selective query through postings.
//! The end-to-end figures against promtool are in `bench/run.sh`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use ember_tsdb::{
    Block, Labels, MatchOp, Matcher, Querier, SeriesSamples, WriteOptions, write_block,
};

#[path = "support/dataset.rs"]
mod dataset;

fn series() -> Vec<SeriesSamples> {
    dataset::generate(10, 24.0, 15)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let labels = Labels::new([
                ("__name__", s.family.to_string()),
                ("series", s.name.clone()),
                ("shard", (i % 4).to_string()),
            ])
            .expect("distinct names");
            (labels, s.samples)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = series();
    let samples: u64 = data.iter().map(|s| s.1.len() as u64).sum();
    let dir = std::env::temp_dir().join(format!("ember-bench-block-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(samples));
    g.sample_size(10);
    g.bench_function("write", |b| {
        b.iter(|| {
            let m = write_block(&dir, data.clone(), &WriteOptions::default()).expect("write");
            std::fs::remove_dir_all(dir.join(m.id.to_string())).expect("cleanup");
            black_box(m.stats.num_chunks)
        })
    });
    let m = write_block(&dir, data.clone(), &WriteOptions::default()).expect("write");
    let block = Block::open(dir.join(m.id.to_string())).expect("open");
    g.bench_function("read_all", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for s in block.select(&[], i64::MIN, i64::MAX).expect("select") {
                for (t, v) in s.iter() {
                    n = n.wrapping_add(t as u64 ^ v.to_bits());
                }
            }
            black_box(n)
        })
    });
    let cpu = [
        Matcher::equal("__name__", "node_cpu_seconds_total"),
        Matcher::new(MatchOp::Regex, "shard", "1|2").expect("literal set"),
    ];
    let selected: u64 = block
        .select(&cpu, i64::MIN, i64::MAX)
        .expect("select")
        .iter()
        .map(|s| s.iter().count() as u64)
        .sum();
    g.throughput(Throughput::Elements(selected));
    g.bench_function("select_postings_read", |b| {
        b.iter(|| {
            let sel = block.select(&cpu, i64::MIN, i64::MAX).expect("select");
            black_box(sel.iter().map(|s| s.iter().count()).sum::<usize>())
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

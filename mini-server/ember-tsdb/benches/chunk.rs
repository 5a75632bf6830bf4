//! Chunk codec throughput and size on data shaped like `gen_dataset.py`.
//!
//! Before timing, prints bytes per sample of each encoding on the full issue dataset
//! (50 hosts, 24 h at 15 s: 1,450 series, 8,352,000 samples). Throughput is measured on
//! 10 hosts (290 series, 1,670,400 samples), cut into chunks of 120 samples;
//! `head_append_scrape_order` appends them into a [`Head`] one timestamp at a time across
//! all series, as scrapes arrive (series creation and chunk cuts included).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use ember_tsdb::{Chunk, ChunkAppender, Encoding, Head, HeadOptions, Labels};

#[path = "support/dataset.rs"]
mod dataset;

const CHUNK: usize = 120;

fn encode_all(data: &[dataset::Series], per_chunk: usize, best: bool) -> Vec<Chunk> {
    let mut out = vec![];
    for s in data {
        for part in s.samples.chunks(per_chunk) {
            let c = if best {
                Chunk::encode(part)
            } else {
                Chunk::encode_with(Encoding::Xor, part)
            };
            out.push(c.expect("dataset timestamps increase"));
        }
    }
    out
}

fn print_sizes() {
    let data = dataset::generate(50, 24.0, 15);
    let samples: usize = data.iter().map(|s| s.samples.len()).sum();
    eprintln!(
        "chunk bytes per sample, {} series (e.g. {}), {samples} samples, headers included",
        data.len(),
        data[0].name
    );
    eprintln!(
        "{:>14} {:>8} {:>8} {:>8}",
        "samples/chunk", "xor", "best", "quick"
    );
    for per in [120, 480, 5760] {
        let quick: usize = data
            .iter()
            .flat_map(|s| s.samples.chunks(per))
            .map(|p| Chunk::encode_quick(p).map_or(0, |c| c.as_bytes().len()))
            .sum();
        let size = |best| -> f64 {
            let bytes: usize = encode_all(&data, per, best)
                .iter()
                .map(|c| c.as_bytes().len())
                .sum();
            bytes as f64 / samples as f64
        };
        eprintln!(
            "{per:>14} {:>8.3} {:>8.3} {:>8.3}",
            size(false),
            size(true),
            quick as f64 / samples as f64
        );
    }
    let mut by_family: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for s in &data {
        let e = by_family.entry(s.family).or_default();
        for part in s.samples.chunks(CHUNK) {
            e.0 += part.len();
            e.1 += Chunk::encode_with(Encoding::Xor, part).map_or(0, |c| c.as_bytes().len());
            e.2 += Chunk::encode(part).map_or(0, |c| c.as_bytes().len());
        }
    }
    eprintln!("per family at {CHUNK} samples/chunk: xor, best bytes/sample");
    for (f, (n, x, b)) in by_family {
        eprintln!(
            "  {f:<40} {:>6.3} {:>6.3}",
            x as f64 / n as f64,
            b as f64 / n as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    let data = dataset::generate(10, 24.0, 15);
    let samples: usize = data.iter().map(|s| s.samples.len()).sum();
    let best = encode_all(&data, CHUNK, true);
    let encodings: Vec<Encoding> = best.iter().map(Chunk::encoding).collect();

    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(samples as u64));
    g.sample_size(10);
    g.bench_function("append_xor", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for s in &data {
                for part in s.samples.chunks(CHUNK) {
                    let mut app = ChunkAppender::new(Encoding::Xor).expect("valid encoding");
                    for &(t, v) in part {
                        app.append(t, v).expect("in order");
                    }
                    bytes += app.bytes().len();
                }
            }
            black_box(bytes)
        })
    });
    g.bench_function("append_decimal", |b| {
        b.iter(|| {
            let mut bytes = 0;
            let mut enc = encodings.iter();
            for s in &data {
                for part in s.samples.chunks(CHUNK) {
                    let e = *enc.next().expect("one encoding per chunk");
                    let mut app = ChunkAppender::new(e).expect("valid encoding");
                    for &(t, v) in part {
                        app.append(t, v).expect("in order");
                    }
                    bytes += app.bytes().len();
                }
            }
            black_box(bytes)
        })
    });
    g.bench_function("encode_best", |b| {
        b.iter(|| black_box(encode_all(&data, CHUNK, true)))
    });
    g.bench_function("encode_quick", |b| {
        b.iter(|| {
            let n: usize = data
                .iter()
                .flat_map(|s| s.samples.chunks(CHUNK))
                .map(|p| Chunk::encode_quick(p).map_or(0, |c| c.as_bytes().len()))
                .sum();
            black_box(n)
        })
    });
    let xor = encode_all(&data, CHUNK, false);
    for (name, chunks) in [("decode_xor", &xor), ("decode_best", &best)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sum = 0.0;
                let mut n = 0usize;
                for c in chunks {
                    for (_, v) in c {
                        sum += v;
                        n += 1;
                    }
                }
                black_box((sum, n))
            })
        });
    }
    g.bench_function("head_append_scrape_order", |b| {
        let labels: Vec<Labels> = data
            .iter()
            .map(|s| Labels::new([("__name__", s.name.as_str())]).expect("one label"))
            .collect();
        let n = data[0].samples.len();
        b.iter(|| {
            let mut head = Head::new(HeadOptions::default());
            let ids: Vec<_> = labels.iter().map(|l| head.series_id(l.clone())).collect();
            for i in 0..n {
                for (s, &id) in data.iter().zip(&ids) {
                    let (t, v) = s.samples[i];
                    head.append(id, t, v).expect("in order");
                }
            }
            black_box(head.chunk_bytes())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_sizes();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

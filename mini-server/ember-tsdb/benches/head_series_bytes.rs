//! Heap bytes per series of a [`Head`] shaped like ember-server's scrape load: 100
//! targets x 1,000 series (10 metric families of 100 series per target), 6 labels like
//! `app_http_requests_total{code="200",handler="/api/v1/resource12",instance="127.0.0.1:40001",job="load",method="GET"}`,
//! the same metadata for every series of a family (set per series, as a commit or a WAL
//! replay does), and counter-like samples every 15 s.
//!
//! Live heap bytes are counted by a counting global allocator (`stats_alloc`: requested
//! bytes allocated minus freed, so without the allocator's per-block overhead) from before
//! the head is created; the label sets and metadata the benchmark builds are dropped
//! before each reading. Printed per series: all live bytes, the chunk bytes
//! ([`Head::chunk_bytes`], the encoded samples) and the rest (the head's overhead), and
//! live allocations.
//!
//! `cargo bench -p ember-tsdb --bench head_series_bytes`

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use ember_tsdb::{Head, HeadOptions, Labels, Metadata, MetricType, SeriesId};

const TARGETS: usize = 100;
const FAMILIES: usize = 10;
const PER_FAMILY: usize = 100;
const SERIES: usize = TARGETS * FAMILIES * PER_FAMILY;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes and live allocations.
fn heap() -> (i64, i64) {
    let s = GLOBAL.stats();
    (
        s.bytes_allocated as i64 - s.bytes_deallocated as i64,
        s.allocations as i64 - s.deallocations as i64,
    )
}

const NAMES: [&str; FAMILIES] = [
    "app_http_requests_total",
    "app_http_request_errors_total",
    "app_http_response_bytes_total",
    "app_http_request_bytes_total",
    "app_db_queries_total",
    "app_db_query_errors_total",
    "app_cache_hits_total",
    "app_cache_misses_total",
    "app_jobs_processed_total",
    "app_jobs_failed_total",
];

fn labels(target: usize, family: usize, k: usize) -> Labels {
    Labels::new([
        ("__name__", NAMES[family].to_string()),
        ("code", ["200", "404", "500", "503"][k % 4].to_string()),
        ("handler", format!("/api/v1/resource{}", k / 4)),
        ("instance", format!("127.0.0.1:{}", 40_001 + target)),
        ("job", "load".to_string()),
        ("method", "GET".to_string()),
    ])
    .expect("distinct names")
}

fn metadata(family: usize) -> Metadata {
    Metadata {
        metric_type: MetricType::Counter,
        unit: String::new(),
        help: format!("Total number of {} seen by the application.", NAMES[family]),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let (heap0, allocs0) = heap();
    let mut head = Head::new(HeadOptions::default());
    let mut ids: Vec<SeriesId> = Vec::with_capacity(SERIES);
    let ids_bytes = (SERIES * std::mem::size_of::<SeriesId>()) as i64;
    let example = labels(0, 0, 12);
    let label_bytes: usize = example.pairs().iter().map(|(n, v)| n.len() + v.len()).sum();
    println!(
        "{SERIES} series ({TARGETS} targets x {FAMILIES} families x {PER_FAMILY}), {label_bytes} bytes of label text each"
    );
    println!(
        "{:>7} {:>10} {:>12} {:>12} {:>14} {:>13}",
        "samples", "heap MiB", "heap/series", "chunk/series", "overhead/ser", "allocs/series"
    );
    let t0 = 1_700_000_000_000_i64;
    for scrape in 0..40_usize {
        let t = t0 + scrape as i64 * 15_000;
        if scrape == 0 {
            for target in 0..TARGETS {
                for family in 0..FAMILIES {
                    let meta = metadata(family);
                    for k in 0..PER_FAMILY {
                        let id = head.series_id(labels(target, family, k));
                        head.set_metadata(id, meta.clone()).expect("live series");
                        ids.push(id);
                    }
                }
            }
        }
        for (i, &id) in ids.iter().enumerate() {
            // A counter growing by a per-series rate with some jitter.
            let rate = (i % 17 + 1) as f64;
            let v = (scrape as f64 * rate * 15.0 + ((i * 7 + scrape * 13) % 5) as f64).floor();
            head.append(id, t, v).expect("in order");
        }
        let n = scrape + 1;
        if [1, 8, 20, 40].contains(&n) {
            let (h, a) = heap();
            let live = h - heap0 - ids_bytes;
            let chunks = head.chunk_bytes() as i64;
            let per = |b: i64| b as f64 / SERIES as f64;
            println!(
                "{:>7} {:>10.1} {:>12.1} {:>12.1} {:>14.1} {:>13.2}",
                n,
                live as f64 / f64::from(1 << 20),
                per(live),
                per(chunks),
                per(live - chunks),
                (a - allocs0 - 1) as f64 / SERIES as f64,
            );
        }
    }
    assert_eq!(head.num_series(), SERIES);
}

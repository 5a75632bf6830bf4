//! Head memory per active series at 100,000 series, beyond the chunk bytes.
//!
//! Live heap bytes are counted by a counting global allocator (`stats_alloc`: bytes
//! allocated minus bytes freed, as requested from the allocator, so without the
//! allocator's own per-block overhead; the allocation count is printed to estimate it)
//! from before the store is opened to after each step, the test's own id cache excluded.
//! The head's chunk bytes ([`ember_tsdb::Head::chunk_bytes`]) are subtracted and the rest
//! divided by the number of series. Resident set size (`VmRSS`) growth is printed too; it
//! includes freed memory the allocator keeps (per-scrape buffers) and its overhead. Series carry 5 labels shaped like
//! node_exporter's `node_cpu_seconds_total{cpu, instance, job, mode}` (about 90 bytes of
//! label text). Appends go through [`Db`] (WAL written, sync policy "never"), one commit
//! per scrape of all series; the label sets are built per scrape and dropped, as a
//! scrape's parse output would be.
//!
//! `cargo bench -p ember-tsdb --bench head_memory`

use std::alloc::System;
use std::time::Instant;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use ember_tsdb::{Db, HeadOptions, Labels, Options, SeriesId, SyncPolicy, WalOptions};

const SERIES: usize = 100_000;

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

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn node_labels(i: usize) -> Labels {
    Labels::new([
        ("__name__", "node_cpu_seconds_total".to_string()),
        ("cpu", (i % 64).to_string()),
        ("instance", format!("host-{:05}:9100", i / 64)),
        ("job", "node".to_string()),
        (
            "mode",
            ["idle", "user", "system", "iowait"][i % 4].to_string(),
        ),
    ])
    .expect("distinct names")
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let dir = std::env::temp_dir().join(format!("ember-bench-mem-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        wal: WalOptions {
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        head: HeadOptions::default(),
        ..Options::default()
    };
    let label_bytes: usize = node_labels(12_345)
        .pairs()
        .iter()
        .map(|(n, v)| n.len() + v.len())
        .sum();
    let before = rss_bytes();
    let (heap0, allocs0) = heap();
    let (mut db, _) = Db::open(&dir, options).expect("fresh store opens");
    let mut ids: Vec<SeriesId> = Vec::with_capacity(SERIES);
    let ids_bytes = (SERIES * std::mem::size_of::<SeriesId>()) as u64;
    println!(
        "{SERIES} series, {label_bytes} bytes of label text each; RSS before: {:.1} MiB",
        before as f64 / (1 << 20) as f64
    );
    println!(
        "{:>7} {:>10} {:>11} {:>11} {:>15} {:>13} {:>15} {:>10}",
        "scrapes",
        "samples",
        "heap MiB",
        "chunks MiB",
        "heap-chunks/ser",
        "allocs/series",
        "RSS-chunks/ser",
        "samples/s"
    );
    let mut scrapes = 0;
    let mut elapsed = 0.0;
    for target in [1, 30, 120, 121, 240] {
        let start = Instant::now();
        while scrapes < target {
            let t = 1_700_000_000_000 + scrapes as i64 * 15_000;
            let mut app = db.appender();
            if scrapes == 0 {
                for i in 0..SERIES {
                    let l = node_labels(i);
                    ids.push(app.append(&l, t, i as f64).expect("in order"));
                }
            } else {
                for (i, &id) in ids.iter().enumerate() {
                    let v = (i as i64 * 1_000 + scrapes as i64 * 7) as f64 / 100.0;
                    app.append_id(id, t, v).expect("in order");
                }
            }
            app.commit().expect("commit");
            scrapes += 1;
        }
        elapsed += start.elapsed().as_secs_f64();
        let rss = rss_bytes().saturating_sub(before).saturating_sub(ids_bytes);
        let (h, a) = heap();
        let live = h - heap0 - ids_bytes as i64;
        let chunks = db.head().chunk_bytes() as u64;
        let mib = |b: f64| b / f64::from(1 << 20);
        println!(
            "{:>7} {:>10} {:>11.1} {:>11.1} {:>15.0} {:>13.1} {:>15.0} {:>10.0}",
            scrapes,
            scrapes * SERIES,
            mib(live as f64),
            mib(chunks as f64),
            (live - chunks as i64) as f64 / SERIES as f64,
            (a - allocs0 - 1) as f64 / SERIES as f64,
            rss.saturating_sub(chunks) as f64 / SERIES as f64,
            (scrapes * SERIES) as f64 / elapsed
        );
    }
    assert_eq!(db.head().num_series(), SERIES);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

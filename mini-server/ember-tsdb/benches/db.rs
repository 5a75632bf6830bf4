//! Appends through [`Db`] (WAL included) against appends into a bare [`Head`], on data
//! shaped like `gen_dataset.py` (10 hosts: 290 series, 4 h at 15 s = 278,400 samples),
//! one commit per scrape (all series at one timestamp), series ids cached after the first
//! scrape as a scrape loop caches them. Each iteration starts from an empty store in a
//! fresh directory under the system temp dir.
//!
//! - `head_append`: [`Head::append`] only, no WAL;
//! - `db_append_sync_never`: through [`Db`], WAL written, never synced;
//! - `db_append_sync_default`: the default policy (`fdatasync` when a commit finds the
//!   last one at least 1 s old).
//! - `db_append_100k_series_sync_never`: 100,000 series of 5 labels, 10 scrapes, series
//!   creation (the first scrape) included;
//! - `db_append_100k_series_existing_sync_never`: the same series already created, 9 more
//!   scrapes.
//!
//! Times are the benchmark thread's CPU time (`support/cpu_time.rs`), so samples/s are
//! per core however busy the machine is; the `fdatasync` wait of the default policy is
//! not CPU time and so is not counted (run with `EMBER_BENCH_WALL=1` for wall time).
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use criterion::measurement::{Measurement, WallTime};
use criterion::{BatchSize, Criterion, Throughput};
use ember_tsdb::{Db, Head, HeadOptions, Labels, Options, SeriesId, SyncPolicy, WalOptions};

#[path = "support/cpu_time.rs"]
mod cpu_time;
#[path = "support/dataset.rs"]
#[allow(dead_code)] // `family` is used by the chunk bench only
mod dataset;

struct Store {
    db: Db,
    dir: PathBuf,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fresh(sync: SyncPolicy) -> Store {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ember-bench-db-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        wal: WalOptions {
            sync,
            ..WalOptions::default()
        },
        head: HeadOptions::default(),
        ..Options::default()
    };
    let (db, _) = Db::open(&dir, options).expect("fresh store opens");
    Store { db, dir }
}

/// Appends scrape by scrape: `data[s][i]` is series `s` at scrape `i`.
fn scrape_into(db: &mut Db, labels: &[Labels], data: &[&[(i64, f64)]]) {
    let n = data[0].len();
    let mut ids: Vec<SeriesId> = Vec::with_capacity(labels.len());
    for i in 0..n {
        let mut app = db.appender();
        if i == 0 {
            for (l, s) in labels.iter().zip(data) {
                let (t, v) = s[0];
                ids.push(app.append(l, t, v).expect("in order"));
            }
        } else {
            for (&id, s) in ids.iter().zip(data) {
                let (t, v) = s[i];
                app.append_id(id, t, v).expect("in order");
            }
        }
        app.commit().expect("commit");
    }
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

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let data = dataset::generate(10, 4.0, 15);
    let labels: Vec<Labels> = data
        .iter()
        .map(|s| Labels::new([("__name__", s.name.as_str())]).expect("one label"))
        .collect();
    let series: Vec<&[(i64, f64)]> = data.iter().map(|s| s.samples.as_slice()).collect();
    let samples: usize = series.iter().map(|s| s.len()).sum();

    let mut g = c.benchmark_group("db");
    g.sample_size(10);
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("head_append", |b| {
        b.iter(|| {
            let mut head = Head::new(HeadOptions::default());
            let ids: Vec<SeriesId> = labels.iter().map(|l| head.series_id(l.clone())).collect();
            for i in 0..series[0].len() {
                for (&id, s) in ids.iter().zip(&series) {
                    let (t, v) = s[i];
                    head.append(id, t, v).expect("in order");
                }
            }
            black_box(head.chunk_bytes())
        })
    });
    for (name, sync) in [
        ("db_append_sync_never", SyncPolicy::Never),
        ("db_append_sync_default", WalOptions::default().sync),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || fresh(sync),
                |mut store| {
                    scrape_into(&mut store.db, &labels, &series);
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }

    // 100,000 series, 10 scrapes: series creation (first scrape) included.
    let n = 100_000;
    let big_labels: Vec<Labels> = (0..n).map(node_labels).collect();
    let big: Vec<Vec<(i64, f64)>> = (0..n)
        .map(|s| {
            (0..10)
                .map(|i| {
                    (
                        1_700_000_000_000 + i * 15_000,
                        (s as i64 * 10 + i) as f64 / 100.0,
                    )
                })
                .collect()
        })
        .collect();
    let big_refs: Vec<&[(i64, f64)]> = big.iter().map(Vec::as_slice).collect();
    g.throughput(Throughput::Elements((n * 10) as u64));
    g.bench_function("db_append_100k_series_sync_never", |b| {
        b.iter_batched(
            || fresh(SyncPolicy::Never),
            |mut store| {
                scrape_into(&mut store.db, &big_labels, &big_refs);
                store
            },
            BatchSize::PerIteration,
        )
    });
    // The same 100,000 series already created (first scrape in the untimed setup):
    // 9 more scrapes by cached id.
    let rest: Vec<&[(i64, f64)]> = big.iter().map(|s| &s[1..]).collect();
    g.throughput(Throughput::Elements((n * 9) as u64));
    g.bench_function("db_append_100k_series_existing_sync_never", |b| {
        b.iter_batched(
            || {
                let mut store = fresh(SyncPolicy::Never);
                let first: Vec<&[(i64, f64)]> = big.iter().map(|s| &s[..1]).collect();
                scrape_into(&mut store.db, &big_labels, &first);
                let ids: Vec<SeriesId> = big_labels
                    .iter()
                    .map(|l| store.db.head().get(l).expect("created"))
                    .collect();
                (store, ids)
            },
            |(mut store, ids)| {
                for i in 0..rest[0].len() {
                    let mut app = store.db.appender();
                    for (&id, s) in ids.iter().zip(&rest) {
                        let (t, v) = s[i];
                        app.append_id(id, t, v).expect("in order");
                    }
                    app.commit().expect("commit");
                }
                store
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn main() {
    if std::env::var_os("EMBER_BENCH_WALL").is_some() {
        let mut c = Criterion::default()
            .with_measurement(WallTime)
            .configure_from_args();
        bench(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default()
            .with_measurement(cpu_time::CpuTime)
            .configure_from_args();
        bench(&mut c);
        c.final_summary();
    }
}

//! A child process appends batches through `Db` (fsync "always"), printing each
//! acknowledged batch, and runs `Db::maintain` (head compaction into blocks, block
//! compaction) after every few batches, printing `maintain` just before. The parent
//! kills it with SIGKILL, often right after a `maintain` line (so inside writing a
//! block, renaming it, checkpointing, or deleting compacted sources), several times on
//! the same store. After each kill the store opens, and every acknowledged sample is
//! there exactly once: the samples counted in the blocks' metas plus those in the head
//! equal the distinct samples a query returns, and no block overlaps another.
//!
//! Process crashes only: power loss is not simulated.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ember_tsdb::{Db, HeadOptions, Labels, Options, SyncPolicy, WalOptions};

const CHILD_ENV: &str = "EMBER_TSDB_COMPACT_CRASH_CHILD_DIR";
/// Milliseconds between batches.
const STEP: i64 = 100;
/// Block range: 10 batches.
const RANGE: i64 = 1_000;
/// Batches between maintenance runs.
const MAINTAIN_EVERY: i64 = 4;
const SERIES: usize = 12;

fn options() -> Options {
    Options {
        wal: WalOptions {
            segment_size: 8 << 10,
            sync: SyncPolicy::Always,
        },
        head: HeadOptions { chunk_samples: 8 },
        block_range: RANGE,
        retention_time: None,
        retention_size: None,
        verify_blocks: true,
    }
}

fn labels(s: usize) -> Labels {
    Labels::new([
        ("__name__", format!("m{}", s % 3)),
        ("series", s.to_string()),
    ])
    .expect("valid labels")
}

fn value(k: i64, s: usize) -> u64 {
    ((k * 31 + s as i64) as f64 / 4.0).to_bits()
}

/// Every sample in the store, by series.
fn all(db: &Db) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.select(&[], i64::MIN, i64::MAX)
        .expect("the store reads back")
        .into_iter()
        .map(|s| {
            let v = s.iter().map(|(t, v)| (t, v.to_bits())).collect();
            (s.labels().clone(), v)
        })
        .collect()
}

/// The child: continues after the store's last batch.
#[test]
fn child_compactor() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (mut db, _) = Db::open(Path::new(&dir), options()).unwrap();
    let next = all(&db)
        .values()
        .filter_map(|v| v.last().map(|&(t, _)| t / STEP + 1))
        .max()
        .unwrap_or(0);
    let mut out = std::io::stdout().lock();
    writeln!(out, "start {next}").unwrap();
    out.flush().unwrap();
    for k in next.. {
        let mut app = db.appender();
        for s in 0..SERIES {
            app.append(&labels(s), k * STEP, f64::from_bits(value(k, s)))
                .unwrap();
        }
        app.commit().unwrap();
        writeln!(out, "ack {k}").unwrap();
        out.flush().unwrap();
        if k % MAINTAIN_EVERY == 0 {
            // Announce the runs that will write a head block (the parent kills in those).
            let due = db
                .head()
                .time_range()
                .is_some_and(|(lo, hi)| hi - lo > RANGE / 2 * 3);
            writeln!(out, "{}", if due { "maintain" } else { "idle maintain" }).unwrap();
            out.flush().unwrap();
            let r = db.maintain().unwrap();
            writeln!(
                out,
                "maintained {} {}",
                r.head_blocks.len(),
                r.compacted.len()
            )
            .unwrap();
            out.flush().unwrap();
        }
    }
}

fn temp_dir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("ember-db-compact-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn every_acknowledged_sample_is_there_once_after_sigkill_during_compaction() {
    let seed = std::env::var("EMBER_TSDB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("EMBER_TSDB_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = temp_dir();
    let mut acked: i64 = -1;
    let (mut head_blocks, mut compacted) = (0u64, 0u64);
    let mut windows_hit = 0;
    for round in 0..12 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_compactor",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill at the n-th `maintain` line, after 0..8 ms (inside the maintenance).
        let maintains_before_kill = 1 + rng.next(4);
        let delay = Duration::from_micros(rng.next(8_000));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut maintains = 0;
        let started = Instant::now();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("round {round}: child silent or gone: {e}"));
            if let Some(k) = line.strip_prefix("ack ") {
                acked = acked.max(k.parse().unwrap());
            } else if let Some(r) = line.strip_prefix("maintained ") {
                let (h, c) = r.split_once(' ').unwrap();
                head_blocks += h.parse::<u64>().unwrap();
                compacted += c.parse::<u64>().unwrap();
            } else if line == "maintain" {
                maintains += 1;
                if maintains >= maintains_before_kill {
                    std::thread::sleep(delay);
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "round {round}: too slow"
            );
        }
        child.wait().unwrap();
        reader.join().unwrap();
        for line in rx.try_iter() {
            if let Some(k) = line.strip_prefix("ack ") {
                acked = acked.max(k.parse().unwrap());
            }
        }

        let (db, report) = Db::open(&dir, options()).unwrap();
        eprintln!(
            "round {round}: acked up to {acked}, {} blocks, open report {report:?}",
            db.blocks().len()
        );
        if report.samples_in_blocks > 0 || report.covered_blocks_deleted > 0 {
            windows_hit += 1;
        }
        let got = all(&db);
        // Every acknowledged sample, bit for bit; nothing but whole batches, up to the
        // one in flight.
        for s in 0..SERIES {
            let v = got.get(&labels(s)).map(Vec::as_slice).unwrap_or_default();
            let want: Vec<(i64, u64)> = (0..=acked).map(|k| (k * STEP, value(k, s))).collect();
            let n = want.len();
            assert_eq!(
                &v[..n.min(v.len())],
                want.as_slice(),
                "round {round}: series {s}"
            );
            assert!(
                v.len() <= n + 1,
                "round {round}: series {s} has extra samples"
            );
            if v.len() == n + 1 {
                assert_eq!(v[n], ((acked + 1) * STEP, value(acked + 1, s)));
            }
        }
        // Exactly once: what the blocks and the head hold adds up to what a query
        // returns (which merges duplicates away).
        let distinct: u64 = got.values().map(|v| v.len() as u64).sum();
        let in_blocks: u64 = db.blocks().iter().map(|b| b.meta().stats.num_samples).sum();
        let in_head: u64 = db
            .head_series(i64::MIN, i64::MAX)
            .map(|s| s.samples.count() as u64)
            .sum();
        assert_eq!(
            in_blocks + in_head,
            distinct,
            "round {round}: a sample is stored twice"
        );
        let mut ranges: Vec<(i64, i64)> = db
            .blocks()
            .iter()
            .map(|b| (b.meta().min_time, b.meta().max_time))
            .collect();
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "round {round}: overlapping blocks {ranges:?}"
            );
        }
        drop(db);
    }
    eprintln!(
        "head blocks {head_blocks}, compacted blocks {compacted} (acknowledged runs); \
         kills inside a crash window: {windows_hit}"
    );
    assert!(
        head_blocks > 0 && compacted > 0,
        "the child never compacted"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

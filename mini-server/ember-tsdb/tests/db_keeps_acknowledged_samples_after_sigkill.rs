//! A child process appends batches through `Db` with fsync policy "always" and prints
//! each acknowledged (committed) batch, and every so often cuts the head (checkpoint,
//! segment deletion). The parent kills it with SIGKILL at random points, several times on
//! the same store; after each kill the store opens, every acknowledged sample at or after
//! the head's minimum valid time is there with its exact bits, and nothing else is (only
//! whole batches, the one in flight at most).
//!
//! Process crashes only: power loss is not simulated.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ember_tsdb::{Db, HeadOptions, Labels, Options, SyncPolicy, WalOptions};

const CHILD_ENV: &str = "EMBER_TSDB_DB_CRASH_CHILD_DIR";
const STALE: u64 = 0x7ff0_0000_0000_0002;
/// Batches between cuts in the child.
const CUT_EVERY: i64 = 20;
/// A cut keeps the last this many batches.
const CUT_KEEP: i64 = 15;

fn options() -> Options {
    Options {
        wal: WalOptions {
            segment_size: 16 << 10,
            sync: SyncPolicy::Always,
        },
        head: HeadOptions { chunk_samples: 16 },
        ..Options::default()
    }
}

/// Series in batch `k`: more appear as the run goes on.
fn series_in(k: i64) -> usize {
    5 + (k / 10).min(20) as usize
}

fn labels(s: usize) -> Labels {
    Labels::new([
        ("__name__", format!("crash_metric_{}", s % 4)),
        ("series", s.to_string()),
    ])
    .expect("valid labels")
}

fn value(k: i64, s: usize) -> u64 {
    if (k + s as i64) % 13 == 0 {
        STALE
    } else {
        ((k * 7 + s as i64) as f64 / 8.0).to_bits()
    }
}

fn t_of(k: i64) -> i64 {
    k * 1_000
}

/// The child: continues from the store's last batch, printing `ack K` after batch K
/// commits and `cut T` after a cut at T.
#[test]
fn child_appender() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (mut db, _) = Db::open(Path::new(&dir), options()).unwrap();
    let next = db
        .head_series(i64::MIN, i64::MAX)
        .filter_map(|s| s.samples.last().map(|(t, _)| t / 1_000 + 1))
        .max()
        .unwrap_or(0);
    let mut out = std::io::stdout().lock();
    writeln!(out, "start {next}").unwrap();
    out.flush().unwrap();
    for k in next.. {
        let mut app = db.appender();
        for s in 0..series_in(k) {
            app.append(&labels(s), t_of(k), f64::from_bits(value(k, s)))
                .unwrap();
        }
        app.commit().unwrap();
        writeln!(out, "ack {k}").unwrap();
        out.flush().unwrap();
        if k % CUT_EVERY == CUT_EVERY - 1 {
            let t = t_of(k - CUT_KEEP);
            let mut sink =
                |_: &Labels, _: Option<&ember_tsdb::Metadata>, _: &[ember_tsdb::Chunk]| Ok(());
            db.cut(t, &mut sink).unwrap();
            writeln!(out, "cut {t}").unwrap();
            out.flush().unwrap();
        }
    }
}

fn temp_dir() -> PathBuf {
    let p = std::env::temp_dir().join(format!("ember-db-sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// xorshift, seeded from the clock; the seed is printed so a failure can be replayed.
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
fn acknowledged_samples_survive_sigkill() {
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
    let mut acked: i64 = -1; // highest acknowledged batch over all runs
    let mut last_cut = i64::MIN;
    for round in 0..8 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_appender",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a random number of acknowledgements, or a random delay after the
        // first one (landing inside a commit, a segment roll or a checkpoint).
        let by_count = rng.next(2) == 0;
        let acks_before_kill = 1 + rng.next(120) as i64;
        let delay = Duration::from_millis(rng.next(300));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = 0;
        let mut first_ack_at = None;
        loop {
            let timeout = match first_ack_at {
                Some(at) if !by_count => delay.saturating_sub(std::time::Instant::now() - at),
                _ => Duration::from_secs(60),
            };
            match rx.recv_timeout(timeout) {
                Ok(line) => {
                    if let Some(k) = line.strip_prefix("ack ") {
                        let k: i64 = k.parse().unwrap();
                        assert!(k == acked + 1, "round {round}: ack {k} after {acked}");
                        acked = k;
                        seen += 1;
                        first_ack_at.get_or_insert_with(std::time::Instant::now);
                    } else if let Some(t) = line.strip_prefix("cut ") {
                        last_cut = t.parse().unwrap();
                    } else if let Some((_, k)) = line.split_once("start ") {
                        // (libtest may print its `test child_appender ... ` first.)
                        let k: i64 = k.parse().unwrap();
                        // The child resumes after the last batch in the store, which is the
                        // last acknowledged one or the one in flight at the kill.
                        assert!(
                            k == acked + 1 || k == acked + 2,
                            "round {round}: child starts at {k}, acked {acked}"
                        );
                        acked = k - 1;
                    }
                    if by_count && seen >= acks_before_kill {
                        child.kill().unwrap(); // SIGKILL
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    assert!(
                        first_ack_at.is_some(),
                        "round {round}: child silent for 60 s"
                    );
                    child.kill().unwrap();
                    break;
                }
                Err(e) => panic!("round {round}: child exited early: {e}"),
            }
        }
        child.wait().unwrap();
        // Lines printed before the kill but not read yet still count.
        reader.join().unwrap();
        for line in rx.try_iter() {
            if let Some(k) = line.strip_prefix("ack ") {
                acked = acked.max(k.parse().unwrap());
            } else if let Some(t) = line.strip_prefix("cut ") {
                last_cut = last_cut.max(t.parse().unwrap());
            }
        }
        eprintln!("round {round}: killed after {seen} acks, acked up to {acked}");

        let (db, report) = Db::open(&dir, options()).unwrap();
        let min_valid = db.head().min_valid_time();
        // Every acknowledged cut is in force (one in flight at the kill may be too).
        assert!(
            min_valid >= last_cut,
            "round {round}: {min_valid} < {last_cut}"
        );
        let got: BTreeMap<Labels, Vec<(i64, u64)>> = db
            .head_series(i64::MIN, i64::MAX)
            .map(|s| {
                (
                    s.labels.clone(),
                    s.samples.map(|(t, v)| (t, v.to_bits())).collect(),
                )
            })
            .collect();
        let first = if min_valid == i64::MIN {
            0
        } else {
            min_valid / 1_000
        };
        // Every acknowledged sample at or after the minimum valid time, bit for bit.
        for k in first..=acked {
            for s in 0..series_in(k) {
                let v = got
                    .get(&labels(s))
                    .and_then(|v| v.iter().find(|&&(t, _)| t == t_of(k)));
                assert_eq!(
                    v,
                    Some(&(t_of(k), value(k, s))),
                    "round {round}: batch {k} series {s} ({report:?})"
                );
            }
        }
        // Nothing else: whole batches only, up to the one in flight.
        let mut extra = BTreeMap::<i64, usize>::new();
        for (l, samples) in &got {
            let s: usize = l.get("series").unwrap().parse().unwrap();
            for &(t, bits) in samples {
                let k = t / 1_000;
                assert!(
                    t >= min_valid && k <= acked + 1,
                    "round {round}: unexpected sample {t}"
                );
                assert_eq!(bits, value(k, s), "round {round}: batch {k} series {s}");
                if k == acked + 1 {
                    *extra.entry(k).or_default() += 1;
                }
            }
        }
        if let Some(&n) = extra.get(&(acked + 1)) {
            assert_eq!(n, series_in(acked + 1), "round {round}: partial batch");
        }
        drop(db);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

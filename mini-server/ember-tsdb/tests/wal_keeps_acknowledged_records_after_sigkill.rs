//! A child process appends to a WAL and reports each acknowledged record; the parent
//! kills it with SIGKILL at various points. On replay every acknowledged record is there,
//! in order and intact, and the WAL opens for writing again.
//!
//! This covers process crashes (what `append` guarantees under every sync policy), not
//! power loss, which needs a machine to lose its page cache.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ember_tsdb::{Record, SampleRecord, SeriesRecord, SyncPolicy, WalOptions, WalWriter, replay};

const CHILD_ENV: &str = "EMBER_TSDB_WAL_CRASH_CHILD_DIR";

fn record(i: u64) -> Record {
    if i % 10 == 0 {
        Record::Series(vec![SeriesRecord {
            id: i,
            labels: vec![
                ("__name__".into(), format!("metric_{i}")),
                ("job".into(), "crash".into()),
            ],
        }])
    } else {
        Record::Samples(
            (0..(i % 50))
                .map(|k| SampleRecord {
                    id: k,
                    t: i as i64 * 15_000,
                    v: (i * k) as f64 / 4.0,
                })
                .collect(),
        )
    }
}

fn options() -> WalOptions {
    // Small segments so kills also land around segment rolls.
    WalOptions {
        segment_size: 64 << 10,
        sync: SyncPolicy::Never,
    }
}

/// The child: appends records forever, printing `ack N` after record N is appended.
#[test]
fn child_appender() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (mut wal, _) = WalWriter::open(Path::new(&dir), options(), |_| {}).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        wal.append(&record(i)).unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

fn temp_dir(n: u32) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ember-wal-sigkill-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn acknowledged_records_survive_sigkill() {
    for (round, kill_after) in [1u64, 7, 150, 2_000, 6_000].into_iter().enumerate() {
        let dir = temp_dir(round as u32);
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
        let mut acked = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().unwrap();
                acked = Some(n);
                if n + 1 >= kill_after {
                    child.kill().unwrap(); // SIGKILL on Unix
                    break;
                }
            }
        }
        child.wait().unwrap();
        let acked = acked.expect("the child acknowledged records") + 1;

        let mut got = vec![];
        let report = replay(&dir, |r| got.push(r)).unwrap();
        assert!(
            got.len() as u64 >= acked,
            "round {round}: {} < {acked} ({report:?})",
            got.len()
        );
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r, &record(i as u64), "round {round}, record {i}");
        }
        // The store opens again (cutting a torn tail if the kill left one) and appends.
        let (mut wal, report2) = WalWriter::open(&dir, options(), |_| {}).unwrap();
        assert_eq!(report2.records, report.records);
        wal.append(&record(0)).unwrap();
        drop(wal);
        let report3 = replay(&dir, |_| {}).unwrap();
        assert_eq!(report3.records, report.records + 1);
        assert_eq!(report3.truncated_at, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

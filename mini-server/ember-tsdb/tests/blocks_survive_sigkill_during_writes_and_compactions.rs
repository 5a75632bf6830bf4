//! A child process writes blocks, compacts them and deletes the sources in a loop,
//! reporting each finished write; the parent kills it with SIGKILL at various points. The
//! directory then opens (leftover `.tmp` directories removed), every block verifies, and
//! every acknowledged write's samples are there with their values.
//!
//! Process crashes only (the write path fsyncs files and directories, but power loss is
//! not simulated).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ember_tsdb::{
    Labels, MergeQuerier, Querier, SeriesSamples, WriteOptions, compact, delete_block, open_blocks,
    write_block,
};

const CHILD_ENV: &str = "EMBER_TSDB_BLOCK_CRASH_CHILD_DIR";
const SERIES: usize = 20;
const PER_WRITE: i64 = 300;

fn value(j: usize, t: i64) -> f64 {
    ((j as i64 * 7919 + t * 104_729) % 100_000) as f64 / 100.0
}

/// Write `i`: every series gets `PER_WRITE` samples in its own time range.
fn batch(i: i64) -> Vec<SeriesSamples> {
    (0..SERIES)
        .map(|j| {
            let labels =
                Labels::new([("__name__", "m".to_string()), ("s", j.to_string())]).unwrap();
            let samples = (0..PER_WRITE)
                .map(|k| {
                    let t = i * PER_WRITE + k;
                    (t, value(j, t))
                })
                .collect();
            (labels, samples)
        })
        .collect()
}

/// The child: writes batch 0, 1, 2, ... printing `ack N` once write N returned; after
/// every third write it compacts everything and deletes the sources.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let opts = WriteOptions {
        max_chunk_samples: 50,
        ..WriteOptions::default()
    };
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        write_block(dir, batch(i), &opts).unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
        if i % 3 == 2 {
            let blocks = open_blocks(dir).unwrap();
            compact(dir, &blocks, &opts).unwrap();
            for b in blocks {
                delete_block(b).unwrap();
            }
        }
    }
}

fn temp_dir(n: usize) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ember-block-sigkill-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn acknowledged_blocks_survive_sigkill() {
    // (acknowledged writes before the kill, extra delay in microseconds so kills land at
    // different stages of the next write or compaction: encoding, files, rename, deletes)
    let plan = [
        (1i64, 0u64),
        (2, 700),
        (3, 1_500),
        (3, 4_000),
        (5, 0),
        (6, 2_500),
        (9, 9_000),
        (14, 300),
    ];
    for (round, (kill_after, delay_us)) in plan.into_iter().enumerate() {
        let dir = temp_dir(round);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The harness may print `test child_writer ... ` before the first ack on the same
        // line, so acks are found anywhere in a line. Lines printed after the kill was
        // sent are read too: every printed ack is a write that returned.
        let mut acked = None;
        let mut killed = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some((_, n)) = line.rsplit_once("ack ") {
                let n: i64 = n.trim().parse().unwrap();
                acked = Some(n);
                if !killed && n + 1 >= kill_after {
                    std::thread::sleep(std::time::Duration::from_micros(delay_us));
                    child.kill().unwrap(); // SIGKILL on Unix
                    killed = true;
                }
            }
        }
        child.wait().unwrap();
        let acked = acked.expect("the child acknowledged writes");

        let before: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        eprintln!("round {round}: killed after write {acked}; directory: {before:?}");
        let blocks = open_blocks(&dir).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        for b in &blocks {
            b.verify().unwrap();
        }
        let q = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
        let got: BTreeMap<String, Vec<(i64, f64)>> = q
            .select(&[], i64::MIN, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| (s.labels().get("s").unwrap().to_string(), s.iter().collect()))
            .collect();
        assert_eq!(got.len(), SERIES, "round {round}");
        for (j, samples) in &got {
            let j: usize = j.parse().unwrap();
            // Every acknowledged write is complete; the one write in flight may be there.
            let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
            let want: Vec<i64> = (0..(acked + 1) * PER_WRITE).collect();
            assert_eq!(&ts[..want.len()], &want[..], "round {round} series {j}");
            assert!(ts.len() as i64 <= (acked + 2) * PER_WRITE, "round {round}");
            for &(t, v) in samples {
                assert_eq!(v, value(j, t), "round {round} series {j} t {t}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! `ember-tsdb import openmetrics` then `ember-tsdb dump` gives back exactly the input's
//! samples (names, labels, values bit for bit, millisecond timestamps), across several
//! blocks; `--match` and the time flags select a subset; `analyze` counts them.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use ember_expfmt::{Entry, OpenMetricsParser, TextParser};

type Key = (String, Vec<(String, String)>, i64, u64);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ember-tsdb")
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-tsdb-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small fleet over 3 hours at 10 s, with awkward values and label text.
fn generate() -> String {
    let mut s = String::new();
    let t0 = 1_700_000_000i64;
    s.push_str("# TYPE jobs counter\n# HELP jobs Jobs \"done\".\n");
    for h in 0..3 {
        for code in ["200", "5\\\"x\\n"] {
            let mut v = 0u64;
            for i in 0..1080 {
                v += (i * 7 + h) % 13;
                if i == 500 && h == 1 {
                    v = 0;
                }
                writeln!(
                    s,
                    "jobs_total{{code=\"{code}\",host=\"h{h}\"}} {v} {}",
                    t0 + i as i64 * 10
                )
                .unwrap();
            }
        }
    }
    s.push_str("# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\n");
    let specials = [
        "+Inf",
        "-Inf",
        "NaN",
        "-0.0",
        "1e-300",
        "0.1",
        "-273.15",
        "1.7976931348623157e+308",
    ];
    for i in 0..1080i64 {
        let v = if i % 97 == 0 {
            specials[(i / 97) as usize % specials.len()].to_string()
        } else {
            format!("{:.3}", 20.0 + ((i * 37) % 101) as f64 / 7.0 - 7.0)
        };
        // Fractional-second timestamps: milliseconds kept exactly.
        writeln!(
            s,
            "temp_celsius{{room=\"a b\"}} {v} {}.{:03}",
            t0 + i * 10,
            (i * 7) % 1000
        )
        .unwrap();
    }
    s.push_str("# TYPE lat histogram\n");
    for i in 0..360i64 {
        let t = t0 + i * 30;
        for (k, le) in ["0.1", "1.0", "+Inf"].iter().enumerate() {
            writeln!(s, "lat_bucket{{le=\"{le}\"}} {} {t}", i * (k as i64 + 1)).unwrap();
        }
        writeln!(s, "lat_count {} {t}", i * 3).unwrap();
        writeln!(s, "lat_sum {} {t}", i as f64 * 0.3125).unwrap();
    }
    s.push_str("# EOF\n");
    s
}

fn keys_of(entries: impl Iterator<Item = Entry<'static>>) -> BTreeSet<Key> {
    entries
        .filter_map(|e| match e {
            Entry::Sample(s) => {
                let mut labels = s.labels.to_vec();
                labels.sort();
                Some((
                    s.name.to_string(),
                    labels,
                    s.timestamp_ms.unwrap(),
                    s.value.to_bits(),
                ))
            }
            _ => None,
        })
        .collect()
}

fn assert_same(got: &BTreeSet<Key>, want: &BTreeSet<Key>) {
    let missing: Vec<_> = want.difference(got).take(5).collect();
    let extra: Vec<_> = got.difference(want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing, e.g. {missing:?}; {} extra, e.g. {extra:?}",
        want.difference(got).count(),
        got.difference(want).count()
    );
}

fn run(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dump_keys(dir: &Path, extra: &[&str]) -> BTreeSet<Key> {
    let mut args = vec!["dump", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let text: &'static str = Box::leak(run(&args).into_boxed_str());
    keys_of(TextParser::new(text.as_bytes()).map(|e| e.unwrap()))
}

#[test]
fn import_then_dump_returns_exactly_the_input() {
    let dir = temp("rt");
    let om: &'static str = Box::leak(generate().into_boxed_str());
    let file = dir.join("in.om");
    std::fs::write(&file, om).unwrap();
    let want = keys_of(OpenMetricsParser::new(om.as_bytes()).map(|e| e.unwrap()));
    assert_eq!(want.len(), 6 * 1080 + 1080 + 360 * 5);

    let blocks = dir.join("blocks");
    let report = run(&[
        "import",
        "openmetrics",
        file.to_str().unwrap(),
        blocks.to_str().unwrap(),
        "--max-block-duration=1h",
    ]);
    assert!(
        report.starts_with(&format!(
            "imported {} samples of 12 series into 4 blocks",
            want.len()
        )),
        "{report}"
    );

    assert_same(&dump_keys(&blocks, &[]), &want);

    // --match and the time range select the same subset as a filter over the input.
    let (mint, maxt) = (1_700_003_000_000i64, 1_700_004_000_000i64);
    let got = dump_keys(
        &blocks,
        &[
            "--match",
            "jobs_total{code=~\"5.*\",host!=\"h0\"}",
            "--min-time",
            &mint.to_string(),
            "--max-time",
            &maxt.to_string(),
        ],
    );
    let sub: BTreeSet<Key> = want
        .iter()
        .filter(|k| k.0 == "jobs_total" && k.1[0].1.starts_with('5') && k.1[1].1 != "h0")
        .filter(|k| (mint..=maxt).contains(&k.2))
        .cloned()
        .collect();
    assert_eq!(sub.len(), 2 * 101);
    assert_same(&got, &sub);

    let analyze = run(&["analyze", blocks.to_str().unwrap()]);
    assert!(
        analyze.contains(&format!("samples: {}\n", want.len())),
        "{analyze}"
    );
    assert!(analyze.contains("series: 12\n"), "{analyze}");
    assert!(analyze.contains("  6 jobs_total\n"), "{analyze}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_and_bad_flags_fail_with_a_message() {
    let dir = temp("bad");
    let file = dir.join("bad.om");
    std::fs::write(&file, "up 1\n# EOF\n").unwrap();
    let out = Command::new(bin())
        .args([
            "import",
            "openmetrics",
            file.to_str().unwrap(),
            dir.join("b").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no timestamp"));
    let out = Command::new(bin())
        .args(["dump", dir.to_str().unwrap(), "--match", "up{"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid selector"));
    let out = Command::new(bin()).args(["frobnicate"]).output().unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

//! Dashboard-style range queries over the shared synthetic dataset.
//!
//! `cargo bench -p ember-promql --bench dashboard` generates the data with
//! `../shared/bench/gen_dataset.py HOSTS HOURS STEP` (default `50 24 15`, override with
//! `EMBER_BENCH_DATASET="10 6 15"`), loads it into a `MemStorage` and times each query
//! as a range query over the whole data at a 60 s step (min and median of
//! `EMBER_BENCH_RUNS`, default 5; `EMBER_BENCH_QUERY=topk` runs only matching rows).
//! Needs `python3`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ember_promql::{Engine, Label, Labels, MemStorage, QueryValue};

const QUERIES: &[(&str, &str)] = &[
    ("rate", "rate(http_requests_total[5m])"),
    ("sum by", "sum by (code) (rate(http_requests_total[5m]))"),
    (
        "histogram_quantile",
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        "topk",
        "topk(5, rate(node_cpu_seconds_total{mode=\"user\"}[5m]))",
    ),
    (
        "avg_over_time",
        "avg_over_time(node_memory_MemAvailable_bytes[10m])",
    ),
    (
        "subquery",
        "max_over_time(sum by (instance) (rate(http_requests_total[1m]))[10m:1m])",
    ),
    (
        "group_left",
        "rate(http_requests_total[5m]) / on(instance) group_left sum by (instance) (rate(http_requests_total[5m]))",
    ),
    (
        "sum without",
        "sum without (cpu, mode) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
    ),
];

fn parse_line(line: &str) -> Option<(Labels, i64, f64)> {
    let (series, rest) = match line.find('}') {
        Some(i) => (&line[..=i], &line[i + 1..]),
        None => line.split_once(' ')?,
    };
    let mut it = rest.split_whitespace();
    let v: f64 = it.next()?.parse().ok()?;
    let t: f64 = it.next()?.parse().ok()?;
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let mut ls = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    for kv in labels
        .trim_end_matches('}')
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (k, v) = kv.split_once('=')?;
        ls.push(Label {
            name: k.into(),
            value: v.trim_matches('"').into(),
        });
    }
    Some((Labels::new(ls), (t * 1000.0) as i64, v))
}

fn main() {
    let args = std::env::var("EMBER_BENCH_DATASET").unwrap_or_else(|_| "50 24 15".into());
    let runs: usize = std::env::var("EMBER_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen_dataset.py");
    let t0 = Instant::now();
    let out = Command::new("python3")
        .arg(&script)
        .args(args.split_whitespace())
        .output()
        .expect("python3 runs gen_dataset.py");
    assert!(out.status.success(), "gen_dataset.py failed");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut store = MemStorage::new();
    let (mut n, mut tmin, mut tmax) = (0usize, i64::MAX, i64::MIN);
    let mut last: Option<(String, Labels)> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((labels, t, v)) = parse_line(line) else {
            continue;
        };
        // Consecutive lines share a series: reuse its label set.
        let key = line[..line.find('}').map_or(0, |i| i + 1)].to_string();
        let labels = match &last {
            Some((k, l)) if *k == key => l.clone(),
            _ => {
                last = Some((key, labels.clone()));
                labels
            }
        };
        store.append(&labels, t, v);
        n += 1;
        tmin = tmin.min(t);
        tmax = tmax.max(t);
    }
    eprintln!(
        "dataset {args}: {} series, {n} samples, generated and loaded in {:.1?}",
        store.num_series(),
        t0.elapsed()
    );
    let engine = Engine::default();
    let step = 60_000;
    println!("| query | series out | min ms | median ms (of {runs}) |");
    println!("|---|---|---|---|");
    let only = std::env::var("EMBER_BENCH_QUERY").ok();
    for (name, q) in QUERIES {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        let mut series = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r = engine
                .range_query(&store, q, tmin, tmax, step)
                .expect("query runs");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if let QueryValue::Matrix(m) = r {
                series = m.len();
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {name} | {series} | {:.1} | {:.1} |",
            times[0],
            times[times.len() / 2]
        );
    }
}

//! Store-level model test: random batches of appends (committed or rolled back),
//! metadata updates, cuts with checkpoints, head compactions into blocks, block
//! compactions, retention, restarts (drop and reopen) and range queries through the
//! store (blocks and head merged), all checked against a plain `BTreeMap` model with
//! Prometheus's default rules (out-of-order, duplicate and out-of-bounds samples
//! rejected; identical ones ignored).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ember_tsdb::{
    BlockId, Chunk, Db, Error, HeadOptions, Labels, MatchOp, Matcher, Metadata, MetricType,
    Options, SyncPolicy, WalOptions,
};
use proptest::prelude::*;

const STALE: u64 = 0x7ff0_0000_0000_0002;

#[derive(Debug, Clone)]
enum Op {
    Batch {
        samples: Vec<(usize, i64, u8)>,
        commit: bool,
    },
    Meta {
        series: usize,
        help: u8,
    },
    Cut(i64),
    Restart,
    Query {
        mint: i64,
        len: i64,
    },
    CompactHead,
    Maintain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((0usize..6, 0i64..300, 0u8..5), 1..12), prop::bool::weighted(0.85))
            .prop_map(|(samples, commit)| Op::Batch { samples, commit }),
        1 => (0usize..6, 0u8..3).prop_map(|(series, help)| Op::Meta { series, help }),
        1 => (0i64..300).prop_map(Op::Cut),
        1 => Just(Op::Restart),
        1 => (-10i64..300, 0i64..100).prop_map(|(mint, len)| Op::Query { mint, len }),
        1 => Just(Op::CompactHead),
        2 => Just(Op::Maintain),
    ]
}

fn labels(i: usize) -> Labels {
    Labels::new([("__name__", format!("m{}", i % 2)), ("i", i.to_string())]).expect("valid labels")
}

fn value(v: u8) -> f64 {
    if v == 4 {
        f64::from_bits(STALE)
    } else {
        f64::from(v) * 0.5
    }
}

fn metadata(help: u8) -> Metadata {
    Metadata {
        metric_type: if help % 2 == 0 {
            MetricType::Counter
        } else {
            MetricType::Gauge
        },
        unit: String::new(),
        help: format!("help {help}"),
    }
}

#[derive(Debug, Default)]
struct Model {
    /// Series in the head, with their samples.
    series: BTreeMap<Labels, BTreeMap<i64, u64>>,
    /// Samples persisted in blocks.
    persisted: BTreeMap<Labels, BTreeMap<i64, u64>>,
    meta: BTreeMap<Labels, Metadata>,
    min_valid: i64,
}

struct TestDir(PathBuf);

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn test_dir() -> TestDir {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("ember-db-model-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    TestDir(p)
}

fn fail(e: Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn dump(db: &Db, mint: i64, maxt: i64) -> Result<BTreeMap<Labels, Vec<(i64, u64)>>, TestCaseError> {
    Ok(db
        .select(&[], mint, maxt)
        .map_err(fail)?
        .into_iter()
        .map(|s| {
            let samples = s.iter().map(|(t, v)| (t, v.to_bits())).collect();
            (s.labels().clone(), samples)
        })
        .collect())
}

impl Model {
    /// Every sample, blocks and head, in `mint..=maxt`.
    fn samples(&self, mint: i64, maxt: i64) -> BTreeMap<Labels, Vec<(i64, u64)>> {
        let mut out: BTreeMap<Labels, Vec<(i64, u64)>> = BTreeMap::new();
        for (l, m) in self.persisted.iter().chain(&self.series) {
            out.entry(l.clone())
                .or_default()
                .extend(m.range(mint..=maxt).map(|(&t, &b)| (t, b)));
        }
        out.retain(|_, v| !v.is_empty());
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// The head is cut at `t`: earlier samples leave it (into blocks when `keep`).
    fn cut(&mut self, t: i64, keep: bool) -> BTreeMap<Labels, Vec<(i64, u64)>> {
        let mut out = BTreeMap::new();
        for (l, m) in &mut self.series {
            let rest = m.split_off(&t);
            let old = std::mem::replace(m, rest);
            if !old.is_empty() {
                if keep {
                    self.persisted.entry(l.clone()).or_default().extend(&old);
                }
                out.insert(l.clone(), old.into_iter().collect::<Vec<_>>());
            }
        }
        self.series.retain(|_, m| !m.is_empty());
        let live: BTreeSet<Labels> = self.series.keys().cloned().collect();
        self.meta.retain(|l, _| live.contains(l));
        self.min_valid = self.min_valid.max(t);
        out
    }

    /// Head compaction as Prometheus plans it.
    fn compact_head(&mut self, range: i64) {
        loop {
            let ts = self.series.values().flat_map(|m| m.keys().copied());
            let (Some(lo), Some(hi)) = (ts.clone().min(), ts.max()) else {
                return;
            };
            if hi - lo <= range / 2 * 3 {
                return;
            }
            let start = lo.div_euclid(range) * range;
            self.cut(start + range, true);
        }
    }

    /// Blocks deleted by retention: their samples go.
    fn retain(&mut self, deleted_max_times: &[i64]) {
        if let Some(&cutoff) = deleted_max_times.iter().max() {
            for m in self.persisted.values_mut() {
                *m = m.split_off(&cutoff);
            }
            self.persisted.retain(|_, m| !m.is_empty());
        }
    }
}

/// Checks retention's choice against the rules and returns the deleted blocks' max times.
fn check_retention(
    before: &BTreeMap<BlockId, (i64, i64)>,
    db: &Db,
    deleted: &[BlockId],
    options: Options,
) -> Result<Vec<i64>, TestCaseError> {
    let kept: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|b| (b.meta().min_time, b.meta().max_time))
        .collect();
    let mut max_times = Vec::new();
    for id in deleted {
        let (_, max) = *before
            .get(id)
            .ok_or_else(|| TestCaseError::fail("deleted an unknown block"))?;
        max_times.push(max);
    }
    // Only the oldest data goes: no kept block starts before a deleted one ends.
    if let Some(&cutoff) = max_times.iter().max() {
        prop_assert!(
            kept.iter().all(|&(min, _)| min >= cutoff),
            "{kept:?} {cutoff}"
        );
    }
    // Time retention alone: exactly the blocks ending too long before the newest.
    if let (Some(rt), None) = (options.retention_time, options.retention_size) {
        let newest = before
            .values()
            .map(|&(_, max)| max)
            .max()
            .unwrap_or(i64::MIN);
        for (id, &(_, max)) in before {
            let old = max < newest - rt;
            prop_assert_eq!(
                deleted.contains(id),
                old,
                "block ending {} newest {}",
                max,
                newest
            );
        }
    }
    Ok(max_times)
}

fn block_times(db: &Db) -> BTreeMap<BlockId, (i64, i64)> {
    db.blocks()
        .iter()
        .map(|b| (b.meta().id, (b.meta().min_time, b.meta().max_time)))
        .collect()
}

fn run(
    ops: Vec<Op>,
    chunk_samples: usize,
    segment_size: u64,
    (block_range, retention_time, retention_size): (i64, Option<i64>, Option<u64>),
) -> Result<(), TestCaseError> {
    let dir = test_dir();
    let options = Options {
        wal: WalOptions {
            segment_size,
            sync: SyncPolicy::Never,
        },
        head: HeadOptions { chunk_samples },
        block_range,
        retention_time,
        retention_size,
        verify_blocks: false,
    };
    let open = || Db::open(&dir.0, options).map(|(db, _)| db);
    let mut db = open().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model = Model {
        min_valid: i64::MIN,
        ..Model::default()
    };
    for op in ops {
        match op {
            Op::Batch { samples, commit } => {
                let mut app = db.appender();
                // Last accepted sample per series, pending ones included.
                let mut pending: BTreeMap<usize, (i64, u64)> = BTreeMap::new();
                let mut accepted = vec![];
                for (s, t, v) in samples {
                    let v = value(v);
                    let last = pending.get(&s).copied().or_else(|| {
                        // Persisted samples are all before the head's minimum valid time.
                        model
                            .series
                            .get(&labels(s))
                            .and_then(|m| m.last_key_value().map(|(&t, &b)| (t, b)))
                    });
                    let res = app.append(&labels(s), t, v);
                    match last {
                        _ if t < model.min_valid => {
                            prop_assert!(matches!(res, Err(Error::OutOfBounds { .. })), "{res:?}");
                        }
                        Some((lt, _)) if t < lt => {
                            prop_assert!(matches!(res, Err(Error::OutOfOrder { .. })), "{res:?}");
                        }
                        Some((lt, lb)) if t == lt && lb == v.to_bits() => prop_assert!(res.is_ok()),
                        Some((lt, _)) if t == lt => {
                            prop_assert!(
                                matches!(res, Err(Error::DuplicateSample { .. })),
                                "{res:?}"
                            );
                        }
                        _ => {
                            prop_assert!(res.is_ok(), "{res:?}");
                            pending.insert(s, (t, v.to_bits()));
                            accepted.push((s, t, v.to_bits()));
                        }
                    }
                }
                if commit {
                    app.commit()
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    for (s, t, b) in accepted {
                        model.series.entry(labels(s)).or_default().insert(t, b);
                    }
                } else {
                    app.rollback();
                }
            }
            Op::Meta { series, help } => {
                let mut app = db.appender();
                app.update_metadata(&labels(series), metadata(help));
                app.commit()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                model.series.entry(labels(series)).or_default();
                model.meta.insert(labels(series), metadata(help));
            }
            Op::CompactHead => {
                let written = db.compact_head().map_err(fail)?;
                model.compact_head(block_range);
                prop_assert!(written.iter().all(|m| m.level == 1));
            }
            Op::Maintain => {
                model.compact_head(block_range);
                let before_head = block_times(&db);
                let head_blocks = db.compact_head().map_err(fail)?;
                let compacted = db.compact_blocks().map_err(fail)?;
                let before = block_times(&db);
                let deleted = db.apply_retention().map_err(fail)?;
                let max_times = check_retention(&before, &db, &deleted, options)?;
                model.retain(&max_times);
                // Merged blocks lie in one window each and cover their sources.
                for m in &compacted {
                    prop_assert!(m.level >= 2 && m.sources.len() >= 2);
                }
                prop_assert!(head_blocks.iter().all(|m| !before_head.contains_key(&m.id)));
                // Blocks never overlap.
                let times: Vec<(i64, i64)> = block_times(&db).into_values().collect();
                let mut sorted = times.clone();
                sorted.sort_unstable();
                for w in sorted.windows(2) {
                    prop_assert!(w[0].1 <= w[1].0, "overlapping blocks {:?}", sorted);
                }
                prop_assert_eq!(db.metrics().blocks_loaded.get(), db.blocks().len() as i64);
            }
            Op::Cut(t) => {
                let mut got: BTreeMap<Labels, Vec<(i64, u64)>> = BTreeMap::new();
                let mut sink = |l: &Labels, _: Option<&Metadata>, chunks: &[Chunk]| {
                    let v = got.entry(l.clone()).or_default();
                    for c in chunks {
                        v.extend(c.iter().map(|(t, v)| (t, v.to_bits())));
                    }
                    Ok(())
                };
                db.cut(t, &mut sink)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let want = model.cut(t, false);
                prop_assert_eq!(got, want);
            }
            Op::Restart => {
                drop(db);
                let (d, report) =
                    Db::open(&dir.0, options).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(report.corruptions, 0);
                prop_assert_eq!(report.rejected_samples, 0);
                prop_assert_eq!(report.unknown_series_refs, 0);
                prop_assert_eq!(report.samples_in_blocks, 0);
                prop_assert_eq!(report.covered_blocks_deleted, 0);
                prop_assert_eq!(report.blocks, d.blocks().len());
                db = d;
            }
            Op::Query { mint, len } => {
                let maxt = mint + len;
                prop_assert_eq!(dump(&db, mint, maxt)?, model.samples(mint, maxt));
                // Matchers go through blocks and head alike.
                let m = Matcher::new(MatchOp::Equal, "__name__", "m1").map_err(fail)?;
                let want: BTreeMap<Labels, Vec<(i64, u64)>> = model
                    .samples(mint, maxt)
                    .into_iter()
                    .filter(|(l, _)| l.get("__name__") == Some("m1"))
                    .collect();
                let got: BTreeMap<Labels, Vec<(i64, u64)>> = db
                    .select(&[m], mint, maxt)
                    .map_err(fail)?
                    .into_iter()
                    .map(|s| {
                        let v = s.iter().map(|(t, v)| (t, v.to_bits())).collect();
                        (s.labels().clone(), v)
                    })
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
        // After every step: all samples, series, metadata, label values.
        prop_assert_eq!(
            dump(&db, i64::MIN, i64::MAX)?,
            model.samples(i64::MIN, i64::MAX)
        );
        prop_assert_eq!(db.head().num_series(), model.series.len());
        for l in model.series.keys() {
            prop_assert_eq!(db.metadata(l), model.meta.get(l));
        }
        let values: Vec<String> = model
            .series
            .keys()
            .chain(model.persisted.keys())
            .map(|l| l.get("i").unwrap_or_default().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        prop_assert_eq!(db.label_values("i", &[]).map_err(fail)?, values);
        prop_assert_eq!(db.head().min_valid_time(), model.min_valid);
        let lowest = model
            .persisted
            .values()
            .chain(model.series.values())
            .filter_map(|m| m.keys().next().copied())
            .min()
            .unwrap_or(i64::MAX);
        prop_assert_eq!(db.metrics().lowest_timestamp.get(), lowest);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn db_matches_btreemap_model(
        ops in prop::collection::vec(op(), 1..60),
        chunk_samples in 1usize..6,
        segment_size in prop_oneof![Just(256u64), Just(1024), Just(1 << 20)],
        blocks in (
            prop_oneof![Just(4i64), Just(10), Just(7_200_000)],
            prop_oneof![Just(None), Just(Some(120i64)), Just(Some(1_000))],
            prop_oneof![3 => Just(None), 1 => Just(Some(4_000u64)), 1 => Just(Some(20_000))],
        ),
    ) {
        run(ops, chunk_samples, segment_size, blocks)?;
    }
}

//! Store-level model test: random batches of appends (committed or rolled back),
//! metadata updates, cuts with checkpoints, restarts (drop and reopen) and range queries,
//! all checked against a plain `BTreeMap` model with Prometheus's default rules
//! (out-of-order, duplicate and out-of-bounds samples rejected; identical ones ignored).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ember_tsdb::{
    Chunk, Db, Error, HeadOptions, Labels, Metadata, MetricType, Options, SyncPolicy, WalOptions,
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
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((0usize..6, 0i64..300, 0u8..5), 1..12), prop::bool::weighted(0.85))
            .prop_map(|(samples, commit)| Op::Batch { samples, commit }),
        1 => (0usize..6, 0u8..3).prop_map(|(series, help)| Op::Meta { series, help }),
        1 => (0i64..300).prop_map(Op::Cut),
        1 => Just(Op::Restart),
        1 => (-10i64..300, 0i64..100).prop_map(|(mint, len)| Op::Query { mint, len }),
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
    series: BTreeMap<Labels, BTreeMap<i64, u64>>,
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

fn dump(db: &Db, mint: i64, maxt: i64) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.select(mint, maxt)
        .map(|s| {
            (
                s.labels.clone(),
                s.samples.map(|(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect()
}

fn run(ops: Vec<Op>, chunk_samples: usize, segment_size: u64) -> Result<(), TestCaseError> {
    let dir = test_dir();
    let options = Options {
        wal: WalOptions {
            segment_size,
            sync: SyncPolicy::Never,
        },
        head: HeadOptions { chunk_samples },
        ..Options::default()
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
                let mut want = BTreeMap::new();
                for (l, m) in &mut model.series {
                    let keep = m.split_off(&t);
                    let old = std::mem::replace(m, keep);
                    if !old.is_empty() {
                        want.insert(l.clone(), old.into_iter().collect::<Vec<_>>());
                    }
                }
                model.series.retain(|_, m| !m.is_empty());
                let live: BTreeSet<Labels> = model.series.keys().cloned().collect();
                model.meta.retain(|l, _| live.contains(l));
                model.min_valid = model.min_valid.max(t);
                prop_assert_eq!(got, want);
            }
            Op::Restart => {
                drop(db);
                let (d, report) =
                    Db::open(&dir.0, options).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(report.corruptions, 0);
                prop_assert_eq!(report.rejected_samples, 0);
                prop_assert_eq!(report.unknown_series_refs, 0);
                db = d;
            }
            Op::Query { mint, len } => {
                let maxt = mint + len;
                let want: BTreeMap<Labels, Vec<(i64, u64)>> = model
                    .series
                    .iter()
                    .map(|(l, m)| {
                        (
                            l.clone(),
                            m.range(mint..=maxt)
                                .map(|(&t, &b)| (t, b))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                prop_assert_eq!(dump(&db, mint, maxt), want);
            }
        }
        // After every step: all samples, series, metadata, label values.
        let all: BTreeMap<Labels, Vec<(i64, u64)>> = model
            .series
            .iter()
            .map(|(l, m)| {
                (
                    l.clone(),
                    m.iter().map(|(&t, &b)| (t, b)).collect::<Vec<_>>(),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        prop_assert_eq!(dump(&db, i64::MIN, i64::MAX), all);
        prop_assert_eq!(db.head().num_series(), model.series.len());
        for l in model.series.keys() {
            prop_assert_eq!(db.metadata(l), model.meta.get(l));
        }
        let values: Vec<String> = model
            .series
            .keys()
            .map(|l| l.get("i").unwrap_or_default().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        prop_assert_eq!(db.label_values("i", &[]).unwrap(), values);
        prop_assert_eq!(db.head().min_valid_time(), model.min_valid);
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
    ) {
        run(ops, chunk_samples, segment_size)?;
    }
}

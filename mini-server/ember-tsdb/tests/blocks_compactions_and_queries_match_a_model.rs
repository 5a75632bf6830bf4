//! Model test: random block writes, compactions, retention, reopenings and queries over
//! a directory of blocks, checked against plain `BTreeMap`s (proptest).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ember_tsdb::{
    Block, BlockId, Labels, MatchOp, Matcher, MergeQuerier, Querier, WriteOptions, compact,
    delete_block, open_blocks, retain_after, write_block,
};
use proptest::prelude::*;

type Data = BTreeMap<Labels, BTreeMap<i64, u64>>;

#[derive(Debug, Clone)]
enum Op {
    /// Write a block: (series index, first t, count, step).
    Write(Vec<(usize, i64, usize, i64)>),
    /// Compact the blocks at these positions (of the current list).
    Compact(Vec<prop::sample::Index>),
    /// Delete blocks wholly before this time.
    Retain(i64),
    /// Drop every handle and reopen the directory.
    Reopen,
    /// Select with these matchers over `mint..=maxt`.
    Query(Vec<(usize, u8, usize)>, i64, i64),
}

const VALUES: [&str; 3] = ["a", "b", ""];

fn series_labels(i: usize) -> Labels {
    let mut pairs = vec![("__name__".to_string(), format!("m{}", i % 2))];
    if i % 3 != 2 {
        pairs.push(("job".to_string(), VALUES[i % 3].to_string()));
    }
    if i >= 3 {
        pairs.push(("env".to_string(), VALUES[(i / 3) % 2].to_string()));
    }
    Labels::new(pairs).unwrap()
}

/// Values are a function of (series, t), so equal timestamps in two blocks hold equal
/// values and the merge's choice between them does not matter here.
fn value_bits(i: usize, t: i64) -> u64 {
    let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (t as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    match x % 4 {
        0 => 0x7ff0_0000_0000_0002, // staleness marker
        1 => (((x >> 8) % 10_000) as f64 / 100.0).to_bits(),
        _ => x >> 2,
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((0usize..6, 0i64..1_000, 1usize..40, 1i64..30), 1..4).prop_map(Op::Write),
        2 => prop::collection::vec(any::<prop::sample::Index>(), 2..4).prop_map(Op::Compact),
        1 => (0i64..1_200).prop_map(Op::Retain),
        1 => Just(Op::Reopen),
        4 => (prop::collection::vec((0usize..3, 0u8..4, 0usize..4), 0..3), 0i64..1_500, 0i64..1_500)
            .prop_map(|(m, a, b)| Op::Query(m, a.min(b), a.max(b))),
    ]
}

fn matcher(name: usize, op: u8, value: usize) -> Matcher {
    let name = ["job", "env", "__name__"][name];
    let op = [
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::Regex,
        MatchOp::NotRegex,
    ][usize::from(op)];
    let value = match (op, value) {
        (MatchOp::Regex | MatchOp::NotRegex, 0) => ".+",
        (MatchOp::Regex | MatchOp::NotRegex, 1) => "a|m0",
        (MatchOp::Regex | MatchOp::NotRegex, 2) => "m.*",
        (_, 3) => "",
        (_, i) => ["a", "b", "m1"][i % 3],
    };
    Matcher::new(op, name, value).unwrap()
}

fn temp() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "ember-tsdb-model-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn union(model: &[(BlockId, Data)]) -> Data {
    let mut all = Data::new();
    for (_, d) in model {
        for (l, s) in d {
            all.entry(l.clone()).or_default().extend(s);
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn blocks_compactions_retention_and_queries_match_a_model(ops in prop::collection::vec(op(), 1..25)) {
        let dir = temp();
        std::fs::create_dir_all(&dir).unwrap();
        let mut blocks: Vec<Block> = Vec::new();
        // Per block, in the same order as `blocks`: its id and contents.
        let mut model: Vec<(BlockId, Data)> = Vec::new();
        for op in ops {
            match op {
                Op::Write(parts) => {
                    let mut data = Data::new();
                    for (i, t0, n, step) in parts {
                        let s = data.entry(series_labels(i)).or_default();
                        for k in 0..n as i64 {
                            let t = t0 + k * step;
                            s.insert(t, value_bits(i, t));
                        }
                    }
                    let input = data
                        .iter()
                        .map(|(l, s)| (l.clone(), s.iter().map(|(&t, &b)| (t, f64::from_bits(b))).collect()))
                        .collect();
                    let opts = WriteOptions { max_chunk_samples: 7, ..WriteOptions::default() };
                    let m = write_block(&dir, input, &opts).unwrap();
                    blocks.push(Block::open(dir.join(m.id.to_string())).unwrap());
                    model.push((m.id, data));
                }
                Op::Compact(picks) => {
                    if blocks.len() < 2 {
                        continue;
                    }
                    let mut at: Vec<usize> = picks.iter().map(|p| p.index(blocks.len())).collect();
                    at.sort_unstable();
                    at.dedup();
                    if at.len() < 2 {
                        continue;
                    }
                    let mut chosen = Vec::new();
                    let mut merged = Data::new();
                    for &i in at.iter().rev() {
                        chosen.push(blocks.remove(i));
                        for (l, s) in model.remove(i).1 {
                            merged.entry(l).or_default().extend(s);
                        }
                    }
                    let opts = WriteOptions { max_chunk_samples: 5, ..WriteOptions::default() };
                    let m = compact(&dir, &chosen, &opts).unwrap();
                    prop_assert_eq!(m.level, chosen.iter().map(|b| b.meta().level).max().unwrap() + 1);
                    for b in chosen {
                        delete_block(b).unwrap();
                    }
                    blocks.push(Block::open(dir.join(m.id.to_string())).unwrap());
                    model.push((m.id, merged));
                }
                Op::Retain(before) => {
                    let (gone, kept) = retain_after(std::mem::take(&mut blocks), before).unwrap();
                    let gone: BTreeSet<BlockId> = gone.into_iter().collect();
                    for (id, data) in &model {
                        let max = data.values().filter_map(|s| s.keys().last()).max().copied().unwrap();
                        prop_assert_eq!(gone.contains(id), max < before);
                    }
                    model.retain(|(id, _)| !gone.contains(id));
                    blocks = kept;
                }
                Op::Reopen => {
                    drop(std::mem::take(&mut blocks));
                    blocks = open_blocks(&dir).unwrap();
                    let by_id: BTreeMap<BlockId, Data> = model.drain(..).collect();
                    for b in &blocks {
                        let data = by_id.get(&b.meta().id).cloned();
                        prop_assert!(data.is_some(), "unknown block on disk");
                        model.push((b.meta().id, data.unwrap()));
                    }
                    prop_assert_eq!(model.len(), by_id.len());
                }
                Op::Query(ms, mint, maxt) => {
                    let matchers: Vec<Matcher> = ms.into_iter().map(|(n, o, v)| matcher(n, o, v)).collect();
                    let q = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
                    let got: Vec<(Labels, Vec<(i64, u64)>)> = q
                        .select(&matchers, mint, maxt)
                        .unwrap()
                        .iter()
                        .map(|s| (s.labels().clone(), s.iter().map(|(t, v)| (t, v.to_bits())).collect()))
                        .collect();
                    let want: Vec<(Labels, Vec<(i64, u64)>)> = union(&model)
                        .into_iter()
                        .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(m.name()).unwrap_or(""))))
                        .map(|(l, s)| (l, s.range(mint..=maxt).map(|(&t, &b)| (t, b)).collect::<Vec<_>>()))
                        .filter(|(_, s)| !s.is_empty())
                        .collect();
                    prop_assert_eq!(got, want);
                    let values: BTreeSet<String> = union(&model)
                        .keys()
                        .filter(|l| matchers.iter().all(|m| m.matches(l.get(m.name()).unwrap_or(""))))
                        .filter_map(|l| l.get("job").map(str::to_string))
                        .collect();
                    prop_assert_eq!(q.label_values("job", &matchers).unwrap(), values.into_iter().collect::<Vec<_>>());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

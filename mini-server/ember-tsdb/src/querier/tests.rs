use super::*;
use crate::block::{WriteOptions, write_block};
use crate::head::HeadOptions;
use crate::matcher::MatchOp;
use proptest::prelude::*;
use std::collections::BTreeMap;

const STALE: u64 = 0x7ff0_0000_0000_0002;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn tc(samples: &[(i64, f64)]) -> TimedChunk {
    TimedChunk {
        min_time: samples[0].0,
        max_time: samples[samples.len() - 1].0,
        chunk: Chunk::encode(samples).unwrap(),
    }
}

#[test]
fn overlapping_chunks_merge_and_first_source_wins() {
    let a = tc(&[(1, 1.0), (3, 3.0), (5, 5.0)]);
    let b = tc(&[(2, 20.0), (3, 30.0), (6, 60.0)]);
    let c = tc(&[(10, 100.0)]);
    let s = Series::new(l(&[("a", "b")]), vec![c, a, b], i64::MIN, i64::MAX);
    let got: Vec<_> = s.iter().collect();
    assert_eq!(
        got,
        [
            (1, 1.0),
            (2, 20.0),
            (3, 3.0),
            (5, 5.0),
            (6, 60.0),
            (10, 100.0)
        ]
    );
    let s = Series::new(s.labels().clone(), s.chunks().to_vec(), 3, 6);
    assert_eq!(s.iter().map(|x| x.0).collect::<Vec<_>>(), [3, 5, 6]);
}

#[test]
fn head_selects_by_matchers_with_staleness_bits() {
    let mut h = Head::new(HeadOptions { chunk_samples: 4 });
    let a = h.series_id(l(&[("__name__", "up"), ("job", "a")]));
    let b = h.series_id(l(&[("__name__", "up"), ("job", "b")]));
    for t in 0..10 {
        h.append(a, t * 10, t as f64).unwrap();
    }
    h.append(a, 100, f64::from_bits(STALE)).unwrap();
    h.append(b, 5, 1.0).unwrap();
    let sel = h
        .select(&[Matcher::equal("job", "a")], i64::MIN, i64::MAX)
        .unwrap();
    let got: Vec<_> = sel[0].iter().collect();
    assert_eq!(got.len(), 11);
    assert_eq!(got[10].1.to_bits(), STALE);
    // A range across the head's chunk cuts.
    let sel = h.select(&[Matcher::equal("job", "a")], 25, 55).unwrap();
    assert_eq!(sel[0].iter().map(|x| x.0).collect::<Vec<_>>(), [30, 40, 50]);
    let sel = h.select(&[], 0, 5).unwrap();
    assert_eq!(sel.len(), 2);
    assert!(h.select(&[], 200, 300).unwrap().is_empty());
    assert_eq!(h.label_names(&[]).unwrap(), ["__name__", "job"]);
    let not_a = Matcher::new(MatchOp::NotEqual, "job", "a").unwrap();
    assert_eq!(h.label_values("job", &[not_a]).unwrap(), ["b"]);
}

#[test]
fn blocks_and_head_merge_into_one_sorted_answer() {
    let dir = crate::block::tests::temp_dir("merge");
    let x = l(&[("__name__", "x")]);
    let y = l(&[("__name__", "y")]);
    let m = write_block(
        &dir,
        vec![
            (x.clone(), vec![(0, 0.0), (10, 1.0)]),
            (y.clone(), vec![(0, 5.0)]),
        ],
        &WriteOptions::default(),
    )
    .unwrap();
    let block = Block::open(dir.join(m.id.to_string())).unwrap();
    let mut head = Head::new(HeadOptions::default());
    let hx = head.series_id(x.clone());
    head.append(hx, 10, 99.0).unwrap();
    head.append(hx, 20, 2.0).unwrap();
    let hz = head.series_id(l(&[("__name__", "a_first")]));
    head.append(hz, 1, 1.0).unwrap();
    let q = MergeQuerier::new(vec![&block as &dyn Querier, &head]);
    let sel = q.select(&[], i64::MIN, i64::MAX).unwrap();
    let names: Vec<_> = sel
        .iter()
        .map(|s| s.labels().get("__name__").unwrap())
        .collect();
    assert_eq!(names, ["a_first", "x", "y"]);
    assert_eq!(
        sel[1].iter().collect::<Vec<_>>(),
        [(0, 0.0), (10, 1.0), (20, 2.0)]
    );
    assert_eq!(
        q.label_values("__name__", &[]).unwrap(),
        ["a_first", "x", "y"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn matcher_strategy() -> impl Strategy<Value = Matcher> {
    let op = prop_oneof![
        Just(MatchOp::Equal),
        Just(MatchOp::NotEqual),
        Just(MatchOp::Regex),
        Just(MatchOp::NotRegex)
    ];
    let value = prop_oneof![
        Just(String::new()),
        "[ab]{1,2}",
        Just(".*".to_string()),
        Just(".+".to_string()),
        Just("a|b".to_string()),
        Just("a.*".to_string())
    ];
    (op, prop_oneof![Just("n"), Just("m")], value)
        .prop_map(|(op, name, v)| Matcher::new(op, name, v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Block selection (postings fast paths included) and the head's scan agree with a
    /// plain filter over a `BTreeMap` model.
    #[test]
    fn block_and_head_select_like_a_model(
        series in prop::collection::btree_map(
            prop::collection::btree_map(prop_oneof![Just("n".to_string()), Just("m".to_string())], "[ab]{1,2}", 0..3),
            prop::collection::btree_map(0i64..50, any::<u64>(), 1..6),
            1..10),
        matchers in prop::collection::vec(matcher_strategy(), 0..3),
        (mint, maxt) in (0i64..50, 0i64..50),
    ) {
        let series: BTreeMap<Labels, BTreeMap<i64, u64>> = series
            .into_iter()
            .map(|(ls, s)| (Labels::new(ls).unwrap(), s))
            .collect();
        let dir = crate::block::tests::temp_dir("model");
        let input = series
            .iter()
            .map(|(l, s)| (l.clone(), s.iter().map(|(&t, &b)| (t, f64::from_bits(b))).collect()))
            .collect();
        let m = write_block(&dir, input, &WriteOptions { max_chunk_samples: 2, ..WriteOptions::default() }).unwrap();
        let block = Block::open(dir.join(m.id.to_string())).unwrap();
        let mut head = Head::new(HeadOptions { chunk_samples: 2 });
        for (l, s) in &series {
            let id = head.series_id(l.clone());
            for (&t, &b) in s {
                head.append(id, t, f64::from_bits(b)).unwrap();
            }
        }
        let want: Vec<(Labels, Vec<(i64, u64)>)> = series
            .iter()
            .filter(|(l, _)| matches_all(l, &matchers))
            .map(|(l, s)| (l.clone(), s.range(mint..=maxt.max(mint)).filter(|_| mint <= maxt).map(|(&t, &b)| (t, b)).collect::<Vec<_>>()))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        for q in [&block as &dyn Querier, &head] {
            let got: Vec<(Labels, Vec<(i64, u64)>)> = q
                .select(&matchers, mint, maxt)
                .unwrap()
                .iter()
                .map(|s| (s.labels().clone(), s.iter().map(|(t, v)| (t, v.to_bits())).collect()))
                .collect();
            prop_assert_eq!(&got, &want);
            let names: std::collections::BTreeSet<String> = series
                .keys()
                .filter(|l| matches_all(l, &matchers))
                .flat_map(|l| l.pairs().iter().map(|p| p.0.clone()))
                .collect();
            prop_assert_eq!(q.label_names(&matchers).unwrap(), names.into_iter().collect::<Vec<_>>());
            let values: std::collections::BTreeSet<String> = series
                .keys()
                .filter(|l| matches_all(l, &matchers))
                .filter_map(|l| l.get("n").map(str::to_string))
                .collect();
            prop_assert_eq!(q.label_values("n", &matchers).unwrap(), values.into_iter().collect::<Vec<_>>());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

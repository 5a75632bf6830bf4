use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn labels(i: usize) -> Labels {
    Labels::new([("__name__", format!("m{}", i % 3)), ("i", i.to_string())]).unwrap()
}

#[test]
fn series_ids_are_stable_and_dense() {
    let mut h = Head::new(HeadOptions::default());
    let a = h.series_id(labels(0));
    let b = h.series_id(labels(1));
    assert_eq!((a, b), (SeriesId(0), SeriesId(1)));
    assert_eq!(h.series_id(labels(0)), a);
    assert_eq!(h.get(&labels(1)), Some(b));
    assert_eq!(h.labels(b), Some(labels(1)));
    assert_eq!(h.label_value(b, "i"), Some("1"));
    assert_eq!(
        h.label_pairs(b).unwrap().collect::<Vec<_>>(),
        [("__name__", "m1"), ("i", "1")]
    );
    assert_eq!(h.num_series(), 2);
    assert_eq!(h.stats().series_created, 2);
    assert!(matches!(
        h.append(SeriesId(9), 0, 0.0),
        Err(Error::UnknownSeries(9))
    ));
}

#[test]
fn duplicates_and_out_of_order_are_counted() {
    let mut h = Head::new(HeadOptions::default());
    let id = h.series_id(labels(0));
    h.append(id, 10, 1.0).unwrap();
    h.append(id, 10, 1.0).unwrap(); // identical: ignored
    assert!(matches!(
        h.append(id, 10, 2.0),
        Err(Error::DuplicateSample { t: 10 })
    ));
    assert!(matches!(
        h.append(id, 9, 2.0),
        Err(Error::OutOfOrder { t: 9, last: 10 })
    ));
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    h.append(id, 11, stale).unwrap();
    assert!(matches!(
        h.append(id, 11, f64::NAN),
        Err(Error::DuplicateSample { .. })
    ));
    let st = h.stats();
    assert_eq!(
        (
            st.samples_appended,
            st.identical_ignored,
            st.duplicates,
            st.out_of_order
        ),
        (2, 1, 2, 1)
    );
    let got: Vec<(i64, u64)> = h
        .samples(id)
        .unwrap()
        .map(|(t, v)| (t, v.to_bits()))
        .collect();
    assert_eq!(got, [(10, 1f64.to_bits()), (11, stale.to_bits())]);
}

#[test]
fn cut_chunks_are_compressed() {
    let mut h = Head::new(HeadOptions { chunk_samples: 120 });
    let id = h.series_id(labels(0));
    for i in 0..1200 {
        h.append(id, i * 15_000, (i * 3) as f64).unwrap();
    }
    assert_eq!(h.samples(id).unwrap().count(), 1200);
    // Decimal-coded counters take well under 2 bytes per sample.
    assert!(h.chunk_bytes() < 2 * 1200, "{}", h.chunk_bytes());
}

#[derive(Debug, Clone)]
enum Op {
    Append { series: usize, t: i64, v: u8 },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (0usize..5, -20i64..200, 0u8..4).prop_map(|(series, t, v)| Op::Append { series, t, v }),
        0..400,
    )
}

proptest! {
    /// Random appends checked against a `BTreeMap` model with Prometheus's rules.
    #[test]
    fn head_matches_btreemap_model(ops in ops(), chunk_samples in 1usize..10) {
        let mut h = Head::new(HeadOptions { chunk_samples });
        let mut model: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
        let mut want = HeadStats::default();
        for op in ops {
            let Op::Append { series, t, v } = op;
            let v = if v == 3 { f64::from_bits(0x7ff0_0000_0000_0002) } else { f64::from(v) * 0.25 };
            let l = labels(series);
            let id = h.series_id(l.clone());
            let m = model.entry(l).or_insert_with(|| { want.series_created += 1; BTreeMap::new() });
            let res = h.append(id, t, v);
            match m.last_key_value() {
                Some((&lt, _)) if t < lt => { want.out_of_order += 1; prop_assert!(res.is_err()); }
                Some((&lt, lv)) if t == lt && lv.to_bits() == v.to_bits() => { want.identical_ignored += 1; prop_assert!(res.is_ok()); }
                Some((&lt, _)) if t == lt => { want.duplicates += 1; prop_assert!(res.is_err()); }
                _ => { want.samples_appended += 1; m.insert(t, v); prop_assert!(res.is_ok()); }
            }
        }
        let mut got = h.stats();
        (got.chunks_created, got.chunks_removed) = (0, 0);
        prop_assert_eq!(got, want);
        prop_assert_eq!(h.num_series(), model.len());
        prop_assert_eq!(h.num_chunks(), h.stats().chunks_created as usize);
        for (l, m) in &model {
            let id = h.get(l).unwrap();
            let got: Vec<(i64, u64)> = h.samples(id).unwrap().map(|(t, v)| (t, v.to_bits())).collect();
            let exp: Vec<(i64, u64)> = m.iter().map(|(&t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(got, exp);
        }
    }
}

#[test]
fn series_chunks_expose_every_sample() {
    let mut h = Head::new(HeadOptions { chunk_samples: 4 });
    for i in 0..3 {
        let id = h.series_id(labels(i));
        for t in 0..10 {
            h.append(id, t, (t * i as i64) as f64).unwrap();
        }
    }
    let mut n = 0;
    for (id, l, closed, open) in h.series_chunks() {
        assert_eq!(h.labels(id), Some(l));
        assert_eq!(closed.len(), 2);
        let all: Vec<(i64, f64)> = closed
            .iter()
            .flat_map(Chunk::iter)
            .chain(open.iter())
            .collect();
        assert_eq!(all, h.samples(id).unwrap().collect::<Vec<_>>());
        assert_eq!(all.len(), 10);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn time_range_spans_closed_and_open_chunks() {
    let mut h = Head::new(HeadOptions { chunk_samples: 4 });
    assert_eq!(h.time_range(), None);
    let a = h.series_id(labels(0));
    let b = h.series_id(labels(1));
    for t in 0..10 {
        h.append(a, 100 + t * 10, t as f64).unwrap();
    }
    assert_eq!(h.time_range(), Some((100, 190)));
    h.append(b, 50, 1.0).unwrap();
    h.append(b, 500, 1.0).unwrap();
    assert_eq!(h.time_range(), Some((50, 500)));
    // A pending (admitted, not stored) sample is not in the range.
    assert!(h.admit(a, 900, 1.0).unwrap());
    assert_eq!(h.time_range(), Some((50, 500)));
    h.forget_pending(a);
    // A removal narrows it (computed from the series until a cut).
    h.remove(b);
    assert_eq!(h.time_range(), Some((100, 190)));
    let mut keep = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| Ok(());
    h.cut(150, &mut keep).unwrap();
    assert_eq!(h.time_range(), Some((150, 190)));
    h.append(a, 200, 1.0).unwrap();
    assert_eq!(h.time_range(), Some((150, 200)));
    h.cut(1_000, &mut keep).unwrap();
    assert_eq!(h.time_range(), None);
}

proptest! {
    #[test]
    fn time_range_kept_up_to_date_equals_a_scan(
        ops in prop::collection::vec((0usize..4, 0i64..1_000, 0u8..10), 1..60),
    ) {
        let mut h = Head::new(HeadOptions { chunk_samples: 3 });
        let mut keep = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| Ok(());
        for (series, t, op) in ops {
            match op {
                0 => {
                    let _ = h.cut(t, &mut keep);
                }
                1 => {
                    if let Some(id) = h.get(&labels(series)) {
                        h.remove(id);
                    }
                }
                _ => {
                    let id = h.series_id(labels(series));
                    let _ = h.append(id, t, 1.0);
                }
            }
            prop_assert_eq!(h.time_range(), h.scan_time_range());
        }
    }
}

fn counter_meta(help: &str) -> Metadata {
    Metadata {
        metric_type: crate::MetricType::Counter,
        unit: String::new(),
        help: help.to_string(),
    }
}

#[test]
fn equal_metadata_is_shared_and_unused_metadata_is_dropped_at_cut() {
    let mut h = Head::new(HeadOptions::default());
    let ids: Vec<SeriesId> = (0..4).map(|i| h.series_id(labels(i))).collect();
    for (n, &id) in ids.iter().enumerate() {
        h.set_metadata(id, counter_meta(if n < 3 { "a" } else { "b" }))
            .unwrap();
    }
    let ptr = |h: &Head, id| h.metadata(id).unwrap() as *const Metadata;
    assert_eq!(ptr(&h, ids[0]), ptr(&h, ids[1]));
    assert_eq!(ptr(&h, ids[0]), ptr(&h, ids[2]));
    assert_ne!(ptr(&h, ids[0]), ptr(&h, ids[3]));
    assert_eq!(h.metadata(ids[3]), Some(&counter_meta("b")));
    assert_eq!(h.metadata.table.len(), 2);
    // Changing one series' metadata leaves the others'.
    h.set_metadata(ids[1], counter_meta("c")).unwrap();
    assert_eq!(h.metadata(ids[0]), Some(&counter_meta("a")));
    assert_eq!(h.metadata(ids[1]), Some(&counter_meta("c")));
    assert_eq!(h.metadata(ids[2]), Some(&counter_meta("a")));
    // Series 0 and 1 keep samples after the cut; 2 and 3 are removed with theirs.
    for (n, &id) in ids.iter().enumerate() {
        h.append(id, 10, 1.0).unwrap();
        if n < 2 {
            h.append(id, 30, 1.0).unwrap();
        }
    }
    let mut handed = Vec::new();
    let mut sink = |l: &Labels, m: Option<&Metadata>, _: &[Chunk]| {
        handed.push((l.clone(), m.cloned()));
        Ok(())
    };
    h.cut(20, &mut sink).unwrap();
    assert_eq!(handed.len(), 4);
    assert_eq!(handed[3], (labels(3), Some(counter_meta("b"))));
    assert_eq!(h.num_series(), 2);
    // "b" is used by no series any more.
    assert_eq!(h.metadata.table.len(), 2);
    assert_eq!(h.metadata(ids[0]), Some(&counter_meta("a")));
    assert_eq!(h.metadata(ids[1]), Some(&counter_meta("c")));
}

#[test]
fn metadata_table_stays_bounded_without_cuts() {
    let mut h = Head::new(HeadOptions::default());
    let id = h.series_id(labels(0));
    for i in 0..10_000 {
        h.set_metadata(id, counter_meta(&i.to_string())).unwrap();
    }
    assert!(h.metadata.table.len() <= 128, "{}", h.metadata.table.len());
    assert_eq!(h.metadata(id), Some(&counter_meta("9999")));
}

#[test]
fn series_are_small() {
    // Per-series bytes held inline in the head's slot pages (was a 168-byte box).
    let size = std::mem::size_of::<Option<MemSeries>>();
    println!("MemSeries: {size} bytes");
    assert!(size <= 136, "{size}");
}

#[test]
fn ids_across_pages_are_reused_with_a_new_generation() {
    let mut h = Head::new(HeadOptions::default());
    let n = 2 * PAGE + 3;
    let ids: Vec<SeriesId> = (0..n).map(|i| h.series_id(labels(i))).collect();
    assert_eq!(ids, (0..n as u64).map(SeriesId).collect::<Vec<_>>());
    for (i, &id) in ids.iter().enumerate() {
        // Odd series keep a sample after the cut.
        h.append(id, 10, i as f64).unwrap();
        if i % 2 == 1 {
            h.append(id, 30, i as f64).unwrap();
        }
    }
    let mut sink = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| Ok(());
    h.cut(20, &mut sink).unwrap();
    assert_eq!(h.num_series(), n / 2);
    assert_eq!(
        h.series_ids().collect::<Vec<_>>(),
        ids.iter().copied().skip(1).step_by(2).collect::<Vec<_>>()
    );
    // New series take the freed slots, last freed first, one generation on.
    let new: Vec<SeriesId> = (n..2 * n).map(|i| h.series_id(labels(i))).collect();
    assert_eq!(new[0], SeriesId((1 << 32) | (n as u64 - 1)));
    for (i, &id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            assert!(matches!(
                h.append(id, 40, 0.0),
                Err(Error::UnknownSeries(_))
            ));
            assert_eq!(h.labels(id), None);
        } else {
            assert_eq!(h.labels(id), Some(labels(i)));
            assert_eq!(h.samples(id).unwrap().collect::<Vec<_>>(), [(30, i as f64)]);
        }
    }
    for (k, &id) in new.iter().enumerate() {
        assert_eq!(h.get(&labels(n + k)), Some(id));
        assert_eq!(h.labels(id), Some(labels(n + k)));
    }
    assert_eq!(h.num_series(), n / 2 + n);
    assert_eq!(h.series_ids().count(), n / 2 + n);
}

#[test]
fn open_chunks_waste_at_most_one_small_step() {
    let mut h = Head::new(HeadOptions::default());
    let id = h.series_id(labels(0));
    for i in 0..400_i64 {
        // Values whose XOR coding takes many bits, so the chunk grows fast.
        h.append(id, i * 15_000 + i % 7, (i as f64).sqrt()).unwrap();
        let s = h.slot(id).unwrap();
        let len = s.open.bytes().len();
        let spare = s.open.spare_capacity();
        assert!(spare < 16.max(len / 8), "{len} bytes, {spare} spare");
    }
}

fn live_symbols(h: &Head) -> usize {
    h.symbols.strings.len() - h.symbols.free.len()
}

#[test]
fn label_strings_are_shared_and_released_with_their_last_series() {
    let mut h = Head::new(HeadOptions::default());
    let l = |pairs: &[(&str, &str)]| Labels::new(pairs.iter().copied()).unwrap();
    let la = l(&[("__name__", "m"), ("i", "1"), ("job", "j")]);
    let lb = l(&[("__name__", "m"), ("i", "2"), ("job", "j")]);
    let a = h.series_id(la.clone());
    let b = h.series_id(lb.clone());
    // __name__, m, i, 1, 2, job, j
    assert_eq!(live_symbols(&h), 7);
    h.remove(a);
    assert_eq!(live_symbols(&h), 6);
    assert_eq!(h.get(&la), None);
    let lc = l(&[("__name__", "n"), ("job", "k")]);
    let c = h.series_id(lc.clone());
    assert_eq!(live_symbols(&h), 8);
    assert_eq!(h.labels(b), Some(lb.clone()));
    assert_eq!(h.labels(c), Some(lc.clone()));
    assert_eq!(h.get(&lb), Some(b));
    assert_eq!(h.get(&lc), Some(c));
    assert_eq!(h.label_value(c, "job"), Some("k"));
    h.remove(b);
    h.remove(c);
    assert_eq!(live_symbols(&h), 0);
    assert_eq!(h.symbols.index.len(), 0);
}

proptest! {
    #[test]
    fn symbols_follow_the_live_series(
        ops in prop::collection::vec((0usize..12, prop::bool::ANY), 1..80),
    ) {
        let mut h = Head::new(HeadOptions::default());
        let labels_of = |i: usize| {
            Labels::new([
                ("__name__", format!("m{}", i % 3)),
                ("i", i.to_string()),
                ("job", format!("j{}", i % 2)),
            ])
            .unwrap()
        };
        let mut live = BTreeMap::new();
        for (i, create) in ops {
            let l = labels_of(i);
            if create {
                let id = h.series_id(l.clone());
                live.insert(i, id);
            } else if let Some(id) = live.remove(&i) {
                h.remove(id);
            }
            for (&j, &id) in &live {
                prop_assert_eq!(h.labels(id), Some(labels_of(j)));
                prop_assert_eq!(h.get(&labels_of(j)), Some(id));
            }
            let mut strings: Vec<String> = live
                .keys()
                .flat_map(|&j| {
                    labels_of(j)
                        .pairs()
                        .iter()
                        .flat_map(|(n, v)| [n.clone(), v.clone()])
                        .collect::<Vec<_>>()
                })
                .collect();
            strings.sort();
            strings.dedup();
            prop_assert_eq!(live_symbols(&h), strings.len());
        }
    }
}

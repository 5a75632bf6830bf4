//! The engine over ember-tsdb blocks (feature `tsdb`) answers exactly as over a
//! `MemStorage` holding the same samples: same series, same values bit for bit, for
//! range and instant queries, with data split over several blocks (one overlapping
//! another) and staleness markers kept as markers.

use ember_promql::{
    Engine, LabelMatcher, Labels, MatchOp, MemStorage, Queryable, STALE_NAN, is_stale_nan,
    result_json,
};
use ember_tsdb::{
    Head, HeadOptions, MergeQuerier, Querier, WriteOptions, open_blocks, write_range,
};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn float(&mut self) -> f64 {
        (self.next() % 10_000) as f64 / 100.0
    }
}

const END: i64 = 4 * 3600 * 1000;

/// Both stores filled with the same counters (resets, gaps), gauges (a staleness
/// marker, a plain NaN) and histogram buckets.
fn dataset() -> (MemStorage, Head) {
    let mut mem = MemStorage::new();
    let mut head = Head::new(HeadOptions::default());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut put = |pairs: &[(&str, &str)], t: i64, v: f64| {
        mem.append(&Labels::from_pairs(pairs), t, v);
        let id = head.series_id(ember_tsdb::Labels::new(pairs.iter().copied()).expect("labels"));
        head.append(id, t, v).expect("append");
    };
    for job in ["api", "web"] {
        for inst in ["0", "1", "2"] {
            let (mut c, mut b) = (0.0, [0.0; 4]);
            for i in 0..(END / 15_000) {
                let t = i * 15_000 + (rng.next() % 3) as i64 * 1000;
                if rng.next() % 17 == 0 {
                    continue; // gap
                }
                c += rng.float();
                if rng.next() % 50 == 0 {
                    c = 0.0; // reset
                }
                put(
                    &[("__name__", "req_total"), ("job", job), ("instance", inst)],
                    t,
                    c,
                );
                let gauge = [("__name__", "temp"), ("job", job), ("instance", inst)];
                match (inst, i) {
                    ("2", 150) => put(&gauge, t, STALE_NAN),
                    ("2", 151..=170) => {}
                    ("1", 99) => put(&gauge, t, f64::NAN),
                    _ => put(&gauge, t, rng.float() - 20.0),
                }
                let n = rng.float();
                for (k, le) in ["0.1", "0.5", "1", "+Inf"].into_iter().enumerate() {
                    b[k] += n * (k + 1) as f64;
                    put(
                        &[
                            ("__name__", "lat_bucket"),
                            ("job", job),
                            ("instance", inst),
                            ("le", le),
                        ],
                        t,
                        b[k],
                    );
                }
            }
        }
    }
    (mem, head)
}

const QUERIES: &[&str] = &[
    "req_total",
    "temp",
    "rate(req_total[5m])",
    "sum by (job) (rate(req_total[5m]))",
    "sum without (instance) (irate(req_total{job=~\"a.*\"}[2m]))",
    "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))",
    "topk(2, rate(req_total[5m]))",
    "avg_over_time(temp[10m])",
    "max_over_time(sum by (instance) (rate(req_total[1m]))[10m:1m])",
    "rate(req_total[5m]) / on(instance) group_left sum by (instance) (rate(req_total[5m]))",
    "temp{instance!=\"0\", job!~\"w.b\"} offset 30m",
    "count_over_time(temp[1h])",
    "resets(req_total[30m]) + changes(temp[30m])",
    "temp > bool 10",
    "absent(temp{job=\"nope\"})",
    "timestamp(temp)",
];

/// Block layouts: the middle block overlapping its neighbours (chunks merged by the
/// querier's merging iterator), disjoint blocks, one block.
const LAYOUTS: &[&[(i64, i64)]] = &[
    &[(0, 3_600_000 - 1), (3_000_000, 7_800_000), (7_200_000, END)],
    &[
        (0, 3_600_000 - 1),
        (3_600_000, 7_200_000 - 1),
        (7_200_000, END),
    ],
    &[(0, END)],
];

fn open_split_blocks(
    head: &Head,
    name: &str,
    ranges: &[(i64, i64)],
) -> (std::path::PathBuf, Vec<ember_tsdb::Block>) {
    let dir = std::env::temp_dir().join(format!("ember-promql-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let opts = WriteOptions::default();
    for &(lo, hi) in ranges {
        write_range(head, &dir, lo, hi, &opts)
            .expect("write")
            .expect("samples");
    }
    let blocks = open_blocks(&dir).expect("open");
    assert_eq!(blocks.len(), ranges.len());
    (dir, blocks)
}

#[test]
fn range_and_instant_queries_over_blocks_equal_memstorage() {
    let (mem, head) = dataset();
    let engine = Engine::default();
    let check = |store: &dyn Queryable, what: &str| {
        for q in QUERIES {
            let want = engine.range_query(&mem, q, 0, END, 60_000).expect(q);
            let got = engine.range_query(store, q, 0, END, 60_000).expect(q);
            assert_eq!(
                result_json(&got),
                result_json(&want),
                "{what}: range query {q}"
            );
            for t in [0, 1_800_000, 3_600_000, 3_300_000, 9_000_000, END] {
                let want = engine.instant_query(&mem, q, t).expect(q);
                let got = engine.instant_query(store, q, t).expect(q);
                assert_eq!(result_json(&got), result_json(&want), "{what}: {q} at {t}");
            }
        }
    };
    check(&head, "head");
    for (k, ranges) in LAYOUTS.iter().enumerate() {
        let (dir, blocks) = open_split_blocks(&head, &format!("equal{k}"), ranges);
        let merged = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
        check(&merged, &format!("blocks {ranges:?}"));
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn selects_keep_staleness_markers_and_plain_nans_apart() {
    let (mem, head) = dataset();
    for (k, ranges) in LAYOUTS.iter().enumerate() {
        selects_agree(&mem, &head, &format!("stale{k}"), ranges);
    }
}

fn selects_agree(mem: &MemStorage, head: &Head, name: &str, ranges: &[(i64, i64)]) {
    let (dir, blocks) = open_split_blocks(head, name, ranges);
    let merged = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
    let m = [
        LabelMatcher::new(MatchOp::Equal, "__name__", "temp").expect("matcher"),
        LabelMatcher::new(MatchOp::Regex, "instance", "1|2").expect("matcher"),
    ];
    let got = Queryable::select(&merged, &m, 0, END).expect("select");
    let want = mem.select(&m, 0, END).expect("select");
    assert_eq!(got.len(), 4);
    assert_eq!(got.len(), want.len());
    let (mut stale, mut nan) = (0, 0);
    for (g, w) in got.into_iter().zip(want) {
        assert_eq!(g.labels, w.labels);
        let g: Vec<(i64, u64)> = g.samples.map(|s| (s.t, s.v.to_bits())).collect();
        let w: Vec<(i64, u64)> = w.samples.map(|s| (s.t, s.v.to_bits())).collect();
        assert_eq!(g, w);
        stale += g
            .iter()
            .filter(|s| is_stale_nan(f64::from_bits(s.1)))
            .count();
        nan += g
            .iter()
            .filter(|s| f64::from_bits(s.1).is_nan() && !is_stale_nan(f64::from_bits(s.1)))
            .count();
    }
    assert!(stale > 0 && nan > 0, "markers {stale}, plain NaNs {nan}");
    // Ranges that start and end inside chunks.
    for (lo, hi) in [(1_234_567, 5_432_100), (3_599_999, 3_600_001), (0, 0)] {
        let got = Queryable::select(&merged, &m[..1], lo, hi).expect("select");
        let want = mem.select(&m[..1], lo, hi).expect("select");
        assert_eq!(got.len(), want.len(), "{lo}..={hi}");
        for (g, w) in got.into_iter().zip(want) {
            assert_eq!(g.labels, w.labels);
            let g: Vec<(i64, u64)> = g.samples.map(|s| (s.t, s.v.to_bits())).collect();
            let w: Vec<(i64, u64)> = w.samples.map(|s| (s.t, s.v.to_bits())).collect();
            assert_eq!(g, w, "{lo}..={hi}");
        }
    }
    let bad = [LabelMatcher::new(MatchOp::Equal, "job", "api").expect("matcher")];
    assert!(
        Queryable::select(&merged, &bad, END + 1, END + 10)
            .expect("select")
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).ok();
}

use super::*;
use crate::{MatchOp, Matcher, Querier};
use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "ember-tsdb-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    d
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn sample_set() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    vec![
        (
            l(&[("__name__", "up"), ("job", "node")]),
            vec![(1_000, 1.0), (16_000, 1.0), (31_000, stale)],
        ),
        (
            l(&[("__name__", "up"), ("job", "mysql")]),
            vec![(1_000, 0.0), (16_000, 1.0)],
        ),
        (
            l(&[("__name__", "temp"), ("room", "a\"b\n")]),
            (0..300)
                .map(|i| (i * 10, f64::from(i as i32) * 0.25))
                .collect(),
        ),
    ]
}

fn write(dir: &Path, series: Vec<(Labels, Vec<(i64, f64)>)>, per_chunk: usize) -> Block {
    let opts = WriteOptions {
        max_chunk_samples: per_chunk,
        ..WriteOptions::default()
    };
    let meta = write_block(dir, series, &opts).unwrap();
    Block::open(dir.join(meta.id.to_string())).unwrap()
}

fn bits(v: Vec<(i64, f64)>) -> Vec<(i64, u64)> {
    v.into_iter().map(|(t, v)| (t, v.to_bits())).collect()
}

#[test]
fn block_round_trips_sorted_with_meta() {
    let dir = temp_dir("rt");
    let b = write(&dir, sample_set(), 100);
    let m = b.meta();
    assert_eq!((m.min_time, m.max_time), (0, 31_001));
    assert_eq!(m.stats.num_series, 3);
    assert_eq!(m.stats.num_samples, 305);
    assert_eq!(m.stats.num_chunks, 5);
    assert_eq!((m.level, m.sources.clone()), (1, vec![m.id]));
    let mut want = sample_set();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (labels, samples)) in want.into_iter().enumerate() {
        let (gl, gs) = b.series_samples(i).unwrap().unwrap();
        assert_eq!(gl, labels);
        assert_eq!(bits(gs), bits(samples));
    }
    assert_eq!(b.series_samples(3).unwrap(), None);
    b.verify().unwrap();
    assert!(!dir.join(format!("{}.tmp", m.id)).exists());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn writer_refuses_bad_input() {
    let dir = temp_dir("bad");
    let a = l(&[("a", "1")]);
    let opts = WriteOptions::default();
    assert!(matches!(
        write_block(&dir, vec![], &opts),
        Err(Error::EmptyBlock)
    ));
    assert!(matches!(
        write_block(&dir, vec![(a.clone(), vec![])], &opts),
        Err(Error::EmptyBlock)
    ));
    assert!(matches!(
        write_block(
            &dir,
            vec![(a.clone(), vec![(1, 1.0)]), (a.clone(), vec![(2, 1.0)])],
            &opts
        ),
        Err(Error::DuplicateSeries(_))
    ));
    assert!(matches!(
        write_block(&dir, vec![(a, vec![(2, 1.0), (1, 1.0)])], &opts),
        Err(Error::OutOfOrder { .. })
    ));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn queries_use_postings_and_return_bits() {
    let dir = temp_dir("q");
    let b = write(&dir, sample_set(), 100);
    let up = Matcher::equal("__name__", "up");
    let sel = b
        .select(std::slice::from_ref(&up), i64::MIN, i64::MAX)
        .unwrap();
    let jobs: Vec<&str> = sel.iter().map(|s| s.labels().get("job").unwrap()).collect();
    assert_eq!(jobs, ["mysql", "node"]);
    assert_eq!(
        sel[1].iter().last().unwrap().1.to_bits(),
        0x7ff0_0000_0000_0002
    );
    // Range: inclusive on both ends.
    let sel = b.select(std::slice::from_ref(&up), 16_000, 16_000).unwrap();
    assert_eq!(sel.len(), 2);
    assert_eq!(sel[0].iter().collect::<Vec<_>>(), [(16_000, 1.0)]);
    // A range between chunks of the 300-sample series spans chunk boundaries.
    let t = Matcher::equal("__name__", "temp");
    let s = &b.select(std::slice::from_ref(&t), 995, 1_005).unwrap()[0];
    assert_eq!(s.iter().map(|x| x.0).collect::<Vec<_>>(), [1_000]);
    let s = &b.select(std::slice::from_ref(&t), 985, 2_015).unwrap()[0];
    assert_eq!(s.iter().count(), 103);
    // Negative and regex matchers, missing label = "".
    let not_node = Matcher::new(MatchOp::NotEqual, "job", "node").unwrap();
    let sel = b
        .select(std::slice::from_ref(&not_node), i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(sel.len(), 2); // mysql and temp (no job label)
    let no_job = Matcher::equal("job", "");
    let sel = b.select(&[no_job], i64::MIN, i64::MAX).unwrap();
    assert_eq!(sel[0].labels().get("__name__"), Some("temp"));
    let re = Matcher::new(MatchOp::Regex, "job", "my.*|no").unwrap();
    assert_eq!(
        b.select(std::slice::from_ref(&re), i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        1
    );
    // Outside the block's range: nothing.
    assert!(
        b.select(std::slice::from_ref(&up), 40_000, 50_000)
            .unwrap()
            .is_empty()
    );
    assert!(
        b.select(std::slice::from_ref(&up), 10, 5)
            .unwrap()
            .is_empty()
    );
    // Label names and values.
    assert_eq!(b.label_names(&[]).unwrap(), ["__name__", "job", "room"]);
    assert_eq!(
        b.label_names(std::slice::from_ref(&up)).unwrap(),
        ["__name__", "job"]
    );
    assert_eq!(b.label_values("job", &[]).unwrap(), ["mysql", "node"]);
    assert_eq!(b.label_values("job", &[re]).unwrap(), ["mysql"]);
    assert_eq!(b.label_values("room", &[up]).unwrap(), Vec::<String>::new());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_in_any_block_file_is_an_error_not_a_panic() {
    let dir = temp_dir("flip");
    let b = write(&dir, sample_set(), 64);
    let block_dir = b.dir().to_path_buf();
    drop(b);
    for file in [CHUNKS_FILE, INDEX_FILE, META_FILE] {
        let path = block_dir.join(file);
        let orig = fs::read(&path).unwrap();
        for i in 0..orig.len() {
            for flip in [0x01u8, 0x80] {
                let mut bad = orig.clone();
                bad[i] ^= flip;
                fs::write(&path, &bad).unwrap();
                let res = Block::open(&block_dir).and_then(|b| b.verify());
                match res {
                    Err(Error::CorruptBlock { path: p, .. }) => {
                        assert_eq!(p.file_name(), path.file_name(), "{file} byte {i}")
                    }
                    other => panic!("{file} byte {i} ^ {flip:#x}: {other:?}"),
                }
            }
        }
        fs::write(&path, &orig).unwrap();
        // Truncation is caught too.
        fs::write(&path, &orig[..orig.len() - 1]).unwrap();
        assert!(matches!(
            Block::open(&block_dir).and_then(|b| b.verify()),
            Err(Error::CorruptBlock { .. })
        ));
        fs::write(&path, &orig).unwrap();
    }
    Block::open(&block_dir).unwrap().verify().unwrap();
    let _ = fs::remove_dir_all(&dir);
}

/// A block of 100 series × 4,000 noisy samples in chunks of 500: about 3.5 MB of chunk
/// records, so more pages than the reader keeps.
fn many_pages_block(tag: &str) -> (PathBuf, Block) {
    let dir = temp_dir(tag);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let series = (0..100)
        .map(|i| {
            let samples = (0..4_000)
                .map(|t| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (t * 15_000, f64::from_bits(x >> 2))
                })
                .collect();
            (
                l(&[("__name__", "noise"), ("i", &format!("{i:03}"))]),
                samples,
            )
        })
        .collect();
    let block = write(&dir, series, 500);
    (dir, block)
}

/// Every (series, chunk) of `block` in the order given, returning the distinct pages.
fn read_all_of(block: &Block, order: &[(usize, usize)]) -> usize {
    let mut pages = std::collections::HashSet::new();
    for &(s, k) in order {
        let m = block.series(s).unwrap().1[k];
        pages.insert(m.page_offset);
        assert_eq!(block.read_chunk(&m).unwrap().iter().count(), 500);
    }
    pages.len()
}

#[test]
fn pages_read_side_by_side_are_inflated_once() {
    let (dir, block) = many_pages_block("page-cache");
    // Ten series read together, chunk by chunk (as a query merging them does): the page
    // holding series 0's chunk k is needed again after the other nine's.
    let order: Vec<(usize, usize)> = (0..8).flat_map(|k| (0..10).map(move |s| (s, k))).collect();
    let distinct = read_all_of(&block, &order);
    assert!(distinct > 2, "{distinct} pages");
    assert_eq!(block.pages_inflated(), distinct as u64);
    // Again: all still cached.
    read_all_of(&block, &order);
    assert_eq!(block.pages_inflated(), distinct as u64);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_page_cache_is_bounded() {
    let (dir, block) = many_pages_block("page-cache-bound");
    let order: Vec<(usize, usize)> = (0..100).flat_map(|s| (0..8).map(move |k| (s, k))).collect();
    let distinct = read_all_of(&block, &order);
    assert!(distinct > 40, "{distinct} pages");
    assert_eq!(block.pages_inflated(), distinct as u64);
    // A second pass in the same order finds the first pages evicted (least recently
    // used first), and each of those evicts a later one: every page is inflated again.
    read_all_of(&block, &order);
    assert_eq!(block.pages_inflated(), 2 * distinct as u64);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = temp_dir("missing");
    let b = write(&dir, sample_set(), 64);
    let block_dir = b.dir().to_path_buf();
    fs::remove_file(block_dir.join(CHUNKS_FILE)).unwrap();
    assert!(matches!(
        Block::open(&block_dir),
        Err(Error::BlockIo { .. })
    ));
    let _ = fs::remove_dir_all(&dir);
}

fn arb_series() -> impl Strategy<Value = Vec<(Labels, Vec<(i64, f64)>)>> {
    let labels = prop::collection::btree_map("[a-c_]{1,3}", "[a-z\"\\\\\n=,{}]{0,4}", 0..4);
    let samples = (
        any::<i64>(),
        prop::collection::vec((1i64..100_000, any::<u64>(), any::<bool>()), 1..200),
    )
        .prop_map(|(start, steps)| {
            let mut t = start / 2;
            steps
                .into_iter()
                .map(|(d, bits, dec)| {
                    t += d;
                    // Half decimal-shaped values, half arbitrary bit patterns.
                    let v = if dec {
                        (bits % 100_000) as f64 / 100.0
                    } else {
                        f64::from_bits(bits)
                    };
                    (t, v)
                })
                .collect::<Vec<_>>()
        });
    prop::collection::btree_map(labels, samples, 1..8).prop_map(|m| {
        m.into_iter()
            .map(|(l, s)| (Labels::new(l).unwrap(), s))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_series_round_trip(series in arb_series(), per_chunk in 1usize..300) {
        let dir = temp_dir("prop");
        let b = write(&dir, series.clone(), per_chunk);
        prop_assert_eq!(b.num_series(), series.len());
        prop_assert_eq!(b.meta().stats.num_samples, series.iter().map(|s| s.1.len() as u64).sum::<u64>());
        for (i, (labels, samples)) in series.into_iter().enumerate() {
            let (gl, gs) = b.series_samples(i).unwrap().unwrap();
            prop_assert_eq!(gl, labels);
            prop_assert_eq!(bits(gs), bits(samples));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The fuzz target's property, in the test suite: a valid block with random bytes
    /// patched, or files of random bytes, open and read or fail with an error; never a
    /// panic, and a patched block never reads back different samples than written.
    #[test]
    fn patched_or_random_block_files_never_panic(
        patches in prop::collection::vec((0usize..3, any::<prop::sample::Index>(), 1u8..), 1..4),
        raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 3),
    ) {
        let dir = temp_dir("patch");
        let b = write(&dir, sample_set(), 64);
        let block_dir = b.dir().to_path_buf();
        drop(b);
        let names = [CHUNKS_FILE, INDEX_FILE, META_FILE];
        let mut flips = std::collections::BTreeMap::new();
        for (f, at, x) in patches {
            let len = fs::metadata(block_dir.join(names[f])).unwrap().len() as usize;
            // One flip per byte, so no two patches cancel out.
            flips.entry((f, at.index(len))).or_insert(x);
        }
        for ((f, i), x) in flips {
            let path = block_dir.join(names[f]);
            let mut bytes = fs::read(&path).unwrap();
            bytes[i] ^= x;
            fs::write(&path, bytes).unwrap();
        }
        // At least one byte changed: some check must fail.
        let res = Block::open(&block_dir).and_then(|b| b.verify());
        prop_assert!(matches!(res, Err(Error::CorruptBlock { .. })), "{:?}", res);
        for (name, bytes) in names.iter().zip(&raw) {
            fs::write(block_dir.join(name), bytes).unwrap();
        }
        let res = Block::open(&block_dir).and_then(|b| b.verify());
        prop_assert!(res.is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}

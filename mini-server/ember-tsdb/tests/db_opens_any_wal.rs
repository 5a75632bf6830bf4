//! Whatever valid-looking or damaged records a WAL and a checkpoint hold (series ids out
//! of order or redefined, label sets named twice, samples of unknown series, metadata,
//! head cuts, flipped bytes, truncated files), `Db::open` succeeds, and opening again
//! finds a clean log and exactly the same head. The `db_open` fuzz target checks the same
//! on arbitrary bytes.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ember_tsdb::{
    Db, Labels, Metadata, MetadataRecord, MetricType, Options, Record, SampleRecord, SeriesRecord,
    SyncPolicy, WalOptions, WalWriter,
};
use proptest::prelude::*;

fn record() -> impl Strategy<Value = Record> {
    let name = prop_oneof![Just("a"), Just("b"), Just("__name__")];
    let value = prop_oneof![Just("x"), Just("y")];
    let labels = prop::collection::vec((name, value), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    });
    let bits = prop_oneof![
        Just(0x7ff0_0000_0000_0002u64),
        Just(1f64.to_bits()),
        Just(2.5f64.to_bits()),
        any::<u64>()
    ];
    prop_oneof![
        2 => prop::collection::vec((0u64..8, labels), 1..4).prop_map(|v| Record::Series(
            v.into_iter().map(|(id, labels)| SeriesRecord { id, labels }).collect()
        )),
        4 => prop::collection::vec((0u64..9, -5i64..60, bits), 1..8).prop_map(|v| Record::Samples(
            v.into_iter().map(|(id, t, b)| SampleRecord { id, t, v: f64::from_bits(b) }).collect()
        )),
        1 => (0u64..9, 0u8..3).prop_map(|(id, h)| Record::Metadata(vec![MetadataRecord {
            id,
            metadata: Metadata { metric_type: MetricType::Gauge, unit: String::new(), help: h.to_string() },
        }])),
        1 => (-5i64..60).prop_map(Record::HeadCut),
    ]
}

#[derive(Debug, Clone)]
enum Damage {
    None,
    Flip {
        checkpoint: bool,
        at: usize,
        mask: u8,
    },
    Truncate {
        checkpoint: bool,
        by: usize,
    },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::None),
        (any::<bool>(), any::<usize>(), 1u8..=255).prop_map(|(checkpoint, at, mask)| {
            Damage::Flip {
                checkpoint,
                at,
                mask,
            }
        }),
        (any::<bool>(), 1usize..40)
            .prop_map(|(checkpoint, by)| Damage::Truncate { checkpoint, by }),
    ]
}

static N: AtomicU32 = AtomicU32::new(0);

struct TestDir(PathBuf);

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type Edit<'a> = &'a dyn Fn(&mut Vec<u8>);

type State = (
    BTreeMap<Labels, Vec<(i64, u64)>>,
    BTreeMap<Labels, Metadata>,
    i64,
);

fn state(db: &Db) -> State {
    let head = db.head();
    let mut samples = BTreeMap::new();
    let mut meta = BTreeMap::new();
    for id in head.series_ids() {
        let Some(l) = head.labels(id) else { continue };
        let s: Vec<(i64, u64)> = head
            .samples(id)
            .map(|it| it.map(|(t, v)| (t, v.to_bits())).collect())
            .unwrap_or_default();
        samples.insert(l.clone(), s);
        if let Some(m) = head.metadata(id) {
            meta.insert(l.clone(), m.clone());
        }
    }
    (samples, meta, head.min_valid_time())
}

fn write(dir: &Path, records: &[Record]) {
    let options = WalOptions {
        segment_size: 300,
        sync: SyncPolicy::Never,
    };
    let mut w = WalWriter::create(dir, options).unwrap();
    for r in records {
        // Records too large for the small segments are left out.
        let _ = w.append(r);
    }
}

fn damage_file(dir: &Path, d: &Damage) {
    let (checkpoint, f): (bool, Edit<'_>) = match d {
        Damage::None => return,
        Damage::Flip {
            checkpoint,
            at,
            mask,
        } => (*checkpoint, &move |b: &mut Vec<u8>| {
            if !b.is_empty() {
                let i = at % b.len();
                b[i] ^= mask;
            }
        }),
        Damage::Truncate { checkpoint, by } => (*checkpoint, &move |b: &mut Vec<u8>| {
            b.truncate(b.len().saturating_sub(*by));
        }),
    };
    let target = if checkpoint {
        dir.join("wal/checkpoint.00000003")
    } else {
        dir.join("wal")
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&target)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if let Some(p) = files.first() {
        let mut b = std::fs::read(p).unwrap();
        f(&mut b);
        std::fs::write(p, b).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn db_opens_any_wal_and_reopens_to_the_same_head(
        checkpoint in prop::option::of(prop::collection::vec(record(), 0..12)),
        segments in prop::collection::vec(record(), 0..20),
        damage in damage(),
    ) {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = TestDir(std::env::temp_dir().join(format!("ember-db-any-{}-{n}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let wal = dir.0.join("wal");
        let has_checkpoint = checkpoint.is_some();
        if let Some(cp) = &checkpoint {
            write(&wal.join("checkpoint.00000003"), cp);
        }
        // Segments 0..=3 are covered by the checkpoint if there is one.
        let seg_dir = dir.0.join("segments-tmp");
        write(&seg_dir, &segments);
        std::fs::create_dir_all(&wal).unwrap();
        for e in std::fs::read_dir(&seg_dir).unwrap() {
            let p = e.unwrap().path();
            let n: u32 = p.file_name().unwrap().to_str().unwrap().parse().unwrap();
            std::fs::rename(&p, wal.join(format!("{:08}", n + 4))).unwrap();
        }
        std::fs::remove_dir_all(&seg_dir).unwrap();
        if has_checkpoint || !matches!(damage, Damage::Flip { checkpoint: true, .. } | Damage::Truncate { checkpoint: true, .. }) {
            damage_file(&dir.0, &damage);
        }
        let options = Options { wal: WalOptions { segment_size: 300, sync: SyncPolicy::Never }, ..Options::default() };
        let (db, _) = Db::open(&dir.0, options).unwrap();
        let first = state(&db);
        drop(db);
        let (db, report) = Db::open(&dir.0, options).unwrap();
        prop_assert_eq!(report.corruptions, 0, "{:?}", report);
        prop_assert_eq!(state(&db), first);
    }
}

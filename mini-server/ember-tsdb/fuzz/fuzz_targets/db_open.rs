//! Any bytes as a checkpoint segment and a WAL segment: `Db::open` succeeds (cutting
//! what is corrupt), and opening again finds a clean log and the same head.
#![no_main]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use ember_tsdb::{Db, Options};
use libfuzzer_sys::fuzz_target;

type State = (BTreeMap<String, Vec<(i64, u64)>>, i64);

fn state(db: &Db) -> State {
    let head = db.head();
    let mut out = BTreeMap::new();
    for id in head.series_ids() {
        let labels = format!("{:?} {:?}", head.labels(id), head.metadata(id));
        let samples = head
            .samples(id)
            .map(|it| it.map(|(t, v)| (t, v.to_bits())).collect())
            .unwrap_or_default();
        out.insert(labels, samples);
    }
    (out, head.min_valid_time())
}

static N: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize * rest.len()) / 255;
    let (checkpoint, segment) = rest.split_at(at);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ember-fuzz-db-{}-{n}", std::process::id()));
    let wal = dir.join("wal");
    std::fs::create_dir_all(wal.join("checkpoint.00000000")).unwrap();
    std::fs::write(wal.join("checkpoint.00000000").join("00000000"), checkpoint).unwrap();
    std::fs::write(wal.join("00000001"), segment).unwrap();
    let (db, _) = Db::open(&dir, Options::default()).unwrap();
    let first = state(&db);
    drop(db);
    let (db, report) = Db::open(&dir, Options::default()).unwrap();
    assert_eq!(report.corruptions, 0);
    assert_eq!(state(&db), first);
    drop(db);
    std::fs::remove_dir_all(&dir).unwrap();
});

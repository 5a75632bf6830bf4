use super::*;
use crate::chunk::Chunk;
use crate::head::BlockSink;
use crate::labels::Labels;
use crate::record::Metadata;
use crate::record::MetricType;
use crate::wal::{SyncPolicy, list_segments};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

const STALE: u64 = 0x7ff0_0000_0000_0002;

/// A fresh directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ember-db-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn labels(i: usize) -> Labels {
    Labels::new([
        ("__name__", format!("metric_{}", i % 3)),
        ("instance", format!("host{i}:9100")),
        ("job", "node".to_string()),
    ])
    .unwrap()
}

fn opts(sync: SyncPolicy) -> Options {
    Options {
        wal: WalOptions {
            segment_size: 1024,
            sync,
        },
        head: HeadOptions { chunk_samples: 7 },
        ..Options::default()
    }
}

/// Every sample of the head as `labels → [(t, bits)]`.
fn dump(db: &Db) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.head_series(i64::MIN, i64::MAX)
        .map(|s| {
            (
                s.labels.clone(),
                s.samples.map(|(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect()
}

#[derive(Default)]
struct CollectSink(BTreeMap<Labels, Vec<(i64, u64)>>);

impl BlockSink for CollectSink {
    fn write_series(
        &mut self,
        labels: &Labels,
        _metadata: Option<&Metadata>,
        chunks: &[Chunk],
    ) -> Result<(), Error> {
        let v = self.0.entry(labels.clone()).or_default();
        for c in chunks {
            v.extend(c.iter().map(|(t, v)| (t, v.to_bits())));
        }
        Ok(())
    }
}

#[test]
fn commits_survive_reopen_bit_for_bit() {
    let d = TestDir::new("reopen");
    let (mut db, report) = Db::open(&d.0, opts(SyncPolicy::Always)).unwrap();
    assert_eq!(report.series, 0);
    let mut want = BTreeMap::new();
    for round in 0..40i64 {
        let mut app = db.appender();
        for i in 0..5 {
            let v = if round == 17 {
                f64::from_bits(STALE)
            } else {
                (round * i as i64) as f64 / 4.0
            };
            app.append(&labels(i), round * 15_000, v).unwrap();
            want.entry(labels(i))
                .or_insert_with(Vec::new)
                .push((round * 15_000, v.to_bits()));
        }
        app.commit().unwrap();
    }
    assert_eq!(dump(&db), want);
    assert!(db.wal.segment() > 0, "small segments rolled");
    drop(db);
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Always)).unwrap();
    assert_eq!(report.samples, 200);
    assert_eq!(report.series, 5);
    assert_eq!(report.corruptions, 0);
    assert_eq!(dump(&db), want);
    assert_eq!(db.metrics().head_series.get(), 5);
    assert_eq!(db.metrics().head_samples_appended.get(), 200);
}

#[test]
fn rejected_samples_are_counted_and_not_logged() {
    let d = TestDir::new("reject");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    let l = labels(0);
    let mut app = db.appender();
    app.append(&l, 100, 1.0).unwrap();
    // Checked against the pending sample of the same batch.
    assert!(matches!(
        app.append(&l, 50, 1.0),
        Err(Error::OutOfOrder { t: 50, last: 100 })
    ));
    assert!(matches!(
        app.append(&l, 100, 2.0),
        Err(Error::DuplicateSample { t: 100 })
    ));
    app.append(&l, 100, 1.0).unwrap(); // identical: ignored
    app.commit().unwrap();
    let m = db.metrics();
    assert_eq!(
        (
            m.out_of_order_samples.get(),
            m.duplicate_samples.get(),
            m.head_samples_appended.get()
        ),
        (1, 1, 1)
    );
    drop(db);
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!((report.samples, report.rejected_samples), (1, 0));
    assert_eq!(dump(&db)[&l], [(100, 1f64.to_bits())]);
}

#[test]
fn rollback_and_drop_leave_nothing() {
    let d = TestDir::new("rollback");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    db.append(&labels(0), 10, 1.0).unwrap();
    let mut app = db.appender();
    app.append(&labels(0), 20, 2.0).unwrap();
    app.append(&labels(1), 20, 2.0).unwrap();
    app.rollback();
    {
        let mut app = db.appender();
        app.append(&labels(2), 20, 2.0).unwrap();
        // dropped without commit
    }
    assert_eq!(db.head().num_series(), 1);
    assert_eq!(dump(&db)[&labels(0)], [(10, 1f64.to_bits())]);
    // The rolled-back sample's timestamp is free again.
    db.append(&labels(0), 20, 3.0).unwrap();
    drop(db);
    let (db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(db.head().num_series(), 1);
    assert_eq!(
        dump(&db)[&labels(0)],
        [(10, 1f64.to_bits()), (20, 3f64.to_bits())]
    );
}

#[test]
fn metadata_is_logged_and_last_wins() {
    let d = TestDir::new("meta");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    let counter = Metadata {
        metric_type: MetricType::Counter,
        unit: "seconds".into(),
        help: "CPU time.".into(),
    };
    let mut app = db.appender();
    app.update_metadata(&labels(0), counter.clone());
    app.append(&labels(0), 1, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(db.metadata(&labels(0)), Some(&counter));
    let gauge = Metadata {
        metric_type: MetricType::Gauge,
        unit: String::new(),
        help: "Changed.".into(),
    };
    let mut app = db.appender();
    app.update_metadata(&labels(0), gauge.clone());
    app.commit().unwrap();
    drop(db);
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(db.metadata(&labels(0)), Some(&gauge));
    // Kept across a checkpoint too.
    db.cut(0, &mut CollectSink::default()).unwrap();
    drop(db);
    let (db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(db.metadata(&labels(0)), Some(&gauge));
    assert_eq!(db.metadata(&labels(1)), None);
}

#[test]
fn cut_hands_out_old_samples_and_checkpoints() {
    let d = TestDir::new("cut");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    let mut want: BTreeMap<Labels, Vec<(i64, u64)>> = BTreeMap::new();
    for t in 0..60i64 {
        let mut app = db.appender();
        for i in 0..4 {
            // Series 3 stops early: the cut removes it.
            if i == 3 && t >= 20 {
                continue;
            }
            app.append(&labels(i), t * 10, (t + i as i64) as f64)
                .unwrap();
            want.entry(labels(i))
                .or_default()
                .push((t * 10, ((t + i as i64) as f64).to_bits()));
        }
        app.commit().unwrap();
    }
    let segments_before = list_segments(&db.wal_dir).unwrap();
    assert!(segments_before.len() > 2);
    let mut sink = CollectSink::default();
    let report = db.cut(305, &mut sink).unwrap();
    // The sink got exactly the samples before 305; the head kept the rest.
    let mut old = BTreeMap::new();
    let mut kept = BTreeMap::new();
    for (l, v) in &want {
        let (o, k): (Vec<_>, Vec<_>) = v.iter().partition(|&&(t, _)| t < 305);
        old.insert(l.clone(), o);
        if !k.is_empty() {
            kept.insert(l.clone(), k);
        }
    }
    assert_eq!(sink.0, old);
    assert_eq!(dump(&db), kept);
    assert_eq!(report.head.series_removed, 1);
    assert_eq!(report.head.samples_handed_out, 31 * 3 + 20);
    assert_eq!(report.checkpoint.series, 3);
    assert_eq!(report.checkpoint.samples, 29 * 3);
    assert_eq!(
        report.checkpoint.segments_deleted as usize,
        segments_before.len()
    );
    assert_eq!(
        list_checkpoints(&db.wal_dir).unwrap(),
        [report.checkpoint.number]
    );
    assert!(
        list_segments(&db.wal_dir)
            .unwrap()
            .iter()
            .all(|&s| s > report.checkpoint.number)
    );
    // Appends before the cut are out of bounds, now and after a restart.
    assert!(matches!(
        db.append(&labels(3), 300, 1.0),
        Err(Error::OutOfBounds { .. })
    ));
    db.append(&labels(0), 600, 1.0).unwrap();
    kept.get_mut(&labels(0))
        .unwrap()
        .push((600, 1f64.to_bits()));
    assert_eq!(db.metrics().checkpoint_creations.get(), 1);
    assert_eq!(db.metrics().out_of_bound_samples.get(), 1);
    drop(db);
    let (mut db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(
        report.checkpoint,
        Some(segments_before[segments_before.len() - 1])
    );
    assert_eq!(dump(&db), kept);
    assert!(matches!(
        db.append(&labels(3), 304, 1.0),
        Err(Error::OutOfBounds { .. })
    ));
    // A second cut replaces the first checkpoint.
    let r2 = db.cut(500, &mut CollectSink::default()).unwrap();
    assert_eq!(
        list_checkpoints(&db.wal_dir).unwrap(),
        [r2.checkpoint.number]
    );
    assert_eq!(r2.checkpoint.checkpoints_deleted, 1);
}

#[test]
fn a_failing_sink_stops_the_cut_without_checkpoint() {
    let d = TestDir::new("sink-fails");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    for i in 0..3 {
        db.append(&labels(i), 10, 1.0).unwrap();
        db.append(&labels(i), 20, 1.0).unwrap();
    }
    let mut calls = 0;
    let mut sink = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| {
        calls += 1;
        if calls == 2 {
            Err(Error::Sink("disk full".into()))
        } else {
            Ok(())
        }
    };
    assert!(matches!(db.cut(15, &mut sink), Err(Error::Sink(_))));
    assert!(list_checkpoints(&db.wal_dir).unwrap().is_empty());
    assert_eq!(db.metrics().head_truncations_failed.get(), 1);
    drop(db);
    // The WAL still has everything.
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.samples, 6);
    assert_eq!(dump(&db).len(), 3);
}

fn write_some(dir: &Path, n: i64) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    let (mut db, _) = Db::open(dir, opts(SyncPolicy::Never)).unwrap();
    for t in 0..n {
        let mut app = db.appender();
        for i in 0..3 {
            app.append(&labels(i), t, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
    dump(&db)
}

fn last_segment(wal_dir: &Path) -> PathBuf {
    let segs = list_segments(wal_dir).unwrap();
    crate::wal::segment_path(
        wal_dir,
        *segs
            .iter()
            .rev()
            .find(|&&s| {
                fs::metadata(crate::wal::segment_path(wal_dir, s))
                    .unwrap()
                    .len()
                    > 0
            })
            .unwrap(),
    )
}

#[test]
fn truncated_wal_tail_is_cut_and_the_store_opens() {
    let d = TestDir::new("torn");
    let want = write_some(&d.0, 10);
    let seg = last_segment(&d.0.join("wal"));
    let len = fs::metadata(&seg).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let (mut db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 1);
    assert!(matches!(
        report.wal.reason,
        Some(Corruption::TornRecord { .. })
    ));
    assert_eq!(db.metrics().wal_corruptions.get(), 1);
    // The last batch (t = 9) is lost, everything before it is there.
    let mut expect = want.clone();
    expect.values_mut().for_each(|v| {
        v.pop();
    });
    assert_eq!(dump(&db), expect);
    db.append(&labels(0), 9, 9.0).unwrap();
    drop(db);
    let (_, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 0);
    assert_eq!(report.samples, 28);
}

use crate::wal::Corruption;

#[test]
fn flipped_byte_in_a_segment_is_detected() {
    let d = TestDir::new("flip-seg");
    write_some(&d.0, 10);
    let seg = last_segment(&d.0.join("wal"));
    let mut bytes = fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&seg, &bytes).unwrap();
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 1);
    assert!(report.wal.truncated_at.is_some());
    assert!(report.samples < 30);
    // What survives is a prefix of each series.
    for (_, v) in dump(&db) {
        assert!(v.iter().enumerate().all(|(i, &(t, _))| t == i as i64));
    }
}

#[test]
fn flipped_byte_in_a_checkpoint_is_detected_and_replaced() {
    let d = TestDir::new("flip-cp");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    for t in 0..50 {
        let mut app = db.appender();
        for i in 0..30 {
            app.append(&labels(i), t, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let r = db.cut(10, &mut CollectSink::default()).unwrap();
    db.append(&labels(0), 100, 1.0).unwrap();
    drop(db);
    let cp = checkpoint_path(&d.0.join("wal"), r.checkpoint.number);
    let segs = list_segments(&cp).unwrap();
    assert!(segs.len() > 2, "{segs:?}");
    let seg = crate::wal::segment_path(&cp, segs[segs.len() - 1]);
    let mut bytes = fs::read(&seg).unwrap();
    // A byte in the samples, well after the series records.
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0x01;
    fs::write(&seg, &bytes).unwrap();
    let (mut db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 1);
    let cp_report = report.checkpoint_replay.as_ref().unwrap();
    assert!(matches!(
        cp_report.reason,
        Some(Corruption::Checksum { .. })
    ));
    assert_eq!(report.series, 30);
    assert_eq!(db.head().min_valid_time(), 10);
    // Set aside, replaced by a new checkpoint that opens cleanly.
    assert!(
        d.0.join("wal")
            .join(format!("checkpoint.{:08}.corrupt", r.checkpoint.number))
            .is_dir()
    );
    let cps = list_checkpoints(&d.0.join("wal")).unwrap();
    assert_eq!(cps.len(), 1);
    assert!(cps[0] > r.checkpoint.number);
    let before = dump(&db);
    assert_eq!(before[&labels(0)].last(), Some(&(100, 1f64.to_bits())));
    db.append(&labels(1), 100, 1.0).unwrap();
    drop(db);
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 0);
    let mut after = dump(&db);
    after.get_mut(&labels(1)).unwrap().pop();
    assert_eq!(after, before);
}

#[test]
fn series_lost_with_a_checkpoint_are_counted_as_unknown() {
    let d = TestDir::new("cp-series");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    db.append(&labels(0), 1, 1.0).unwrap();
    let r = db.cut(0, &mut CollectSink::default()).unwrap();
    db.append(&labels(0), 2, 2.0).unwrap();
    drop(db);
    let cp = checkpoint_path(&d.0.join("wal"), r.checkpoint.number);
    let seg = crate::wal::segment_path(&cp, 0);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[12] ^= 0xff; // inside the series record
    fs::write(&seg, &bytes).unwrap();
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.corruptions, 1);
    assert_eq!(report.unknown_series_refs, 1);
    assert_eq!(db.head().num_series(), 0);
}

#[test]
fn an_interrupted_checkpoint_is_ignored() {
    let d = TestDir::new("cp-tmp");
    let want = write_some(&d.0, 5);
    let tmp = d.0.join("wal").join("checkpoint.00000099.tmp");
    fs::create_dir_all(&tmp).unwrap();
    fs::write(tmp.join("00000000"), b"garbage").unwrap();
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.checkpoint, None);
    assert_eq!(dump(&db), want);
    assert!(!tmp.exists());
}

#[test]
fn reads_by_range_and_label_index() {
    let d = TestDir::new("reads");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    for t in 0..30 {
        let mut app = db.appender();
        for i in 0..4 {
            app.append(&labels(i), t * 10, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let got: Vec<(Labels, Vec<i64>)> = db
        .head_series(95, 120)
        .map(|s| (s.labels.clone(), s.samples.map(|(t, _)| t).collect()))
        .collect();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|(_, ts)| ts == &[100, 110, 120]));
    assert_eq!(db.head_series(1_000, 2_000).count(), 0);
    let id = db.head().get(&labels(2)).unwrap();
    assert_eq!(db.samples_in(id, 285, 10_000).unwrap().count(), 1);
    assert_eq!(
        db.label_names(&[]).unwrap(),
        ["__name__", "instance", "job"]
    );
    assert_eq!(
        db.label_values("__name__", &[]).unwrap(),
        ["metric_0", "metric_1", "metric_2"]
    );
    assert_eq!(db.label_values("job", &[]).unwrap(), ["node"]);
    assert!(db.label_values("nope", &[]).unwrap().is_empty());
}

#[test]
fn metrics_register_under_ember_tsdb_names() {
    let d = TestDir::new("metrics");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Always)).unwrap();
    db.append(&labels(0), 1, 1.0).unwrap();
    let _ = db.append(&labels(0), 0, 1.0);
    let registry = ember::Registry::new();
    db.metrics().register(&registry).unwrap();
    let text = registry.encode_to_string(ember::expfmt::Format::Text);
    for line in [
        "ember_tsdb_head_series 1\n",
        "ember_tsdb_head_chunks 1\n",
        "ember_tsdb_head_samples_appended_total{type=\"float\"} 1\n",
        "ember_tsdb_out_of_order_samples_total{type=\"float\"} 1\n",
        "ember_tsdb_wal_corruptions_total 0\n",
        "ember_tsdb_checkpoint_creations_total 0\n",
        "ember_tsdb_wal_truncations_total 0\n",
        "ember_tsdb_wal_fsync_duration_seconds_count 1\n",
        "ember_tsdb_compactions_total 0\n",
        "ember_tsdb_blocks_loaded 0\n",
        "ember_tsdb_time_retentions_total 0\n",
        "ember_tsdb_size_retentions_total 0\n",
        "ember_tsdb_storage_blocks_bytes 0\n",
        "ember_tsdb_lowest_timestamp 1\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[test]
fn segments_left_by_a_crash_after_the_checkpoint_rename_are_ignored_and_deleted() {
    let d = TestDir::new("cp-leftover");
    let wal = d.0.join("wal");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    for t in 0..40 {
        let mut app = db.appender();
        for i in 0..3 {
            app.append(&labels(i), t, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let saved: Vec<(PathBuf, Vec<u8>)> = list_segments(&wal)
        .unwrap()
        .into_iter()
        .map(|s| {
            let p = crate::wal::segment_path(&wal, s);
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let r = db.cut(20, &mut CollectSink::default()).unwrap();
    db.append(&labels(0), 40, 1.0).unwrap();
    let want = dump(&db);
    drop(db);
    // As if the process died between the rename and the deletion of the covered segments.
    for (p, b) in &saved {
        fs::write(p, b).unwrap();
    }
    let (db, report) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(report.checkpoint, Some(r.checkpoint.number));
    assert_eq!(report.corruptions, 0);
    assert_eq!(dump(&db), want);
    assert!(
        list_segments(&wal)
            .unwrap()
            .iter()
            .all(|&s| s > r.checkpoint.number)
    );
}

#[test]
fn an_id_cached_before_a_cut_never_names_another_series() {
    let d = TestDir::new("stale-id");
    let (mut db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    let old = db.append(&labels(0), 10, 1.0).unwrap();
    db.cut(20, &mut CollectSink::default()).unwrap();
    assert_eq!(db.head().num_series(), 0);
    // The slot is reused by a new series, under a new id.
    let new = db.append(&labels(1), 30, 2.0).unwrap();
    assert_ne!(new, old);
    let mut app = db.appender();
    assert!(matches!(
        app.append_id(old, 40, 3.0),
        Err(Error::UnknownSeries(_))
    ));
    app.append_id(new, 40, 3.0).unwrap();
    app.commit().unwrap();
    drop(db);
    let (db, _) = Db::open(&d.0, opts(SyncPolicy::Never)).unwrap();
    assert_eq!(db.head().get(&labels(1)), Some(new));
    assert_eq!(
        dump(&db)[&labels(1)],
        [(30, 2f64.to_bits()), (40, 3f64.to_bits())]
    );
    assert!(db.head().labels(old).is_none());
}

#[test]
fn db_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Db>();
}

fn block_opts(range: i64) -> Options {
    Options {
        block_range: range,
        retention_time: None,
        ..opts(SyncPolicy::Never)
    }
}

/// Every sample through the store's querier (blocks and head), as `labels → [(t, bits)]`.
fn dump_all(db: &Db) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let v = s.iter().map(|(t, v)| (t, v.to_bits())).collect();
            (s.labels().clone(), v)
        })
        .collect()
}

/// Samples stored in blocks plus head: more than `dump_all` returns if any is twice.
fn stored_samples(db: &Db) -> u64 {
    db.blocks()
        .iter()
        .map(|b| b.meta().stats.num_samples)
        .sum::<u64>()
        + db.head_series(i64::MIN, i64::MAX)
            .map(|s| s.samples.count() as u64)
            .sum::<u64>()
}

fn append_range(db: &mut Db, from: i64, to: i64) {
    for t in from..to {
        let mut app = db.appender();
        for i in 0..4 {
            app.append(&labels(i), t * 10, t as f64).unwrap();
        }
        app.commit().unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn head_compaction_cuts_whole_ranges_once_the_head_spans_one_and_a_half() {
    let d = TestDir::new("compacthead");
    let (mut db, _) = Db::open(&d.0, block_opts(100)).unwrap();
    append_range(&mut db, 0, 15); // 0..=140: spans 140 ≤ 150
    assert!(db.compact_head().unwrap().is_empty());
    append_range(&mut db, 15, 26); // up to 250: spans 250 > 150
    let written = db.compact_head().unwrap();
    // [0, 100) then (spanning 150 from 100 to 250, not more) stop.
    assert_eq!(written.len(), 1);
    assert_eq!((written[0].min_time, written[0].max_time), (0, 91));
    assert_eq!(written[0].stats.num_samples, 40);
    assert_eq!(db.head().min_valid_time(), 100);
    assert!(matches!(
        db.append(&labels(0), 99, 1.0),
        Err(Error::OutOfBounds { .. })
    ));
    assert_eq!(db.metrics().compactions.get(), 1);
    assert_eq!(db.metrics().blocks_loaded.get(), 1);
    assert_eq!(db.metrics().lowest_timestamp.get(), 0);
    let before = dump_all(&db);
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), 26 * 4);
    drop(db);
    let (db, report) = Db::open(&d.0, block_opts(100)).unwrap();
    assert_eq!((report.blocks, report.samples_in_blocks), (1, 0));
    assert_eq!(dump_all(&db), before);
    assert_eq!(stored_samples(&db), 26 * 4);
    // Label names and values come from blocks and head.
    assert_eq!(
        db.label_values("__name__", &[]).unwrap(),
        ["metric_0", "metric_1", "metric_2"]
    );
    assert_eq!(
        db.label_names(&[]).unwrap(),
        ["__name__", "instance", "job"]
    );
}

#[test]
fn a_crash_between_head_block_and_checkpoint_duplicates_nothing() {
    let d = TestDir::new("crashhead");
    let (mut db, _) = Db::open(&d.0, block_opts(100)).unwrap();
    append_range(&mut db, 0, 26);
    let want = dump_all(&db);
    let wal_before = d.0.join("wal-before");
    copy_dir(&d.0.join("wal"), &wal_before);
    assert_eq!(db.compact_head().unwrap().len(), 1);
    drop(db);
    // The state of a kill after the block's rename, before the checkpoint.
    fs::remove_dir_all(d.0.join("wal")).unwrap();
    fs::rename(&wal_before, d.0.join("wal")).unwrap();
    let (mut db, report) = Db::open(&d.0, block_opts(100)).unwrap();
    assert_eq!(report.samples_in_blocks, 40);
    assert_eq!(report.rejected_samples, 0);
    assert_eq!(dump_all(&db), want);
    assert_eq!(stored_samples(&db), 26 * 4);
    // The next compaction carries on from the block, without writing it again.
    append_range(&mut db, 26, 30);
    let written = db.compact_head().unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].min_time, 100);
    assert_eq!(stored_samples(&db), 30 * 4);
}

#[test]
fn block_compaction_merges_ranges_and_a_crash_before_source_deletion_is_repaired() {
    let d = TestDir::new("crashblocks");
    let (mut db, _) = Db::open(&d.0, block_opts(10)).unwrap();
    for k in 0..12 {
        append_range(&mut db, k * 2, k * 2 + 2); // t = 0..240 by 10
        db.compact_head().unwrap();
    }
    let level1: Vec<BlockId> = db.blocks().iter().map(|b| b.meta().id).collect();
    assert!(level1.len() >= 6, "{level1:?}");
    let want = dump_all(&db);
    let saved = d.0.join("saved");
    for b in db.blocks() {
        copy_dir(b.dir(), &saved.join(b.meta().id.to_string()));
    }
    let written = db.compact_blocks().unwrap();
    assert!(!written.is_empty());
    // Windows of 30 then 90 ms: each merged block lies in one 90 ms window.
    for m in &written {
        assert!(m.level >= 2 && m.sources.len() >= 2, "{m:?}");
        assert_eq!(
            m.min_time.div_euclid(90),
            (m.max_time - 1).div_euclid(90),
            "{m:?}"
        );
    }
    assert!(db.blocks().len() < level1.len());
    assert_eq!(dump_all(&db), want);
    assert_eq!(
        db.metrics().compactions.get(),
        (level1.len() + written.len()) as u64
    );
    let merged_away = level1
        .iter()
        .filter(|id| db.blocks().iter().all(|b| b.meta().id != **id))
        .count();
    // The newest block is never merged.
    assert_eq!(db.blocks().last().unwrap().meta().level, 1);
    let total = stored_samples(&db);
    drop(db);
    // The state of a kill after the merged block's rename, before its sources went.
    for e in fs::read_dir(&saved).unwrap() {
        let e = e.unwrap();
        let to = d.0.join(e.file_name());
        if !to.exists() {
            fs::rename(e.path(), to).unwrap();
        }
    }
    fs::remove_dir_all(&saved).unwrap();
    let (db, report) = Db::open(&d.0, block_opts(10)).unwrap();
    assert_eq!(report.covered_blocks_deleted, merged_away);
    assert_eq!(dump_all(&db), want);
    assert_eq!(stored_samples(&db), total);
}

#[test]
fn retention_by_time_and_size_deletes_the_oldest_blocks() {
    let d = TestDir::new("retention");
    let mut o = block_opts(10);
    let (mut db, _) = Db::open(&d.0, o).unwrap();
    for k in 0..10 {
        append_range(&mut db, k * 2, k * 2 + 2);
        db.compact_head().unwrap();
    }
    drop(db);
    // Keep 35 ms before the newest block's end.
    o.retention_time = Some(35);
    let (mut db, _) = Db::open(&d.0, o).unwrap();
    let newest = db.blocks().iter().map(|b| b.meta().max_time).max().unwrap();
    let deleted = db.apply_retention().unwrap();
    assert!(!deleted.is_empty());
    assert!(db.blocks().iter().all(|b| b.meta().max_time > newest - 36));
    assert_eq!(db.metrics().time_retentions.get(), 1);
    let oldest = db.blocks()[0].meta().min_time;
    assert!(dump_all(&db).values().all(|v| v[0].0 >= oldest));
    // Size: only the newest block fits beside the WAL.
    let wal = dir_bytes(&d.0.join("wal")).unwrap();
    let newest_bytes = db.blocks().last().unwrap().size_bytes();
    db.options.retention_size = Some(wal + newest_bytes);
    db.apply_retention().unwrap();
    assert_eq!(db.blocks().len(), 1);
    assert_eq!(db.metrics().size_retentions.get(), 1);
    assert_eq!(db.metrics().storage_blocks_bytes.get(), newest_bytes as i64);
}

#[test]
fn a_flipped_byte_in_a_block_index_stops_open_with_the_file_named() {
    let d = TestDir::new("corruptblock");
    let (mut db, _) = Db::open(&d.0, block_opts(100)).unwrap();
    append_range(&mut db, 0, 30);
    let id = db.compact_head().unwrap()[0].id;
    drop(db);
    let index = d.0.join(id.to_string()).join(crate::INDEX_FILE);
    let mut bytes = fs::read(&index).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    fs::write(&index, bytes).unwrap();
    match Db::open(&d.0, block_opts(100)) {
        Err(e @ Error::CorruptBlock { .. }) => {
            assert!(e.to_string().contains(&index.display().to_string()), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_block_chunks_is_refused_at_open_when_verifying() {
    let d = TestDir::new("corruptchunks");
    let (mut db, _) = Db::open(&d.0, block_opts(100)).unwrap();
    append_range(&mut db, 0, 30);
    let id = db.compact_head().unwrap()[0].id;
    drop(db);
    let chunks = d.0.join(id.to_string()).join(crate::CHUNKS_FILE);
    let mut bytes = fs::read(&chunks).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    fs::write(&chunks, bytes).unwrap();
    let verify = Options {
        verify_blocks: true,
        ..block_opts(100)
    };
    match Db::open(&d.0, verify) {
        Err(e @ Error::CorruptBlock { .. }) => {
            assert!(e.to_string().contains(&chunks.display().to_string()), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Without verification the store opens and the damaged chunk fails the read.
    let (db, _) = Db::open(&d.0, block_opts(100)).unwrap();
    assert!(matches!(
        db.select(&[], i64::MIN, i64::MAX),
        Err(Error::CorruptBlock { .. })
    ));
}

use super::*;
use crate::record::{SampleRecord, SeriesRecord};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ember-wal-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            if i % 3 == 0 {
                Record::Series(vec![SeriesRecord {
                    id: i as u64,
                    labels: vec![
                        ("__name__".into(), format!("m{i}")),
                        ("job".into(), "x".into()),
                    ],
                }])
            } else {
                Record::Samples(
                    (0..i as u64)
                        .map(|k| SampleRecord {
                            id: k,
                            t: 1_000 * i as i64,
                            v: k as f64 * 0.5,
                        })
                        .collect(),
                )
            }
        })
        .collect()
}

fn read_all(dir: &Path) -> (Vec<Record>, ReplayReport) {
    let mut got = vec![];
    let report = replay(dir, |r| got.push(r)).unwrap();
    (got, report)
}

fn opts(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        sync: SyncPolicy::Never,
    }
}

fn frame_len(r: &Record) -> usize {
    let mut b = vec![];
    r.encode_payload(&mut b);
    FRAME_HEADER_LEN + 1 + b.len()
}

#[test]
fn round_trip_across_segments_and_reopens() {
    let d = TestDir::new("round-trip");
    let recs = records(40);
    let (mut w, report) = WalWriter::open(&d.0, opts(1024), |_| panic!("empty")).unwrap();
    assert_eq!(report, ReplayReport::default());
    for r in &recs[..20] {
        w.append(r).unwrap();
    }
    assert!(w.segment() > 0, "small segments roll");
    drop(w);
    let (mut w, report) = WalWriter::open(&d.0, opts(1024), |_| {}).unwrap();
    assert_eq!(report.records, 20);
    for r in &recs[20..] {
        w.append(r).unwrap();
    }
    w.sync().unwrap();
    let (got, report) = read_all(&d.0);
    assert_eq!(got, recs);
    assert_eq!(report.truncated_at, None);
    for seg in list_segments(&d.0).unwrap() {
        let len = fs::metadata(segment_path(&d.0, seg)).unwrap().len();
        assert!(len <= 1024, "segment {seg} has {len} bytes");
    }
}

#[test]
fn every_sync_policy_writes_records() {
    for sync in [
        SyncPolicy::Always,
        SyncPolicy::Interval(Duration::ZERO),
        SyncPolicy::Never,
    ] {
        let d = TestDir::new("policies");
        let (mut w, _) = WalWriter::open(
            &d.0,
            WalOptions {
                segment_size: 200,
                sync,
            },
            |_| {},
        )
        .unwrap();
        for r in &records(10) {
            w.append(r).unwrap();
        }
        drop(w);
        assert_eq!(read_all(&d.0).0, records(10), "{sync:?}");
    }
}

#[test]
fn oversized_record_is_refused_and_nothing_is_written() {
    let d = TestDir::new("oversized");
    let (mut w, _) = WalWriter::open(&d.0, opts(64), |_| {}).unwrap();
    let big = records(12).pop().unwrap();
    assert!(matches!(w.append(&big), Err(Error::RecordTooLarge { .. })));
    w.append(&records(1)[0]).unwrap();
    assert_eq!(read_all(&d.0).0, records(1));
}

#[test]
fn truncated_tail_at_every_offset_of_the_last_record() {
    let recs = records(8);
    let last = recs.last().unwrap();
    let last_len = frame_len(last);
    for cut in 0..=last_len {
        let d = TestDir::new("torn");
        let (mut w, _) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
        for r in &recs {
            w.append(r).unwrap();
        }
        drop(w);
        let seg = segment_path(&d.0, 0);
        let full = fs::metadata(&seg).unwrap().len();
        let start = full - last_len as u64;
        let file = OpenOptions::new().write(true).open(&seg).unwrap();
        file.set_len(start + cut as u64).unwrap();
        drop(file);

        let (got, report) = read_all(&d.0);
        if cut == 0 || cut == last_len {
            // A cut on a record boundary is a clean end.
            assert_eq!(report.truncated_at, None, "cut {cut}");
            assert_eq!(got.len(), if cut == 0 { 7 } else { 8 });
            continue;
        }
        assert_eq!(got, recs[..7], "cut {cut}");
        assert_eq!(report.records, 7);
        assert_eq!(report.truncated_at, Some((0, start)), "cut {cut}");
        let want_header = cut < FRAME_HEADER_LEN;
        match report.reason {
            Some(Corruption::TornHeader) => assert!(want_header),
            Some(Corruption::TornRecord { .. }) => assert!(!want_header),
            ref other => panic!("cut {cut}: {other:?}"),
        }

        // Opening for writing cuts the torn tail; new records follow the good ones.
        let (mut w, report2) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
        assert_eq!(report2, report);
        assert_eq!(fs::metadata(&seg).unwrap().len(), start);
        w.append(last).unwrap();
        drop(w);
        let (got, report) = read_all(&d.0);
        assert_eq!(got, recs);
        assert_eq!(report.truncated_at, None);
    }
}

#[test]
fn flipped_byte_mid_segment_is_detected_and_later_segments_set_aside() {
    let d = TestDir::new("flip");
    let recs = records(10);
    let (mut w, _) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
    for r in &recs {
        w.append(r).unwrap();
    }
    drop(w);
    // A second run writes segment 1.
    let (mut w, _) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
    w.append(&recs[0]).unwrap();
    drop(w);

    let offset_of_5: usize = recs[..5].iter().map(frame_len).sum();
    let seg0 = segment_path(&d.0, 0);
    let pristine = fs::read(&seg0).unwrap();
    for pos in offset_of_5..offset_of_5 + frame_len(&recs[5]) {
        let mut bytes = pristine.clone();
        bytes[pos] ^= 0x40;
        fs::write(&seg0, &bytes).unwrap();
        let (got, report) = read_all(&d.0);
        assert_eq!(got, recs[..5], "flip at {pos}");
        assert_eq!(
            report.truncated_at,
            Some((0, offset_of_5 as u64)),
            "flip at {pos}"
        );
        assert_eq!(report.skipped_segments, [1]);
        assert!(report.reason.is_some());
    }
    // The last flip was in record 5's payload: a checksum failure.
    let (_, report) = read_all(&d.0);
    assert!(
        matches!(report.reason, Some(Corruption::Checksum { .. })),
        "{report:?}"
    );

    let (w, _) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
    assert_eq!(w.segment(), 1, "segment 1 was moved aside, so 1 is reused");
    assert!(d.0.join("00000001.corrupt").exists());
    drop(w);
    let (got, report) = read_all(&d.0);
    assert_eq!(got, recs[..5]);
    assert_eq!(report.truncated_at, None);
}

#[test]
fn zeroed_tail_is_a_corruption_not_records() {
    let d = TestDir::new("zeros");
    let (mut w, _) = WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
    w.append(&records(1)[0]).unwrap();
    drop(w);
    let seg = segment_path(&d.0, 0);
    let mut bytes = fs::read(&seg).unwrap();
    let good = bytes.len() as u64;
    bytes.extend([0u8; 64]);
    fs::write(&seg, bytes).unwrap();
    let (got, report) = read_all(&d.0);
    assert_eq!(got.len(), 1);
    assert_eq!(report.truncated_at, Some((0, good)));
    assert_eq!(report.reason, Some(Corruption::ZeroLength));
}

#[test]
fn repeated_repairs_keep_every_set_aside_segment() {
    let d = TestDir::new("repairs");
    let open = || WalWriter::open(&d.0, opts(1 << 20), |_| {}).unwrap();
    let tear_segment_0 = || {
        let mut f = OpenOptions::new()
            .append(true)
            .open(segment_path(&d.0, 0))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
    };
    let (mut w, _) = open(); // segment 0
    w.append(&records(1)[0]).unwrap();
    drop(w);
    let (mut w, _) = open(); // segment 1
    w.append(&records(1)[0]).unwrap();
    drop(w);
    tear_segment_0();
    let (w, report) = open(); // sets 1 aside, writes a new segment 1
    assert_eq!(report.skipped_segments, [1]);
    assert_eq!(w.segment(), 1);
    drop(w);
    let (mut w, _) = open(); // segment 2
    w.append(&records(1)[0]).unwrap();
    drop(w);
    tear_segment_0();
    let (_, report) = open();
    assert_eq!(report.skipped_segments, [1, 2]);
    let mut aside: Vec<_> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".corrupt"))
        .collect();
    aside.sort();
    assert_eq!(
        aside,
        ["00000001.corrupt", "00000001.corrupt.1", "00000002.corrupt"]
    );
}

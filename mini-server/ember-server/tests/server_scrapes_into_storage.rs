//! The real `ember-server` binary scrapes a target every second into its store: after a
//! clean SIGTERM the store holds `up`, the target's samples and their metadata, with
//! staleness markers written at shutdown; a restart keeps the data and adds to it; a
//! SIGKILL loses no committed scrape.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod server_support;

use ember_server::STALE_NAN_BITS;
use server_support::{Server, Target, config_for, read_store, temp_dir, wait_for};

fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[test]
fn scrapes_land_in_storage_and_survive_a_restart() {
    let dir = temp_dir("store");
    let target = Target::start();
    std::fs::write(
        dir.join("prometheus.yml"),
        config_for("app", &[&target.addr]),
    )
    .unwrap();
    let mut s = Server::start(&dir, &[]);
    s.wait_ready();
    target.wait_hits(3);
    s.signal("TERM");
    let status = s.wait_exit();
    assert!(status.success(), "exit {status}:\n{}", s.log());

    let data = dir.join("data");
    let up = read_store(&data, &[("__name__", "up"), ("job", "app")]);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].0.get("instance"), Some(target.addr.as_str()));
    let up_samples = up[0].1.clone();
    let (last, live) = up_samples.split_last().unwrap();
    assert!(
        is_stale(last.1),
        "a clean stop marks up stale: {up_samples:?}"
    );
    assert!(live.len() >= 3, "{up_samples:?}");
    assert!(live.iter().all(|(_, v)| *v == 1.0), "{up_samples:?}");

    let counter = read_store(&data, &[("__name__", "test_scrapes_total")]);
    assert_eq!(counter.len(), 1, "{counter:?}");
    let values: Vec<f64> = counter[0]
        .1
        .iter()
        .map(|s| s.1)
        .filter(|v| !is_stale(*v))
        .collect();
    assert!(values.len() >= 3, "{values:?}");
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "the target's count grows: {values:?}"
    );
    assert!(
        values
            .iter()
            .all(|v| *v >= 1.0 && *v <= target.hits() as f64),
        "{values:?}"
    );

    // TYPE and HELP reached the store.
    let (db, _) = ember_tsdb::Db::open(&data, ember_tsdb::Options::default()).unwrap();
    let md = db.metadata(&counter[0].0).cloned().unwrap();
    assert_eq!(md.metric_type, ember_tsdb::MetricType::Counter);
    assert_eq!(md.help, "Scrapes served.");
    drop(db);

    // A restart replays the store and goes on adding to it.
    let hits = target.hits();
    s.restart();
    s.wait_ready();
    target.wait_hits(hits + 2);
    s.signal("TERM");
    assert!(s.wait_exit().success(), "{}", s.log());
    let after = read_store(&data, &[("__name__", "up"), ("job", "app")]);
    let after_samples = &after[0].1;
    for sample in &up_samples {
        assert!(
            after_samples
                .iter()
                .any(|a| a.0 == sample.0 && a.1.to_bits() == sample.1.to_bits()),
            "sample {sample:?} lost by the restart: {after_samples:?}"
        );
    }
    let new_live = after_samples
        .iter()
        .filter(|(t, v)| *t > last.0 && *v == 1.0)
        .count();
    assert!(new_live >= 2, "{after_samples:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_loses_no_committed_scrape() {
    let dir = temp_dir("sigkill");
    let target = Target::start();
    std::fs::write(
        dir.join("prometheus.yml"),
        config_for("app", &[&target.addr]),
    )
    .unwrap();
    let mut s = Server::start(&dir, &[]);
    s.wait_ready();
    target.wait_hits(3);
    // Samples the store acknowledged (committed to the WAL with write(2)) so far.
    let mut committed = 0.0;
    wait_for("committed samples on /metrics", || {
        committed = s
            .metric("ember_tsdb_head_samples_appended_total{type=\"float\"}")
            .unwrap_or(0.0);
        committed >= 3.0
    });
    s.signal("KILL");
    let _ = s.wait_exit();

    let data = dir.join("data");
    let stored: usize = read_store(&data, &[("job", "app")])
        .iter()
        .map(|(_, samples)| samples.len())
        .sum();
    assert!(
        stored as f64 >= committed,
        "{stored} samples after SIGKILL, {committed} were committed before it"
    );

    // And the server starts again on that store.
    s.restart();
    s.wait_ready();
    let hits = target.hits();
    target.wait_hits(hits + 1);
    s.signal("TERM");
    assert!(s.wait_exit().success(), "{}", s.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opens_a_store_written_by_ember_tsdb_import() {
    let dir = temp_dir("import");
    let data = dir.join("data");
    // Backfill two hours ending an hour ago, as `ember-tsdb import` writes it.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut om = String::from("# TYPE backfilled gauge\n# HELP backfilled Imported.\n");
    let start = now_s - 3 * 3600;
    for i in 0..120 {
        om.push_str(&format!(
            "backfilled{{src=\"import\"}} {i} {}\n",
            start + i * 60
        ));
    }
    om.push_str("# EOF\n");
    let report =
        ember_tsdb::import_openmetrics(om.as_bytes(), &data, &ember_tsdb::ImportOptions::default())
            .unwrap();
    assert!(!report.blocks.is_empty());

    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    let mut s = Server::start(&dir, &[]);
    s.wait_ready();
    assert_eq!(
        s.metric("ember_tsdb_blocks_loaded"),
        Some(report.blocks.len() as f64),
        "{}",
        s.log()
    );
    s.signal("TERM");
    assert!(s.wait_exit().success(), "{}", s.log());

    let got = read_store(&data, &[("__name__", "backfilled")]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1.len(), 120);
    assert_eq!(got[0].1[0], ((start * 1000) as i64, 0.0));
    let _ = std::fs::remove_dir_all(&dir);
}

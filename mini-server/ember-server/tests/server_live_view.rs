//! The server's `ServerView` over its live state (`Live`, `LiveView`), as the API reads
//! it: targets with their latest scrape, per-target metadata, the configuration text,
//! flags, runtime info, and a refused reload.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod server_support;

use std::sync::Arc;

use ember_server::api::ServerView;
use ember_server::{AppendStats, DbStorage, Flags, Live, LiveView, ServerMetrics, open_storage_at};
use server_support::{Target, config_for, temp_dir, wait_for};

#[test]
fn the_view_follows_scrapes_and_reloads() {
    let dir = temp_dir("view");
    let target = Target::start();
    let config = dir.join("prometheus.yml");
    let text = format!(
        "{}  - job_name: gone\n    static_configs: [{{targets: ['drop.me:80']}}]\n    relabel_configs: [{{action: drop, source_labels: [__address__], regex: 'drop.*'}}]\n",
        config_for("app", &[&target.addr])
    );
    std::fs::write(&config, &text).unwrap();
    let flags = Flags::parse_from([
        "ember-server".to_owned(),
        format!("--config.file={}", config.display()),
        "--storage.tsdb.retention.time=30d".to_owned(),
    ])
    .unwrap();
    let (db, _) = open_storage_at(&dir.join("data"), ember_tsdb::Options::default()).unwrap();
    let registry = ember::Registry::new();
    let metrics = ServerMetrics::new(&registry).unwrap();
    let source = flags.load_config_source().unwrap();
    let live = Arc::new(Live::start(
        flags,
        source,
        DbStorage::new(db, AppendStats::default()),
        metrics,
    ));
    let view = LiveView(Arc::clone(&live));

    wait_for("a scrape report", || {
        view.active_targets()
            .first()
            .is_some_and(|t| t.last_report.is_some())
    });
    let active = view.active_targets();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].job, "app");
    assert_eq!(active[0].target.labels().get("instance"), target.addr);
    let report = active[0].last_report.clone().unwrap();
    assert_eq!(report.error, None);

    let dropped = view.dropped_targets();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].0, "gone");

    let md = view.target_metadata();
    let counter = md
        .iter()
        .find(|m| m.metric == "test_scrapes_total")
        .unwrap();
    assert_eq!(counter.metric_type, "counter");
    assert_eq!(counter.help, "Scrapes served.");
    assert_eq!(counter.target.get("job"), "app");

    assert_eq!(view.config_yaml(), text);
    let flags = view.flags();
    assert!(flags.contains(&("storage.tsdb.retention.time".into(), "30d".into())));
    let info = view.runtime_info();
    assert!(info.reload_config_success);
    assert_eq!(info.storage_retention, "30d");
    assert!(info.threads >= 2, "{info:?}");

    // A refused reload keeps targets and text, and says so.
    std::fs::write(&config, "scrape_configs: [{job_name: 1x, bogus: true}]\n").unwrap();
    assert!(live.reload().is_err());
    let info = view.runtime_info();
    assert!(!info.reload_config_success);
    assert_eq!(view.config_yaml(), text);
    assert_eq!(view.active_targets().len(), 1);
    assert!(
        registry
            .encode_to_string(ember_expfmt::Format::Text)
            .contains("prometheus_config_last_reload_successful 0\n")
    );

    live.stop();
    assert!(view.active_targets().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

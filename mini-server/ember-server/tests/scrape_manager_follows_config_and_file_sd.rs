//! The scrape manager runs one loop per target, follows file SD changes and config
//! reloads, and marks the series of removed targets stale.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ember_server::{Config, MemoryAppender, ScrapeManager, StoredSample, is_stale_marker};

fn serve(body: &'static str) -> (Arc<tiny_http::Server>, String) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let s = server.clone();
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    (server, addr)
}

/// Polls (bounded) until `pred` holds for the stored samples.
fn wait_until(store: &MemoryAppender, what: &str, pred: impl Fn(&[StoredSample]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred(&store.committed()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has(samples: &[StoredSample], name: &str, instance: &str, stale: bool) -> bool {
    samples.iter().any(|s| {
        s.series.get("__name__") == name
            && s.series.get("instance") == instance
            && is_stale_marker(s.value) == stale
    })
}

fn write_sd(path: &Path, json: &str, mtime_offset_secs: u64) {
    std::fs::write(path, json).unwrap();
    // An explicit, distinct modification time: coarse file system clocks must not hide
    // the change.
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(mtime_offset_secs))
        .unwrap();
}

#[test]
fn follows_file_sd_and_reloads() {
    let (_a, a) = serve("metric_a 1\n");
    let (_b, b) = serve("metric_b 2\n");
    let dir = std::env::temp_dir().join(format!("ember-server-manager-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sd = dir.join("targets.json");
    write_sd(
        &sd,
        &format!(r#"[{{"targets": ["{b}"], "labels": {{"tier": "files"}}}}]"#),
        10,
    );
    let config = |extra: &str| {
        let text = format!(
            "global: {{scrape_interval: 100ms, scrape_timeout: 100ms}}\nscrape_configs:\n- job_name: files\n  file_sd_configs: [{{files: ['targets.json']}}]\n{extra}"
        );
        Config::parse(&text, &dir.join("prometheus.yml")).unwrap()
    };
    let with_static = format!("- job_name: static\n  static_configs: [{{targets: ['{a}']}}]\n");

    let store = MemoryAppender::default();
    let mut m = ScrapeManager::new(store.clone());
    m.apply(&config(&with_static));
    assert!(m.errors().is_empty(), "{:?}", m.errors());
    assert_eq!(m.targets().len(), 2);
    wait_until(&store, "both targets scraped", |s| {
        has(s, "metric_a", &a, false) && has(s, "metric_b", &b, false)
    });
    let b_series = store
        .committed()
        .into_iter()
        .find(|s| s.series.get("__name__") == "metric_b")
        .unwrap();
    assert_eq!(b_series.series.get("tier"), "files");
    assert_eq!(b_series.series.get("job"), "files");

    // The file SD target disappears: its loop stops and marks its series stale.
    write_sd(&sd, "[]", 20);
    m.sync();
    assert_eq!(m.targets().len(), 1);
    let s = store.committed();
    assert!(has(&s, "metric_b", &b, true), "metric_b marked stale");
    assert!(has(&s, "up", &b, true), "up of b marked stale");

    // A reload without the static job stops that target too.
    m.apply(&config(""));
    assert!(m.targets().is_empty());
    assert!(has(&store.committed(), "metric_a", &a, true));

    // A changed job restarts its loops with the new settings.
    write_sd(&sd, &format!(r#"[{{"targets": ["{b}"]}}]"#), 30);
    m.apply(&config(""));
    wait_until(&store, "b scraped again", |s| {
        s.iter()
            .filter(|x| x.series.get("__name__") == "metric_b" && !is_stale_marker(x.value))
            .count()
            >= 2
    });
    let relabeled = "  metric_relabel_configs: [{target_label: extra, replacement: yes}]\n";
    m.apply(&config(relabeled));
    wait_until(&store, "relabeled series", |s| {
        s.iter()
            .any(|x| x.series.get("__name__") == "metric_b" && x.series.get("extra") == "yes")
    });
    let reports = m.targets();
    assert_eq!(reports.len(), 1);
    m.stop_all();
    let last = store.committed();
    assert!(
        last.iter()
            .any(|x| x.series.get("extra") == "yes" && is_stale_marker(x.value))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_reload_keeps_the_running_config() {
    let (_a, a) = serve("metric_a 1\n");
    let dir = std::env::temp_dir().join(format!("ember-server-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prometheus.yml");
    std::fs::write(
        &path,
        format!("global: {{scrape_interval: 100ms, scrape_timeout: 100ms}}\nscrape_configs:\n- job_name: a\n  static_configs: [{{targets: ['{a}']}}]\n"),
    )
    .unwrap();
    let store = MemoryAppender::default();
    let mut m = ScrapeManager::new(store.clone());
    m.reload(&path).unwrap();
    assert_eq!(m.targets().len(), 1);

    std::fs::write(
        &path,
        "scrape_configs:\n- job_name: a\n  scrape_interval: soon\n",
    )
    .unwrap();
    let err = m.reload(&path).unwrap_err().to_string();
    assert!(
        err.contains("scrape_configs[0].scrape_interval: not a valid duration string"),
        "{err}"
    );
    assert_eq!(m.targets().len(), 1, "the old configuration keeps running");
    wait_until(&store, "scrapes continue", |s| {
        s.iter()
            .filter(|x| x.series.get("__name__") == "metric_a")
            .count()
            >= 2
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn target_limit_fails_every_scrape_of_the_job() {
    let (_a, a) = serve("metric_a 1\n");
    let (_b, b) = serve("metric_b 1\n");
    let config = |limit: u32| {
        let text = format!(
            "global: {{scrape_interval: 100ms, scrape_timeout: 100ms}}\nscrape_configs:\n- job_name: j\n  target_limit: {limit}\n  static_configs: [{{targets: ['{a}', '{b}']}}]\n"
        );
        Config::parse(&text, Path::new("prometheus.yml")).unwrap()
    };
    let store = MemoryAppender::default();
    let mut m = ScrapeManager::new(store.clone());
    m.apply(&config(1));
    let expected = "target_limit exceeded (number of targets: 2, limit: 1)";
    assert_eq!(m.errors(), [format!("job \"j\": {expected}")]);
    wait_until(&store, "both report up 0", |s| {
        [&a, &b].iter().all(|i| {
            s.iter()
                .any(|x| x.series.get("__name__") == "up" && x.series.get("instance") == **i)
        })
    });
    let s = store.committed();
    assert!(
        s.iter()
            .filter(|x| x.series.get("__name__") == "up")
            .all(|x| x.value == 0.0)
    );
    assert!(
        !s.iter()
            .any(|x| x.series.get("__name__").starts_with("metric_"))
    );
    for t in m.targets() {
        if let Some(r) = t.last_report {
            assert_eq!(r.error.as_deref(), Some(expected));
        }
    }

    m.apply(&config(2));
    assert!(m.errors().is_empty());
    wait_until(&store, "scrapes succeed within the limit", |s| {
        s.iter().any(|x| x.series.get("__name__") == "metric_a")
            && s.iter().any(|x| x.series.get("__name__") == "metric_b")
    });
}

#[test]
fn dropped_targets_are_listed_with_their_discovered_labels() {
    let text = "global: {scrape_interval: 1h}\nscrape_configs:\n- job_name: j\n  static_configs: [{targets: ['127.0.0.1:1', '127.0.0.1:2']}]\n  relabel_configs: [{source_labels: [__address__], regex: '.*:1', action: keep}]\n";
    let cfg = Config::parse(text, Path::new("prometheus.yml")).unwrap();
    let mut m = ScrapeManager::new(MemoryAppender::default());
    m.apply(&cfg);
    assert_eq!(m.targets().len(), 1);
    let dropped = m.dropped_targets();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].0, "j");
    assert_eq!(
        dropped[0].1.to_string(),
        r#"{__address__="127.0.0.1:2", __metrics_path__="/metrics", __scheme__="http", __scrape_interval__="1h", __scrape_timeout__="10s", job="j"}"#
    );
}

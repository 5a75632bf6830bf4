//! The scrape cache end to end: a real HTTP target (tiny_http) scraped into the server's
//! storage (ember-tsdb in a temp dir), where steady series are appended by id. Raw texts
//! that relabeling merges into one series, series that vanish (staleness markers) and
//! come back, and handles freed by vanished series reused by new ones, must all land on
//! the right series.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_server::{
    AppendStats, Appendable, Config, DbStorage, ScrapeLoop, is_stale_marker, open_storage_at,
    targets_from_group,
};

#[test]
fn merged_vanished_and_returning_series_land_on_the_right_series() {
    let bodies: Arc<Mutex<Vec<&'static str>>> = Arc::new(Mutex::new(vec![
        "a{x=\"1\"} 1\na{x=\"2\"} 2\nb 5\n",
        "c 7\n",
        "d 8\na{x=\"1\"} 9\n",
        "d 10\na{x=\"2\"} 11\n",
    ]));
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let (s, b) = (server.clone(), bodies.clone());
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let body = {
                let mut b = b.lock().unwrap();
                if b.is_empty() { "" } else { b.remove(0) }
            };
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    let yaml = format!(
        "scrape_configs:\n- job_name: app\n  static_configs: [{{targets: ['{addr}']}}]\n  metric_relabel_configs:\n  - {{action: labeldrop, regex: x}}\n"
    );
    let cfg = Config::parse(&yaml, Path::new("t.yml")).unwrap();
    let job = &cfg.scrape_configs[0];
    let target = targets_from_group(&job.static_configs[0], job)
        .unwrap()
        .remove(0);
    let dir = std::env::temp_dir().join(format!("ember-scrape-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).unwrap();
    let stats = AppendStats::default();
    let storage = DbStorage::new(db.clone(), stats.clone());
    let mut l = ScrapeLoop::new(target, job, storage.appender());
    let mut ts = Vec::new();
    for _ in 0..4 {
        let r = l.scrape_once();
        assert_eq!(r.error, None);
        ts.push(r.timestamp_ms);
        std::thread::sleep(Duration::from_millis(3));
    }
    let series = |name: &str| -> Vec<(i64, Option<f64>)> {
        let labels =
            ember_tsdb::Labels::new([("__name__", name), ("instance", &addr), ("job", "app")])
                .unwrap();
        let g = db.read();
        let Some(id) = g.head().get(&labels) else {
            return Vec::new();
        };
        g.head()
            .samples(id)
            .unwrap()
            .map(|(t, v)| (t, (!is_stale_marker(v)).then_some(v)))
            .collect()
    };
    // `a{x="1"}` and `a{x="2"}` are one series after the labeldrop: the first value wins.
    assert_eq!(
        series("a"),
        [
            (ts[0], Some(1.0)),
            (ts[1], None),
            (ts[2], Some(9.0)),
            (ts[3], Some(11.0))
        ]
    );
    assert_eq!(series("b"), [(ts[0], Some(5.0)), (ts[1], None)]);
    assert_eq!(series("c"), [(ts[1], Some(7.0)), (ts[2], None)]);
    assert_eq!(series("d"), [(ts[2], Some(8.0)), (ts[3], Some(10.0))]);
    assert_eq!(series("up").len(), 4);
    assert_eq!(stats.other.get() + stats.duplicate.get(), 0);
    drop(l);
    server.unblock();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reordered_inserted_and_truncated_bodies_keep_every_series_apart() {
    let bodies: Arc<Mutex<Vec<&'static str>>> = Arc::new(Mutex::new(vec![
        "a 1\nb 2\nc 3\n",
        "b 4\na 5\nc 6\n",
        "x 7\nb 8\na 9\nc 10\n",
        "x 11\nb 12\n",
        "x 13\nb 14\na 15\n",
        "x 16\nb 17\na 18\n",
    ]));
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let (s, b) = (server.clone(), bodies.clone());
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let body = {
                let mut b = b.lock().unwrap();
                if b.is_empty() { "" } else { b.remove(0) }
            };
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    let yaml =
        format!("scrape_configs:\n- job_name: app\n  static_configs: [{{targets: ['{addr}']}}]\n");
    let cfg = Config::parse(&yaml, Path::new("t.yml")).unwrap();
    let job = &cfg.scrape_configs[0];
    let target = targets_from_group(&job.static_configs[0], job)
        .unwrap()
        .remove(0);
    let dir = std::env::temp_dir().join(format!("ember-scrape-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).unwrap();
    let stats = AppendStats::default();
    let storage = DbStorage::new(db.clone(), stats.clone());
    let mut l = ScrapeLoop::new(target, job, storage.appender());
    let mut ts = Vec::new();
    let mut added = Vec::new();
    for _ in 0..6 {
        let r = l.scrape_once();
        assert_eq!(r.error, None);
        ts.push(r.timestamp_ms);
        added.push(r.series_added);
        std::thread::sleep(Duration::from_millis(3));
    }
    let series = |name: &str| -> Vec<(i64, Option<f64>)> {
        let labels =
            ember_tsdb::Labels::new([("__name__", name), ("instance", &addr), ("job", "app")])
                .unwrap();
        let g = db.read();
        let Some(id) = g.head().get(&labels) else {
            return Vec::new();
        };
        g.head()
            .samples(id)
            .unwrap()
            .map(|(t, v)| (t, (!is_stale_marker(v)).then_some(v)))
            .collect()
    };
    let v = |i: usize, x: f64| (ts[i], Some(x));
    assert_eq!(
        series("a"),
        [
            v(0, 1.0),
            v(1, 5.0),
            v(2, 9.0),
            (ts[3], None),
            v(4, 15.0),
            v(5, 18.0)
        ]
    );
    assert_eq!(
        series("b"),
        [
            v(0, 2.0),
            v(1, 4.0),
            v(2, 8.0),
            v(3, 12.0),
            v(4, 14.0),
            v(5, 17.0)
        ]
    );
    assert_eq!(
        series("c"),
        [v(0, 3.0), v(1, 6.0), v(2, 10.0), (ts[3], None)]
    );
    assert_eq!(series("x"), [v(2, 7.0), v(3, 11.0), v(4, 13.0), v(5, 16.0)]);
    assert_eq!(added, [3, 0, 1, 0, 1, 0]);
    assert_eq!(stats.other.get() + stats.duplicate.get(), 0);
    drop(l);
    server.unblock();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn series_the_store_dropped_are_bound_again_from_their_raw_text() {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let n = Arc::new(Mutex::new(0u32));
    let (s, c) = (server.clone(), n.clone());
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let i = {
                let mut c = c.lock().unwrap();
                *c += 1;
                *c
            };
            let body = format!("a{{path=\"/x \\\"y\\\"\",code=\"200\"}} {i}\nb {i}\n");
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    let yaml = format!(
        "scrape_configs:\n- job_name: app\n  static_configs: [{{targets: ['{addr}']}}]\n  metric_relabel_configs:\n  - {{action: replace, source_labels: [code], target_label: c}}\n"
    );
    let cfg = Config::parse(&yaml, Path::new("t.yml")).unwrap();
    let job = &cfg.scrape_configs[0];
    let target = targets_from_group(&job.static_configs[0], job)
        .unwrap()
        .remove(0);
    let dir = std::env::temp_dir().join(format!("ember-scrape-rebind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).unwrap();
    let stats = AppendStats::default();
    let storage = DbStorage::new(db.clone(), stats.clone());
    let mut l = ScrapeLoop::new(target, job, storage.appender());
    let first = l.scrape_once();
    assert_eq!(first.error, None);
    // The store drops every series (as a head cut does after a long silence), and other
    // series take their slots.
    let mut drop_all =
        |_: &ember_tsdb::Labels, _: Option<&ember_tsdb::Metadata>, _: &[ember_tsdb::Chunk]| Ok(());
    db.write()
        .cut(first.timestamp_ms + 1, &mut drop_all)
        .unwrap();
    assert_eq!(db.read().head().num_series(), 0);
    for name in ["other1", "other2", "other3"] {
        let l = ember_tsdb::Labels::new([("__name__", name)]).unwrap();
        db.write().append(&l, first.timestamp_ms + 2, 1.0).unwrap();
    }
    std::thread::sleep(Duration::from_millis(5));
    let second = l.scrape_once();
    assert_eq!(second.error, None);
    // The same scrape's samples land on the right series, bound again from the raw text
    // (escapes and metric relabeling included).
    let a = ember_tsdb::Labels::new([
        ("__name__", "a"),
        ("c", "200"),
        ("code", "200"),
        ("instance", addr.as_str()),
        ("job", "app"),
        ("path", "/x \"y\""),
    ])
    .unwrap();
    let b =
        ember_tsdb::Labels::new([("__name__", "b"), ("instance", &addr), ("job", "app")]).unwrap();
    let samples = |l: &ember_tsdb::Labels| -> Vec<(i64, f64)> {
        let g = db.read();
        let id = g.head().get(l).expect("series exists");
        g.head().samples(id).unwrap().collect()
    };
    assert_eq!(samples(&a), [(second.timestamp_ms, 2.0)]);
    assert_eq!(samples(&b), [(second.timestamp_ms, 2.0)]);
    for name in ["other1", "other2", "other3"] {
        let l = ember_tsdb::Labels::new([("__name__", name)]).unwrap();
        assert_eq!(samples(&l).len(), 1, "{name} untouched");
    }
    // And by id again afterwards.
    std::thread::sleep(Duration::from_millis(5));
    let third = l.scrape_once();
    assert_eq!(samples(&a).len(), 2);
    assert_eq!(samples(&a)[1], (third.timestamp_ms, 3.0));
    assert_eq!(stats.other.get(), 0);
    drop(l);
    server.unblock();
    let _ = std::fs::remove_dir_all(&dir);
}

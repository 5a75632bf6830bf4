//! The whole loop on one machine: `ember-server` scrapes `node_exporter_rs` and the
//! `web_app` example every second; what it answers over the HTTP API is what those
//! targets exposed and what the test drove. A killed target goes `up` 0 and its series
//! go stale; a restarted server still has the earlier data.
//!
//! `EMBER_E2E_SERVER=prometheus` runs the same test against Prometheus 2.42 (the
//! reference), which is how this test's own logic is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, Server, ServerKind, cargo_bin, free_port, http_get, unix_now};

const WAIT: Duration = Duration::from_secs(60);

/// Starts `package`'s binary `bin` listening on a free port given by `flag`; waits until
/// it serves `/metrics`.
fn start_target(package: &str, bin: &str, flag: &str, dir: &std::path::Path) -> (Child, String) {
    let exe = cargo_bin(package, bin).unwrap();
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut cmd = Command::new(exe);
    cmd.arg(flag).arg(&addr);
    let child = Child::spawn(bin, cmd, &dir.join(format!("{bin}.log"))).unwrap();
    assert!(
        ember_e2e::wait_for_http(&addr, "/metrics", WAIT),
        "{bin} did not start: {}",
        std::fs::read_to_string(dir.join(format!("{bin}.log"))).unwrap_or_default()
    );
    (child, addr)
}

/// Waits until `q` returns exactly one sample equal to `want`; returns that value (the
/// last one seen when it never came, so the assertion shows it).
fn one(s: &Server, q: &str, want: f64) -> f64 {
    let r = s
        .wait_for(q, WAIT, |r| r.len() == 1 && r[0].1 == want)
        .unwrap();
    assert_eq!(r.len(), 1, "{q}: {r:?}\n{}", s.log());
    r[0].1
}

#[test]
fn server_stores_what_the_targets_exposed_and_keeps_it_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("ember-e2e-targets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_node, node_addr) = start_target(
        "node_exporter_rs",
        "node_exporter_rs",
        "--web.listen-address",
        &dir,
    );
    let (app, app_addr) = start_target("examples", "web_app", "--listen", &dir);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         \x20 - job_name: node\n    static_configs: [{{targets: ['{node_addr}']}}]\n\
         \x20 - job_name: web_app\n    static_configs: [{{targets: ['{app_addr}']}}]\n"
    );
    let mut server = Server::start(ServerKind::under_test(), &config).unwrap();
    let started = unix_now();

    // Known traffic.
    for _ in 0..25 {
        assert_eq!(http_get(&app_addr, "/hello", &[]).unwrap().status, 200);
    }
    for _ in 0..7 {
        assert_eq!(http_get(&app_addr, "/fail", &[]).unwrap().status, 500);
    }
    for _ in 0..5 {
        assert_eq!(http_get(&app_addr, "/work?ms=20", &[]).unwrap().status, 200);
    }

    assert_eq!(one(&server, "up{job=\"node\"}", 1.0), 1.0);
    assert_eq!(one(&server, "up{job=\"web_app\"}", 1.0), 1.0);
    let up = server.query("up").unwrap();
    let mut instances: Vec<&str> = up
        .iter()
        .map(|(l, _)| l["instance"].as_str().unwrap())
        .collect();
    instances.sort_unstable();
    let mut want = vec![node_addr.as_str(), app_addr.as_str()];
    want.sort_unstable();
    assert_eq!(instances, want, "{up:?}");

    // node_exporter_rs: the series it exposes are the series stored.
    let exposed = http_get(&node_addr, "/metrics", &[]).unwrap().text();
    let uname = exposed
        .lines()
        .find(|l| l.starts_with("node_uname_info{"))
        .expect("node_exporter_rs exposes node_uname_info");
    let r = server
        .wait_for("node_uname_info", WAIT, |r| r.len() == 1)
        .unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    let nodename = r[0].0["nodename"].as_str().unwrap().to_string();
    assert!(
        uname.contains(&format!("nodename=\"{nodename}\"")),
        "{uname} vs {r:?}"
    );
    assert_eq!(r[0].0["job"], "node");
    let cpu_series = exposed
        .lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{"))
        .count();
    assert!(cpu_series > 0, "no node_cpu_seconds_total in {exposed}");
    let r = server
        .wait_for("node_cpu_seconds_total", WAIT, |r| r.len() == cpu_series)
        .unwrap();
    assert_eq!(r.len(), cpu_series, "{r:?}");
    let r = server
        .wait_for("sum(rate(node_cpu_seconds_total[1m]))", WAIT, |r| {
            r.first().is_some_and(|s| s.1 > 0.0)
        })
        .unwrap();
    assert!(r.first().is_some_and(|s| s.1 > 0.0), "{r:?}");
    let rates = server.query("rate(node_cpu_seconds_total[1m])").unwrap();
    assert_eq!(rates.len(), cpu_series, "{rates:?}");
    assert!(rates.iter().all(|(_, v)| *v >= 0.0), "{rates:?}");

    // web_app: the counters equal the traffic driven.
    let hello = "function_calls_total{job=\"web_app\",function=\"hello\",result=\"ok\"}";
    assert_eq!(one(&server, hello, 25.0), 25.0);
    let fail = "function_calls_total{function=\"fallible\",result=\"error\"}";
    assert_eq!(one(&server, fail, 7.0), 7.0);
    let work = "function_calls_total{function=\"work\",result=\"ok\"}";
    assert_eq!(one(&server, work, 5.0), 5.0);
    let work_count = "function_calls_duration_seconds_count{function=\"work\"}";
    assert_eq!(one(&server, work_count, 5.0), 5.0);
    assert_eq!(
        one(
            &server,
            "sum(function_calls_concurrent{job=\"web_app\"})",
            0.0
        ),
        0.0
    );
    let app_series = server
        .query("count({job=\"web_app\",__name__=~\"function_calls_.*\"})")
        .unwrap();
    assert!(app_series.first().is_some_and(|s| s.1 > 0.0));

    // Kill the app: `up` drops to 0 and its series go stale (an instant query no longer
    // returns them), while the node target stays up.
    let before_kill = unix_now();
    drop(app);
    assert_eq!(one(&server, "up{job=\"web_app\"}", 0.0), 0.0);
    let r = server
        .wait_for(
            "{job=\"web_app\",__name__=~\"function_calls_.*\"}",
            WAIT,
            |r| r.is_empty(),
        )
        .unwrap();
    assert!(r.is_empty(), "stale series still returned: {r:?}");
    assert_eq!(one(&server, "up{job=\"node\"}", 1.0), 1.0);

    // Restart on the same data directory: the earlier window is still there.
    server.restart().unwrap();
    let window_start = started.floor();
    let window_end = before_kill.ceil();
    let series = server
        .query_range(hello, window_start, window_end, 1.0)
        .unwrap();
    assert_eq!(series.len(), 1, "{series:?}\n{}", server.log());
    let points = &series[0].1;
    assert!(
        points.iter().any(|(_, v)| *v == 25.0),
        "{hello} over [{window_start}, {window_end}] after restart: {points:?}\n{}",
        server.log()
    );
    let up_range = server
        .query_range("up{job=\"web_app\"}", window_start, window_end, 1.0)
        .unwrap();
    assert_eq!(up_range.len(), 1, "{up_range:?}");
    assert!(up_range[0].1.iter().any(|(_, v)| *v == 1.0), "{up_range:?}");
    let cpu_range = server
        .query_range(
            "count(node_cpu_seconds_total)",
            window_start,
            window_end,
            1.0,
        )
        .unwrap();
    assert!(
        cpu_range
            .first()
            .is_some_and(|(_, ps)| ps.iter().any(|(_, v)| *v == cpu_series as f64)),
        "{cpu_range:?}"
    );
    // And it goes on scraping: the app is still down, the node up.
    assert_eq!(one(&server, "up{job=\"web_app\"}", 0.0), 0.0);
    assert_eq!(one(&server, "up{job=\"node\"}", 1.0), 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The requests Grafana's Prometheus data source makes (health check, metrics browser,
//! label and series look-ups with `match[]` and a time range, metadata, range queries with
//! a step, GET and form POST) answer valid JSON that agrees with what `node_exporter_rs`
//! exposed, when `ember-server` scrapes it.
//!
//! `EMBER_E2E_SERVER=prometheus` runs the same test against Prometheus 2.42 (the
//! reference), which is how this test's own logic is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use ember_e2e::{
    Child, Server, ServerKind, cargo_bin, free_port, http_get, http_request, instant_result,
    range_result, success_data, unix_now, url_encode, wait_for_http,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect()
}

fn assert_sorted_unique(what: &str, v: &[String]) {
    assert!(
        v.windows(2).all(|w| w[0] < w[1]),
        "{what} not sorted and unique: {v:?}"
    );
}

/// The values of label `name` on the exposed lines of `metric` (text format).
fn exposed_label_values(exposition: &str, metric: &str, name: &str) -> BTreeSet<String> {
    let key = format!("{name}=\"");
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let rest = &l[l.find(&key)? + key.len()..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

/// POSTs `form` (already encoded) to `path` as Grafana does with its default "POST"
/// HTTP method.
fn post_form(server: &Server, path: &str, form: &str) -> Value {
    let r = http_request(
        server.addr(),
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    success_data(r.status, &r.body).unwrap_or_else(|e| panic!("POST {path} {form}: {e}"))
}

#[test]
fn grafana_data_source_requests_answer_valid_json() {
    let dir = std::env::temp_dir().join(format!("ember-e2e-grafana-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut cmd = Command::new(cargo_bin("node_exporter_rs", "node_exporter_rs").unwrap());
    cmd.arg("--web.listen-address").arg(&node_addr);
    let _node = Child::spawn("node_exporter_rs", cmd, &dir.join("node.log")).unwrap();
    assert!(wait_for_http(&node_addr, "/metrics", WAIT));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         \x20 - job_name: node\n    static_configs: [{{targets: ['{node_addr}']}}]\n"
    );
    let server = Server::start(ServerKind::under_test(), &config).unwrap();
    let started = unix_now().floor();
    // A few scrapes in, so that the range queries below cover several of them.
    let r = server
        .wait_for("count_over_time(up[1m])", WAIT, |r| {
            r.first().is_some_and(|s| s.1 >= 4.0)
        })
        .unwrap();
    assert!(r.first().is_some_and(|s| s.1 >= 4.0), "{r:?}");
    // What the target exposes to a Prometheus 2.42 scraper (OpenMetrics).
    let exposed = http_get(
        &node_addr,
        "/metrics",
        &[("Accept", ember_expfmt::PROMETHEUS_2_ACCEPT)],
    )
    .unwrap()
    .text();
    let now = unix_now().floor();
    let range = format!("start={}&end={now}", now - 3600.0);

    // Health check: `1+1` as an instant query, GET and POST.
    let now_ms = format!("{now:.3}");
    let data = server
        .api(&format!(
            "/api/v1/query?query={}&time={now_ms}",
            url_encode("1+1")
        ))
        .unwrap();
    assert_eq!(data["resultType"], "scalar", "{data}");
    assert_eq!(data["result"][1], "2", "{data}");
    assert_eq!(data["result"][0].as_f64(), Some(now), "{data}");
    let data = post_form(
        &server,
        "/api/v1/query",
        &format!("query={}&time={now_ms}", url_encode("1+1")),
    );
    assert_eq!(instant_result(&data).unwrap()[0].1, 2.0);

    // Build info (Grafana reads the version to pick features).
    let build = server.api("/api/v1/status/buildinfo").unwrap();
    assert!(
        build["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{build}"
    );

    // Metrics browser: label names, metric names, label values, with and without a range.
    for path in [
        "/api/v1/labels".to_string(),
        format!("/api/v1/labels?{range}"),
    ] {
        let names = strings(&server.api(&path).unwrap());
        assert_sorted_unique(&path, &names);
        for want in ["__name__", "cpu", "instance", "job", "mode", "nodename"] {
            assert!(
                names.iter().any(|n| n == want),
                "{path}: no {want} in {names:?}"
            );
        }
    }
    let names = strings(&server.api("/api/v1/label/__name__/values").unwrap());
    assert_sorted_unique("metric names", &names);
    let exposed_names: BTreeSet<&str> = exposed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for n in &exposed_names {
        assert!(names.iter().any(|m| m == n), "exposed {n} not in {names:?}");
    }
    for n in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
        assert!(names.iter().any(|m| m == n), "no {n} in {names:?}");
    }
    let jobs = strings(
        &server
            .api(&format!("/api/v1/label/job/values?{range}"))
            .unwrap(),
    );
    assert_eq!(jobs, ["node"]);
    let cpus = strings(
        &server
            .api(&format!(
                "/api/v1/label/cpu/values?match[]={}&{range}",
                url_encode("node_cpu_seconds_total")
            ))
            .unwrap(),
    );
    assert_eq!(
        cpus.into_iter().collect::<BTreeSet<_>>(),
        exposed_label_values(&exposed, "node_cpu_seconds_total", "cpu")
    );

    // Series look-up with match[] and a range, GET and POST.
    let matcher = url_encode("{__name__=~\"node_cpu_seconds_total|up\"}");
    let series = server
        .api(&format!("/api/v1/series?match[]={matcher}&{range}"))
        .unwrap();
    let series = series.as_array().unwrap();
    let cpu_lines = exposed
        .lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{"))
        .count();
    assert_eq!(series.len(), cpu_lines + 1, "{series:?}");
    for s in series {
        assert_eq!(s["job"], "node", "{s}");
        assert_eq!(s["instance"], node_addr.as_str(), "{s}");
        assert!(
            s["__name__"] == "up" || s["__name__"] == "node_cpu_seconds_total",
            "{s}"
        );
    }
    let posted = post_form(
        &server,
        "/api/v1/series",
        &format!("match[]={matcher}&{range}"),
    );
    assert_eq!(posted.as_array().map(Vec::len), Some(series.len()));

    // Metadata: the types and help texts the target exposed, by family name (OpenMetrics
    // names a counter's family without `_total`).
    let meta = server.api("/api/v1/metadata").unwrap();
    let (family, help) = exposed
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_once(' '))
        .find(|(name, _)| name.starts_with("node_cpu_seconds") && !name.contains("guest"))
        .unwrap();
    let cpu_meta = &meta[family][0];
    assert_eq!(cpu_meta["type"], "counter", "{family}: {meta}");
    assert_eq!(cpu_meta["help"].as_str(), Some(help), "{family}: {meta}");
    let families = exposed.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert_eq!(meta.as_object().map(|m| m.len()), Some(families), "{meta}");
    let meta = server
        .api("/api/v1/metadata?metric=node_uname_info")
        .unwrap();
    assert_eq!(meta["node_uname_info"][0]["type"], "gauge", "{meta}");
    assert_eq!(meta.as_object().map(|m| m.len()), Some(1), "{meta}");

    // Range queries with a step, aligned on the step as Grafana sends them.
    let step = 2.0;
    let end = (unix_now() / step).floor() * step;
    let start = started.max(end - 60.0);
    let start = (start / step).ceil() * step;
    let matrix = server.query_range("up", start, end, step).unwrap();
    assert_eq!(matrix.len(), 1, "{matrix:?}");
    let points = &matrix[0].1;
    assert!(!points.is_empty(), "{matrix:?}");
    for (t, v) in points {
        assert!(*t >= start && *t <= end, "{t} outside [{start}, {end}]");
        assert_eq!((t - start) % step, 0.0, "{t} not on the step grid");
        assert_eq!(*v, 1.0);
    }
    assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "{points:?}");
    let q = "sum by (mode) (rate(node_cpu_seconds_total[10s]))";
    let data = post_form(
        &server,
        "/api/v1/query_range",
        &format!(
            "query={}&start={start}&end={end}&step={step}",
            url_encode(q)
        ),
    );
    let modes = range_result(&data).unwrap();
    let exposed_modes = exposed_label_values(&exposed, "node_cpu_seconds_total", "mode");
    assert_eq!(
        modes
            .iter()
            .map(|(l, _)| l["mode"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>(),
        exposed_modes,
        "{modes:?}"
    );
    for (_, ps) in &modes {
        assert!(ps.iter().all(|(_, v)| *v >= 0.0), "{ps:?}");
    }

    // A bad query is an error in the same envelope, not a crash.
    let r = server
        .get(&format!("/api/v1/query?query={}", url_encode("sum(")))
        .unwrap();
    assert_eq!(r.status, 400);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Interop: `web_app` (handlers under `#[ember::metric]`) is scraped every second by a
//! real Prometheus 2.42; after driving a known set of requests, Prometheus's answers for
//! `up`, `function_calls_total` and a `histogram_quantile` over
//! `function_calls_duration_seconds_bucket` match what was driven.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, Prometheus, free_port, http_get, wait_for_http};

fn one(prom: &Prometheus, q: &str, want: f64) -> f64 {
    let r = prom
        .wait_for(q, Duration::from_secs(30), |r| {
            r.first().is_some_and(|s| s.1 == want)
        })
        .unwrap();
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0].1
}

#[test]
fn prometheus_sees_what_was_driven() {
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let log = std::env::temp_dir().join(format!("ember-web-app-{}.log", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_web_app"));
    cmd.args(["--listen", &addr]);
    let _app = Child::spawn("web_app", cmd, &log).unwrap();
    assert!(
        wait_for_http(&addr, "/metrics", Duration::from_secs(20)),
        "web_app did not start"
    );

    // Series exist at zero before the first call, without the app naming them.
    let before = http_get(&addr, "/metrics", &[]).unwrap().text();
    for line in [
        "function_calls_total{function=\"work\",module=\"web_app\",result=\"ok\"} 0",
        "function_calls_total{function=\"fallible\",module=\"web_app\",result=\"error\"} 0",
        "function_calls_duration_seconds_count{function=\"hello\",module=\"web_app\"} 0",
        "function_calls_concurrent{function=\"work\",module=\"web_app\"} 0",
    ] {
        assert!(before.lines().any(|l| l == line), "no `{line}` in {before}");
    }

    let prom = Prometheus::start("web_app", std::slice::from_ref(&addr), 1).unwrap();
    for _ in 0..30 {
        assert_eq!(http_get(&addr, "/hello", &[]).unwrap().status, 200);
    }
    for _ in 0..10 {
        assert_eq!(http_get(&addr, "/fail", &[]).unwrap().status, 500);
    }
    for _ in 0..20 {
        assert_eq!(http_get(&addr, "/work?ms=60", &[]).unwrap().status, 200);
    }

    assert_eq!(
        one(&prom, "up{job=\"web_app\"}", 1.0),
        1.0,
        "{}",
        prom.log()
    );
    assert_eq!(
        one(
            &prom,
            "function_calls_total{function=\"hello\",result=\"ok\"}",
            30.0
        ),
        30.0
    );
    assert_eq!(
        one(
            &prom,
            "function_calls_total{function=\"fallible\",result=\"error\"}",
            10.0
        ),
        10.0
    );
    assert_eq!(
        one(
            &prom,
            "function_calls_total{function=\"work\",result=\"ok\"}",
            20.0
        ),
        20.0
    );
    assert_eq!(
        one(
            &prom,
            "sum(function_calls_concurrent{module=\"web_app\"})",
            0.0
        ),
        0.0
    );
    // Every /work call took 60 ms and a little more: the median lies in the bucket
    // holding 0.06, between its bounds.
    let q = "histogram_quantile(0.5, sum by (le) (function_calls_duration_seconds_bucket{function=\"work\"}))";
    let r = prom
        .wait_for(q, Duration::from_secs(30), |r| {
            r.first().is_some_and(|s| s.1.is_finite())
        })
        .unwrap();
    let p50 = r[0].1;
    let bounds = ember::FUNCTION_CALLS_BUCKETS;
    let upper = bounds.iter().copied().find(|b| *b >= 0.06).unwrap();
    let lower = bounds.iter().copied().rfind(|b| *b < 0.06).unwrap_or(0.0);
    assert!(
        p50 > lower && p50 <= upper,
        "p50 {p50} not in ({lower}, {upper}]"
    );
    let count = one(
        &prom,
        "function_calls_duration_seconds_count{function=\"work\"}",
        20.0,
    );
    assert_eq!(count, 20.0);
    let build = prom.query("build_info").unwrap();
    assert_eq!(build.len(), 1, "{build:?}");
}

//! Limits and failures come out with Prometheus's `errorType`s and messages.

use std::time::Duration;

use ember_promql::{CancelToken, Engine, EngineOptions, Error, Labels, MemStorage, error_json};

fn store() -> MemStorage {
    let mut s = MemStorage::new();
    for (job, inst) in [("a", "0"), ("a", "1"), ("b", "0")] {
        let l = Labels::from_pairs(&[("__name__", "m"), ("job", job), ("instance", inst)]);
        for i in 0..100 {
            s.append(&l, i * 15_000, i as f64);
        }
    }
    s
}

#[test]
fn too_many_samples_is_an_execution_error() {
    let e = Engine::new(EngineOptions {
        max_samples: 10,
        ..EngineOptions::default()
    });
    let s = store();
    // 3 series x 11 steps = 33 samples held by the selector.
    let err = e.range_query(&s, "m", 0, 600_000, 60_000).unwrap_err();
    assert_eq!(err, Error::TooManySamples("query execution"));
    assert_eq!(err.error_type(), "execution");
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    // The same query fits a larger limit.
    let e = Engine::new(EngineOptions {
        max_samples: 100,
        ..EngineOptions::default()
    });
    assert!(e.range_query(&s, "m", 0, 600_000, 60_000).is_ok());
}

#[test]
fn timeout_and_cancel() {
    let s = store();
    let e = Engine::new(EngineOptions {
        timeout: Some(Duration::ZERO),
        ..EngineOptions::default()
    });
    let err = e.instant_query(&s, "sum(m)", 60_000).unwrap_err();
    assert_eq!(err.error_type(), "timeout");
    assert_eq!(err.to_string(), "query timed out in query execution");

    let e = Engine::default();
    let c = CancelToken::new();
    assert!(e.exec(&s, "sum(m)", 0, 60_000, 15_000, Some(&c)).is_ok());
    c.cancel();
    let err = e
        .exec(&s, "sum(m)", 0, 60_000, 15_000, Some(&c))
        .unwrap_err();
    assert_eq!(err.error_type(), "canceled");
    assert_eq!(err.to_string(), "query was canceled in query execution");
}

#[test]
fn bad_queries_are_bad_data() {
    let s = store();
    let e = Engine::default();
    let err = e.instant_query(&s, "sum(", 0).unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    let err = e.range_query(&s, "m[5m]", 0, 60_000, 15_000).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
    );
    assert_eq!(err.error_type(), "bad_data");
    assert!(e.range_query(&s, "m", 0, 60_000, 0).is_err());
    assert_eq!(
        error_json(&err),
        r#"{"status":"error","errorType":"bad_data","error":"invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"}"#
    );
}

#[test]
fn matching_errors_read_as_prometheus_writes_them() {
    let s = store();
    let e = Engine::default();
    let err = e.instant_query(&s, "m + on(job) m", 60_000).unwrap_err();
    assert_eq!(err.error_type(), "execution");
    assert_eq!(
        err.to_string(),
        r#"found duplicate series for the match group {job="a"} on the right hand-side of the operation: [{__name__="m", instance="1", job="a"}, {__name__="m", instance="0", job="a"}];many-to-many matching not allowed: matching labels must be unique on one side"#
    );
    let err = e.instant_query(&s, "m + on(instance) group_left m{job=\"b\"}", 60_000);
    assert!(err.is_ok(), "{err:?}");
    let err = e
        .instant_query(&s, "sum by (job) (m) + on() m{job=\"b\"}", 60_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    let err = e
        .instant_query(
            &s,
            "abs({job=\"a\"} @ 60) or label_replace(m, \"instance\", \"0\", \"\", \"\")",
            60_000,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    let err = e
        .instant_query(
            &s,
            "label_replace(m, \"bad-name\", \"\", \"job\", \"(.*)\")",
            60_000,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid destination label name in label_replace(): bad-name"
    );
    assert_eq!(err.error_type(), "execution");
}

#[test]
fn zero_steps_and_reversed_ranges_are_refused() {
    let s = store();
    let e = Engine::default();
    for (start, end, step) in [(0, 60_000, 0), (0, 60_000, -1), (60_000, 0, 15_000)] {
        let err = e.exec(&s, "m", start, end, step, None).unwrap_err();
        assert_eq!(err.error_type(), "bad_data", "{start} {end} {step}");
    }
}

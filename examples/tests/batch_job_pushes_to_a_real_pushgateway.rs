//! `batch_job` runs to completion and its results are on a real Pushgateway afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ember_e2e::Pushgateway;

#[test]
fn results_are_on_the_gateway_after_the_job_exits() {
    let gw = Pushgateway::start().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_batch_job"))
        .args([
            "--gateway",
            &format!("http://{}", gw.addr()),
            "--records",
            "1000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = gw.metrics().unwrap();
    // Records 0, 97, ..., 970 fail: 11 of 1000.
    for line in [
        "batch_records_processed_total{instance=\"examples\",job=\"batch_job\",outcome=\"failed\"} 11",
        "batch_records_processed_total{instance=\"examples\",job=\"batch_job\",outcome=\"ok\"} 989",
        "batch_record_duration_seconds_count{instance=\"examples\",job=\"batch_job\"} 1000",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    let last = text
        .lines()
        .find(|l| l.starts_with("batch_last_success_timestamp_seconds{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("last success timestamp pushed");
    assert!(last > 1.7e9, "{last}");
}

#[test]
fn an_unreachable_gateway_fails_the_job() {
    let port = ember_e2e::free_port().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_batch_job"))
        .args([
            "--gateway",
            &format!("http://127.0.0.1:{port}"),
            "--records",
            "3",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("batch_job: "));
}

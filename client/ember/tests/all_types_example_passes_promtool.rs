//! The `all_types` example's output is clean for `promtool check metrics` (0.0.4) and
//! parses with our strict OpenMetrics parser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn example_binary() -> PathBuf {
    // Tests run from target/<profile>/deps; cargo test builds examples next to it.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("all_types");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "ember", "--example", "all_types"])
            .status()
            .unwrap();
        assert!(status.success(), "building the all_types example failed");
    }
    bin
}

fn run_example(args: &[&str]) -> Vec<u8> {
    let out = Command::new(example_binary()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn promtool_check_metrics_reports_nothing() {
    let body = run_example(&[]);
    let text = String::from_utf8(body.clone()).unwrap();
    for expected in [
        "# TYPE demo_http_requests_total counter\n",
        "demo_http_requests_total{method=\"POST\",status=\"500\"} 1\n",
        "# TYPE demo_request_duration_seconds histogram\n",
        "demo_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 20\n",
        "# TYPE demo_payload_size_bytes summary\n",
        "demo_payload_size_bytes{quantile=\"0.5\"}",
        "demo_build_info{version=",
        "demo_lifecycle{demo_lifecycle=\"serving\"} 1\n",
        "# TYPE process_cpu_seconds_total counter\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool not runnable ({e}): install the Debian package `prometheus` \
             (apt-get install prometheus)"
        ),
    };
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool says:\n{report}\n{text}"
    );
}

#[test]
fn openmetrics_output_parses_strictly() {
    let body = run_example(&["--openmetrics"]);
    let families = ember_expfmt::parse_openmetrics(&body)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&body)));
    let names: Vec<_> = families.iter().map(|f| f.name.as_str()).collect();
    for n in [
        "demo_http_requests",
        "demo_build",
        "demo_lifecycle",
        "demo_payload_size_bytes",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    let created = families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name.ends_with("_created"))
        .count();
    assert!(created > 0, "OpenMetrics output carries _created samples");
}

//! `/`, `/-/healthy`, `/-/ready` and unknown paths.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use ember_e2e::http_get;

#[test]
fn exporter_serves_landing_health_and_404() {
    let addr = common::start(vec![], &["--web.telemetry-path=/custom"]);

    let landing = http_get(&addr, "/", &[]).unwrap();
    assert_eq!(landing.status, 200);
    assert_eq!(
        landing.header("content-type"),
        Some("text/html; charset=UTF-8")
    );
    let html = landing.text();
    assert!(html.contains("<h1>test_exporter</h1>"), "{html}");
    assert!(html.contains("Version: 9.8.7"), "{html}");
    assert!(html.contains("<a href=\"/custom\">Metrics</a>"), "{html}");

    for path in ["/-/healthy", "/-/ready"] {
        let r = http_get(&addr, path, &[]).unwrap();
        assert_eq!(r.status, 200, "{path}");
    }
    assert_eq!(http_get(&addr, "/metrics", &[]).unwrap().status, 404);
    assert_eq!(http_get(&addr, "/nope", &[]).unwrap().status, 404);
    assert_eq!(http_get(&addr, "/custom", &[]).unwrap().status, 200);
}

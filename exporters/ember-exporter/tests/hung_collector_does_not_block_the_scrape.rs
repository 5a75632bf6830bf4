//! A collector stuck forever: the scrape still answers by the deadline taken from
//! `X-Prometheus-Scrape-Timeout-Seconds`, with the hung collector's success at 0.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use ember_e2e::http_get;

#[test]
fn hung_collector_does_not_block_the_scrape() {
    let (hung, _release) = common::Hung::new();
    let addr = common::start(vec![Box::new(hung), Box::new(common::Fixed("a"))], &[]);
    for _ in 0..3 {
        let start = Instant::now();
        // 1 s minus the 0.5 s offset: the collectors get 0.5 s.
        let r = http_get(
            &addr,
            "/metrics",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "1")],
        )
        .unwrap();
        // Generous: the point is that the scrape does not wait for the stuck collector
        // (http_get itself gives up after 10 s).
        assert!(start.elapsed() < Duration::from_secs(9));
        assert_eq!(r.status, 200);
        let text = r.text();
        assert!(
            text.contains("test_scrape_collector_success{collector=\"hung\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("test_scrape_collector_success{collector=\"a\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("test_a_value 42\n"), "{text}");
    }
}

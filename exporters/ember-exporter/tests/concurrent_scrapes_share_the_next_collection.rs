//! Scrapes that arrive while a collection runs are not answered from it (it started
//! before they arrived) but from the next one, which they all share: the collectors run
//! twice for four concurrent scrapes, and every answer is fresh.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use ember_e2e::http_get;
use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::{Collector, CollectorError};
use parking_lot::Mutex;

/// Numbers its updates (`test_update_number`); the first one waits for the release.
#[derive(Debug)]
struct Counting {
    updates: AtomicU64,
    entered: Mutex<Option<Sender<()>>>,
    release: Mutex<Receiver<()>>,
}

impl Collector for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let n = self.updates.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(entered) = self.entered.lock().take() {
            entered.send(()).unwrap();
            let _ = self.release.lock().recv();
        }
        out.push(MetricFamily {
            name: "test_update_number".into(),
            help: "Which update this is.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric {
                labels: vec![],
                value: MetricValue::Gauge(n as f64),
                timestamp_ms: None,
                created: None,
            }],
        });
        Ok(())
    }
}

fn update_number(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("test_update_number "))
        .unwrap_or_else(|| panic!("no test_update_number in {text}"))
        .parse::<f64>()
        .unwrap() as u64
}

#[test]
fn concurrent_scrapes_share_the_next_collection() {
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let counting = Counting {
        updates: AtomicU64::new(0),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
    };
    let addr = common::start(vec![Box::new(counting)], &[]);
    // Two formats, so that the shared collection is encoded twice.
    let scrape = |addr: String, openmetrics: bool| {
        std::thread::spawn(move || {
            let headers: &[(&str, &str)] = if openmetrics {
                &[("Accept", "application/openmetrics-text;version=1.0.0")]
            } else {
                &[]
            };
            let r = http_get(&addr, "/metrics", headers).unwrap();
            assert_eq!(r.status, 200);
            update_number(&r.text())
        })
    };
    let first = scrape(addr.clone(), false);
    entered_rx.recv().unwrap();
    // Update 1 is running: these three arrive after it started.
    let later: Vec<_> = [false, true, false]
        .into_iter()
        .map(|gzip| scrape(addr.clone(), gzip))
        .collect();
    // Lets them reach the server before update 1 ends (ordering only, no timing is
    // asserted: one that arrives later still gets a collection newer than its arrival).
    std::thread::sleep(Duration::from_millis(500));
    drop(release_tx);
    assert_eq!(first.join().unwrap(), 1);
    let numbers: Vec<u64> = later.into_iter().map(|t| t.join().unwrap()).collect();
    // Fresh: none is answered from the collection that started before it arrived...
    assert!(numbers.iter().all(|n| *n >= 2), "{numbers:?}");
    // ...and they share one: update 2.
    assert_eq!(numbers, [2, 2, 2]);
    // The next scrape, alone, gets a collection of its own.
    assert_eq!(scrape(addr, false).join().unwrap(), 3);
}

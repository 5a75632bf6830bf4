//! `--web.max-requests`: a scrape beyond the limit gets promhttp's 503, and is counted
//! in `promhttp_metric_handler_requests_total{code="503"}`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::mpsc::{Receiver, Sender, channel};

use ember_e2e::http_get;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError};
use parking_lot::Mutex;

/// Tells the test when its first update starts, then waits for the release; later
/// updates return at once.
#[derive(Debug)]
struct Gate {
    entered: Mutex<Option<Sender<()>>>,
    release: Mutex<Receiver<()>>,
}
impl Collector for Gate {
    fn name(&self) -> &str {
        "gate"
    }
    fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if let Some(entered) = self.entered.lock().take() {
            entered.send(()).unwrap();
            let _ = self.release.lock().recv();
        }
        Ok(())
    }
}

#[test]
fn max_requests_answers_503_beyond_the_limit() {
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let gate = Gate {
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
    };
    let addr = common::start(vec![Box::new(gate)], &["--web.max-requests=1"]);

    let first = {
        let addr = addr.clone();
        std::thread::spawn(move || http_get(&addr, "/metrics", &[]).unwrap())
    };
    entered_rx.recv().unwrap();
    let refused = http_get(&addr, "/metrics", &[]).unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.text(),
        "Limit of concurrent requests reached (1), try again later.\n"
    );
    // Other paths are not limited.
    assert_eq!(http_get(&addr, "/-/healthy", &[]).unwrap().status, 200);

    drop(release_tx);
    assert_eq!(first.join().unwrap().status, 200);
    let text = http_get(&addr, "/metrics", &[]).unwrap().text();
    assert!(
        text.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("promhttp_metric_handler_requests_total{code=\"503\"} 1\n"),
        "{text}"
    );
}

//! A test exporter started on 127.0.0.1:0 in a background runtime.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};
use ember_exporter::{Collector, CollectorError, ExporterInfo, Flags, Scheduler, Server};
use parking_lot::Mutex;

pub const INFO: ExporterInfo = ExporterInfo {
    name: "test_exporter",
    description: "Exporter under test",
    version: "9.8.7",
    namespace: "test",
    default_listen_address: "127.0.0.1:0",
};

#[derive(Debug)]
pub struct Fixed(pub &'static str);
impl Collector for Fixed {
    fn name(&self) -> &str {
        self.0
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        out.push(MetricFamily {
            name: format!("test_{}_value", self.0),
            help: "A fixed value.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric {
                labels: vec![],
                value: MetricValue::Gauge(42.0),
                timestamp_ms: None,
                created: None,
            }],
        });
        Ok(())
    }
}

/// Blocks until its sender is dropped.
#[derive(Debug)]
pub struct Hung(pub Mutex<Receiver<()>>);
impl Hung {
    pub fn new() -> (Hung, Sender<()>) {
        let (tx, rx) = channel();
        (Hung(Mutex::new(rx)), tx)
    }
}
impl Collector for Hung {
    fn name(&self) -> &str {
        "hung"
    }
    fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let _ = self.0.lock().recv();
        Ok(())
    }
}

/// Starts an exporter with these collectors and extra flags; returns `host:port`.
pub fn start(collectors: Vec<Box<dyn Collector>>, args: &[&str]) -> String {
    let addr = start_unprobed(collectors, args);
    // The listener is bound before its address is sent, so the server answers now
    // (with 401 when a web config asks for auth).
    ember_e2e::http_get(&addr, "/-/ready", &[]).unwrap();
    addr
}

/// [`start`] without the plain-HTTP readiness probe (for a TLS listener); the listener
/// is bound when this returns.
pub fn start_unprobed(collectors: Vec<Box<dyn Collector>>, args: &[&str]) -> String {
    let flags = Flags::try_parse_from(
        &INFO,
        &[],
        std::iter::once("test_exporter").chain(args.iter().copied()),
    )
    .unwrap();
    let scheduler = Scheduler::new("test", "test_exporter", collectors, 4).unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::bind(INFO, &flags, scheduler).await.unwrap();
            tx.send(server.local_addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap()
        .to_string()
}

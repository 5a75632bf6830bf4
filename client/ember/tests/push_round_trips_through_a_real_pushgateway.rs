//! `ember::push::Pusher` against a real `prometheus-pushgateway` started on a free
//! loopback port: what is pushed is read back from the gateway's `/metrics`.
#![cfg(feature = "push")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ember::push::{PushError, Pusher};
use ember::{Counter, Gauge, Histogram, Registry};

const BINARY: &str = "prometheus-pushgateway";

/// A Pushgateway child process, killed on drop.
struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    /// Starts a gateway; a port taken between our check and its bind gets another try.
    fn start() -> Gateway {
        for _ in 0..3 {
            if let Some(gw) = Self::try_start() {
                return gw;
            }
        }
        panic!("{BINARY} did not start on three free ports");
    }

    fn try_start() -> Option<Gateway> {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(BINARY)
            .arg(format!("--web.listen-address={addr}"))
            .arg("--persistence.file=")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{BINARY}` ({e}): install the Debian package \
                     prometheus-pushgateway (apt-get install prometheus-pushgateway)"
                )
            });
        let mut gw = Gateway { child, addr };
        gw.wait_ready().then_some(gw)
    }

    /// Polls `/-/ready`; false if the gateway exited (its port was taken).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(a) = common::request(self.addr, "GET", "/-/ready", &[], b"") {
                if a.status == 200 {
                    return true;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{BINARY} not ready on {} after 20 s",
                self.addr
            );
            // A short pause between connection attempts, not a wait for readiness.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        self.addr.to_string()
    }

    /// The samples of `job` the gateway exposes (its own `push_*` ones left out).
    fn samples(&self, job: &str) -> Vec<ember_expfmt::Sample> {
        let a = common::get(self.addr, "/metrics", &[]);
        assert_eq!(a.status, 200);
        let families = ember_expfmt::parse_text(&a.body).expect("gateway output parses");
        families
            .into_iter()
            .flat_map(|f| f.samples)
            .filter(|s| s.labels.iter().any(|(k, v)| k == "job" && v == job))
            .filter(|s| !s.name.starts_with("push_"))
            .collect()
    }

    fn value(&self, job: &str, name: &str, extra: &[(&str, &str)]) -> Option<f64> {
        self.samples(job)
            .into_iter()
            .find(|s| {
                s.name == name
                    && extra
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.value)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first_registry() -> Registry {
    let r = Registry::new();
    let jobs = Counter::default();
    r.register("jobs", "Jobs done.", jobs.clone()).unwrap();
    jobs.inc_by(3);
    let temp = Gauge::default();
    r.register("temperature", "Degrees.", temp.clone()).unwrap();
    temp.set(21);
    let lat = Histogram::new([0.1, 1.0]).unwrap();
    r.register("latency_seconds", "Latency.", lat.clone())
        .unwrap();
    lat.observe(0.5);
    r
}

fn second_registry() -> Registry {
    let r = Registry::new();
    let extra = Gauge::default();
    r.register("extra", "Added later.", extra.clone()).unwrap();
    extra.set(5);
    r
}

#[test]
fn push_add_replace_and_delete_a_group() {
    let gw = Gateway::start();
    let pusher = Pusher::new(gw.url(), "batch").grouping("instance", "/a/b");
    let group = [("instance", "/a/b")];

    pusher.push(&first_registry()).unwrap();
    assert_eq!(gw.value("batch", "jobs_total", &group), Some(3.0));
    assert_eq!(gw.value("batch", "temperature", &group), Some(21.0));
    assert_eq!(
        gw.value(
            "batch",
            "latency_seconds_bucket",
            &[("le", "0.1"), group[0]]
        ),
        Some(0.0)
    );
    assert_eq!(
        gw.value("batch", "latency_seconds_bucket", &[("le", "1"), group[0]]),
        Some(1.0)
    );
    assert_eq!(
        gw.value("batch", "latency_seconds_count", &group),
        Some(1.0)
    );
    assert_eq!(gw.value("batch", "latency_seconds_sum", &group), Some(0.5));

    // POST adds to the group and keeps what is there.
    pusher.push_add(&second_registry()).unwrap();
    assert_eq!(gw.value("batch", "extra", &group), Some(5.0));
    assert_eq!(gw.value("batch", "jobs_total", &group), Some(3.0));

    // PUT replaces the whole group.
    pusher.push(&second_registry()).unwrap();
    assert_eq!(gw.value("batch", "extra", &group), Some(5.0));
    assert_eq!(gw.value("batch", "jobs_total", &group), None);

    pusher.delete().unwrap();
    assert!(gw.samples("batch").is_empty(), "{:?}", gw.samples("batch"));
}

#[test]
fn job_and_grouping_values_with_slash_space_or_nothing_round_trip() {
    let gw = Gateway::start();
    let pusher = Pusher::new(format!("http://{}/", gw.url()), "nightly/batch")
        .grouping("instance", "db 1")
        .grouping("zone", "");
    pusher.push(&second_registry()).unwrap();
    let samples = gw.samples("nightly/batch");
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].name, "extra");
    assert_eq!(samples[0].value, 5.0);
    let mut labels = samples[0].labels.clone();
    labels.sort();
    assert_eq!(
        labels,
        [
            ("instance".to_string(), "db 1".to_string()),
            ("job".to_string(), "nightly/batch".to_string()),
            // The gateway writes the empty grouping value out as it received it.
            ("zone".to_string(), String::new()),
        ]
    );
    pusher.delete().unwrap();
    assert!(gw.samples("nightly/batch").is_empty());
}

#[test]
fn gateway_refusal_is_a_status_error_with_its_reason() {
    let gw = Gateway::start();
    let gauge = Registry::new();
    gauge
        .register("clash_total", "A gauge.", Gauge::default())
        .unwrap();
    Pusher::new(gw.url(), "a").push(&gauge).unwrap();

    // The same sample name as a counter in another group is inconsistent.
    let counter = Registry::new();
    counter
        .register("clash", "A counter.", Counter::default())
        .unwrap();
    let err = Pusher::new(gw.url(), "b").push(&counter).unwrap_err();
    match err {
        PushError::Status { status, body, .. } => {
            assert_eq!(status, 400);
            assert!(body.contains("clash"), "{body}");
        }
        other => panic!("expected a status error, got {other}"),
    }
}

#[test]
fn unreachable_gateway_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Pusher::new(format!("127.0.0.1:{port}"), "j")
        .push(&Registry::new())
        .unwrap_err();
    assert!(matches!(err, PushError::Transport { .. }), "{err}");
}

//! A Prometheus-compatible server under test, started from a `prometheus.yml` on a free
//! loopback port with its own data directory, stoppable and restartable on that
//! directory, with helpers for its HTTP API.
//!
//! The server is `ember-server` (built by Cargo on demand). Because `ember-server` is a
//! drop-in for Prometheus 2.42 (same flags, same API), the same tests run against the
//! real `prometheus` binary with `EMBER_E2E_SERVER=prometheus`: that is how the tests'
//! own logic is checked against the reference.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::api::{
    RangeSeries, VectorSample, instant_result, range_result, success_data, url_encode,
};
use crate::cargo_bin::cargo_bin;
use crate::http::{HttpResponse, http_get, wait_for_http};
use crate::process::{Child, free_port, require_binary};

/// Which implementation of the Prometheus server a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `ember-server`, built from this workspace.
    Ember,
    /// Debian's `prometheus` 2.42, the reference.
    Prometheus,
}

impl ServerKind {
    /// The server under test: `ember-server`, unless the environment variable
    /// `EMBER_E2E_SERVER` is `prometheus` (to validate a test against the reference).
    pub fn under_test() -> ServerKind {
        match std::env::var("EMBER_E2E_SERVER").as_deref() {
            Ok("prometheus") => ServerKind::Prometheus,
            _ => ServerKind::Ember,
        }
    }

    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Ember => "ember-server",
            ServerKind::Prometheus => "prometheus",
        }
    }

    /// The executable to run (building `ember-server` if needed).
    pub fn binary(self) -> Result<PathBuf, String> {
        match self {
            ServerKind::Ember => cargo_bin("ember-server", "ember-server"),
            ServerKind::Prometheus => {
                require_binary("prometheus", "prometheus");
                Ok(PathBuf::from("prometheus"))
            }
        }
    }
}

/// A running server with its own directory (configuration, data, logs), removed on drop.
#[derive(Debug)]
pub struct Server {
    kind: ServerKind,
    binary: PathBuf,
    addr: String,
    dir: PathBuf,
    child: Option<Child>,
    starts: u32,
}

/// Seconds since the Unix epoch, as the API's timestamps.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Server {
    /// Writes `config` (a `prometheus.yml`) and starts the server with
    /// `--config.file`, `--storage.tsdb.path`, `--web.listen-address` and
    /// `--web.enable-lifecycle`; waits until `/-/ready` answers 200.
    pub fn start(kind: ServerKind, config: &str) -> Result<Server, String> {
        let binary = kind.binary()?;
        let port = free_port().map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!(
            "ember-e2e-{}-{}-{port}",
            kind.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("prometheus.yml"), config).map_err(|e| e.to_string())?;
        let mut server = Server {
            kind,
            binary,
            addr: format!("127.0.0.1:{port}"),
            dir,
            child: None,
            starts: 0,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), String> {
        self.starts += 1;
        let mut cmd = Command::new(&self.binary);
        cmd.arg(format!(
            "--config.file={}",
            self.dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            self.dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={}", self.addr))
        .arg("--web.enable-lifecycle")
        .current_dir(&self.dir);
        let log = self.dir.join(format!("server-{}.log", self.starts));
        let child = Child::spawn(self.kind.name(), cmd, &log).map_err(|e| e.to_string())?;
        self.child = Some(child);
        if !wait_for_http(&self.addr, "/-/ready", Duration::from_secs(60)) {
            return Err(format!(
                "{} did not become ready:\n{}",
                self.kind.name(),
                self.log()
            ));
        }
        Ok(())
    }

    /// Stops the server (SIGTERM, then SIGKILL after 30 s), keeping its data directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(30));
        }
    }

    /// Stops the server and starts it again on the same data directory and address.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.spawn()
    }

    /// Which implementation runs.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Everything the server logged, over all its starts, for failure messages.
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|i| {
                let text = std::fs::read_to_string(self.dir.join(format!("server-{i}.log")))
                    .unwrap_or_default();
                format!("--- {} start {i} ---\n{text}", self.kind.name())
            })
            .collect()
    }

    /// `GET` of a path (with its query string) on the server.
    pub fn get(&self, path: &str) -> Result<HttpResponse, String> {
        http_get(&self.addr, path, &[]).map_err(|e| format!("GET {path}: {e}"))
    }

    /// `GET` of an API path; the `data` of a successful JSON answer, or an error.
    pub fn api(&self, path: &str) -> Result<Value, String> {
        let r = self.get(path)?;
        success_data(r.status, &r.body).map_err(|e| format!("GET {path}: {e}"))
    }

    /// Runs an instant query at the current time.
    pub fn query(&self, promql: &str) -> Result<Vec<VectorSample>, String> {
        let data = self.api(&format!("/api/v1/query?query={}", url_encode(promql)))?;
        instant_result(&data)
    }

    /// Runs a range query from `start` to `end` (Unix seconds) every `step` seconds.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<RangeSeries>, String> {
        let data = self.api(&format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
            url_encode(promql)
        ))?;
        range_result(&data)
    }

    /// Polls `promql` every 200 ms until `accept` holds for its result or `timeout`
    /// passes; returns the last result.
    pub fn wait_for(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(&[VectorSample]) -> bool,
    ) -> Result<Vec<VectorSample>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.query(promql)?;
            if accept(&r) || Instant::now() >= deadline {
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

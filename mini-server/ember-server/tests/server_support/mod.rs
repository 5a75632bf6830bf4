//! Shared by the `server_*` tests: the real `ember-server` binary in a temp dir on a free
//! loopback port, and tiny_http targets that count their scrapes.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test uses a part; tests fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ember_e2e::{free_port, http_get, http_request};

/// How long any wait in these tests may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh temp directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A scrape target counting its scrapes; each answer exposes the count so far as a
/// counter `test_scrapes_total` and a gauge `test_target_info` with HELP text.
pub struct Target {
    server: Arc<tiny_http::Server>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    hits: Arc<AtomicU64>,
}

impl Target {
    /// Starts a target on a free port.
    pub fn start() -> Target {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap().to_string();
        let hits = Arc::new(AtomicU64::new(0));
        let (s, h) = (server.clone(), hits.clone());
        std::thread::spawn(move || {
            while let Ok(req) = s.recv() {
                let n = h.fetch_add(1, Ordering::SeqCst) + 1;
                let body = format!(
                    "# HELP test_scrapes_total Scrapes served.\n# TYPE test_scrapes_total counter\n\
                     test_scrapes_total {n}\n# HELP test_target_info A constant.\n\
                     # TYPE test_target_info gauge\ntest_target_info{{flavour=\"plain\"}} 1\n"
                );
                let header =
                    tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4")
                        .unwrap();
                let _ = req.respond(tiny_http::Response::from_string(body).with_header(header));
            }
        });
        Target { server, addr, hits }
    }

    /// Scrapes served so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` scrapes were served.
    pub fn wait_hits(&self, n: u64) {
        wait_for(&format!("{n} scrapes of {}", self.addr), || {
            self.hits() >= n
        });
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Polls `pred` every 50 ms, panicking after [`PATIENCE`].
pub fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A config scraping `targets` every second as job `job`.
pub fn config_for(job: &str, targets: &[&str]) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
        list.join(", ")
    )
}

/// The `ember-server` binary running in a directory: `prometheus.yml` and `data/` there.
pub struct Server {
    child: Option<std::process::Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The working directory.
    pub dir: PathBuf,
    log: PathBuf,
    extra: Vec<String>,
}

impl Server {
    /// Starts the server in `dir` (config `dir/prometheus.yml`, data `dir/data`) with
    /// `extra` flags; does not wait for it.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let port = free_port().unwrap();
        let mut s = Server {
            child: None,
            addr: format!("127.0.0.1:{port}"),
            dir: dir.to_owned(),
            log: dir.join("server.log"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ember-server"))
            .current_dir(&self.dir)
            .arg(format!("--web.listen-address={}", self.addr))
            .arg("--config.file=prometheus.yml")
            .arg("--storage.tsdb.path=data")
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Starts the same server again (same port, directory and flags) after it exited.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        self.spawn();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/-/ready` answers 200.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(r) = http_get(&self.addr, "/-/ready", &[]) {
                if r.status == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "ember-server exited ({status}) before ready:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ember-server not ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`TERM`, `HUP`, `KILL`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {signal} failed");
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        let mut child = self.child.take().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ember-server did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET path` on the server.
    pub fn get(&self, path: &str) -> ember_e2e::HttpResponse {
        http_get(&self.addr, path, &[]).unwrap()
    }

    /// `method path` with a body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> ember_e2e::HttpResponse {
        http_request(&self.addr, method, path, &[], body).unwrap()
    }

    /// The value of the sample `series` (name and labels exactly as exposed) on
    /// `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let text = self.get("/metrics").text();
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
            rest.split(' ').next()?.parse().ok()
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Every sample of the series matching `matchers` in the store at `dir`, by series.
pub fn read_store(
    dir: &Path,
    matchers: &[(&str, &str)],
) -> Vec<(ember_tsdb::Labels, Vec<(i64, f64)>)> {
    let (db, _) = ember_tsdb::Db::open(dir, ember_tsdb::Options::default()).unwrap();
    let m: Vec<ember_tsdb::Matcher> = matchers
        .iter()
        .map(|(n, v)| ember_tsdb::Matcher::equal(*n, *v))
        .collect();
    db.select(&m, i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels().clone(), s.iter().collect()))
        .collect()
}

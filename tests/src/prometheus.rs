//! The real `prometheus` binary (Debian's 2.42) as a peer: it scrapes given targets and
//! answers PromQL over its HTTP API.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::api::{VectorSample, instant_result, success_data, url_encode};
use crate::http::{http_get, wait_for_http};
use crate::process::{Child, free_port, require_binary};

/// A running Prometheus with its own data directory, removed on drop.
#[derive(Debug)]
pub struct Prometheus {
    addr: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`) as job `job` every
    /// `interval_secs` seconds, and waits until it is ready.
    pub fn start(job: &str, targets: &[String], interval_secs: u32) -> Result<Self, String> {
        require_binary("prometheus", "prometheus");
        let port = free_port().map_err(|e| e.to_string())?;
        let dir =
            std::env::temp_dir().join(format!("ember-e2e-prom-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: {interval_secs}s\n  scrape_timeout: {interval_secs}s\n\
             scrape_configs:\n  - job_name: '{job}'\n    static_configs:\n      - targets: [{}]\n",
            quoted.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .current_dir(&dir);
        let child = Child::spawn("prometheus", cmd, &dir.join("prometheus.log"))
            .map_err(|e| e.to_string())?;
        let p = Prometheus {
            addr,
            dir,
            child: Some(child),
        };
        if !wait_for_http(&p.addr, "/-/ready", Duration::from_secs(30)) {
            return Err(format!("prometheus did not become ready:\n{}", p.log()));
        }
        Ok(p)
    }

    /// Prometheus's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query and returns the vector (a scalar comes back as one sample
    /// with no labels).
    pub fn query(&self, promql: &str) -> Result<Vec<VectorSample>, String> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let r = http_get(&self.addr, &path, &[]).map_err(|e| e.to_string())?;
        let data =
            success_data(r.status, &r.body).map_err(|e| format!("query {promql:?} failed: {e}"))?;
        instant_result(&data)
    }

    /// Polls `promql` until `accept` holds for its result or `timeout` passes; returns
    /// the last result.
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

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.child.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

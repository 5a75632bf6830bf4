//! Resident memory per active series: one loopback target (tiny_http) serving
//! `EMBER_MEM_SERIES` series (default 100,000), scraped three times by one
//! [`ScrapeLoop`] into either an appender that discards (`discard`: the scrape loop's own
//! cache) or the server's storage (`tsdb`: ember-tsdb in a temp dir, as ember-server
//! runs). Prints the growth of the process's resident set over the scrapes, per series.
//!
//! `cargo bench -p ember-server --bench series_memory -- tsdb` (or `discard`). One mode
//! per process, so memory freed by one does not serve the other.

use std::path::Path;
use std::sync::Arc;

use ember_server::{
    AppendError, AppendStats, Appendable, Appender, Config, DbStorage, Labels, ScrapeLoop,
    open_storage_at, targets_from_group,
};

/// Counts samples and keeps nothing.
#[derive(Debug, Default)]
struct Discard(u64);

impl Appender for Discard {
    fn append(&mut self, _: &Labels, _: i64, _: f64) -> Result<(), AppendError> {
        self.0 += 1;
        Ok(())
    }

    fn bind(&mut self, _: u32, _: &Labels) {}

    fn append_handle(&mut self, _: u32, _: i64, _: f64) -> Result<(), AppendError> {
        self.0 += 1;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        Ok(())
    }
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn body(series: usize, round: usize) -> String {
    let mut b =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for i in 0..series {
        b.push_str(&format!(
            "http_requests_total{{handler=\"/api/v{}\",code=\"{}\",method=\"GET\"}} {}\n",
            i / 10,
            200 + i % 10,
            i * 7 + round
        ));
    }
    b
}

fn main() {
    let mode = if std::env::args().any(|a| a == "discard") {
        "discard"
    } else {
        "tsdb"
    };
    let series: usize = std::env::var("EMBER_MEM_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let bodies: Arc<Vec<String>> = Arc::new((0..3).map(|r| body(series, r)).collect());
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
    let addr = server
        .server_addr()
        .to_ip()
        .expect("ip address")
        .to_string();
    let s = server.clone();
    let b = bodies.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        while let Ok(req) = s.recv() {
            let _ = req.respond(tiny_http::Response::from_data(b[n % 3].as_bytes()));
            n += 1;
        }
    });
    let yaml =
        format!("scrape_configs:\n- job_name: mem\n  static_configs: [{{targets: ['{addr}']}}]\n");
    let cfg = Config::parse(&yaml, Path::new("mem.yml")).expect("valid config");
    let job = &cfg.scrape_configs[0];
    let target = targets_from_group(&job.static_configs[0], job)
        .expect("target")
        .remove(0);
    let dir = std::env::temp_dir().join(format!("ember-bench-mem-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let before = rss();
    let after = if mode == "discard" {
        let mut l = ScrapeLoop::new(target, job, Discard::default());
        for _ in 0..3 {
            let r = l.scrape_once();
            assert_eq!(r.error, None);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let after = rss();
        drop(l);
        after
    } else {
        let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).expect("open store");
        let storage = DbStorage::new(db.clone(), AppendStats::default());
        let mut l = ScrapeLoop::new(target, job, storage.appender());
        for _ in 0..3 {
            let r = l.scrape_once();
            assert_eq!(r.error, None);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(db.read().head().num_series() >= series);
        rss()
    };
    let grown = after.saturating_sub(before);
    println!(
        "series_memory/{mode}: {series} series, RSS {:.1} MiB -> {:.1} MiB, {:.0} bytes per series",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        grown as f64 / series as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
    server.unblock();
}

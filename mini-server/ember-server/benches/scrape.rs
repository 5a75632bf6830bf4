//! One scrape of a 10,000-series text body from a loopback HTTP target (tiny_http) into an
//! appender that discards: HTTP, parsing, target labels, the series cache, staleness
//! bookkeeping and report series. The second and later scrapes hit the cache, as in
//! steady state. The same again into the server's real storage (`DbStorage`: ember-tsdb
//! in a temp dir, one WAL commit per scrape). Before each, the CPU time of the scraping
//! thread per sample over 200 steady scrapes is printed.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_server::{
    AppendError, AppendStats, Appendable, Appender, Config, DbStorage, Labels, ScrapeLoop,
    open_storage_at, targets_from_group,
};

/// Series per scrape: 10,000, or `EMBER_BENCH_SERIES` (e.g. 1000, a target of the
/// issue's 100-target load, to see the per-scrape costs).
fn series() -> usize {
    std::env::var("EMBER_BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

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

/// CPU time this thread has run, in nanoseconds (Linux `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Prints the CPU time of the scraping thread per scrape and per sample over `n` steady
/// scrapes: unlike the wall time criterion reports, it does not count the time the
/// thread waits for the target or for a core on a busy machine.
fn cpu_per_sample<A: Appender>(name: &str, l: &mut ScrapeLoop<A>, n: u32) {
    let start = thread_cpu_ns();
    for _ in 0..n {
        black_box(l.scrape_once());
    }
    let ns = thread_cpu_ns().saturating_sub(start) as f64 / f64::from(n);
    println!(
        "scrape/{name}: scraping thread CPU {:.2} ms per scrape, {:.0} ns per sample",
        ns / 1e6,
        ns / series() as f64
    );
}

fn body() -> String {
    let mut b =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for i in 0..series() {
        b.push_str(&format!(
            "http_requests_total{{handler=\"/api/v{}\",code=\"{}\",method=\"GET\"}} {}\n",
            i / 10,
            200 + i % 10,
            i * 7
        ));
    }
    b
}

fn scrape(c: &mut Criterion) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
    let addr = server
        .server_addr()
        .to_ip()
        .expect("ip address")
        .to_string();
    let s = server.clone();
    let text = body();
    std::thread::spawn(move || {
        while let Ok(req) = s.recv() {
            let _ = req.respond(tiny_http::Response::from_string(text.clone()));
        }
    });
    let yaml = format!(
        "scrape_configs:\n- job_name: bench\n  static_configs: [{{targets: ['{addr}']}}]\n"
    );
    let cfg = Config::parse(&yaml, Path::new("bench.yml")).expect("valid config");
    let job = &cfg.scrape_configs[0];
    let target = targets_from_group(&job.static_configs[0], job)
        .expect("target")
        .remove(0);
    let mut l = ScrapeLoop::new(target.clone(), job, Discard::default());
    l.scrape_once();
    let mut g = c.benchmark_group("scrape");
    g.throughput(Throughput::Elements(series() as u64));
    cpu_per_sample("text_10k_series_steady_state", &mut l, 200);
    g.bench_function("text_10k_series_steady_state", |b| {
        b.iter(|| black_box(l.scrape_once()));
    });

    let dir = std::env::temp_dir().join(format!("ember-bench-scrape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).expect("open store");
    let storage = DbStorage::new(db, AppendStats::default());
    let mut l = ScrapeLoop::new(target, job, storage.appender());
    l.scrape_once();
    cpu_per_sample("text_10k_series_into_tsdb", &mut l, 200);
    g.bench_function("text_10k_series_into_tsdb", |b| {
        b.iter(|| black_box(l.scrape_once()));
    });
    g.finish();
    drop(l);
    let _ = std::fs::remove_dir_all(&dir);
    server.unblock();
}

criterion_group!(benches, scrape);
criterion_main!(benches);

//! One scrape of a 10,000-series text body from a loopback HTTP target (tiny_http) into an
//! appender that discards: HTTP, parsing, target labels, the series cache, staleness
//! bookkeeping and report series. The second and later scrapes hit the cache, as in
//! steady state. The same again into the server's real storage (`DbStorage`: ember-tsdb
//! in a temp dir, one WAL commit per scrape).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_server::{
    AppendError, AppendStats, Appendable, Appender, Config, DbStorage, Labels, ScrapeLoop,
    open_storage_at, targets_from_group,
};

const SERIES: usize = 10_000;

/// Counts samples and keeps nothing.
#[derive(Debug, Default)]
struct Discard(u64);

impl Appender for Discard {
    fn append(&mut self, _: &Labels, _: i64, _: f64) -> Result<(), AppendError> {
        self.0 += 1;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        Ok(())
    }
}

fn body() -> String {
    let mut b =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for i in 0..SERIES {
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
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("text_10k_series_steady_state", |b| {
        b.iter(|| black_box(l.scrape_once()));
    });

    let dir = std::env::temp_dir().join(format!("ember-bench-scrape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (db, _) = open_storage_at(&dir, ember_tsdb::Options::default()).expect("open store");
    let storage = DbStorage::new(db, AppendStats::default());
    let mut l = ScrapeLoop::new(target, job, storage.appender());
    l.scrape_once();
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

//! Synthetic scrape targets for the performance comparison (`bench/compare.sh`): one
//! process serves N targets on N loopback ports, each exposing M series in the text
//! format 0.0.4 whose values change on every scrape.
//!
//! ```sh
//! cargo run --release -p ember-server --example load_targets -- \
//!     [--targets 100] [--series 1000] [--base-port 0] [--addresses-file FILE]
//! ```
//!
//! `--base-port 0` (the default) takes free ports; the listening addresses are printed
//! one per line, and written to `--addresses-file` once every target listens.
//!
//! Each target looks like one instance of a web service: per handler, 20 series in four
//! families with three or four labels (after `job` and `instance` are added):
//! `app_http_requests_total{handler,method,code}` (4), the histogram
//! `app_http_request_duration_seconds{handler,method}` (8 buckets, `+Inf`, `_sum`,
//! `_count`: 11), `app_inflight_requests{handler}` (1), `app_cache_requests_total{handler,
//! cache,result}` (4). M is rounded up to a multiple of 20.

use std::fmt::Write as _;
use std::sync::Arc;

/// Series per handler.
const PER_HANDLER: usize = 20;
/// Histogram bucket bounds, and the share of observations at or below each.
const BUCKETS: [(&str, f64); 8] = [
    ("0.005", 0.08),
    ("0.01", 0.21),
    ("0.025", 0.43),
    ("0.05", 0.64),
    ("0.1", 0.81),
    ("0.25", 0.93),
    ("0.5", 0.98),
    ("1", 0.995),
];

struct Args {
    targets: usize,
    series: usize,
    base_port: u16,
    addresses_file: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        targets: 100,
        series: 1000,
        base_port: 0,
        addresses_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{name}: {e}"));
        match name.as_str() {
            "--targets" => args.targets = number(value()?)?,
            "--series" => args.series = number(value()?)?,
            "--base-port" => {
                args.base_port = value()?.parse().map_err(|e| format!("{name}: {e}"))?
            }
            "--addresses-file" => args.addresses_file = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "load_targets [--targets N] [--series M] [--base-port P] [--addresses-file FILE]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.targets == 0 || args.series == 0 {
        return Err("--targets and --series must be positive".into());
    }
    Ok(args)
}

/// A small xorshift generator: values differ per target and per scrape, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The state behind one target's series; every scrape moves it on.
struct Target {
    handlers: usize,
    rng: Rng,
    requests: Vec<[u64; 4]>,
    duration_count: Vec<u64>,
    duration_sum: Vec<f64>,
    cache: Vec<[u64; 4]>,
    body: String,
}

impl Target {
    fn new(index: usize, handlers: usize) -> Target {
        Target {
            handlers,
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9)),
            requests: vec![[0; 4]; handlers],
            duration_count: vec![0; handlers],
            duration_sum: vec![0.0; handlers],
            cache: vec![[0; 4]; handlers],
            body: String::new(),
        }
    }

    /// Advances every series and renders the exposition.
    fn scrape(&mut self) -> &str {
        let Target {
            handlers,
            rng,
            requests,
            duration_count,
            duration_sum,
            cache,
            body,
        } = self;
        body.clear();
        let methods_codes = [
            ("GET", "200"),
            ("GET", "500"),
            ("POST", "200"),
            ("POST", "500"),
        ];
        let caches = [
            ("local", "hit"),
            ("local", "miss"),
            ("redis", "hit"),
            ("redis", "miss"),
        ];
        body.push_str("# HELP app_http_requests_total Requests served.\n");
        body.push_str("# TYPE app_http_requests_total counter\n");
        for (h, counts) in requests.iter_mut().enumerate() {
            for (i, (m, c)) in methods_codes.iter().enumerate() {
                counts[i] += rng.below(if *c == "200" { 200 } else { 3 });
                let _ = writeln!(
                    body,
                    "app_http_requests_total{{handler=\"/api/v1/resource{h}\",method=\"{m}\",code=\"{c}\"}} {}",
                    counts[i]
                );
            }
        }
        body.push_str("# HELP app_http_request_duration_seconds Request latency.\n");
        body.push_str("# TYPE app_http_request_duration_seconds histogram\n");
        for h in 0..*handlers {
            let new = rng.below(150);
            duration_count[h] += new;
            duration_sum[h] += new as f64 * (0.03 + rng.below(1000) as f64 / 50_000.0);
            let count = duration_count[h];
            for (le, share) in BUCKETS {
                let _ = writeln!(
                    body,
                    "app_http_request_duration_seconds_bucket{{handler=\"/api/v1/resource{h}\",method=\"GET\",le=\"{le}\"}} {}",
                    (count as f64 * share).floor()
                );
            }
            let _ = writeln!(
                body,
                "app_http_request_duration_seconds_bucket{{handler=\"/api/v1/resource{h}\",method=\"GET\",le=\"+Inf\"}} {count}\n\
                 app_http_request_duration_seconds_sum{{handler=\"/api/v1/resource{h}\",method=\"GET\"}} {}\n\
                 app_http_request_duration_seconds_count{{handler=\"/api/v1/resource{h}\",method=\"GET\"}} {count}",
                duration_sum[h]
            );
        }
        body.push_str("# HELP app_inflight_requests Requests being served.\n");
        body.push_str("# TYPE app_inflight_requests gauge\n");
        for h in 0..*handlers {
            let _ = writeln!(
                body,
                "app_inflight_requests{{handler=\"/api/v1/resource{h}\"}} {}",
                rng.below(40)
            );
        }
        body.push_str("# HELP app_cache_requests_total Cache look-ups.\n");
        body.push_str("# TYPE app_cache_requests_total counter\n");
        for (h, counts) in cache.iter_mut().enumerate() {
            for (i, (c, r)) in caches.iter().enumerate() {
                counts[i] += rng.below(if *r == "hit" { 300 } else { 30 });
                let _ = writeln!(
                    body,
                    "app_cache_requests_total{{handler=\"/api/v1/resource{h}\",cache=\"{c}\",result=\"{r}\"}} {}",
                    counts[i]
                );
            }
        }
        body
    }
}

fn serve(server: Arc<tiny_http::Server>, mut target: Target) {
    let content_type = tiny_http::Header::from_bytes(
        &b"Content-Type"[..],
        &b"text/plain; version=0.0.4; charset=utf-8"[..],
    );
    for request in server.incoming_requests() {
        let response = if request.url() == "/metrics" {
            let body = target.scrape().as_bytes().to_vec();
            let mut r = tiny_http::Response::from_data(body);
            if let Ok(h) = content_type.clone() {
                r.add_header(h);
            }
            r
        } else {
            tiny_http::Response::from_data(b"see /metrics\n".to_vec()).with_status_code(404)
        };
        let _ = request.respond(response);
    }
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load_targets: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let handlers = args.series.div_ceil(PER_HANDLER);
    let mut addresses = Vec::with_capacity(args.targets);
    let mut threads = Vec::with_capacity(args.targets);
    for i in 0..args.targets {
        let port = if args.base_port == 0 {
            0
        } else {
            match u16::try_from(usize::from(args.base_port) + i) {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("load_targets: ports past 65535");
                    return std::process::ExitCode::FAILURE;
                }
            }
        };
        let server = match tiny_http::Server::http(("127.0.0.1", port)) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("load_targets: cannot listen on 127.0.0.1:{port}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let addr = match server.server_addr().to_ip() {
            Some(a) => a.to_string(),
            None => {
                eprintln!("load_targets: not an IP listener");
                return std::process::ExitCode::FAILURE;
            }
        };
        addresses.push(addr);
        let target = Target::new(i, handlers);
        threads.push(std::thread::spawn(move || serve(server, target)));
    }
    let list = addresses.join("\n") + "\n";
    print!("{list}");
    eprintln!(
        "load_targets: {} targets x {} series = {} series",
        args.targets,
        handlers * PER_HANDLER,
        args.targets * handlers * PER_HANDLER
    );
    if let Some(path) = &args.addresses_file {
        // Written whole, then renamed, so a reader never sees half a list.
        let tmp = format!("{path}.tmp");
        if let Err(e) = std::fs::write(&tmp, &list).and_then(|()| std::fs::rename(&tmp, path)) {
            eprintln!("load_targets: cannot write {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    std::process::ExitCode::SUCCESS
}

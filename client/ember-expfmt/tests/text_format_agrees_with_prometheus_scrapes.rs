//! The real Prometheus 2.42 (Debian's `prometheus` package) scrapes a set of text format
//! bodies, and for each one its verdict (`up`) equals ours (`parse_text` succeeds).
//!
//! Every body is served on its own path as `text/plain; version=0.0.4` by a small HTTP
//! server in the test; Prometheus scrapes them all as targets of one job, once a second,
//! and `up` is read back through its HTTP API. The bodies are the inputs of
//! `text_format_matches_prometheus.rs` plus more corners of the lexer, and every body of
//! the OpenMetrics conformance suite (most are valid text format, some are not). For the
//! bodies Prometheus accepts, its `scrape_samples_scraped` must equal our sample count.
//!
//! A scrape does a little more than parse: the storage refuses a new series whose label
//! names repeat (including a `__name__` label, which repeats the metric name), after it has
//! dropped labels with empty values, and it never gets that far for a sample whose explicit
//! timestamp is older than the head (it drops it as out of bounds without failing the
//! scrape); and the scrape loop itself refuses a `__name__` label whose value is not a
//! valid metric name. The expected verdict models these rules on top of the parser's.
//!
//! `EMBER_TEXT_ORACLE_CORPUS=<dir>` adds every file of a directory (a fuzzing corpus, say).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{fs, thread};

use ember_expfmt::parse_text;

/// Bodies that exercise the lexer's corners, as bytes.
const BODIES: &[&[u8]] = &[
    b"",
    b"\n\n",
    b"a 1",
    b"a",
    b"a ",
    b"a 1 2 3\n",
    b"a 1 -1\n",
    b"a 1 +1\n",
    b"a 1 1.5\n",
    b"a 1 9223372036854775807\n",
    b"a 1 9223372036854775808\n",
    b"a 1 # comment\n",
    b"a\t1\t\t2 \t\n",
    b"  a 1\n",
    b"a {} 3\n",
    b"a{b=\"c\"}4 5\n",
    b"a{b=\"c\"}{d=\"e\"} 1\n",
    b"a{b=\"c\"}} 1\n",
    b"a.b 1\n",
    b"1a 1\n",
    b"{a=\"ok\"} 1",
    b":a:b: 1\n",
    b"a{x=\"1\",} 1\n",
    b"a{x=\"1\" y=\"2\"} 1\n",
    b"a{ x = \"1\" , y=\"2\" } 1\n",
    b"a{,x=\"1\"} 1\n",
    b"a{x=\"1\",,} 1\n",
    b"a{x:y=\"1\"} 1\n",
    b"a{1x=\"1\"} 1\n",
    b"a{x=1} 1\n",
    b"a{x='1'} 1\n",
    b"a{x=\"1\"\n",
    b"a{x=\"1\",x=\"2\"} 1\n",
    b"a{__name__=\"b\"} 1\n",
    b"a{x=\"\\\\ \\\" \\n \\t \\z\"} 1\n",
    b"a{x=\"two\nlines\"} 2\n",
    b"a{x=\"bad\\\n\"} 1\n",
    b"a{x=\"\xc3\x28\"} 1\n",
    b"a{x=\"\xe2\x9c\x93\"} 1\n",
    b"a{\xff=\"foo\"} 1\n",
    b"a{b=\"\xff\"} 1\n",
    b"a true\n",
    b"something_weird{problem=\"",
    b"empty_label_name{=\"\"} 0",
    b"foo 1_2\n",
    b"foo 0x1p-3\n",
    b"foo 0x10\n",
    b"foo 0 1_2\n",
    b"a 1e400\n",
    b"a -1e400\n",
    b"a 1e-400\n",
    b"a +nan\n",
    b"a NaN\n",
    b"a nan\n",
    b"a Inf\n",
    b"a +Inf\n",
    b"a -inf\n",
    b"a +infinity\n",
    b"a infinit\n",
    b"a 1.\n",
    b"a .5\n",
    b"a .\n",
    b"a 1e\n",
    b"a 01\n",
    b"a 1,5\n",
    b"# HELP a x\\\\y\\nz\\\"\n# comment \xff\n#no blank\n# TYPE a untyped\n",
    b"# HELP\n# TYPE\n# HELPx a b\n",
    b"# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n",
    b"# TYPE a unknown\n",
    b"# TYPE a gaugehistogram\n",
    b"# TYPE a Counter\n",
    b"# TYPE a counter \n",
    b"# TYPE a  counter\n",
    b"# TYPE a\tcounter\n",
    b"# TYPE a\n",
    b"# TYPE a-counter\n",
    b"# HELP a \xff\n",
    b"# HELP a\xc3\xa9\n",
    b"# HELP 1a x\n",
    b"# HELP \"a.b\" x\n",
    b"# TYPE #\n#EOF\n",
    b"#\t HELP a x\n",
    b"# \tTYPE a summary\n",
    b"# HELP a\n# HELP b \n# HELP c  \t \n",
    b"null_byte_metric{a=\"abc\x00\"} 1",
    b"a{b=\"\x00ss\"} 1\n",
    b"a{b=\"\x00\"} 1\n",
    b"a{b=\x00\"ssss\"} 1\n",
    b"a{b= \x00\"ssss\"} 1\n",
    b"a{b=\"\x00",
    b"a{b\x00=\"hiih\"}\t1",
    b"a\x00{b=\"ddd\"} 1",
    b"a 0 1\x00",
    b"a \x001\n",
    b"a 1\n\x00 anything {{{\n",
    b"a 1\n  \x00\n",
    b"#x\x00\nb 1\n",
    b"# x\x00y\n# HELP a b\x00c\n",
    b"# H\x00ELP a b\n",
    b"# HELP a\x00\n",
    b"# HELP a \x00\n",
    b"a{b=\"c\"\x00\x00} 1\n",
    b"a{b=\"c\"\x00} 1\n",
    b"a{b=\"\\\x00n\"} 1\n",
    b"# HELP a\x00b c\n",
    // The storage's rule on repeated label names, and where it does not apply.
    b"a{x=\"1\",x=\"1\"} 1 0\n",
    b"a{x=\"\",x=\"\"} 1\n",
    b"a{x=\"\",x=\"1\"} 1\n",
    b"a{__name__=\"\"} 1\n",
    b"a{__name__=\"1x\"} 1 0\n",
    b"a{__name__=\"b\"} 1 0\n",
];

/// Our expectation of Prometheus's verdict: the parser's, plus the scrape loop's check of
/// `__name__` labels and the storage's refusal of repeated label names (among non-empty
/// values) on samples recent enough to be stored.
fn expected_up(body: &[u8], stored_from_ms: i64) -> bool {
    let Ok(families) = parse_text(body) else {
        return false;
    };
    let valid_name = |v: &str| {
        let mut b = v.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
    };
    let names_valid = families.iter().flat_map(|f| &f.samples).all(|s| {
        s.labels
            .iter()
            .all(|(n, v)| n != "__name__" || valid_name(v))
    });
    names_valid
        && families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|s| s.timestamp_ms.is_none_or(|t| t >= stored_from_ms))
            .all(|s| {
                let mut names = HashSet::from(["__name__"]);
                s.labels
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .all(|(n, _)| names.insert(n.as_str()))
            })
}

/// Samples this much older than the start of the test are out of the head's bounds.
const HEAD_WINDOW_MS: i64 = 3_600_000;

fn bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = BODIES.iter().map(|b| b.to_vec()).collect();
    let suite = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/openmetrics-parsers"
    );
    let mut dirs = vec![(PathBuf::from(suite), true)];
    if let Ok(extra) = std::env::var("EMBER_TEXT_ORACLE_CORPUS") {
        dirs.push((PathBuf::from(extra), false));
    }
    for (dir, cases) in dirs {
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        paths.sort();
        for p in paths {
            let file = if cases { p.join("metrics") } else { p };
            if file.is_file() {
                out.push(fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())));
            }
        }
    }
    out
}

/// Serves `bodies[n]` at `/case/n` until the test ends.
fn serve(bodies: Arc<Vec<Vec<u8>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let bodies = Arc::clone(&bodies);
            thread::spawn(move || respond(stream, &bodies));
        }
    });
    port
}

fn respond(mut stream: TcpStream, bodies: &[Vec<u8>]) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let body = request_line
        .split_whitespace()
        .nth(1)
        .and_then(|path| path.strip_prefix("/case/"))
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| bodies.get(n));
    let response = match body {
        Some(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response);
}

/// A GET to Prometheus; the body, or `None` if it did not answer 200.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// `case` label and value of every series in an instant query answer.
fn values_by_case(json: &str) -> Vec<(usize, f64)> {
    json.split("{\"metric\":")
        .skip(1)
        .filter_map(|series| {
            let case = series.split("\"case\":\"").nth(1)?.split('"').next()?;
            let value = series.split("\"value\":[").nth(1)?.split(",\"").nth(1)?;
            Some((case.parse().ok()?, value.split('"').next()?.parse().ok()?))
        })
        .collect()
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[test]
fn prometheus_scrapes_give_our_verdicts() {
    let bodies = Arc::new(bodies());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let target_port = serve(Arc::clone(&bodies));
    let dir = std::env::temp_dir().join(format!("ember-text-oracle-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: cases\n    static_configs:\n",
    );
    for n in 0..bodies.len() {
        config.push_str(&format!(
            "      - targets: ['127.0.0.1:{target_port}']\n        labels: {{case: '{n}', __metrics_path__: '/case/{n}'}}\n"
        ));
    }
    fs::write(dir.join("prometheus.yml"), config).unwrap();
    let web_port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `prometheus` ({e}); install the Debian package: apt-get install prometheus")
        });
    let _prometheus = Prometheus(child);

    let deadline = Instant::now() + Duration::from_secs(120);
    let (verdicts, scraped) = loop {
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape every case in time"
        );
        thread::sleep(Duration::from_millis(500));
        let query = |q: &str| get(web_port, &format!("/api/v1/query?query={q}"));
        let (Some(up), Some(scraped)) = (query("up"), query("scrape_samples_scraped")) else {
            continue;
        };
        let (up, scraped) = (values_by_case(&up), values_by_case(&scraped));
        if up.len() == bodies.len() && scraped.len() == bodies.len() {
            break (up, scraped);
        }
    };
    let scraped: std::collections::HashMap<usize, f64> = scraped.into_iter().collect();
    let mut differ = Vec::new();
    for (case, up) in verdicts {
        let up = up == 1.0;
        let want = expected_up(&bodies[case], now_ms - HEAD_WINDOW_MS);
        if let (true, Ok(families)) = (up, parse_text(&bodies[case])) {
            let ours = families.iter().map(|f| f.samples.len()).sum::<usize>() as f64;
            if scraped.get(&case) != Some(&ours) {
                differ.push(format!(
                    "case {case}: prometheus scraped {:?} samples, we read {ours}: {:?}",
                    scraped.get(&case),
                    String::from_utf8_lossy(&bodies[case][..bodies[case].len().min(120)])
                ));
            }
        }
        if up != want {
            let ours = match parse_text(&bodies[case]) {
                Ok(f) => format!("parsed {} families", f.len()),
                Err(e) => e.to_string(),
            };
            differ.push(format!(
                "case {case}: prometheus up={up}, ours={want} ({ours}): {:?}",
                String::from_utf8_lossy(&bodies[case][..bodies[case].len().min(120)])
            ));
        }
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(
        differ.is_empty(),
        "{} of {} verdicts differ from Prometheus 2.42:\n{}",
        differ.len(),
        bodies.len(),
        differ.join("\n")
    );
}

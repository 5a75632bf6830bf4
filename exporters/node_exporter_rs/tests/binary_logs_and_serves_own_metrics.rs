//! The `node_exporter_rs` binary as a user starts it (through `ember_exporter::run`):
//! go-kit style start-up lines in logfmt or JSON on stderr ("Listening on"),
//! `--log.level` filtering, `--version`, and the exporter's own metrics
//! (`node_exporter_build_info`, `process_*`) that `--web.disable-exporter-metrics`
//! removes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, free_port, http_get, wait_for_http};

const OURS: &str = env!("CARGO_BIN_EXE_node_exporter_rs");

/// Starts the binary with `args`; returns the child, its address and its log file.
fn start(tag: &str, args: &[&str]) -> (Child, String, PathBuf) {
    start_with_env(tag, args, &[])
}

/// [`start`] with extra environment variables.
fn start_with_env(tag: &str, args: &[&str], env: &[(&str, &str)]) -> (Child, String, PathBuf) {
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let log = std::env::temp_dir().join(format!("ner-{tag}-{}.log", std::process::id()));
    let mut cmd = Command::new(OURS);
    cmd.arg(format!("--web.listen-address={addr}")).args(args);
    cmd.env_remove("GLIBC_TUNABLES");
    cmd.envs(env.iter().copied());
    let child = Child::spawn("node_exporter_rs", cmd, &log).unwrap();
    assert!(
        wait_for_http(&addr, "/-/healthy", Duration::from_secs(30)),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    (child, addr, log)
}

fn metric_names(addr: &str) -> Vec<String> {
    let r = http_get(addr, "/metrics", &[]).unwrap();
    assert_eq!(r.status, 200);
    ember_expfmt::parse_text(&r.body)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect()
}

#[test]
fn logfmt_start_up_lines_and_own_metrics() {
    let (_child, addr, log) = start("logfmt", &[]);
    let names = metric_names(&addr);
    for name in [
        "node_exporter_build_info",
        "node_scrape_collector_duration_seconds",
        "node_scrape_collector_success",
        "process_cpu_seconds_total",
        "process_max_fds",
        "process_open_fds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_virtual_memory_bytes",
        "promhttp_metric_handler_requests_total",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let listening = format!("level=info msg=\"Listening on\" address={addr}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ts=") && l.contains(" caller=") && l.ends_with(&listening)),
        "{text}"
    );
    assert!(
        text.contains("level=info msg=\"Starting node_exporter\" version=\"(version="),
        "{text}"
    );
    assert!(
        text.contains("level=info msg=\"TLS is disabled.\" http2=false"),
        "{text}"
    );
    assert!(
        text.contains("level=info msg=\"Enabled collectors\""),
        "{text}"
    );
}

#[test]
fn json_format_and_disabled_exporter_metrics() {
    let (_child, addr, log) = start(
        "json",
        &["--log.format=json", "--web.disable-exporter-metrics"],
    );
    let names = metric_names(&addr);
    assert!(
        !names.iter().any(|n| n.starts_with("process_")
            || n.starts_with("promhttp_")
            || n == "node_exporter_build_info"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "node_scrape_collector_success"));
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"msg\":\"Listening on\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with("{\"ts\":\"") && line.ends_with('}'),
        "{line}"
    );
    assert!(line.contains(&format!("\"address\":\"{addr}\"")), "{line}");
    assert!(line.contains("\"level\":\"info\""), "{line}");
}

#[test]
fn warn_level_hides_info_lines() {
    let (_child, _addr, log) = start("warn", &["--log.level=warn"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("level=info"), "{text}");
}

#[test]
fn version_and_a_bad_flag() {
    let out = Command::new(OURS).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("node_exporter {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(OURS).arg("--log.level=loud").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loud"));
}

/// The environment of the process whose command line has `--web.listen-address=ADDR`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn environ_of_server(addr: &str) -> Vec<String> {
    let flag = format!("--web.listen-address={addr}");
    for entry in std::fs::read_dir("/proc").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()) {
            let environ = std::fs::read(dir.join("environ")).unwrap();
            return environ
                .split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
        }
    }
    panic!("no process serves {addr}");
}

/// `run` re-executes the binary without glibc's per-thread malloc cache, keeping other
/// tunables, and leaves a `GLIBC_TUNABLES` that already sets the cache alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn runs_without_glibc_malloc_thread_cache_unless_told_otherwise() {
    let tunables = |env: &[(&str, &str)]| {
        let (_child, addr, _log) = start_with_env("tunables", &[], env);
        // The re-executed server answers scrapes as usual.
        assert!(!metric_names(&addr).is_empty());
        // glibc 2.36 splits the variable's value in place at each `:` while parsing it,
        // so in /proc/PID/environ the tunables after the first follow as entries of
        // their own; they are joined back here.
        let environ = environ_of_server(&addr);
        let mut found = Vec::new();
        let mut entries = environ.iter().peekable();
        while let Some(entry) = entries.next() {
            if let Some(value) = entry.strip_prefix("GLIBC_TUNABLES=") {
                let mut value = value.to_string();
                while let Some(more) = entries.next_if(|e| e.starts_with("glibc.")) {
                    value.push(':');
                    value.push_str(more);
                }
                found.push(format!("GLIBC_TUNABLES={value}"));
            }
        }
        found
    };
    assert_eq!(
        tunables(&[]),
        ["GLIBC_TUNABLES=glibc.malloc.tcache_count=0"]
    );
    assert_eq!(
        tunables(&[("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")]),
        ["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.tcache_count=0"]
    );
    assert_eq!(
        tunables(&[("GLIBC_TUNABLES", "glibc.malloc.tcache_count=7")]),
        ["GLIBC_TUNABLES=glibc.malloc.tcache_count=7"]
    );
}

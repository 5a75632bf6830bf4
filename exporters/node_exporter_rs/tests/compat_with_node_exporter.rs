//! node_exporter_rs next to Debian's node_exporter 1.5 (`prometheus-node-exporter`) on
//! this host: both started on free loopback ports with the same collector flags, scraped,
//! parsed with ember-expfmt and compared.
//!
//! - Every `node_*` family of the Go exporter exists in ours with the same type and label
//!   names, except the families in [`INTENDED_DIFFERENCES`] (mirrored, with the same
//!   reasons, in the crate README).
//! - Stable values agree: `node_memory_MemTotal_bytes`, `node_cpu_seconds_total` (within
//!   a tolerance), `node_filesystem_size_bytes`, `node_boot_time_seconds`,
//!   `node_timex_tick_seconds`, `node_timex_sync_status`, `node_timex_tai_offset_seconds`, the labels of
//!   `node_uname_info` and `node_os_info`; a collector that succeeds for node_exporter
//!   on this host succeeds for ours.
//! - Our scrape passes `promtool check metrics`, and a real `prometheus` scraping us
//!   reports `up` 1 (both from the Debian package `prometheus`).
//!
//! On failure the test prints one report: collectors not implemented, families missing,
//! type and label-name mismatches, value disagreements, and (as notes, not failures)
//! HELP texts that differ.
//!
//! `NODE_EXPORTER_RS_BIN=/path/to/node_exporter_rs` checks another build (release,
//! packaged) instead of the one cargo built for the test.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ember_e2e::{Child, Prometheus, free_port, http_get, require_binary, wait_for_http};
use ember_expfmt::{MetricType, ParsedFamily, parse_text};

/// The one place that lists intended differences from node_exporter 1.5: a family
/// named here is not checked for type and label names. Keep the README's table in step.
/// Only deliberate differences belong here, never a collector that is not written yet.
const INTENDED_DIFFERENCES: &[(&str, &str)] = &[(
    "node_exporter_build_info",
    "no `goversion` label: the binary is not built by a Go toolchain",
)];

/// The collectors node_exporter 1.x enables by default on Linux (issue 4, section 2).
const DEFAULT_COLLECTORS: &[&str] = &[
    "arp",
    "bcache",
    "bonding",
    "btrfs",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "ipvs",
    "loadavg",
    "mdadm",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
    "watchdog",
    "xfs",
    "zfs",
];

const GO_BINARY: &str = "prometheus-node-exporter";

/// Our binary: the one cargo built for this test, or `NODE_EXPORTER_RS_BIN` (to check a
/// release or packaged build the same way).
fn ours_binary() -> String {
    std::env::var("NODE_EXPORTER_RS_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_node_exporter_rs").to_owned())
}

/// The `--collector.*` / `--path.*` flags a binary accepts, read from its `--help`.
fn known_flags(binary: &str) -> BTreeSet<String> {
    let out = Command::new(binary).arg("--help").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.split(|c: char| c.is_whitespace() || c == '=' || c == '[' || c == ',')
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_owned()
        })
        .collect()
}

/// The command lines of both exporters: `--collector.disable-defaults` and then each
/// default collector that the binary has, so both run the same set; the collectors
/// ours lacks are returned for the report.
struct Plan {
    go_args: Vec<String>,
    our_args: Vec<String>,
    not_implemented: Vec<&'static str>,
    not_in_go: Vec<&'static str>,
    textfile_dir: PathBuf,
}

fn plan() -> Plan {
    let go = known_flags(GO_BINARY);
    let ours = known_flags(&ours_binary());
    // One directory per plan: the tests run in parallel and each removes its own at the end.
    static PLANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let textfile_dir =
        std::env::temp_dir().join(format!("node-compat-textfile-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&textfile_dir).unwrap();
    std::fs::write(
        textfile_dir.join("compat.prom"),
        "# HELP compat_textfile_value A value from the textfile collector.\n\
         # TYPE compat_textfile_value gauge\ncompat_textfile_value{source=\"test\"} 7\n",
    )
    .unwrap();
    let mut plan = Plan {
        go_args: vec!["--collector.disable-defaults".into()],
        our_args: vec!["--collector.disable-defaults".into()],
        not_implemented: Vec::new(),
        not_in_go: Vec::new(),
        textfile_dir,
    };
    for c in DEFAULT_COLLECTORS {
        let flag = format!("collector.{c}");
        let in_go = go.contains(&flag);
        let in_ours = ours.contains(&flag);
        if !in_ours {
            plan.not_implemented.push(c);
        }
        if !in_go {
            plan.not_in_go.push(c);
        }
        // Both run the collectors both have: a collector only Go has is reported as
        // not implemented, and Go runs it too so that its families are compared.
        if in_go {
            plan.go_args.push(format!("--{flag}"));
        }
        if in_ours {
            plan.our_args.push(format!("--{flag}"));
        }
    }
    let dir = format!(
        "--collector.textfile.directory={}",
        plan.textfile_dir.display()
    );
    plan.go_args.push(dir.clone());
    if ours.contains("collector.textfile.directory") {
        plan.our_args.push(dir);
    }
    plan
}

fn start(name: &str, binary: &str, args: &[String], log: &std::path::Path) -> (Child, String) {
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--web.listen-address={addr}")).args(args);
    let child = Child::spawn(name, cmd, log).unwrap();
    assert!(
        wait_for_http(&addr, "/-/healthy", Duration::from_secs(30))
            || wait_for_http(&addr, "/", Duration::from_secs(5)),
        "{name} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (child, addr)
}

fn scrape(addr: &str) -> (Vec<u8>, Vec<ParsedFamily>) {
    let r = http_get(addr, "/metrics", &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let families = parse_text(&r.body).unwrap();
    (r.body, families)
}

fn by_name(families: &[ParsedFamily]) -> BTreeMap<&str, &ParsedFamily> {
    families.iter().map(|f| (f.name.as_str(), f)).collect()
}

fn label_names(f: &ParsedFamily) -> BTreeSet<&str> {
    f.samples
        .iter()
        .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
        .filter(|k| !matches!(*k, "le" | "quantile"))
        .collect()
}

/// Label set (sorted `name=value` pairs) to value, for one family.
fn series(f: Option<&&ParsedFamily>) -> BTreeMap<String, f64> {
    let Some(f) = f else {
        return BTreeMap::new();
    };
    f.samples
        .iter()
        .map(|s| {
            let mut labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", s.name, labels.join(",")), s.value)
        })
        .collect()
}

/// The families to compare (`node_*`); the per-collector `node_scrape_*` families are
/// compared by type and labels like the rest.
fn node_families(families: &[ParsedFamily]) -> Vec<&ParsedFamily> {
    families
        .iter()
        .filter(|f| f.name.starts_with("node_"))
        .collect()
}

#[derive(Default)]
struct Report {
    not_implemented: Vec<String>,
    missing: Vec<String>,
    types: Vec<String>,
    labels: Vec<String>,
    values: Vec<String>,
    help_notes: Vec<String>,
}

impl Report {
    fn failures(&self) -> usize {
        self.not_implemented.len()
            + self.missing.len()
            + self.types.len()
            + self.labels.len()
            + self.values.len()
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let mut section = |title: &str, items: &[String]| {
            if !items.is_empty() {
                out.push_str(&format!("\n== {title} ({}) ==\n", items.len()));
                for i in items {
                    out.push_str(&format!("  {i}\n"));
                }
            }
        };
        section(
            "default collectors not implemented in node_exporter_rs",
            &self.not_implemented,
        );
        section(
            "node_* families of node_exporter 1.5 missing from ours",
            &self.missing,
        );
        section("type mismatches (go vs ours)", &self.types);
        section("label-name mismatches (go vs ours)", &self.labels);
        section("value disagreements", &self.values);
        section(
            "HELP texts that differ (notes, not failures)",
            &self.help_notes,
        );
        out
    }
}

/// Compares values of the stable metrics.
fn compare_values(
    go: &BTreeMap<&str, &ParsedFamily>,
    ours: &BTreeMap<&str, &ParsedFamily>,
    report: &mut Report,
) {
    // (family, absolute tolerance, relative tolerance)
    let numeric: [(&str, f64, f64); 7] = [
        ("node_memory_MemTotal_bytes", 0.0, 0.0),
        // The kernel clock's fixed settings, read through adjtimex(2) by both.
        ("node_timex_tick_seconds", 0.0, 0.0),
        ("node_timex_sync_status", 0.0, 0.0),
        ("node_timex_tai_offset_seconds", 0.0, 0.0),
        // Both scrapes run within a second or so; idle time grows by up to one second
        // per second per CPU.
        ("node_cpu_seconds_total", 3.0, 0.01),
        ("node_filesystem_size_bytes", 0.0, 0.0),
        ("node_boot_time_seconds", 1.0, 0.0),
    ];
    for (name, abs, rel) in numeric {
        let g = series(go.get(name));
        let o = series(ours.get(name));
        if g.is_empty() {
            report.values.push(format!(
                "{name}: node_exporter emits no series here (cannot compare)"
            ));
            continue;
        }
        for (key, gv) in &g {
            match o.get(key) {
                None => report.values.push(format!("{key}: go {gv}, ours missing")),
                Some(ov) if (gv - ov).abs() > abs + rel * gv.abs() => {
                    report.values.push(format!("{key}: go {gv}, ours {ov}"))
                }
                Some(_) => {}
            }
        }
        for key in o.keys().filter(|k| !g.contains_key(*k)) {
            report
                .values
                .push(format!("{key}: only in ours (go has no such series)"));
        }
    }
    // A collector that works for node_exporter on this host works for us too.
    let success = |m: &BTreeMap<&str, &ParsedFamily>| -> BTreeMap<String, f64> {
        m.get("node_scrape_collector_success")
            .map(|f| {
                f.samples
                    .iter()
                    .filter_map(|s| {
                        let c = s.labels.iter().find(|(k, _)| k == "collector")?;
                        Some((c.1.clone(), s.value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let our_success = success(ours);
    for (collector, v) in success(go) {
        match our_success.get(&collector) {
            Some(ours) if v == 1.0 && *ours != 1.0 => report.values.push(format!(
                "node_scrape_collector_success{{collector=\"{collector}\"}}: go 1, ours {ours}"
            )),
            _ => {}
        }
    }
    for name in ["node_uname_info", "node_os_info"] {
        let g: BTreeSet<String> = series(go.get(name)).into_keys().collect();
        let o: BTreeSet<String> = series(ours.get(name)).into_keys().collect();
        if g != o {
            report
                .values
                .push(format!("{name} labels: go {g:?}, ours {o:?}"));
        }
    }
}

#[test]
fn every_node_exporter_family_exists_in_ours_with_the_same_type_labels_and_values() {
    require_binary(GO_BINARY, "prometheus-node-exporter");
    let plan = plan();
    let logs = std::env::temp_dir();
    let pid = std::process::id();
    let (_go, go_addr) = start(
        "node_exporter",
        GO_BINARY,
        &plan.go_args,
        &logs.join(format!("compat-go-{pid}.log")),
    );
    let (_ours, our_addr) = start(
        "node_exporter_rs",
        &ours_binary(),
        &plan.our_args,
        &logs.join(format!("compat-ours-{pid}.log")),
    );
    let (_, go_families) = scrape(&go_addr);
    let (_, our_families) = scrape(&our_addr);
    let _ = std::fs::remove_dir_all(&plan.textfile_dir);
    let go = by_name(&go_families);
    let ours = by_name(&our_families);
    let intended: BTreeMap<&str, &str> = INTENDED_DIFFERENCES.iter().copied().collect();

    let mut report = Report::default();
    for c in &plan.not_implemented {
        report.not_implemented.push((*c).to_owned());
    }
    for f in node_families(&go_families) {
        if intended.contains_key(f.name.as_str()) {
            continue;
        }
        let Some(o) = ours.get(f.name.as_str()) else {
            report.missing.push(format!(
                "{} ({}; labels {:?})",
                f.name,
                type_name(f.metric_type),
                label_names(f)
            ));
            continue;
        };
        if o.metric_type != f.metric_type {
            report.types.push(format!(
                "{}: {} vs {}",
                f.name,
                type_name(f.metric_type),
                type_name(o.metric_type)
            ));
        }
        let (gl, ol) = (label_names(f), label_names(o));
        if gl != ol {
            report.labels.push(format!("{}: {gl:?} vs {ol:?}", f.name));
        }
        if f.help != o.help {
            report.help_notes.push(format!(
                "{}: go {:?}, ours {:?}",
                f.name,
                f.help.as_deref().unwrap_or(""),
                o.help.as_deref().unwrap_or("")
            ));
        }
    }
    // The exporter's own metrics, under upstream's names.
    for name in [
        "node_exporter_build_info",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
    ] {
        let exposed = |m: &BTreeMap<&str, &ParsedFamily>| {
            m.contains_key(name) || m.contains_key(name.trim_end_matches("_total"))
        };
        if exposed(&go) && !exposed(&ours) {
            report
                .missing
                .push(format!("{name} (exporter's own metric)"));
        }
    }
    compare_values(&go, &ours, &mut report);

    let go_count = node_families(&go_families).len();
    let rendered = report.render();
    println!(
        "node_exporter 1.5: {go_count} node_* families; node_exporter_rs: {} node_* families; \
         {} failure(s)\ngo flags: {}\nour flags: {}{rendered}",
        node_families(&our_families).len(),
        report.failures(),
        plan.go_args.join(" "),
        plan.our_args.join(" "),
    );
    if !plan.not_in_go.is_empty() {
        println!(
            "collectors node_exporter 1.5 does not have (not compared): {:?}",
            plan.not_in_go
        );
    }
    assert_eq!(
        report.failures(),
        0,
        "node_exporter_rs differs from node_exporter 1.5:{rendered}"
    );
}

fn type_name(t: MetricType) -> String {
    format!("{t:?}").to_lowercase()
}

/// `promtool check metrics` on a body: exit code and findings, one per line.
fn promtool_check(body: &[u8]) -> (Option<i32>, BTreeSet<String>) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (out.status.code(), findings)
}

/// promtool parses our scrape (exit 1 would be a parse error) and finds no lint problem
/// of ours: its lints about upstream's own names (`node_memory_MemTotal_bytes` is not
/// snake_case, `*_bits` is not a base unit; exit code 3) are inherited from
/// node_exporter, whose scrape on this host gets the same findings, and must stay for
/// compatibility.
#[test]
fn our_scrape_passes_promtool_check_metrics() {
    require_binary("promtool", "prometheus");
    require_binary(GO_BINARY, "prometheus-node-exporter");
    let plan = plan();
    let pid = std::process::id();
    let logs = std::env::temp_dir();
    let (_ours, addr) = start(
        "node_exporter_rs",
        &ours_binary(),
        &plan.our_args,
        &logs.join(format!("compat-promtool-ours-{pid}.log")),
    );
    let (_go, go_addr) = start(
        "node_exporter",
        GO_BINARY,
        &plan.go_args,
        &logs.join(format!("compat-promtool-go-{pid}.log")),
    );
    let (body, families) = scrape(&addr);
    let (go_body, _) = scrape(&go_addr);
    let _ = std::fs::remove_dir_all(&plan.textfile_dir);
    assert!(
        families
            .iter()
            .any(|f| f.name == "node_exporter_build_info"),
        "no node_exporter_build_info"
    );
    let (code, findings) = promtool_check(&body);
    let (_, go_findings) = promtool_check(&go_body);
    let own: Vec<&String> = findings.difference(&go_findings).collect();
    assert!(
        matches!(code, Some(0) | Some(3)) && own.is_empty(),
        "promtool check metrics exit {code:?}; findings not shared with node_exporter 1.5:\n{own:#?}"
    );
    assert!(
        code == Some(0) || !findings.is_empty(),
        "exit {code:?} without findings"
    );
}

#[test]
fn prometheus_scraping_ours_reports_up() {
    let log = std::env::temp_dir().join(format!("compat-prom-{}.log", std::process::id()));
    let (_ours, addr) = start("node_exporter_rs", &ours_binary(), &[], &log);
    let prometheus = Prometheus::start("node", std::slice::from_ref(&addr), 1).unwrap();
    let up = prometheus
        .wait_for("up{job=\"node\"}", Duration::from_secs(30), |r| {
            r.iter().any(|(_, v)| *v == 1.0)
        })
        .unwrap();
    assert!(
        up.iter().any(|(_, v)| *v == 1.0),
        "up is {up:?}\n{}",
        prometheus.log()
    );
    let build = prometheus
        .wait_for("node_exporter_build_info", Duration::from_secs(10), |r| {
            !r.is_empty()
        })
        .unwrap();
    assert_eq!(build.len(), 1, "{build:?}");
}

//! Conformance against the reference: Debian's `prometheus-node-exporter` (1.5) is
//! started on each fixture tree with the same `--path.*` and collector flags as the
//! golden test uses, and its answer must equal this crate's output for that collector,
//! family by family (HELP, TYPE) and sample by sample (name, label set, exact value).
//!
//! Fixtures left out, and why:
//! - `time`, `uname`: node_exporter reads the clock and `uname(2)` from the host, not
//!   from the fixture tree, so the two answers differ by design (the golden test masks
//!   exactly those values; the unit tests check them against the host).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, free_port, http_get, require_binary, wait_for_http};
use ember_expfmt::parse_text;

mod common;

use common::{fixture_args, render_collector};

/// The collectors whose fixture node_exporter reads entirely through its `--path.*`
/// flags. Collectors added later belong here once their fixture passes.
const COMPARED: &[&str] = &[
    "arp",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "entropy",
    "filefd",
    "filesystem",
    "loadavg",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "os",
    "pressure",
    "schedstat",
    "sockstat",
    "softnet",
    "stat",
    "textfile",
    "vmstat",
];

/// Families as comparable lines: `HELP name text`, `TYPE name type`, and one line per
/// sample with its labels sorted and its value's exact bits. The exporters' own
/// families (`go_*`, `process_*`, `promhttp_*`, `node_scrape_*`, build info) are left out.
fn normalize(text: &str) -> BTreeSet<String> {
    let families = parse_text(text.as_bytes()).expect("exposition parses");
    let own = |name: &str| {
        [
            "go_",
            "process_",
            "promhttp_",
            "node_scrape_",
            "node_exporter_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
    };
    let mut out = BTreeSet::new();
    for family in families.iter().filter(|f| !own(&f.name)) {
        out.insert(format!(
            "HELP {} {}",
            family.name,
            family.help.as_deref().unwrap_or("")
        ));
        out.insert(format!(
            "TYPE {} {}",
            family.name,
            family.metric_type.as_text_str()
        ));
        for sample in &family.samples {
            let mut labels = sample.labels.clone();
            labels.sort();
            out.insert(format!("{}{:?} {:?}", sample.name, labels, sample.value));
        }
    }
    out
}

fn theirs(name: &str, dir: &Path, args: &[String], log: &Path) -> String {
    let port = free_port().expect("free port");
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("prometheus-node-exporter");
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg("--collector.disable-defaults")
        .arg(format!("--collector.{name}"))
        .arg(format!("--path.procfs={}", dir.join("proc").display()))
        .arg(format!("--path.sysfs={}", dir.join("sys").display()))
        .arg(format!("--path.rootfs={}", dir.display()))
        .arg(format!(
            "--path.udev.data={}",
            dir.join("run/udev/data").display()
        ))
        .args(args);
    let _child = Child::spawn("node_exporter", cmd, log).expect("start node_exporter");
    assert!(
        wait_for_http(&addr, "/metrics", Duration::from_secs(20)),
        "node_exporter for {name} did not answer; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let text = http_get(&addr, "/metrics", &[])
        .expect("scrape node_exporter")
        .text();
    assert!(
        text.contains(&format!(
            "node_scrape_collector_success{{collector=\"{name}\"}} 1"
        )),
        "node_exporter's {name} collector failed on the fixture; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    text
}

#[test]
fn every_compared_fixture_gives_node_exporters_answer() {
    require_binary("prometheus-node-exporter", "prometheus-node-exporter");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let logs = std::env::temp_dir().join(format!("ne-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&logs).expect("log dir");
    let mut failures = Vec::new();
    for name in COMPARED {
        let dir = root.join(name);
        let args = fixture_args(&dir);
        let want = normalize(&theirs(
            name,
            &dir,
            &args,
            &logs.join(format!("{name}.log")),
        ));
        let got = normalize(&render_collector(name, &dir, &args));
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{name}:\n  only node_exporter: {missing:#?}\n  only ours: {extra:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

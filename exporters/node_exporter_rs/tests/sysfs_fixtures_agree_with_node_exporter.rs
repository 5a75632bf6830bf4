//! The reference check for the fixtures: Debian's `prometheus-node-exporter` (1.5) is run
//! with only one collector enabled and `--path.procfs/sysfs/rootfs` pointing into that
//! collector's fixture tree (plus the fixture's `args` file, whose flags are spelled as
//! upstream's), and its `node_*` families must equal ours: names, types, HELP texts,
//! label sets and values. A second test runs every listed collector on an empty root and
//! checks that each one succeeds or reports no data exactly as the Go collector does.
//!
//! A third test runs the damaged trees of `tests/fixtures_broken/<collector>/<case>/`
//! (a truncated mdstat, an unknown nfsd line, an attribute missing, a counter out of
//! range): node_exporter fails each of them, and so must ours.
//!
//! Collectors whose output does not come from the fixture tree alone (selinux reads the
//! host's selinuxfs through libselinux in Go) are not listed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, free_port, http_get, require_binary, wait_for_http};
use ember_expfmt::{Encoder, Format, ParsedFamily, parse};
use node_exporter_rs::Paths;
use node_exporter_rs::collectors::build_one;

mod common;

use common::fixture_args;

/// Collectors checked against the reference binary on their fixture.
const CHECKED: &[&str] = &[
    "bcache",
    "bonding",
    "btrfs",
    "dmi",
    "edac",
    "fibrechannel",
    "hwmon",
    "infiniband",
    "ipvs",
    "mdadm",
    "nfs",
    "nfsd",
    "nvme",
    "powersupplyclass",
    "rapl",
    "tapestats",
    "thermal_zone",
    "udp_queues",
    "xfs",
    "zfs",
];

/// The same fixtures again with other flags: (collector, arguments replacing the
/// fixture's `args` file).
const VARIANTS: &[(&str, &[&str])] = &[
    ("bcache", &[]),
    (
        "ipvs",
        &["--collector.ipvs.backend-labels=local_port,proto"],
    ),
    ("ipvs", &["--collector.ipvs.backend-labels=remote_address"]),
    ("powersupplyclass", &[]),
    ("rapl", &["--collector.rapl.enable-zone-label"]),
    ("tapestats", &[]),
];

/// Also run on the empty root: selinux, whose Go collector reads the host's own selinuxfs,
/// so this agrees only on a host without SELinux (as this project's machines are).
const ALSO_ON_EMPTY_ROOT: &[&str] = &["selinux"];

const BINARY: &str = "prometheus-node-exporter";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the Go exporter with `collectors` on `root` and returns its exposition.
fn scrape_reference(root: &Path, collectors: &[&str], extra: &[String]) -> String {
    let port = free_port().expect("free port");
    let addr = format!("127.0.0.1:{port}");
    // node_exporter refuses to start without both mount points; a fixture that needs only
    // one of them gets an empty directory for the other.
    let empty = std::env::temp_dir().join(format!("node-exporter-ref-empty-{port}"));
    let mount = |name: &str| {
        let dir = root.join(name);
        if dir.is_dir() {
            dir
        } else {
            let dir = empty.join(name);
            std::fs::create_dir_all(&dir).expect("mkdir");
            dir
        }
    };
    let mut cmd = Command::new(BINARY);
    cmd.arg("--collector.disable-defaults")
        .args(collectors.iter().map(|c| format!("--collector.{c}")))
        .arg(format!("--path.procfs={}", mount("proc").display()))
        .arg(format!("--path.sysfs={}", mount("sys").display()))
        .arg(format!("--path.rootfs={}", root.display()))
        .arg(format!("--web.listen-address={addr}"))
        .args(extra);
    let log = std::env::temp_dir().join(format!("node-exporter-ref-{port}.log"));
    let mut child = Child::spawn(BINARY, cmd, &log).expect("spawn prometheus-node-exporter");
    let up = wait_for_http(&addr, "/metrics", Duration::from_secs(20));
    assert!(
        up && !child.exited(),
        "{BINARY} did not come up: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let resp = http_get(&addr, "/metrics", &[]).expect("scrape reference");
    assert_eq!(resp.status, 200);
    resp.text()
}

/// Families as comparable sets: metadata lines and samples with sorted labels.
#[derive(Debug, Default, PartialEq)]
struct Normalized {
    meta: BTreeSet<String>,
    samples: BTreeSet<String>,
}

fn normalize(families: &[ParsedFamily], keep: impl Fn(&str) -> bool) -> Normalized {
    let mut n = Normalized::default();
    for f in families.iter().filter(|f| keep(&f.name)) {
        n.meta.insert(format!(
            "{} {:?} {:?}",
            f.name,
            f.metric_type,
            f.help.as_deref().unwrap_or("")
        ));
        for s in &f.samples {
            let mut labels = s.labels.clone();
            labels.sort();
            n.samples
                .insert(format!("{}{:?} {:?}", s.name, labels, s.value));
        }
    }
    n
}

fn is_collector_family(name: &str) -> bool {
    name.starts_with("node_")
        && !name.starts_with("node_scrape_collector_")
        && name != "node_exporter_build_info"
}

fn success_of(families: &[ParsedFamily], collector: &str) -> Option<f64> {
    families
        .iter()
        .find(|f| f.name == "node_scrape_collector_success")?
        .samples
        .iter()
        .find(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == "collector" && v == collector)
        })
        .map(|s| s.value)
}

fn ours(dir: &Path, name: &str, args: &[String]) -> Result<Vec<ParsedFamily>, String> {
    let collector = build_one(name, &Paths::fixture(dir), args)?;
    let mut families = Vec::new();
    collector.update(&mut families).map_err(|e| e.to_string())?;
    let mut encoder = Encoder::new(Format::Text);
    for family in &families {
        encoder.write_family(family);
    }
    parse(&encoder.finish(), Format::Text).map_err(|e| e.to_string())
}

fn diff(name: &str, want: &Normalized, got: &Normalized) -> Option<String> {
    if want == got {
        return None;
    }
    let mut lines = vec![format!("--- {name}: differs from node_exporter 1.5")];
    for m in want.meta.difference(&got.meta) {
        lines.push(format!("  go only:   {m}"));
    }
    for m in got.meta.difference(&want.meta) {
        lines.push(format!("  ours only: {m}"));
    }
    for s in want.samples.difference(&got.samples) {
        lines.push(format!("  go only:   {s}"));
    }
    for s in got.samples.difference(&want.samples) {
        lines.push(format!("  ours only: {s}"));
    }
    Some(lines.join("\n"))
}

#[test]
fn every_fixture_renders_as_node_exporter_renders_it() {
    require_binary(BINARY, "prometheus-node-exporter");
    let mut failures = Vec::new();
    for &name in CHECKED {
        // Trees whose output holds their own path live apart (see
        // path_labelled_fixtures_match_golden.rs).
        let dir = ["tests/fixtures", "tests/fixtures_with_paths"]
            .iter()
            .map(|d| crate_dir().join(d).join(name))
            .find(|d| d.is_dir())
            .unwrap_or_default();
        if !dir.is_dir() {
            failures.push(format!("--- {name}: no fixture tree"));
            continue;
        }
        let args = fixture_args(&dir);
        let text = scrape_reference(&dir, &[name], &args);
        let reference = parse(text.as_bytes(), Format::Text).expect("reference output parses");
        if success_of(&reference, name) != Some(1.0) {
            failures.push(format!("--- {name}: node_exporter failed on the fixture"));
            continue;
        }
        match ours(&dir, name, &args) {
            Ok(got) => {
                let want = normalize(&reference, is_collector_family);
                let got = normalize(&got, |_| true);
                failures.extend(diff(name, &want, &got));
            }
            Err(e) => failures.push(format!("--- {name}: ours failed: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixtures_render_as_node_exporter_renders_them_with_other_flags() {
    require_binary(BINARY, "prometheus-node-exporter");
    let mut failures = Vec::new();
    for (name, args) in VARIANTS {
        let dir = ["tests/fixtures", "tests/fixtures_with_paths"]
            .iter()
            .map(|d| crate_dir().join(d).join(name))
            .find(|d| d.is_dir())
            .unwrap_or_default();
        let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        let text = scrape_reference(&dir, &[name], &args);
        let reference = parse(text.as_bytes(), Format::Text).expect("reference output parses");
        let label = format!("{name} {args:?}");
        if success_of(&reference, name) != Some(1.0) {
            failures.push(format!("--- {label}: node_exporter failed on the fixture"));
            continue;
        }
        match ours(&dir, name, &args) {
            Ok(got) => {
                let want = normalize(&reference, is_collector_family);
                let got = normalize(&got, |_| true);
                failures.extend(diff(&label, &want, &got));
            }
            Err(e) => failures.push(format!("--- {label}: ours failed: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn damaged_trees_fail_as_node_exporter_fails_them() {
    require_binary(BINARY, "prometheus-node-exporter");
    let broken = crate_dir().join("tests/fixtures_broken");
    let mut cases = Vec::new();
    for collector in std::fs::read_dir(&broken).expect("tests/fixtures_broken exists") {
        let collector = collector.expect("readable").path();
        for case in std::fs::read_dir(&collector).expect("readable") {
            cases.push(case.expect("readable").path());
        }
    }
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .expect("utf-8 collector name");
        let label = dir.display().to_string();
        let text = scrape_reference(dir, &[name], &[]);
        let reference = parse(text.as_bytes(), Format::Text).expect("reference output parses");
        if success_of(&reference, name) != Some(0.0) {
            failures.push(format!("{label}: node_exporter did not fail it"));
        }
        if let Ok(families) = ours(dir, name, &[]) {
            failures.push(format!(
                "{label}: ours succeeded with {} families",
                families.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn absent_subsystems_succeed_or_report_no_data_as_node_exporter_does() {
    require_binary(BINARY, "prometheus-node-exporter");
    let root =
        std::env::temp_dir().join(format!("node-exporter-empty-root-{}", std::process::id()));
    std::fs::create_dir_all(root.join("proc")).expect("mkdir");
    std::fs::create_dir_all(root.join("sys")).expect("mkdir");
    let all: Vec<&str> = CHECKED.iter().chain(ALSO_ON_EMPTY_ROOT).copied().collect();
    let text = scrape_reference(&root, &all, &[]);
    let reference = parse(text.as_bytes(), Format::Text).expect("reference output parses");
    let mut failures = Vec::new();
    for &name in &all {
        let want = success_of(&reference, name);
        if let Err(e) = build_one(name, &Paths::fixture(&root), &[]) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let result = ours(&root, name, &[]);
        let got = Some(if result.is_ok() { 1.0 } else { 0.0 });
        if want != got {
            failures.push(format!(
                "{name}: node_exporter success {want:?}, ours {result:?}"
            ));
        }
        if let Ok(families) = &result {
            // Whatever the reference emits on an empty root, ours must equal it too.
            let want = normalize(&reference, |n| {
                is_collector_family(n) && families.iter().any(|f| f.name == n)
            });
            let got = normalize(families, |_| true);
            if !got.samples.is_empty() {
                failures.extend(diff(name, &want, &got));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

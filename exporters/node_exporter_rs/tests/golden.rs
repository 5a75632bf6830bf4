//! Every collector against its fixture tree: `tests/fixtures/<collector>/` holds
//! `proc/`, `sys/`, ... as the kernel lays them out, plus an optional `args` file (one
//! command-line argument per line, `{fixture}` standing for the fixture directory). The
//! collector's output, in the text format, must equal `tests/golden/<collector>.prom`.
//!
//! A few values come from the live host rather than the fixture (the clock, the local
//! time zone, `uname(2)`'s machine, the checkout's file times and absolute paths); [`mask_host_dependent`] replaces exactly those with
//! placeholders before comparing, and the collectors' unit tests check them.
//!
//! Collectors of this crate without a fixture directory, and why:
//! - `rapl`: its `path` label is the sysfs path itself (see `WITHOUT_FIXTURE`).
//! - `timex`: its values come from the kernel through `adjtimex(2)` (in `ember-sys`), not
//!   from files; the conversion is unit-tested with fixed readings.
//!
//! `UPDATE_GOLDEN=1 cargo test -p node_exporter_rs --test golden` rewrites the golden
//! files; review the diff before committing it.

use std::path::{Path, PathBuf};

mod common;

use common::{fixture_args, render_collector};

fn render(dir: &Path, name: &str) -> String {
    render_collector(name, dir, &fixture_args(dir))
}

#[test]
fn collectors_match_their_golden_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures"))
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable fixtures dir").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let got = mask_host_dependent(name, &render(dir, name));
        let golden = root.join("golden").join(format!("{name}.prom"));
        if update {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", golden.display()));
        if got != want {
            failures.push(format!("--- {name}: want\n{want}\n--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Collectors in the table that have no fixture directory, each with the reason.
const WITHOUT_FIXTURE: &[(&str, &str)] = &[
    (
        "rapl",
        "its `path` label is the sysfs path itself: the tree is tests/fixtures_with_paths/rapl, \
         checked by tests/path_labelled_fixtures_match_golden.rs",
    ),
    (
        "timex",
        "its values come from the kernel through adjtimex(2), not from files under --path.*: \
         the conversion is unit-tested with fixed readings in src/collectors/timex.rs and \
         compared with node_exporter on the live host by tests/compat_with_node_exporter.rs",
    ),
];

#[test]
fn every_collector_has_a_fixture_or_a_reason() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let missing: Vec<&str> = node_exporter_rs::collectors::ALL
        .iter()
        .map(|e| e.flag.name)
        .filter(|name| !root.join(name).is_dir())
        .filter(|name| !WITHOUT_FIXTURE.iter().any(|(n, _)| n == name))
        .collect();
    assert!(
        missing.is_empty(),
        "collectors without fixture: {missing:?}"
    );
}

/// Replaces the values that the host, not the fixture, decides with placeholders.
fn mask_host_dependent(name: &str, text: &str) -> String {
    text.lines()
        .map(|line| match name {
            "time" if line.starts_with("node_time_seconds ") => {
                "node_time_seconds <now>".to_string()
            }
            "time" if line.starts_with("node_time_zone_offset_seconds{") => {
                "node_time_zone_offset_seconds{time_zone=\"<local>\"} <offset>".to_string()
            }
            "textfile" if line.starts_with("node_textfile_mtime_seconds{") => {
                let end = line.rfind(' ').expect("sample value");
                format!("{} <mtime>", &line[..end]).replace(env!("CARGO_MANIFEST_DIR"), "<root>")
            }
            "textfile" => line.replace(env!("CARGO_MANIFEST_DIR"), "<root>"),
            "uname" if line.starts_with("node_uname_info{") => {
                let start = line.find("machine=\"").expect("machine label") + 9;
                let end = start + line[start..].find('"').expect("closing quote");
                format!("{}<uname -m>{}", &line[..start], &line[end..])
            }
            _ => line.to_string(),
        })
        .map(|line| line + "\n")
        .collect()
}

//! Collectors whose labels carry a path under `--path.sysfs` (rapl's `path`) cannot keep
//! their fixture in `tests/fixtures/`: the golden file would hold the checkout's absolute
//! path. Their trees live in `tests/fixtures_with_paths/<collector>/`, and here the
//! rendered output has the fixture directory replaced by `{fixture}` before it is compared
//! with `tests/golden/<collector>.prom`. `UPDATE_GOLDEN=1` rewrites the golden files.

use std::path::{Path, PathBuf};

mod common;

use common::{fixture_args, render_collector};

fn render(dir: &Path, name: &str) -> String {
    render_collector(name, dir, &fixture_args(dir)).replace(&dir.display().to_string(), "{fixture}")
}

#[test]
fn path_labelled_collectors_match_their_golden_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures_with_paths"))
        .expect("tests/fixtures_with_paths exists")
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
        let got = render(dir, name);
        assert!(
            got.contains("{fixture}"),
            "{name}: no path label in the output"
        );
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

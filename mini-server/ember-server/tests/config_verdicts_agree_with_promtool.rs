//! Every file under `testdata/good` and `testdata/bad` gets the same verdict from
//! `ember-server --check-config` as from `promtool check config` (Prometheus 2.42).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;

use ember_e2e::require_binary;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    assert!(v.len() >= 5, "too few files in {}", dir.display());
    v
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn check_all(dir: &str, expect_ok: bool) {
    require_binary("promtool", "prometheus");
    for f in files(dir) {
        let (promtool_ok, promtool_text) =
            run(Command::new("promtool").args(["check", "config"]).arg(&f));
        let (ours_ok, ours_text) = run(Command::new(env!("CARGO_BIN_EXE_ember-server"))
            .arg("--check-config")
            .arg(&f));
        assert_eq!(
            promtool_ok,
            expect_ok,
            "promtool's verdict on {} is not the expected one:\n{promtool_text}",
            f.display()
        );
        assert_eq!(
            ours_ok,
            promtool_ok,
            "verdicts differ on {}\npromtool:\n{promtool_text}\nember-server:\n{ours_text}",
            f.display()
        );
        let library = ember_server::check_config(&f);
        assert_eq!(library.success, ours_ok);
        if ours_ok {
            // On success the report is promtool's, line for line.
            assert_eq!(ours_text, promtool_text, "{}", f.display());
        } else {
            assert!(ours_text.contains("FAILED:"), "{ours_text}");
        }
    }
}

#[test]
fn good_files_pass_both() {
    check_all("good", true);
}

#[test]
fn bad_files_fail_both() {
    check_all("bad", false);
}

//! Binaries of other workspace packages, built on demand by `cargo build`.
//!
//! `env!("CARGO_BIN_EXE_...")` only names binaries of the package under test, and Cargo's
//! artifact dependencies are unstable; so a test that needs `ember-server`,
//! `node_exporter_rs` or `web_app` asks Cargo to build it (a no-op when it is fresh) and
//! takes the path from Cargo's JSON messages. The build uses the test's own profile and
//! target directory, so it shares the artifacts `cargo test` already built.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Builds binary `bin` of workspace package `package` (once per test process) and
/// returns the path of the executable.
pub fn cargo_bin(package: &str, bin: &str) -> Result<PathBuf, String> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    // Held during the build: two tests asking for the same binary build it once.
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    let key = format!("{package}/{bin}");
    if let Some(p) = built.get(&key) {
        return Ok(p.clone());
    }
    let path = build(package, bin)?;
    built.insert(key, path.clone());
    Ok(path)
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn build(package: &str, bin: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--locked", "-p", package, "--bin", bin])
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        // The test executable lives in <target>/<profile>/deps/: build next to it.
        if let Some(target) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        {
            cmd.arg("--target-dir").arg(target);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build {package}/{bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build -p {package} --bin {bin} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable named {bin} in package {package}"))
}

//! The systemd unit under `packaging/` is accepted by `systemd-analyze verify` and keeps
//! the hardening the issue asks for.

use std::path::PathBuf;
use std::process::Command;

use ember_e2e::require_binary;

fn unit_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/node_exporter_rs.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn unit_is_hardened() {
    let text = unit_text();
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(text.contains(directive), "unit lacks {directive:?}");
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    require_binary("systemd-analyze", "systemd");
    // verify checks that ExecStart exists: point it at a binary that does.
    let dir = std::env::temp_dir().join(format!("ember-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unit = dir.join("node_exporter_rs.service");
    std::fs::write(
        &unit,
        unit_text().replace(
            "/usr/local/bin/node_exporter_rs",
            env!("CARGO_BIN_EXE_node_exporter_rs"),
        ),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("node_exporter_rs.service"),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

//! Errors in `prometheus.yml` name the file, the field path and the line, and read as
//! Prometheus's messages.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

use ember_server::Config;

fn bad(name: &str) -> (PathBuf, String) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/testdata/bad/{name}.yml"));
    let e = Config::load(&p).unwrap_err().to_string();
    (p, e)
}

fn expect(name: &str, fragments: &[&str]) {
    let (p, e) = bad(name);
    assert!(e.starts_with(&format!("{}: ", p.display())), "{e}");
    for f in fragments {
        assert!(e.contains(f), "`{f}` missing from: {e}");
    }
}

#[test]
fn unknown_keys() {
    expect(
        "unknown_global_key",
        &["global: unknown field `bogus`", "at line 3 column 3"],
    );
    expect(
        "unknown_job_key",
        &[
            "scrape_configs[0]: unknown field `scrape_intervall`",
            "line 3",
        ],
    );
    expect(
        "unknown_tls_key",
        &["scrape_configs[0].tls_config: unknown field `ca`", "line 3"],
    );
}

#[test]
fn bad_values() {
    expect(
        "bad_duration",
        &[
            r#"scrape_configs[0].scrape_interval: not a valid duration string: "1x""#,
            "line 3 column 22",
        ],
    );
    expect(
        "fractional_duration",
        &["global.scrape_interval", r#""1.5m""#, "line 2"],
    );
    expect(
        "body_size_without_unit",
        &["scrape_configs[0].body_size_limit", "line 3"],
    );
    expect(
        "negative_sample_limit",
        &["scrape_configs[0].sample_limit", "line 3 column 19"],
    );
    expect(
        "bad_label_name",
        &[
            "scrape_configs[0].static_configs[0].labels",
            r#""a-b" is not a valid label name"#,
            "line 5",
        ],
    );
    expect(
        "bad_external_label",
        &[
            "global.external_labels",
            r#""1abc" is not a valid label name"#,
        ],
    );
}

#[test]
fn relabel_rules() {
    expect(
        "hashmod_without_modulus",
        &[
            "scrape_configs[0].relabel_configs[0]",
            "relabel configuration for hashmod requires non-zero modulus",
            "line 4",
        ],
    );
    expect(
        "unknown_action",
        &[r#"unknown relabel action "explode""#, "line 4"],
    );
    expect(
        "replace_without_target",
        &["metric_relabel_configs[0]", "requires 'target_label' value"],
    );
    expect(
        "bad_regex",
        &[
            "error parsing regexp: unclosed group: `(unclosed`",
            "line 4",
        ],
    );
    expect(
        "labeldrop_with_source",
        &["labeldrop action requires only 'regex', and no other fields"],
    );
}

#[test]
fn cross_field_rules() {
    expect(
        "timeout_over_interval",
        &[r#"scrape timeout greater than scrape interval for scrape config with job name "a""#],
    );
    expect(
        "global_timeout_over_interval",
        &["global scrape timeout greater than scrape interval"],
    );
    expect(
        "duplicate_job",
        &[r#"found multiple scrape configs with job name "a""#],
    );
    expect(
        "empty_job_name",
        &["scrape_configs[0]: job_name is empty", "line 2"],
    );
    expect(
        "url_as_target",
        &[r#""http://x:1/metrics" is not a valid hostname"#],
    );
    expect(
        "password_and_file",
        &["at most one of basic_auth password & password_file must be configured"],
    );
    expect(
        "authorization_basic",
        &[r#"authorization type cannot be set to "basic""#],
    );
    expect(
        "null_scrape_config",
        &["empty or null scrape config section"],
    );
    expect(
        "bad_file_sd_name",
        &[r#"path name "targets.txt" is not valid for file discovery"#],
    );
    expect(
        "bad_rule_glob",
        &[r#"invalid rule file path "a/**/b*.yml""#],
    );
}

#[test]
fn file_checks_happen_in_check_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/bad");
    let r = ember_server::check_config(&dir.join("missing_rule_file.yml"));
    assert!(
        r.stderr
            .contains("does-not-exist.yml\" does not point to an existing file"),
        "{r:?}"
    );
    let r = ember_server::check_config(&dir.join("cert_without_key.yml"));
    assert!(
        r.stderr.contains("specified without client key file"),
        "{r:?}"
    );
    let r = ember_server::check_config(&dir.join("bad_rule_shape.yml"));
    assert!(
        r.stderr
            .contains("only one of 'record' and 'alert' must be set"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(" SUCCESS: "),
        "config itself is fine: {r:?}"
    );
    let r = ember_server::check_config(&dir.join("bad_sd_file.yml"));
    assert!(
        r.stderr.contains(r#""bad-name" is not a valid label name"#),
        "{r:?}"
    );
}

//! `ember-server --check-config`: the checks and the report of `promtool check config`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{Config, TlsConfig};
use crate::file_sd::read_target_groups;
use crate::rules::parse_rule_file;
use crate::target::targets_from_group;

/// What a configuration check printed and its verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Progress and success lines (promtool's stdout).
    pub stdout: String,
    /// `FAILED:` lines (promtool's stderr).
    pub stderr: String,
    /// Whether everything passed (exit code 0).
    pub success: bool,
}

fn file_exists(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Ok(());
    }
    std::fs::metadata(p).map(|_| ()).map_err(|e| e.to_string())
}

fn expand_glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let pat = pattern.to_string_lossy();
    let paths = glob::glob(&pat).map_err(|e| e.to_string())?;
    Ok(paths.filter_map(Result::ok).collect())
}

fn check_tls(t: &TlsConfig) -> Result<(), String> {
    if !t.cert_file.is_empty() && t.key_file.is_empty() {
        return Err(format!(
            "client cert file {:?} specified without client key file",
            t.cert_file
        ));
    }
    if !t.key_file.is_empty() && t.cert_file.is_empty() {
        return Err(format!(
            "client key file {:?} specified without client cert file",
            t.key_file
        ));
    }
    file_exists(&t.cert_file)
        .map_err(|e| format!("error checking client cert file {:?}: {e}", t.cert_file))?;
    file_exists(&t.key_file)
        .map_err(|e| format!("error checking client key file {:?}: {e}", t.key_file))
}

/// The files and cross-checks promtool adds to parsing; returns the rule files found.
fn check_files(cfg: &Config, out: &mut String) -> Result<Vec<PathBuf>, String> {
    let mut rule_files = Vec::new();
    for rf in &cfg.rule_files {
        let found = expand_glob(rf)?;
        let text = rf.to_string_lossy();
        if !text.contains('*') {
            let Some(first) = found.first() else {
                return Err(format!("{text:?} does not point to an existing file"));
            };
            file_exists(&first.to_string_lossy())
                .map_err(|e| format!("error checking rule file {first:?}: {e}"))?;
        }
        rule_files.extend(found);
    }
    for sc in &cfg.scrape_configs {
        if let Some(a) = &sc.http.authorization {
            file_exists(&a.credentials_file).map_err(|e| {
                format!(
                    "error checking authorization credentials or bearer token file {:?}: {e}",
                    a.credentials_file
                )
            })?;
        }
        check_tls(&sc.http.tls_config)?;
        for fsd in &sc.file_sd_configs {
            for pattern in &fsd.files {
                let files = expand_glob(pattern)?;
                if files.is_empty() {
                    let _ = writeln!(
                        out,
                        "  WARNING: file {:?} for file_sd in scrape job {:?} does not exist",
                        pattern.to_string_lossy(),
                        sc.job_name
                    );
                }
                for f in files {
                    let groups = read_target_groups(&f).map_err(|e| {
                        format!("checking SD file {:?}: {e}", pattern.to_string_lossy())
                    })?;
                    for g in &groups {
                        targets_from_group(g, sc)?;
                    }
                }
            }
        }
    }
    Ok(rule_files)
}

/// Checks `path` as `promtool check config` does: parse, check referenced files, then
/// check each rule file.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("ember-check-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let p = dir.join("prometheus.yml");
/// std::fs::write(&p, "scrape_configs:\n- job_name: a\n  scrape_interval: 5s\n  scrape_timeout: 6s\n").unwrap();
/// let r = ember_server::check_config(&p);
/// assert!(!r.success);
/// assert!(r.stderr.contains("scrape timeout greater than scrape interval for scrape config with job name \"a\""));
/// ```
pub fn check_config(path: &Path) -> CheckReport {
    let shown = path.to_string_lossy();
    let mut r = CheckReport {
        stdout: format!("Checking {shown}\n"),
        ..Default::default()
    };
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            r.stdout.push('\n');
            r.stderr = format!("  FAILED: parsing YAML file {e}\n");
            return r;
        }
    };
    let rule_files = match check_files(&cfg, &mut r.stdout) {
        Ok(f) => f,
        Err(e) => {
            r.stdout.push('\n');
            r.stderr = format!("  FAILED: {e}\n");
            return r;
        }
    };
    if !rule_files.is_empty() {
        let _ = writeln!(r.stdout, "  SUCCESS: {} rule files found", rule_files.len());
    }
    let _ = writeln!(
        r.stdout,
        " SUCCESS: {shown} is valid prometheus config file syntax\n"
    );
    r.success = true;
    for rf in rule_files {
        let _ = writeln!(r.stdout, "Checking {}", rf.to_string_lossy());
        match parse_rule_file(&rf) {
            Ok(f) => {
                let n: usize = f.groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(r.stdout, "  SUCCESS: {n} rules found\n");
            }
            Err(e) => {
                r.stdout.push('\n');
                let _ = writeln!(r.stderr, "  FAILED:\n{e}");
                r.success = false;
            }
        }
    }
    r
}

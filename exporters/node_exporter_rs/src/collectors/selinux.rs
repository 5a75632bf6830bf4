//! `selinux`: whether SELinux is enabled and its configured and current enforcement
//! modes, as node_exporter 1.5's `selinux_linux.go` (through go-selinux).
//!
//! go-selinux looks at the host's own `/sys/fs/selinux`, `/proc/self/attr/current` and
//! `/etc/selinux/config`; here they are read under `--path.sysfs`, `--path.procfs` and
//! `--path.rootfs` so a fixture can stand for an SELinux host. SELinux counts as enabled
//! when selinuxfs is mounted (its `enforce` file exists) and this process's context is
//! not `kernel`. On a host without SELinux the collector reports
//! `node_selinux_enabled 0` and nothing else, as upstream.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::Families;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "selinux",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Selinux {
            enforce: ctx.paths.sys("fs/selinux/enforce"),
            current_context: ctx.paths.proc("self/attr/current"),
            config: ctx.paths.root("/etc/selinux/config"),
        }))
    },
};

#[derive(Debug)]
struct Selinux {
    enforce: PathBuf,
    current_context: PathBuf,
    config: PathBuf,
}

/// go-selinux's modes: 1 enforcing, 0 permissive, -1 disabled.
const ENFORCING: f64 = 1.0;
const PERMISSIVE: f64 = 0.0;
const DISABLED: f64 = -1.0;

impl Selinux {
    fn enabled(&self) -> bool {
        if !self.enforce.is_file() {
            return false;
        }
        let context = std::fs::read(&self.current_context).unwrap_or_default();
        let context = String::from_utf8_lossy(&context);
        context.trim_end_matches(['\0', '\n']) != "kernel"
    }

    /// The mode `enforce` reports now.
    fn current_mode(&self) -> f64 {
        match std::fs::read_to_string(&self.enforce) {
            Ok(text) => match text.trim().parse::<i64>() {
                Ok(1) => ENFORCING,
                Ok(_) => PERMISSIVE,
                Err(_) => DISABLED,
            },
            Err(_) => DISABLED,
        }
    }

    /// The `SELINUX=` setting of `/etc/selinux/config`.
    fn config_mode(&self) -> f64 {
        let text = std::fs::read_to_string(&self.config).unwrap_or_default();
        let value = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == "SELINUX")
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        match value.as_str() {
            "enforcing" => ENFORCING,
            "permissive" => PERMISSIVE,
            _ => DISABLED,
        }
    }
}

impl Collector for Selinux {
    fn name(&self) -> &str {
        "selinux"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut f = Families::new();
        let enabled = "SELinux is enabled, 1 is true, 0 is false";
        if !self.enabled() {
            f.gauge("node_selinux_enabled", enabled, &[], 0.0);
            f.push_to(out);
            return Ok(());
        }
        f.gauge("node_selinux_enabled", enabled, &[], 1.0);
        f.gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            &[],
            self.config_mode(),
        );
        f.gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            &[],
            self.current_mode(),
        );
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(root: &std::path::Path) -> Selinux {
        let paths = crate::Paths::fixture(root);
        Selinux {
            enforce: paths.sys("fs/selinux/enforce"),
            current_context: paths.proc("self/attr/current"),
            config: paths.root("/etc/selinux/config"),
        }
    }

    #[test]
    fn a_host_without_selinuxfs_reports_disabled_only() {
        let root = std::env::temp_dir().join(format!("selinux-none-{}", std::process::id()));
        let mut out = Vec::new();
        at(&root).update(&mut out).expect("succeeds");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "node_selinux_enabled");
    }

    #[test]
    fn kernel_context_means_disabled_and_config_modes_parse() {
        let root = std::env::temp_dir().join(format!("selinux-kernel-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sys/fs/selinux")).expect("mkdir");
        std::fs::create_dir_all(root.join("proc/self/attr")).expect("mkdir");
        std::fs::create_dir_all(root.join("etc/selinux")).expect("mkdir");
        std::fs::write(root.join("sys/fs/selinux/enforce"), "0").expect("write");
        std::fs::write(root.join("proc/self/attr/current"), "kernel\0").expect("write");
        let s = at(&root);
        assert!(!s.enabled());
        assert_eq!(s.current_mode(), PERMISSIVE);
        for (line, mode) in [
            ("SELINUX=enforcing", ENFORCING),
            ("SELINUX=permissive", PERMISSIVE),
            ("SELINUX=disabled", DISABLED),
            ("# SELINUX=enforcing", DISABLED),
        ] {
            std::fs::write(root.join("etc/selinux/config"), format!("{line}\n")).expect("write");
            assert_eq!(s.config_mode(), mode, "{line}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

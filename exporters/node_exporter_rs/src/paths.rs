//! The roots every collector reads under.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches, value_parser};

/// `--path.procfs`, `--path.sysfs`, `--path.rootfs`, `--path.udev.data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// procfs mount point, default `/proc`.
    pub procfs: PathBuf,
    /// sysfs mount point, default `/sys`.
    pub sysfs: PathBuf,
    /// The root of the host's file system, default `/`.
    pub rootfs: PathBuf,
    /// udev data directory, default `/run/udev/data`.
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

impl Paths {
    /// All four roots under one fixture directory: `DIR/proc`, `DIR/sys`, `DIR/` and
    /// `DIR/run/udev/data`.
    pub fn fixture(dir: &Path) -> Paths {
        Paths {
            procfs: dir.join("proc"),
            sysfs: dir.join("sys"),
            rootfs: dir.to_path_buf(),
            udev_data: dir.join("run/udev/data"),
        }
    }

    /// `<procfs>/<rel>`.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// `<sysfs>/<rel>`.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// A path as seen from the host root: `<rootfs>/<path without its leading />`.
    pub fn root(&self, path: &str) -> PathBuf {
        self.rootfs.join(path.trim_start_matches('/'))
    }

    /// The clap arguments, spelled as node_exporter's.
    pub fn args() -> Vec<Arg> {
        let path = |name: &'static str, default: &'static str, help: &'static str| {
            Arg::new(name)
                .long(name)
                .value_name("PATH")
                .value_parser(value_parser!(PathBuf))
                .default_value(default)
                .help(help)
        };
        vec![
            path("path.procfs", "/proc", "procfs mountpoint."),
            path("path.sysfs", "/sys", "sysfs mountpoint."),
            path("path.rootfs", "/", "rootfs mountpoint."),
            path("path.udev.data", "/run/udev/data", "udev data path."),
        ]
    }

    /// Reads the four roots from parsed arguments built with [`Paths::args`].
    pub fn from_matches(matches: &ArgMatches) -> Paths {
        let get = |name: &str, default: PathBuf| {
            matches.get_one::<PathBuf>(name).cloned().unwrap_or(default)
        };
        let d = Paths::default();
        Paths {
            procfs: get("path.procfs", d.procfs),
            sysfs: get("path.sysfs", d.sysfs),
            rootfs: get("path.rootfs", d.rootfs),
            udev_data: get("path.udev.data", d.udev_data),
        }
    }
}

//! `btrfs`: per-filesystem allocation statistics from `/sys/fs/btrfs/<uuid>/`, as
//! node_exporter's `btrfs_linux.go` over procfs's `btrfs.Stats`.
//!
//! node_exporter additionally asks mounted filesystems for per-device error counters
//! with btrfs ioctls (`node_btrfs_device_errors_total`, `node_btrfs_device_unused_bytes`
//! and a `btrfs_dev_uuid` label on `node_btrfs_device_size_bytes`). Those need `unsafe`
//! ioctl calls, which this workspace forbids, so this collector always reports what
//! node_exporter reports when the ioctls are unavailable (as for an unprivileged user):
//! `node_btrfs_device_size_bytes{device}` from sysfs. The crate README lists this as an
//! intended difference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_absent, is_not_found, list_dir};
use crate::util::read_string;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "btrfs",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Btrfs {
            dir: ctx.paths.sys("fs/btrfs"),
        }))
    },
};

/// Sysfs reports device sizes in 512-byte sectors.
const SECTOR_SIZE: u64 = 512;

#[derive(Debug)]
struct Btrfs {
    dir: PathBuf,
}

/// One layout (`single`, `dup`, `raid1`, ...) of a block group type.
#[derive(Debug, Default, PartialEq)]
struct Layout {
    total_bytes: u64,
    used_bytes: u64,
    ratio: f64,
}

#[derive(Debug, Default, PartialEq)]
struct Allocation {
    reserved_bytes: u64,
    layouts: BTreeMap<String, Layout>,
}

#[derive(Debug, Default, PartialEq)]
struct Stats {
    uuid: String,
    label: String,
    devices: BTreeMap<String, u64>,
    global_rsv_size: u64,
    data: Allocation,
    metadata: Allocation,
    system: Allocation,
}

/// procfs's sticky-error reader: a failed read records the error and later numeric reads
/// return 0; a missing file reads as empty. The error seen last decides the outcome.
struct Reader {
    path: PathBuf,
    err: Option<CollectorError>,
    dev_count: usize,
}

impl Reader {
    fn new(path: PathBuf, dev_count: usize) -> Self {
        Reader {
            path,
            err: None,
            dev_count,
        }
    }

    fn read_file(&mut self, name: &str) -> String {
        match read_string(&self.path.join(name)) {
            Ok(text) => text.trim().to_string(),
            Err(e) if is_not_found(&e) => String::new(),
            Err(e) => {
                self.err = Some(e);
                String::new()
            }
        }
    }

    fn read_value(&mut self, name: &str) -> u64 {
        let text = self.read_file(name);
        if self.err.is_some() {
            return 0;
        }
        text.parse().unwrap_or(0)
    }

    fn list_files(&mut self, rel: &str) -> Vec<String> {
        match list_dir(&self.path.join(rel)) {
            Ok(names) => names,
            Err(e) => {
                self.err = Some(e);
                Vec::new()
            }
        }
    }

    fn ratio(&self, layout: &str) -> f64 {
        let n = self.dev_count as f64;
        match layout {
            "single" | "raid0" => 1.0,
            "dup" | "raid1" | "raid10" => 2.0,
            "raid5" => n / (n - 1.0),
            "raid6" => n / (n - 2.0),
            _ => 0.0,
        }
    }

    fn allocation(&mut self, rel: &str) -> Allocation {
        let mut sub = Reader::new(self.path.join(rel), self.dev_count);
        let reserved_bytes = sub.read_value("bytes_reserved");
        let mut layouts = BTreeMap::new();
        match std::fs::read_dir(&sub.path) {
            Ok(entries) => {
                let mut dirs: Vec<String> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                dirs.sort();
                for dir in dirs {
                    let layout = Layout {
                        total_bytes: sub.read_value(&format!("{dir}/total_bytes")),
                        used_bytes: sub.read_value(&format!("{dir}/used_bytes")),
                        ratio: sub.ratio(&dir),
                    };
                    layouts.insert(dir, layout);
                }
            }
            Err(source) => {
                sub.err = Some(CollectorError::Io {
                    path: sub.path.clone(),
                    source,
                })
            }
        }
        // As procfs: the sub-reader's outcome replaces the parent's.
        self.err = sub.err;
        Allocation {
            reserved_bytes,
            layouts,
        }
    }
}

/// Reads one `/sys/fs/btrfs/<uuid>` directory.
fn read_stats(dir: &Path) -> Result<Stats, CollectorError> {
    let mut r = Reader::new(dir.to_path_buf(), 0);
    let mut devices = BTreeMap::new();
    for name in r.list_files("devices") {
        let size = r.read_value(&format!("devices/{name}/size"));
        devices.insert(name, SECTOR_SIZE.wrapping_mul(size));
    }
    r.dev_count = devices.len();
    let label = r.read_file("label");
    let mut uuid = r.read_file("metadata_uuid");
    r.list_files("features");
    for attr in [
        "clone_alignment",
        "nodesize",
        "quota_override",
        "sectorsize",
    ] {
        r.read_value(attr);
    }
    r.read_value("allocation/global_rsv_reserved");
    let global_rsv_size = r.read_value("allocation/global_rsv_size");
    let data = r.allocation("allocation/data");
    let metadata = r.allocation("allocation/metadata");
    let system = r.allocation("allocation/system");
    if let Some(e) = r.err {
        return Err(e);
    }
    if uuid.is_empty() {
        uuid = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    Ok(Stats {
        uuid,
        label,
        devices,
        global_rsv_size,
        data,
        metadata,
        system,
    })
}

fn emit(s: &Stats, f: &mut Families) {
    let uuid = s.uuid.as_str();
    f.gauge(
        "node_btrfs_info",
        "Filesystem information",
        &[("uuid", uuid), ("label", &s.label)],
        1.0,
    );
    f.gauge(
        "node_btrfs_global_rsv_size_bytes",
        "Size of global reserve.",
        &[("uuid", uuid)],
        s.global_rsv_size as f64,
    );
    for (kind, alloc) in [
        ("data", &s.data),
        ("metadata", &s.metadata),
        ("system", &s.system),
    ] {
        f.gauge(
            "node_btrfs_reserved_bytes",
            "Amount of space reserved for a data type",
            &[("uuid", uuid), ("block_group_type", kind)],
            alloc.reserved_bytes as f64,
        );
        for (mode, layout) in &alloc.layouts {
            let labels = [("uuid", uuid), ("block_group_type", kind), ("mode", mode)];
            f.gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                &labels,
                layout.used_bytes as f64,
            );
            f.gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                &labels,
                layout.total_bytes as f64,
            );
            f.gauge(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
                &labels,
                layout.ratio,
            );
        }
    }
    for (device, size) in &s.devices {
        f.gauge(
            "node_btrfs_device_size_bytes",
            "Size of a device that is part of the filesystem.",
            &[("uuid", uuid), ("device", device)],
            *size as f64,
        );
    }
}

impl Collector for Btrfs {
    fn name(&self) -> &str {
        "btrfs"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // Filesystems are the `*-*` entries (UUIDs); `features` is global.
        let entries = match list_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for entry in entries.iter().filter(|e| e.contains('-')) {
            let stats = read_stats(&self.dir.join(entry))?;
            emit(&stats, &mut f);
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid_ratios_follow_the_device_count() {
        let r = Reader::new(PathBuf::new(), 4);
        assert_eq!(r.ratio("single"), 1.0);
        assert_eq!(r.ratio("dup"), 2.0);
        assert_eq!(r.ratio("raid5"), 4.0 / 3.0);
        assert_eq!(r.ratio("raid6"), 2.0);
        assert_eq!(r.ratio("raid1c3"), 0.0);
    }

    #[test]
    fn a_filesystem_without_allocation_directories_fails() {
        let dir = std::env::temp_dir().join(format!("btrfs-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("devices")).expect("mkdir");
        std::fs::create_dir_all(dir.join("features")).expect("mkdir");
        assert!(read_stats(&dir).is_err());
        for kind in ["data", "metadata", "system"] {
            std::fs::create_dir_all(dir.join("allocation").join(kind)).expect("mkdir");
        }
        let stats = read_stats(&dir).expect("empty allocation directories read as zeros");
        assert!(stats.uuid.starts_with("btrfs-test-"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

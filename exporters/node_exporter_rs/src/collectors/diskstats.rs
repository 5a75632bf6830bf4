//! `diskstats`: per-device I/O counters from `/proc/diskstats`, with device identity from
//! udev's database (`<udev.data>/b<major>:<minor>`) as `node_disk_info`,
//! `node_disk_filesystem_info`, `node_disk_device_mapper_info` and the ATA gauges.
//!
//! As node_exporter 1.5 does, the udev properties are read whenever the udev data file
//! exists (a missing file only leaves those labels empty). The number of counters per
//! device follows the kernel's column count: 11 (before 4.18), 15 (discards), 17
//! (flushes, 5.5+).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::util::{DeviceFilter, Family, deprecated_arg, parse_error, read_string, value_arg};

const DEVICE_EXCLUDE_DEFAULT: &str = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
const SECTOR_SIZE: f64 = 512.0;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "diskstats",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Diskstats {
            path: ctx.paths.proc("diskstats"),
            udev: ctx.paths.udev_data.clone(),
            filter: DeviceFilter::from_args_with_aliases(
                ctx.matches,
                "collector.diskstats",
                None,
                Some("collector.diskstats.ignored-devices"),
            )?,
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![
        value_arg(
            "collector.diskstats.device-exclude",
            Some(DEVICE_EXCLUDE_DEFAULT),
            "Regexp of diskstats devices to exclude (mutually exclusive to device-include).",
        ),
        value_arg(
            "collector.diskstats.device-include",
            None,
            "Regexp of diskstats devices to include (mutually exclusive to device-exclude).",
        ),
        deprecated_arg(
            "collector.diskstats.ignored-devices",
            "DEPRECATED: Use collector.diskstats.device-exclude",
        ),
    ]
}

#[derive(Debug)]
struct Diskstats {
    path: PathBuf,
    udev: PathBuf,
    filter: DeviceFilter,
}

/// The counters in `/proc/diskstats` column order: name, HELP, counter?, scale.
const COUNTERS: [(&str, &str, bool, f64); 17] = [
    (
        "reads_completed_total",
        "The total number of reads completed successfully.",
        true,
        1.0,
    ),
    (
        "reads_merged_total",
        "The total number of reads merged.",
        true,
        1.0,
    ),
    (
        "read_bytes_total",
        "The total number of bytes read successfully.",
        true,
        SECTOR_SIZE,
    ),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        true,
        1.0,
    ),
    (
        "writes_merged_total",
        "The number of writes merged.",
        true,
        1.0,
    ),
    (
        "written_bytes_total",
        "The total number of bytes written successfully.",
        true,
        SECTOR_SIZE,
    ),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "io_now",
        "The number of I/Os currently in progress.",
        false,
        1.0,
    ),
    (
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "discards_completed_total",
        "The total number of discards completed successfully.",
        true,
        1.0,
    ),
    (
        "discards_merged_total",
        "The total number of discards merged.",
        true,
        1.0,
    ),
    (
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        true,
        1.0,
    ),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        true,
        1.0,
    ),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        true,
        SECONDS_PER_TICK,
    ),
];

/// The ATA gauges taken from udev properties.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

/// One line of `/proc/diskstats`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DiskLine {
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) device: String,
    /// The counters after the name (11, 15 or 17 of them).
    pub(crate) stats: Vec<u64>,
}

/// Parses `/proc/diskstats`.
pub(crate) fn parse_diskstats(path: &Path, text: &str) -> Result<Vec<DiskLine>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 14 {
            return Err(parse_error(path, format!("invalid line {line:?}")));
        }
        let bad = || parse_error(path, format!("invalid line {line:?}"));
        let stats = fields[3..]
            .iter()
            .map(|f| f.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(DiskLine {
            major: fields[0].parse().map_err(|_| bad())?,
            minor: fields[1].parse().map_err(|_| bad())?,
            device: fields[2].to_string(),
            stats,
        });
    }
    Ok(out)
}

/// The `E:KEY=VALUE` properties of a udev database file; empty when there is none.
pub(crate) fn udev_properties(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Collector for Diskstats {
    fn name(&self) -> &str {
        "diskstats"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let disks = parse_diskstats(&self.path, &text)?;
        let mut info = Family::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
        let mut counters: Vec<Family> = COUNTERS
            .iter()
            .map(|(name, help, counter, _)| {
                let name = format!("node_disk_{name}");
                if *counter {
                    Family::counter(name, *help)
                } else {
                    Family::gauge(name, *help)
                }
            })
            .collect();
        let mut fs_info = Family::gauge("node_disk_filesystem_info", "Info about disk filesystem.");
        let mut dm_info = Family::gauge(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
        );
        let mut ata: Vec<Family> = ATA
            .iter()
            .map(|(_, name, help)| Family::gauge(*name, *help))
            .collect();

        for disk in disks.iter().filter(|d| !self.filter.ignored(&d.device)) {
            let dev = disk.device.as_str();
            let props = udev_properties(&self.udev.join(format!("b{}:{}", disk.major, disk.minor)));
            let prop = |k: &str| props.get(k).map_or("", String::as_str);
            let serial = match prop("SCSI_IDENT_SERIAL") {
                "" => prop("ID_SERIAL_SHORT"),
                s => s,
            };
            let (major, minor) = (disk.major.to_string(), disk.minor.to_string());
            info.add(
                &[
                    ("device", dev),
                    ("major", &major),
                    ("minor", &minor),
                    ("path", prop("ID_PATH")),
                    ("wwn", prop("ID_WWN")),
                    ("model", prop("ID_MODEL")),
                    ("serial", serial),
                    ("revision", prop("ID_REVISION")),
                ],
                1.0,
            );
            for ((family, (_, _, _, scale)), value) in
                counters.iter_mut().zip(COUNTERS.iter()).zip(&disk.stats)
            {
                family.add(&[("device", dev)], *value as f64 * scale);
            }
            if !prop("ID_FS_TYPE").is_empty() {
                fs_info.add(
                    &[
                        ("device", dev),
                        ("type", prop("ID_FS_TYPE")),
                        ("usage", prop("ID_FS_USAGE")),
                        ("uuid", prop("ID_FS_UUID")),
                        ("version", prop("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            if !prop("DM_NAME").is_empty() {
                dm_info.add(
                    &[
                        ("device", dev),
                        ("name", prop("DM_NAME")),
                        ("uuid", prop("DM_UUID")),
                        ("vg_name", prop("DM_VG_NAME")),
                        ("lv_name", prop("DM_LV_NAME")),
                        ("lv_layer", prop("DM_LV_LAYER")),
                    ],
                    1.0,
                );
            }
            if !prop("ID_ATA").is_empty() {
                for (family, (key, _, _)) in ata.iter_mut().zip(ATA.iter()) {
                    if let Some(Ok(v)) = props.get(*key).map(|v| v.parse::<f64>()) {
                        family.add(&[("device", dev)], v);
                    }
                }
            }
        }
        info.push_to(out);
        for family in counters {
            family.push_to(out);
        }
        fs_info.push_to(out);
        dm_info.push_to(out);
        for family in ata {
            family.push_to(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_counts_follow_the_kernel_version() {
        let text = "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n\
                    8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
        let disks = parse_diskstats(Path::new("d"), text).unwrap();
        assert_eq!(disks[0].stats.len(), 11);
        assert_eq!(disks[1].stats.len(), 17);
        assert_eq!((disks[1].major, disks[1].minor), (8, 16));
        assert!(parse_diskstats(Path::new("d"), "8 0 sda 1 2\n").is_err());
        assert!(parse_diskstats(Path::new("d"), "8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n").is_err());
    }

    #[test]
    fn default_exclude_drops_partitions_but_keeps_whole_disks() {
        let re = regex::Regex::new(DEVICE_EXCLUDE_DEFAULT).unwrap();
        for dev in ["sda1", "nvme0n1p2", "loop0", "ram0", "vdb3", "fd0"] {
            assert!(re.is_match(dev), "{dev}");
        }
        for dev in ["sda", "nvme0n1", "dm-0", "vda", "md0", "zram0"] {
            assert!(!re.is_match(dev), "{dev}");
        }
    }
}

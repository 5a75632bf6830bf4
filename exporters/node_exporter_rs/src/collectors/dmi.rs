//! `dmi`: `node_dmi_info`, labelled with the firmware's DMI strings from
//! `/sys/class/dmi/id`, as node_exporter's `dmi.go`. Like upstream, the strings are read
//! once when the collector is built (they cannot change before a reboot); attributes
//! only root may read are left out for other users.

use std::path::Path;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found, list_dir};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "dmi",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        let labels = read_dmi(&ctx.paths.sys("class/dmi/id")).map_err(|e| {
            format!("failed to read Desktop Management Interface (DMI) information: {e}")
        })?;
        Ok(Box::new(Dmi { labels }))
    },
};

/// (label, sysfs attribute), in label order.
const ATTRIBUTES: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("system_vendor", "sys_vendor"),
];

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.";

/// The labels present on this host; a missing `/sys/class/dmi/id` gives none.
fn read_dmi(dir: &Path) -> Result<Vec<(&'static str, String)>, CollectorError> {
    let files = match list_dir(dir) {
        Ok(files) => files,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut labels = Vec::new();
    for (label, attr) in ATTRIBUTES {
        if !files.iter().any(|f| f == attr) {
            continue;
        }
        let path = dir.join(attr);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            continue;
        }
        match std::fs::read(&path) {
            Ok(raw) => labels.push((label, String::from_utf8_lossy(&raw).trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(source) => return Err(CollectorError::Io { path, source }),
        }
    }
    Ok(labels)
}

#[derive(Debug)]
struct Dmi {
    labels: Vec<(&'static str, String)>,
}

impl Collector for Dmi {
    fn name(&self) -> &str {
        "dmi"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if self.labels.is_empty() {
            return Err(CollectorError::NoData);
        }
        let labels: Vec<(&str, &str)> = self.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut f = Families::new();
        f.gauge("node_dmi_info", HELP, &labels, 1.0);
        f.push_to(out);
        Ok(())
    }
}

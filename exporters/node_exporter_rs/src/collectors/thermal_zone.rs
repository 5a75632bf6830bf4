//! `thermal_zone`: `/sys/class/thermal/thermal_zone*` temperatures and the
//! `cooling_device*` throttle states, as node_exporter's `thermal_zone_linux.go` (through
//! procfs's `ClassThermalZoneStats` and `ClassCoolingDeviceStats`).

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_absent, list_prefixed, optional, read_i64, read_trim};
use crate::util::parse_error;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "thermal_zone",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(ThermalZone {
            class: ctx.paths.sys("class/thermal"),
        }))
    },
};

#[derive(Debug)]
struct ThermalZone {
    class: PathBuf,
}

struct Zone {
    name: String,
    kind: String,
    temp: i64,
}

struct Cooling {
    name: String,
    kind: String,
    max_state: i64,
    cur_state: i64,
}

impl ThermalZone {
    fn zones(&self) -> Result<Vec<Zone>, CollectorError> {
        let mut zones = Vec::new();
        for entry in list_or_empty(&self.class, "thermal_zone")? {
            let dir = self.class.join(&entry);
            match parse_zone(&dir) {
                Ok(Some(mut zone)) => {
                    zone.name = entry.trim_start_matches("thermal_zone").to_string();
                    zones.push(zone);
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(zones)
    }

    fn cooling_devices(&self) -> Result<Vec<Cooling>, CollectorError> {
        let mut devices = Vec::new();
        for entry in list_or_empty(&self.class, "cooling_device")? {
            let dir = self.class.join(&entry);
            let int = |attr: &str| -> Result<i64, CollectorError> { read_i64(&dir.join(attr)) };
            devices.push(Cooling {
                name: entry.trim_start_matches("cooling_device").to_string(),
                kind: read_trim(&dir.join("type"))?,
                max_state: int("max_state")?,
                cur_state: int("cur_state")?,
            });
        }
        Ok(devices)
    }
}

/// A glob over a missing directory matches nothing, as Go's `filepath.Glob`.
fn list_or_empty(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectorError> {
    match list_prefixed(dir, prefix) {
        Err(e) if is_absent(&e) => Ok(Vec::new()),
        other => other,
    }
}

/// One zone; `None` for a zone whose sensor answers ENODATA (skipped upstream).
fn parse_zone(dir: &Path) -> Result<Option<Zone>, CollectorError> {
    let enodata = |e: &CollectorError| matches!(e, CollectorError::Io { source, .. } if source.raw_os_error() == Some(61));
    let kind = read_trim(&dir.join("type"))?;
    read_trim(&dir.join("policy"))?;
    let temp = match read_i64(&dir.join("temp")) {
        Ok(t) => t,
        Err(e) if enodata(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Optional attributes are still parsed, so a malformed one fails as upstream.
    optional(read_trim(&dir.join("mode")))?;
    if let Some(passive) = optional(read_trim(&dir.join("passive")))? {
        passive
            .parse::<u64>()
            .map_err(|_| parse_error(&dir.join("passive"), "not an unsigned integer"))?;
    }
    Ok(Some(Zone {
        name: String::new(),
        kind,
        temp,
    }))
}

impl Collector for ThermalZone {
    fn name(&self) -> &str {
        "thermal_zone"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // A missing class directory is no zone at all (a glob matching nothing), not an
        // error; a zone missing a required attribute fails the update, as upstream.
        let zones = self.zones()?;
        let mut families = Families::new();
        for zone in &zones {
            families.gauge(
                "node_thermal_zone_temp",
                "Zone temperature in Celsius",
                &[("zone", &zone.name), ("type", &zone.kind)],
                zone.temp as f64 / 1000.0,
            );
        }
        let devices = self.cooling_devices()?;
        for dev in &devices {
            let labels = [("name", dev.name.as_str()), ("type", dev.kind.as_str())];
            families.gauge(
                "node_cooling_device_cur_state",
                "Current throttle state of the cooling device",
                &labels,
                dev.cur_state as f64,
            );
            // node_exporter 1.5 reports a disabled device's max_state of -1 as is.
            families.gauge(
                "node_cooling_device_max_state",
                "Maximum throttle state of the cooling device",
                &labels,
                dev.max_state as f64,
            );
        }
        families.push_to(out);
        Ok(())
    }
}

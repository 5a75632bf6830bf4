//! `powersupplyclass`: batteries and mains adapters under `/sys/class/power_supply`, as
//! node_exporter's `powersupplyclass_linux.go` over procfs's `PowerSupplyClass`:
//! `node_power_supply_<attribute>{power_supply}` gauges (micro-units scaled to base
//! units, tenths of a degree to degrees) and `node_power_supply_info` with the text
//! attributes as labels. `--collector.powersupply.ignored-supplies` drops supplies by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::sysfs::{Families, is_not_found, list_dir, parse_go_int, regex_arg, regex_value};
use crate::util::parse_error;

const IGNORED: &str = "collector.powersupply.ignored-supplies";

fn args() -> Vec<Arg> {
    vec![regex_arg(
        IGNORED,
        "^$",
        "Regexp of power supplies to ignore for powersupplyclass collector.",
    )]
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "powersupplyclass",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(PowerSupplyClass {
            class: ctx.paths.sys("class/power_supply"),
            ignored: regex_value(ctx.matches, IGNORED)?,
        }))
    },
};

/// (metric name, sysfs attribute, divisor).
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cyclecount", "cycle_count", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_seconds", "time_to_empty_now", 1.0),
    ("time_to_full_seconds", "time_to_full_now", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_ampere", "current_now", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_watthour", "energy_now", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_volt", "voltage_now", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_ampere", "charge_now", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_watt", "power_now", 1e6),
    ("temp_celsius", "temp", 10.0),
    ("temp_alert_max_celsius", "temp_alert_max", 10.0),
    ("temp_alert_min_celsius", "temp_alert_min", 10.0),
    ("temp_ambient_celsius", "temp_ambient", 10.0),
    ("temp_ambient_max_celsius", "temp_ambient_max", 10.0),
    ("temp_ambient_min_celsius", "temp_ambient_min", 10.0),
    ("temp_max_celsius", "temp_max", 10.0),
    ("temp_min_celsius", "temp_min", 10.0),
];

/// Integer attributes procfs parses (and fails on) even when no metric reports them.
const PARSED_ONLY: [&str; 6] = [
    "charge_avg",
    "current_avg",
    "energy_avg",
    "power_avg",
    "time_to_empty_avg",
    "time_to_full_avg",
];

/// Text attributes reported as `node_power_supply_info` labels.
const TEXT: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

#[derive(Debug)]
struct PowerSupplyClass {
    class: PathBuf,
    ignored: Regex,
}

/// The integer and the text attributes of one supply.
type Attributes = (BTreeMap<String, i64>, BTreeMap<String, String>);

/// The integer and text attributes of one supply directory.
fn read_supply(dir: &Path) -> Result<Attributes, CollectorError> {
    let mut ints = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for name in list_dir(dir)? {
        let path = dir.join(&name);
        let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if !is_file {
            continue;
        }
        let value = match std::fs::read(&path) {
            Ok(raw) => String::from_utf8_lossy(&raw).trim().to_string(),
            // Attributes a driver declares but cannot answer are skipped.
            Err(e) if matches!(e.raw_os_error(), Some(2 | 22 | 95)) => continue,
            Err(source) => return Err(CollectorError::Io { path, source }),
        };
        let numeric = NUMERIC.iter().any(|(_, attr, _)| *attr == name)
            || PARSED_ONLY.contains(&name.as_str());
        if numeric {
            let v = parse_go_int(&value)
                .ok_or_else(|| parse_error(&path, format!("{value:?} is not an integer")))?;
            ints.insert(name, v);
        } else if TEXT.contains(&name.as_str()) {
            texts.insert(name, value);
        }
    }
    Ok((ints, texts))
}

impl Collector for PowerSupplyClass {
    fn name(&self) -> &str {
        "powersupplyclass"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let supplies = match list_dir(&self.class) {
            Ok(s) => s,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut read = Vec::new();
        for supply in supplies {
            // Every supply is read (and may fail the update) before the filter applies.
            let attrs = read_supply(&self.class.join(&supply))?;
            if !self.ignored.is_match(&supply) {
                read.push((supply, attrs));
            }
        }
        let mut f = Families::new();
        for (supply, (ints, texts)) in &read {
            for (metric, attr, divisor) in NUMERIC {
                if let Some(v) = ints.get(attr) {
                    f.gauge(
                        &format!("node_power_supply_{metric}"),
                        &format!("{metric} value of /sys/class/power_supply/<power_supply>."),
                        &[("power_supply", supply)],
                        *v as f64 / divisor,
                    );
                }
            }
            let mut labels: Vec<(&str, &str)> = vec![("power_supply", supply)];
            labels.extend(
                texts
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            f.gauge(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
                &labels,
                1.0,
            );
        }
        f.push_to(out);
        Ok(())
    }
}

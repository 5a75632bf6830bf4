//! `hwmon`: the sensors under `/sys/class/hwmon/hwmon*` (and their `device/` directory),
//! as node_exporter's `hwmon_linux.go`: one family per sensor type and property
//! (`node_hwmon_temp_celsius`, `node_hwmon_fan_rpm`, `node_hwmon_in_min_volts`, ...),
//! labelled `chip` (a stable name derived from the device path) and `sensor` (`temp1`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::sysfs::{Families, is_not_found, list_dir};

const CHIP_INCLUDE: &str = "collector.hwmon.chip-include";
const CHIP_EXCLUDE: &str = "collector.hwmon.chip-exclude";

/// The chip filters of later node_exporter releases (1.6+); unset, every chip is read
/// as in 1.5.
fn args() -> Vec<Arg> {
    vec![
        Arg::new(CHIP_INCLUDE)
            .long(CHIP_INCLUDE)
            .value_name("REGEX")
            .help("Regexp of hwmon chip to include (mutually exclusive to device-exclude)."),
        Arg::new(CHIP_EXCLUDE)
            .long(CHIP_EXCLUDE)
            .value_name("REGEX")
            .help("Regexp of hwmon chip to exclude (mutually exclusive to device-include)."),
    ]
}

fn optional_regex(matches: &clap::ArgMatches, name: &str) -> Result<Option<Regex>, String> {
    match matches.get_one::<String>(name) {
        Some(p) if !p.is_empty() => Regex::new(p)
            .map(Some)
            .map_err(|e| format!("--{name}: {e}")),
        _ => Ok(None),
    }
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "hwmon",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Hwmon {
            class: ctx.paths.sys("class/hwmon"),
            include: optional_regex(ctx.matches, CHIP_INCLUDE)?,
            exclude: optional_regex(ctx.matches, CHIP_EXCLUDE)?,
        }))
    },
};

/// The sensor types node_exporter reads; other files are ignored.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

#[derive(Debug)]
struct Hwmon {
    class: PathBuf,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Hwmon {
    /// Whether the chip filters drop this chip (upstream's `deviceFilter.ignored`).
    fn ignored(&self, chip: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(chip))
            || self.include.as_ref().is_some_and(|r| !r.is_match(chip))
    }
}

/// Sensor (`temp1`) -> property (`input`, `max`, `` for a bare `pwm1`) -> raw value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

impl Collector for Hwmon {
    fn name(&self) -> &str {
        "hwmon"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let entries = match list_dir(&self.class) {
            Ok(entries) => entries,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut families = Families::new();
        let mut last_err = None;
        for entry in entries {
            let dir = self.class.join(&entry);
            // Follows the class symlink; anything that is not a directory is skipped.
            if !dir.is_dir() {
                continue;
            }
            if let Err(e) = update_chip(&dir, &mut families, |chip| self.ignored(chip)) {
                last_err = Some(e);
            }
        }
        // As upstream, a chip that fails does not stop the others, but fails the update.
        if let Some(e) = last_err {
            return Err(e);
        }
        families.push_to(out);
        Ok(())
    }
}

/// Lower case, characters outside `[a-z0-9:_]` as `_`, leading and trailing `_` trimmed.
pub(crate) fn clean_name(raw: &str) -> String {
    let lowered: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lowered.trim_matches('_').to_string()
}

/// The `chip` label: `<device type>_<device name>` from the `device` link's target,
/// else the cleaned `name` file, else the directory's own name.
fn chip_name(dir: &Path) -> Result<String, CollectorError> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let dev_name = device
            .file_name()
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        let dev_type = device
            .parent()
            .and_then(Path::file_name)
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        if !dev_type.is_empty() && !dev_name.is_empty() {
            return Ok(format!("{dev_type}_{dev_name}"));
        }
        if !dev_name.is_empty() {
            return Ok(dev_name);
        }
    }
    if let Some(name) = human_chip_name(dir) {
        return Ok(name);
    }
    let real = std::fs::canonicalize(dir).map_err(|source| CollectorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = real
        .file_name()
        .map(|n| clean_name(&n.to_string_lossy()))
        .unwrap_or_default();
    if name.is_empty() {
        return Err(crate::util::parse_error(
            dir,
            "could not derive a monitoring name",
        ));
    }
    Ok(name)
}

/// The cleaned contents of the chip's `name` file, if any.
fn human_chip_name(dir: &Path) -> Option<String> {
    let raw = std::fs::read_to_string(dir.join("name")).ok()?;
    let name = clean_name(&raw);
    (!name.is_empty()).then_some(name)
}

/// Splits `temp1_crit_alarm` into (`temp`, 1, `crit_alarm`), as upstream's
/// `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$`.
pub(crate) fn explode_sensor_filename(name: &str) -> Option<(&str, u64, &str)> {
    let type_end = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    if type_end == 0 {
        return None;
    }
    let (sensor_type, rest) = name.split_at(type_end);
    let id_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (id, rest) = rest.split_at(id_end);
    if !rest.is_empty() && !rest.starts_with('_') {
        return None;
    }
    let property = rest.strip_prefix('_').unwrap_or("");
    if rest == "_" {
        // `(_(?P<property>.+))?` needs at least one character after `_`; the type group
        // cannot take the `_` either when digits came before it.
        return None;
    }
    // The type is greedy over non-digits, so a digit-free name is all type: `beep_enable`.
    let id = if id.is_empty() { 0 } else { id.parse().ok()? };
    Some((sensor_type, id, property))
}

/// Reads the sensor files of one directory into `data`.
fn collect_sensor_data(dir: &Path, data: &mut SensorData) -> Result<(), CollectorError> {
    for file in list_dir(dir)? {
        let Some((sensor_type, id, property)) = explode_sensor_filename(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&sensor_type) {
            continue;
        }
        // Unreadable attributes (write-only, directories, EAGAIN from broken drivers) are
        // skipped as upstream does.
        let Ok(raw) = std::fs::read(dir.join(&file)) else {
            continue;
        };
        let raw = String::from_utf8_lossy(&raw);
        data.entry(format!("{sensor_type}{id}"))
            .or_default()
            .insert(property.to_string(), raw.trim_matches('\n').to_string());
    }
    Ok(())
}

fn update_chip(
    dir: &Path,
    families: &mut Families,
    ignored: impl Fn(&str) -> bool,
) -> Result<(), CollectorError> {
    let chip = chip_name(dir)?;
    if ignored(&chip) {
        return Ok(());
    }
    let mut data = SensorData::new();
    collect_sensor_data(dir, &mut data)?;
    let device = dir.join("device");
    if device.exists() {
        collect_sensor_data(&device, &mut data)?;
    }
    if let Some(human) = human_chip_name(dir) {
        families.gauge(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            &[("chip", &chip), ("chip_name", &human)],
            1.0,
        );
    }
    for (sensor, props) in &data {
        let Some((sensor_type, _, _)) = explode_sensor_filename(sensor) else {
            continue;
        };
        emit_sensor(families, &chip, sensor, sensor_type, props);
    }
    Ok(())
}

fn emit_sensor(
    families: &mut Families,
    chip: &str,
    sensor: &str,
    sensor_type: &str,
    props: &BTreeMap<String, String>,
) {
    let labels = [("chip", chip), ("sensor", sensor)];
    if let Some(label) = props.get("label") {
        families.gauge(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            &[("chip", chip), ("sensor", sensor), ("label", label)],
            1.0,
        );
    }
    let bare = props.get("").map(String::as_str);
    match sensor_type {
        "beep_enable" => {
            let value = if bare == Some("1") { 1.0 } else { 0.0 };
            families.gauge(
                "node_hwmon_beep_enabled",
                "Hardware beep enabled",
                &labels,
                value,
            );
            return;
        }
        "vrm" => {
            if let Some(v) = bare.and_then(|b| b.parse::<f64>().ok()) {
                families.gauge(
                    "node_hwmon_voltage_regulator_version",
                    "Hardware voltage regulator",
                    &labels,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = bare.and_then(|b| b.parse::<f64>().ok()) {
                families.gauge(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    &labels,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{sensor_type}");
    for (element, raw) in props {
        if element == "label" {
            continue;
        }
        let mut name = prefix.clone();
        if element == "input" {
            // `input` is the value itself unless a bare file also exists.
            if bare.is_some() {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_name(element));
        }
        let Ok(value) = raw.trim().parse::<f64>() else {
            continue;
        };
        emit_element(
            families,
            &labels,
            &name,
            sensor_type,
            element.as_str(),
            value,
        );
    }
}

fn emit_element(
    families: &mut Families,
    labels: &[(&str, &str)],
    name: &str,
    sensor_type: &str,
    element: &str,
    value: f64,
) {
    if element == "fault" || element == "alarm" {
        let help = format!("Hardware sensor {element} status ({sensor_type})");
        families.gauge(name, &help, labels, value);
        return;
    }
    if element == "beep" {
        let help = "Hardware monitor sensor has beeping enabled";
        families.gauge(&format!("{name}_enabled"), help, labels, value);
        return;
    }
    let (suffix, help, value, counter) = match (sensor_type, element) {
        ("in" | "cpu", _) => (
            "_volts",
            format!("Hardware monitor for voltage ({element})"),
            value * 0.001,
            false,
        ),
        ("temp", e) if e != "type" => {
            let e = if e.is_empty() { "input" } else { e };
            (
                "_celsius",
                format!("Hardware monitor for temperature ({e})"),
                value * 0.001,
                false,
            )
        }
        ("curr", _) => (
            "_amps",
            format!("Hardware monitor for current ({element})"),
            value * 0.001,
            false,
        ),
        ("energy", _) => (
            "_joule_total",
            format!("Hardware monitor for joules used so far ({element})"),
            value / 1_000_000.0,
            true,
        ),
        ("power", "accuracy") => (
            "",
            "Hardware monitor power meter accuracy, as a ratio".to_string(),
            value / 1_000_000.0,
            false,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
            "_seconds",
            format!("Hardware monitor power usage update interval ({element})"),
            value * 0.001,
            false,
        ),
        ("power", _) => (
            "_watt",
            format!("Hardware monitor for power usage in watts ({element})"),
            value / 1_000_000.0,
            false,
        ),
        ("humidity", _) => (
            "",
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            ),
            value / 1_000_000.0,
            false,
        ),
        ("fan", "input" | "min" | "max" | "target") => (
            "_rpm",
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            value,
            false,
        ),
        _ => (
            "",
            format!("Hardware monitor {sensor_type} element {element}"),
            value,
            false,
        ),
    };
    let name = format!("{name}{suffix}");
    if counter {
        families.counter(&name, &help, labels, value);
    } else {
        families.gauge(&name, &help, labels, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_file_names_split_as_upstream() {
        assert_eq!(
            explode_sensor_filename("temp1_input"),
            Some(("temp", 1, "input"))
        );
        assert_eq!(
            explode_sensor_filename("temp12_crit_alarm"),
            Some(("temp", 12, "crit_alarm"))
        );
        assert_eq!(explode_sensor_filename("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(
            explode_sensor_filename("beep_enable"),
            Some(("beep_enable", 0, ""))
        );
        assert_eq!(explode_sensor_filename("in0_min"), Some(("in", 0, "min")));
        assert_eq!(explode_sensor_filename("1abc"), None);
        assert_eq!(explode_sensor_filename("fan1x"), None);
    }

    #[test]
    fn chip_filters_select_chips_by_their_label() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hwmon");
        let chips = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
            let collector = super::super::build_one("hwmon", &crate::Paths::fixture(&dir), &args)
                .expect("builds");
            let mut out = Vec::new();
            collector.update(&mut out).expect("updates");
            let mut chips: Vec<String> = out
                .iter()
                .flat_map(|f| f.metrics.iter())
                .filter_map(|m| {
                    m.labels
                        .iter()
                        .find(|(k, _)| k == "chip")
                        .map(|(_, v)| v.clone())
                })
                .collect();
            chips.sort();
            chips.dedup();
            chips
        };
        assert_eq!(chips(&[]).len(), 5);
        assert_eq!(
            chips(&["--collector.hwmon.chip-include=^platform_"]),
            ["platform_coretemp_0", "platform_nct6775_656"]
        );
        assert_eq!(
            chips(&["--collector.hwmon.chip-exclude=^platform_"]).len(),
            3
        );
        assert!(
            super::super::build_one(
                "hwmon",
                &crate::Paths::fixture(&dir),
                &["--collector.hwmon.chip-include=(".into()]
            )
            .is_err()
        );
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("Package id 0\n"), "package_id_0");
        assert_eq!(clean_name("coretemp.0"), "coretemp_0");
        assert_eq!(clean_name("-ACPI000D:00-"), "acpi000d:00");
    }

    proptest::proptest! {
        #[test]
        fn any_file_name_splits_or_is_skipped_without_panicking(s in "\\PC{0,24}") {
            let _ = explode_sensor_filename(&s);
            let _ = clean_name(&s);
        }
    }
}

//! `rapl`: Intel/AMD RAPL energy counters from `/sys/class/powercap/*/energy_uj`, as
//! node_exporter's `rapl_linux.go` over procfs's `GetRaplZones`: one counter family per
//! zone name (`node_rapl_package_joules_total{index,path}`), or with
//! `--collector.rapl.enable-zone-label` one `node_rapl_joules_total` family with a
//! `rapl_zone` label. The `path` label is the zone directory under `--path.sysfs`, as
//! upstream reports it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::sysfs::{Families, is_absent, list_dir, read_u64};

const ZONE_LABEL: &str = "collector.rapl.enable-zone-label";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(ZONE_LABEL)
            .long(ZONE_LABEL)
            .action(ArgAction::SetTrue)
            // Upstream's help text for this flag, copied as is.
            .help("Enables service unit metric unit_start_time_seconds"),
    ]
}

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "rapl",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Rapl {
            dir: ctx.paths.sys("class/powercap"),
            zone_label: ctx.matches.get_flag(ZONE_LABEL),
        }))
    },
};

#[derive(Debug)]
struct Rapl {
    dir: PathBuf,
    zone_label: bool,
}

/// One RAPL zone: its name (`package`, `core`, `dram`, ...), index among zones of that
/// name, and directory.
#[derive(Debug, PartialEq)]
struct Zone {
    name: String,
    index: i64,
    path: PathBuf,
}

/// `package-1` names its own index; other names are numbered in order of appearance.
fn index_and_name(seen: &HashMap<String, i64>, name: &str) -> (i64, String) {
    let parts: Vec<&str> = name.split('-').collect();
    if let [base, index] = parts.as_slice()
        && let Ok(index) = index.parse::<i64>()
    {
        return (index, (*base).to_string());
    }
    (seen.get(name).copied().unwrap_or(0), name.to_string())
}

fn zones(dir: &Path) -> Result<Vec<Zone>, CollectorError> {
    let mut seen = HashMap::new();
    let mut zones = Vec::new();
    for entry in list_dir(dir)? {
        let zone_dir = dir.join(&entry);
        let Ok(raw) = std::fs::read_to_string(zone_dir.join("name")) else {
            continue;
        };
        let (index, name) = index_and_name(&seen, raw.trim());
        read_u64(&zone_dir.join("max_energy_range_uj"))?;
        seen.insert(name.clone(), index.wrapping_add(1));
        zones.push(Zone {
            name,
            index,
            path: zone_dir,
        });
    }
    Ok(zones)
}

/// node_exporter's `SanitizeMetricName`: runs of characters outside `[0-9A-Za-z_]`,
/// with the underscores around them, become one `_`.
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            continue;
        }
        // Collect a run of `_` and invalid characters; it is replaced only if it holds
        // at least one invalid character.
        let mut run = String::from(c);
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() {
                break;
            }
            run.push(n);
            chars.next();
        }
        if run.chars().all(|r| r == '_') {
            out.push_str(&run);
        } else {
            out.push('_');
        }
    }
    out
}

impl Collector for Rapl {
    fn name(&self) -> &str {
        "rapl"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let zones = match zones(&self.dir) {
            Ok(z) => z,
            // No powercap class, or not readable: nothing to report.
            Err(e) if is_absent(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for zone in &zones {
            let micro = match read_u64(&zone.path.join("energy_uj")) {
                Ok(v) => v,
                Err(CollectorError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    return Err(CollectorError::NoData);
                }
                Err(e) => return Err(e),
            };
            let joules = micro as f64 / 1_000_000.0;
            let index = zone.index.to_string();
            let path = zone.path.display().to_string();
            if self.zone_label {
                f.counter(
                    "node_rapl_joules_total",
                    "Current RAPL value in joules",
                    &[
                        ("index", &index),
                        ("path", &path),
                        ("rapl_zone", &zone.name),
                    ],
                    joules,
                );
            } else {
                f.counter(
                    &format!("node_rapl_{}_joules_total", sanitize(&zone.name)),
                    &format!("Current RAPL {} value in joules", zone.name),
                    &[("index", &index), ("path", &path)],
                    joules,
                );
            }
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_come_from_the_name_or_the_order_of_appearance() {
        let mut seen = HashMap::new();
        assert_eq!(
            index_and_name(&seen, "package-1"),
            (1, "package".to_string())
        );
        assert_eq!(index_and_name(&seen, "core"), (0, "core".to_string()));
        seen.insert("core".to_string(), 1);
        assert_eq!(index_and_name(&seen, "core"), (1, "core".to_string()));
        assert_eq!(index_and_name(&seen, "a-b-c"), (0, "a-b-c".to_string()));
    }

    #[test]
    fn zone_label_flag_folds_zones_into_one_family() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_with_paths/rapl");
        let paths = crate::Paths::fixture(&dir);
        let collector = super::super::build_one(
            "rapl",
            &paths,
            &["--collector.rapl.enable-zone-label".into()],
        )
        .expect("builds");
        let mut out = Vec::new();
        collector.update(&mut out).expect("updates");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "node_rapl_joules_total");
        assert_eq!(out[0].help, "Current RAPL value in joules");
        assert_eq!(out[0].metrics.len(), 8);
        let labels: Vec<&str> = out[0].metrics[0]
            .labels
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(labels, ["index", "path", "rapl_zone"]);
    }

    #[test]
    fn names_are_sanitized_as_upstream() {
        assert_eq!(sanitize("package_joules_total"), "package_joules_total");
        assert_eq!(sanitize("psys-x_joules_total"), "psys_x_joules_total");
        assert_eq!(sanitize("a_-_b"), "a_b");
        assert_eq!(sanitize("dram__x"), "dram__x");
    }
}

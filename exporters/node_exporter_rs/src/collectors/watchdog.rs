//! `watchdog`: hardware watchdog state from `/sys/class/watchdog/<name>/`, as
//! node_exporter's `watchdog.go` (added after 1.5, enabled by default there) over
//! procfs's `WatchdogClass`: one gauge per numeric attribute present and
//! `node_watchdog_info` with the text attributes as labels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, list_dir, parse_go_int, read_trim};
use crate::util::parse_error;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "watchdog",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Watchdog {
            class: ctx.paths.sys("class/watchdog"),
        }))
    },
};

/// (attribute, metric name after `node_watchdog_`), numeric attributes in report order.
const NUMERIC: [(&str, &str); 7] = [
    ("bootstatus", "bootstatus"),
    ("fw_version", "fw_version"),
    ("nowayout", "nowayout"),
    ("timeleft", "timeleft_seconds"),
    ("timeout", "timeout_seconds"),
    ("pretimeout", "pretimeout_seconds"),
    ("access_cs0", "access_cs0"),
];

/// Text attributes, reported as `node_watchdog_info` labels (empty when absent).
const TEXT: [&str; 5] = [
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

#[derive(Debug)]
struct Watchdog {
    class: PathBuf,
}

struct Device {
    name: String,
    numbers: BTreeMap<&'static str, i64>,
    texts: BTreeMap<&'static str, String>,
}

fn read_device(dir: &Path, name: &str) -> Result<Device, CollectorError> {
    let mut numbers = BTreeMap::new();
    let mut texts = BTreeMap::new();
    let attrs = NUMERIC.iter().map(|(a, _)| *a).chain(TEXT);
    for attr in attrs {
        let path = dir.join(attr);
        let value = match read_trim(&path) {
            Ok(v) => v,
            Err(CollectorError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        if TEXT.contains(&attr) {
            texts.insert(attr, value);
        } else {
            let v = parse_go_int(&value)
                .ok_or_else(|| parse_error(&path, format!("{value:?} is not an integer")))?;
            numbers.insert(attr, v);
        }
    }
    Ok(Device {
        name: name.to_string(),
        numbers,
        texts,
    })
}

/// Errors upstream treats as "no watchdog information here".
fn is_no_data(e: &CollectorError) -> bool {
    match e {
        CollectorError::Io { source, .. } => {
            matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) || source.raw_os_error() == Some(22)
        }
        _ => false,
    }
}

impl Collector for Watchdog {
    fn name(&self) -> &str {
        "watchdog"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let read = || -> Result<Vec<Device>, CollectorError> {
            let mut devices = Vec::new();
            for name in list_dir(&self.class)? {
                devices.push(read_device(&self.class.join(&name), &name)?);
            }
            Ok(devices)
        };
        let devices = match read() {
            Ok(d) => d,
            Err(e) if is_no_data(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for d in &devices {
            let labels = [("name", d.name.as_str())];
            for (attr, metric) in NUMERIC {
                if let Some(v) = d.numbers.get(attr) {
                    f.gauge(
                        &format!("node_watchdog_{metric}"),
                        &format!("Value of /sys/class/watchdog/<watchdog>/{attr}"),
                        &labels,
                        *v as f64,
                    );
                }
            }
            let text = |k: &str| d.texts.get(k).map(String::as_str).unwrap_or("");
            f.gauge(
                "node_watchdog_info",
                "Info of /sys/class/watchdog/<watchdog>",
                &[
                    ("name", d.name.as_str()),
                    ("options", text("options")),
                    ("identity", text("identity")),
                    ("state", text("state")),
                    ("status", text("status")),
                    ("pretimeout_governor", text("pretimeout_governor")),
                ],
                1.0,
            );
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_number_fails_and_a_missing_class_is_no_data() {
        let root = std::env::temp_dir().join(format!("watchdog-{}", std::process::id()));
        let w = Watchdog {
            class: root.join("class/watchdog"),
        };
        let mut out = Vec::new();
        assert!(matches!(w.update(&mut out), Err(CollectorError::NoData)));
        std::fs::create_dir_all(root.join("class/watchdog/watchdog0")).expect("mkdir");
        std::fs::write(root.join("class/watchdog/watchdog0/timeout"), "soon\n").expect("write");
        assert!(matches!(
            w.update(&mut out),
            Err(CollectorError::Parse { .. })
        ));
        let _ = std::fs::remove_dir_all(&root);
    }
}

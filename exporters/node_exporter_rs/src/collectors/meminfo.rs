//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<field>[_bytes]`.
//!
//! As upstream: `Active(anon)` becomes `Active_anon`; a field with a unit (always `kB`)
//! is multiplied by 1024 and gets `_bytes`; a name ending in `_total` is a counter, the
//! rest are gauges.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, parse_f64, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "meminfo",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Meminfo {
            path: ctx.paths.proc("meminfo"),
        }))
    },
};

#[derive(Debug)]
struct Meminfo {
    path: PathBuf,
}

/// Parses `/proc/meminfo` into (metric suffix, value) pairs in file order.
pub(crate) fn parse_meminfo(path: &Path, text: &str) -> Result<Vec<(String, f64)>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let raw = parts[0].strip_suffix(':').unwrap_or(parts[0]);
        let value = parse_f64(path, parts.get(1).copied().unwrap_or(""))?;
        // `Active(anon)` -> `Active_anon`.
        let mut key = match (raw.find('('), raw.rfind(')')) {
            (Some(open), Some(close)) if open < close => {
                format!(
                    "{}_{}{}",
                    &raw[..open],
                    &raw[open + 1..close],
                    &raw[close + 1..]
                )
            }
            _ => raw.to_string(),
        };
        let value = match parts.len() {
            2 => value,
            3 => {
                key.push_str("_bytes");
                value * 1024.0
            }
            _ => return Err(parse_error(path, format!("invalid line {line:?}"))),
        };
        out.push((key, value));
    }
    Ok(out)
}

impl Collector for Meminfo {
    fn name(&self) -> &str {
        "meminfo"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        for (key, value) in parse_meminfo(&self.path, &text)? {
            let name = format!("node_memory_{key}");
            let help = format!("Memory information field {key}.");
            let mut family = if key.ends_with("_total") {
                Family::counter(name, help)
            } else {
                Family::gauge(name, help)
            };
            family.add(&[], value);
            family.push_to(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_parentheses_become_suffixes() {
        let text = "MemTotal:       16 kB\nActive(anon):   2 kB\nHugePages_Total:  3\n\n";
        let got = parse_meminfo(Path::new("meminfo"), text).unwrap();
        assert_eq!(
            got,
            [
                ("MemTotal_bytes".to_string(), 16384.0),
                ("Active_anon_bytes".to_string(), 2048.0),
                ("HugePages_Total".to_string(), 3.0),
            ]
        );
        assert!(parse_meminfo(Path::new("m"), "MemTotal: x kB\n").is_err());
        assert!(parse_meminfo(Path::new("m"), "MemTotal: 1 kB extra\n").is_err());
    }
}

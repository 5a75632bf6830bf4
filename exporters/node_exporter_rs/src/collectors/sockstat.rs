//! `sockstat`: `/proc/net/sockstat` and `/proc/net/sockstat6` as
//! `node_sockstat_<PROTOCOL>_<field>` gauges, plus `_mem_bytes` (pages times the page
//! size) where the kernel reports `mem` in pages.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "sockstat",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Sockstat {
            v4: ctx.paths.proc("net/sockstat"),
            v6: ctx.paths.proc("net/sockstat6"),
            page_size: rustix::param::page_size() as f64,
        }))
    },
};

#[derive(Debug)]
struct Sockstat {
    v4: PathBuf,
    v6: PathBuf,
    page_size: f64,
}

/// The fields node_exporter exports, in its order.
const FIELDS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

/// A protocol and its (field, value) pairs.
pub(crate) type ProtocolLine = (String, Vec<(String, f64)>);

/// One protocol line: name and (field, value) pairs; `sockets: used N` comes back as
/// protocol `sockets`.
pub(crate) fn parse_sockstat(path: &Path, text: &str) -> Result<Vec<ProtocolLine>, CollectorError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (protocol, rest) = line
            .split_once(':')
            .ok_or_else(|| parse_error(path, format!("invalid line {line:?}")))?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() % 2 != 0 {
            return Err(parse_error(
                path,
                format!("odd number of fields in {line:?}"),
            ));
        }
        let mut pairs = Vec::new();
        for pair in words.chunks(2) {
            let v: f64 = pair[1]
                .parse()
                .map_err(|_| parse_error(path, format!("bad value in {line:?}")))?;
            pairs.push((pair[0].to_string(), v));
        }
        out.push((protocol.to_string(), pairs));
    }
    Ok(out)
}

impl Sockstat {
    fn emit(
        &self,
        path: &Path,
        text: &str,
        out: &mut Vec<MetricFamily>,
    ) -> Result<(), CollectorError> {
        for (protocol, pairs) in parse_sockstat(path, text)? {
            if protocol == "sockets" {
                if let Some((_, used)) = pairs.iter().find(|(k, _)| k == "used") {
                    let mut family = Family::gauge(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                    );
                    family.add(&[], *used);
                    family.push_to(out);
                }
                continue;
            }
            let get = |f: &str| pairs.iter().find(|(k, _)| k == f).map(|(_, v)| *v);
            let mut values: Vec<(&str, f64)> = FIELDS
                .iter()
                .filter_map(|f| get(f).map(|v| (*f, v)))
                .collect();
            if let Some(mem) = get("mem") {
                values.push(("mem_bytes", mem * self.page_size));
            }
            for (field, value) in values {
                let mut family = Family::gauge(
                    format!("node_sockstat_{protocol}_{field}"),
                    format!("Number of {protocol} sockets in state {field}."),
                );
                family.add(&[], value);
                family.push_to(out);
            }
        }
        Ok(())
    }
}

impl Collector for Sockstat {
    fn name(&self) -> &str {
        "sockstat"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for path in [&self.v4, &self.v6] {
            match std::fs::read_to_string(path) {
                Ok(text) => self.emit(path, &text, out)?,
                // No IPv6 (or no IPv4) on this host: upstream skips the file.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => {
                    read_string(path)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_odd_lines_fail() {
        let got = parse_sockstat(Path::new("s"), "TCP: inuse 1 mem 2\n").unwrap();
        assert_eq!(got[0].0, "TCP");
        assert_eq!(got[0].1[1], ("mem".to_string(), 2.0));
        assert!(parse_sockstat(Path::new("s"), "TCP: inuse\n").is_err());
        assert!(parse_sockstat(Path::new("s"), "TCP inuse 1\n").is_err());
    }
}

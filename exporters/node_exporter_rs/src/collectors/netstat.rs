//! `netstat`: the protocol counters of `/proc/net/netstat`, `/proc/net/snmp` and
//! `/proc/net/snmp6` whose `Protocol_Field` name matches `--collector.netstat.fields`,
//! as untyped `node_netstat_<Protocol>_<Field>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::util::{Family, NameFilter, arg_regex, parse_error, parse_f64, read_string, value_arg};

const FIELDS_DEFAULT: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "netstat",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        let fields = arg_regex(ctx.matches, "collector.netstat.fields")?
            .map_or_else(|| Regex::new("^$").map_err(|e| e.to_string()), Ok)?;
        Ok(Box::new(Netstat {
            netstat: ctx.paths.proc("net/netstat"),
            snmp: ctx.paths.proc("net/snmp"),
            snmp6: ctx.paths.proc("net/snmp6"),
            fields: NameFilter::new(fields),
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![value_arg(
        "collector.netstat.fields",
        Some(FIELDS_DEFAULT),
        "Regexp of fields to return for netstat collector.",
    )]
}

#[derive(Debug)]
struct Netstat {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    /// `--collector.netstat.fields`, over `Protocol_Field` names.
    fields: NameFilter,
}

/// Protocol -> field -> raw value, borrowed from the file's text.
type Stats<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a str>>;

/// Parses the paired header/value lines of `/proc/net/netstat` and `/proc/net/snmp`.
pub(crate) fn parse_paired<'a>(path: &Path, text: &'a str) -> Result<Stats<'a>, CollectorError> {
    let mut out = Stats::new();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    while let Some(names) = lines.next() {
        let values = lines
            .next()
            .ok_or_else(|| parse_error(path, format!("no value line after {names:?}")))?;
        if names.split_whitespace().count() != values.split_whitespace().count() {
            return Err(parse_error(path, "mismatch field count"));
        }
        let mut names = names.split_whitespace();
        let Some(protocol) = names.next() else {
            return Err(parse_error(path, "mismatch field count"));
        };
        let entry = out.entry(protocol.trim_end_matches(':')).or_default();
        for (name, value) in names.zip(values.split_whitespace().skip(1)) {
            entry.insert(name, value);
        }
    }
    Ok(out)
}

/// Parses `/proc/net/snmp6` (`Ip6InReceives  123` lines): the protocol is the name up
/// to and including its first `6`.
pub(crate) fn parse_snmp6(text: &str) -> Stats<'_> {
    let mut out = Stats::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(field), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Some(six) = field.find('6') {
            let (protocol, name) = field.split_at(six + 1);
            out.entry(protocol).or_default().insert(name, value);
        }
    }
    out
}

impl Collector for Netstat {
    fn name(&self) -> &str {
        "netstat"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let netstat = read_string(&self.netstat)?;
        let snmp = read_string(&self.snmp)?;
        let mut stats = parse_paired(&self.netstat, &netstat)?;
        // snmp's protocols replace netstat's of the same name, as upstream merges them.
        stats.extend(parse_paired(&self.snmp, &snmp)?);
        let snmp6 = match std::fs::read_to_string(&self.snmp6) {
            Ok(text) => text,
            // No IPv6 on this host.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(CollectorError::Io {
                    path: self.snmp6.clone(),
                    source,
                });
            }
        };
        stats.extend(parse_snmp6(&snmp6));
        let mut key = String::new();
        self.fields.with(|is_match| {
            for (protocol, fields) in &stats {
                for (name, value) in fields {
                    key.clear();
                    key.push_str(protocol);
                    key.push('_');
                    key.push_str(name);
                    let v = parse_f64(&self.netstat, value)?;
                    if !is_match(&key) {
                        continue;
                    }
                    let mut family = Family::untyped(
                        format!("node_netstat_{key}"),
                        format!("Statistic {protocol}{name}."),
                    );
                    family.add(&[], v);
                    family.push_to(out);
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_lines_and_snmp6_names() {
        let s = parse_paired(Path::new("n"), "Tcp: A B\nTcp: 1 2\nUdp: C\nUdp: 3\n").unwrap();
        assert_eq!(s["Tcp"]["B"], "2");
        assert_eq!(s["Udp"]["C"], "3");
        assert!(parse_paired(Path::new("n"), "Tcp: A B\nTcp: 1\n").is_err());
        assert!(parse_paired(Path::new("n"), "Tcp: A B\n").is_err());
        let s6 = parse_snmp6("Ip6InReceives 5\nUdpLite6InErrors 1\nIcmp6OutMsgs 7\n");
        assert_eq!(s6["Ip6"]["InReceives"], "5");
        assert_eq!(s6["UdpLite6"]["InErrors"], "1");
        assert_eq!(s6["Icmp6"]["OutMsgs"], "7");
    }
}

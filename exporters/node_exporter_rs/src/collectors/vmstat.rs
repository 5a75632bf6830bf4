//! `vmstat`: the fields of `/proc/vmstat` matching `--collector.vmstat.fields`, as
//! untyped `node_vmstat_<field>`.

use std::path::PathBuf;

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::util::{Family, NameFilter, arg_regex, parse_error, parse_f64, read_string, value_arg};

const FIELDS_DEFAULT: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "vmstat",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        let fields = arg_regex(ctx.matches, "collector.vmstat.fields")?
            .map_or_else(|| Regex::new("^$").map_err(|e| e.to_string()), Ok)?;
        Ok(Box::new(Vmstat {
            path: ctx.paths.proc("vmstat"),
            fields: NameFilter::new(fields),
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![value_arg(
        "collector.vmstat.fields",
        Some(FIELDS_DEFAULT),
        "Regexp of fields to return for vmstat collector.",
    )]
}

#[derive(Debug)]
struct Vmstat {
    path: PathBuf,
    fields: NameFilter,
}

impl Collector for Vmstat {
    fn name(&self) -> &str {
        "vmstat"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        self.fields.with(|is_match| {
            for line in text.lines() {
                let mut parts = line.split_whitespace();
                let Some(name) = parts.next() else {
                    continue;
                };
                let (Some(value), None) = (parts.next(), parts.next()) else {
                    return Err(parse_error(&self.path, format!("invalid line {line:?}")));
                };
                if !is_match(name) {
                    continue;
                }
                let value = parse_f64(&self.path, value)?;
                let mut family = Family::untyped(
                    format!("node_vmstat_{name}"),
                    format!("/proc/vmstat information field {name}."),
                );
                family.add(&[], value);
                family.push_to(out);
            }
            Ok(())
        })
    }
}

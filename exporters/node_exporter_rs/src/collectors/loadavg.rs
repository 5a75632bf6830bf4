//! `loadavg`: `/proc/loadavg` as `node_load1`, `node_load5`, `node_load15`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "loadavg",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Loadavg {
            path: ctx.paths.proc("loadavg"),
        }))
    },
};

#[derive(Debug)]
struct Loadavg {
    path: PathBuf,
}

impl Collector for Loadavg {
    fn name(&self) -> &str {
        "loadavg"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let mut fields = text.split_whitespace();
        for (name, help) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ] {
            let value: f64 = fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| parse_error(&self.path, "expected three load averages"))?;
            let mut family = Family::gauge(name, help);
            family.add(&[], value);
            family.push_to(out);
        }
        Ok(())
    }
}

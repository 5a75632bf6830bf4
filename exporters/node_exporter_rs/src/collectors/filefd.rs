//! `filefd`: `/proc/sys/fs/file-nr` as `node_filefd_allocated` and `node_filefd_maximum`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, parse_error, parse_f64, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "filefd",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Filefd {
            path: ctx.paths.proc("sys/fs/file-nr"),
        }))
    },
};

#[derive(Debug)]
struct Filefd {
    path: PathBuf,
}

impl Collector for Filefd {
    fn name(&self) -> &str {
        "filefd"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        // `allocated  unused(always 0 since 2.6)  maximum`
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 3 {
            return Err(parse_error(&self.path, "expected three fields"));
        }
        for (name, field) in [("allocated", fields[0]), ("maximum", fields[2])] {
            let mut family = Family::gauge(
                format!("node_filefd_{name}"),
                format!("File descriptor statistics: {name}."),
            );
            family.add(&[], parse_f64(&self.path, field)?);
            family.push_to(out);
        }
        Ok(())
    }
}

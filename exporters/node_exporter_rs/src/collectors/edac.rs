//! `edac`: memory controller error counters from `/sys/devices/system/edac/mc/mc*`, as
//! node_exporter's `edac_linux.go`: per controller, and per chip-select row with the
//! controller's "no info" counts under `csrow="unknown"`.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_absent, list_prefixed, read_u64};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "edac",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Edac {
            dir: ctx.paths.sys("devices/system/edac/mc"),
        }))
    },
};

#[derive(Debug)]
struct Edac {
    dir: PathBuf,
}

/// The leading digits after `prefix` (`mc12` -> `12`), as upstream's `mc([0-9]*)`.
fn number<'a>(name: &'a str, prefix: &str) -> &'a str {
    let rest = name.strip_prefix(prefix).unwrap_or("");
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A glob over a missing directory matches nothing.
fn glob(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectorError> {
    match list_prefixed(dir, prefix) {
        Err(e) if is_absent(&e) => Ok(Vec::new()),
        other => other,
    }
}

impl Collector for Edac {
    fn name(&self) -> &str {
        "edac"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut f = Families::new();
        let ce = "Total correctable memory errors.";
        let ue = "Total uncorrectable memory errors.";
        let row_ce = "Total correctable memory errors for this csrow.";
        let row_ue = "Total uncorrectable memory errors for this csrow.";
        for mc in glob(&self.dir, "mc")? {
            let dir = self.dir.join(&mc);
            let controller = number(&mc, "mc");
            let value = |file: &str| read_u64(&dir.join(file)).map(|v| v as f64);
            let c = [("controller", controller)];
            f.counter(
                "node_edac_correctable_errors_total",
                ce,
                &c,
                value("ce_count")?,
            );
            let unknown = [("controller", controller), ("csrow", "unknown")];
            f.counter(
                "node_edac_csrow_correctable_errors_total",
                row_ce,
                &unknown,
                value("ce_noinfo_count")?,
            );
            f.counter(
                "node_edac_uncorrectable_errors_total",
                ue,
                &c,
                value("ue_count")?,
            );
            f.counter(
                "node_edac_csrow_uncorrectable_errors_total",
                row_ue,
                &unknown,
                value("ue_noinfo_count")?,
            );
            for row in glob(&dir, "csrow")? {
                let row_dir = dir.join(&row);
                let labels = [("controller", controller), ("csrow", number(&row, "csrow"))];
                let ce_count = read_u64(&row_dir.join("ce_count"))? as f64;
                f.counter(
                    "node_edac_csrow_correctable_errors_total",
                    row_ce,
                    &labels,
                    ce_count,
                );
                let ue_count = read_u64(&row_dir.join("ue_count"))? as f64;
                f.counter(
                    "node_edac_csrow_uncorrectable_errors_total",
                    row_ue,
                    &labels,
                    ue_count,
                );
            }
        }
        f.push_to(out);
        Ok(())
    }
}

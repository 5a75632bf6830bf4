//! `nvme`: `node_nvme_info` for each controller under `/sys/class/nvme`, as
//! node_exporter's `nvme_linux.go` over procfs's `NVMeClass`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found, list_dir, read_trim};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "nvme",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Nvme {
            class: ctx.paths.sys("class/nvme"),
        }))
    },
};

#[derive(Debug)]
struct Nvme {
    class: PathBuf,
}

impl Collector for Nvme {
    fn name(&self) -> &str {
        "nvme"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = match list_dir(&self.class) {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for device in &devices {
            let dir = self.class.join(device);
            let firmware = read_trim(&dir.join("firmware_rev"))?;
            let model = read_trim(&dir.join("model"))?;
            let serial = read_trim(&dir.join("serial"))?;
            let state = read_trim(&dir.join("state"))?;
            f.gauge(
                "node_nvme_info",
                "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
                &[
                    ("device", device),
                    ("firmware_revision", &firmware),
                    ("model", &model),
                    ("serial", &serial),
                    ("state", &state),
                ],
                1.0,
            );
        }
        f.push_to(out);
        Ok(())
    }
}

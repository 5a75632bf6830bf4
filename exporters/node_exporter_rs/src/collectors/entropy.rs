//! `entropy`: `/proc/sys/kernel/random/{entropy_avail,poolsize}`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, read_u64};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "entropy",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Entropy {
            dir: ctx.paths.proc("sys/kernel/random"),
        }))
    },
};

#[derive(Debug)]
struct Entropy {
    dir: PathBuf,
}

impl Collector for Entropy {
    fn name(&self) -> &str {
        "entropy"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let avail = read_u64(&self.dir.join("entropy_avail"))?;
        let pool = read_u64(&self.dir.join("poolsize"))?;
        let mut family = Family::gauge("node_entropy_available_bits", "Bits of available entropy.");
        family.add(&[], avail as f64);
        family.push_to(out);
        let mut family = Family::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.");
        family.add(&[], pool as f64);
        family.push_to(out);
        Ok(())
    }
}

//! `bonding`: configured and active slaves of each bonding master, from
//! `/sys/class/net/bonding_masters` and each slave's `bonding_slave/mii_status`, as
//! node_exporter's `bonding_linux.go`.

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found};
use crate::util::read_string;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "bonding",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Bonding {
            net: ctx.paths.sys("class/net"),
        }))
    },
};

#[derive(Debug)]
struct Bonding {
    net: PathBuf,
}

/// (master, configured slaves, slaves whose MII status is `up`).
fn read_bonding(net: &Path) -> Result<Vec<(String, u64, u64)>, CollectorError> {
    let masters = read_string(&net.join("bonding_masters"))?;
    let mut out = Vec::new();
    for master in masters.split_whitespace() {
        let dir = net.join(master);
        let slaves = read_string(&dir.join("bonding/slaves"))?;
        let (mut configured, mut active) = (0, 0);
        for slave in slaves.split_whitespace() {
            let status =
                match read_string(&dir.join(format!("lower_{slave}/bonding_slave/mii_status"))) {
                    // Older kernels link slaves as `slave_<name>`.
                    Err(e) if is_not_found(&e) => {
                        read_string(&dir.join(format!("slave_{slave}/bonding_slave/mii_status")))?
                    }
                    other => other?,
                };
            configured += 1;
            if status.trim() == "up" {
                active += 1;
            }
        }
        out.push((master.to_string(), configured, active));
    }
    Ok(out)
}

impl Collector for Bonding {
    fn name(&self) -> &str {
        "bonding"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let masters = match read_bonding(&self.net) {
            Ok(m) => m,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for (master, configured, active) in &masters {
            f.gauge(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                &[("master", master)],
                *configured as f64,
            );
            f.gauge(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                &[("master", master)],
                *active as f64,
            );
        }
        f.push_to(out);
        Ok(())
    }
}

//! `uname`: `node_uname_info`, the answers of `uname(2)`.
//!
//! Where each label comes from: `sysname`, `release`, `version`, `nodename` and
//! `domainname` from `<procfs>/sys/kernel/{ostype,osrelease,version,hostname,domainname}`
//! (the same kernel strings `uname(2)` returns, and readable from a fixture tree);
//! `machine` from `uname(2)` itself through rustix, since procfs has no file for it.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, read_trimmed};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "uname",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Uname {
            kernel: ctx.paths.proc("sys/kernel"),
            machine: rustix::system::uname()
                .machine()
                .to_string_lossy()
                .into_owned(),
        }))
    },
};

#[derive(Debug)]
struct Uname {
    kernel: PathBuf,
    /// The hardware name never changes while the host runs: read once.
    machine: String,
}

impl Collector for Uname {
    fn name(&self) -> &str {
        "uname"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let read = |file: &str| read_trimmed(&self.kernel.join(file));
        let sysname = read("ostype")?;
        let release = read("osrelease")?;
        let version = read("version")?;
        let nodename = read("hostname")?;
        let domainname = read("domainname")?;
        let mut family = Family::gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
        );
        family.add(
            &[
                ("sysname", &sysname),
                ("release", &release),
                ("version", &version),
                ("machine", &self.machine),
                ("nodename", &nodename),
                ("domainname", &domainname),
            ],
            1.0,
        );
        family.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_comes_from_the_uname_syscall() {
        let want = rustix::system::uname();
        let c = Uname {
            kernel: PathBuf::from("/proc/sys/kernel"),
            machine: want.machine().to_string_lossy().into_owned(),
        };
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        let labels = &out[0].metrics[0].labels;
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("machine"), want.machine().to_string_lossy());
        assert_eq!(get("release"), want.release().to_string_lossy());
        assert_eq!(get("nodename"), want.nodename().to_string_lossy());
        assert_eq!(get("sysname"), want.sysname().to_string_lossy());
    }
}

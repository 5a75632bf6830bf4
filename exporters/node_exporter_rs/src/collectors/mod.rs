//! The collector table: every collector node_exporter has on Linux, its flag, its own
//! command-line arguments and its constructor.
//!
//! A collector module exposes `pub(crate) const ENTRY: Entry`. `main` builds the command
//! line from [`ALL`] and constructs the enabled collectors with [`build`].
//!
//! Each collector was checked against Debian's `prometheus-node-exporter` 1.5 twice: on
//! its fixture tree (both exporters started with the same `--path.*` and collector
//! flags, outputs compared sample by sample) and on a live host. Where this crate
//! knowingly differs from node_exporter 1.5:
//!
//! | collector | difference | why |
//! |---|---|---|
//! | netdev | default (`--collector.netdev.netlink`) mode reads `/sys/class/net/*/statistics/` instead of rtnetlink | the same `rtnl_link_stats64` counters, readable through `--path.sysfs`; names, sums and values equal upstream's |
//! | netdev | in that mode, without `--collector.netdev.enable-detailed-metrics`, the 16 folded counters of each sysfs device come from `/proc/net/dev` (the kernel folds them as upstream's `legacy()` does) and only `rx_nohandler` from sysfs | 2 files per device instead of 24: the 24 opens were a sixth of a scrape's CPU time; a device `/proc/net/dev` does not list (sysfs of another network namespace) is still read from its 24 files |
//! | netdev | no `--collector.netdev.address-info` | needs `getifaddrs`/rtnetlink, not available without `unsafe` |
//! | netclass | `--collector.netclass.netlink` accepted, attributes always read from sysfs | the same kernel values |
//! | filesystem | `statfs` runs on one thread per mount, the scrape waits at most `--collector.filesystem.mount-timeout` (hidden, 5s) for all of them | upstream stats mounts one after another in the scrape and can hang on the first dead mount; here a dead mount only reports `node_filesystem_device_error 1` |
//! | cpufreq, diskstats | a CPU without `related_cpus`, a device without udev data, are still reported | upstream's procfs library fails the whole collector on a missing `related_cpus` |
//! | textfile | a counter declared under a name without `_total` is passed on as untyped under its own name | the workspace's data model names counters with `_total` |
//! | all | label order inside `{}` is the collector's, not sorted by name | the text format does not order labels; values and label sets are equal |

use clap::{Arg, ArgMatches};
use ember_exporter::{Collector, CollectorFlag};

use crate::Paths;

mod arp;
mod bcache;
mod bonding;
mod btrfs;
mod conntrack;
mod cpu;
mod cpufreq;
mod diskstats;
mod dmi;
mod edac;
mod entropy;
mod fibrechannel;
mod filefd;
mod filesystem;
mod hwmon;
mod infiniband;
mod ipvs;
mod loadavg;
mod mdadm;
mod meminfo;
mod netclass;
mod netdev;
mod netstat;
mod nfs;
mod nfsd;
mod nvme;
mod os;
mod powersupplyclass;
mod pressure;
mod rapl;
mod schedstat;
mod selinux;
mod sockstat;
mod softnet;
mod stat;
mod tapestats;
mod textfile;
mod thermal_zone;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;
mod watchdog;
mod xfs;
mod zfs;

/// What a collector's constructor gets: the roots and the parsed command line (for the
/// collector's own `--collector.NAME.*` flags).
#[derive(Debug)]
pub struct Context<'a> {
    /// `--path.*`.
    pub paths: &'a Paths,
    /// The whole parsed command line.
    pub matches: &'a ArgMatches,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Name and default state, as `--collector.NAME` / `--no-collector.NAME`.
    pub flag: CollectorFlag,
    /// The collector's own flags (`--collector.NAME.*`), spelled as upstream.
    pub args: fn() -> Vec<Arg>,
    /// Builds the collector; an error (bad regex flag, ...) stops start-up.
    pub build: fn(&Context<'_>) -> Result<Box<dyn Collector>, String>,
}

/// No collector-specific flags.
pub(crate) fn no_args() -> Vec<Arg> {
    Vec::new()
}

/// Every collector, in name order.
pub const ALL: &[Entry] = &[
    // -- collectors (keep in name order) --
    arp::ENTRY,
    bcache::ENTRY,
    bonding::ENTRY,
    btrfs::ENTRY,
    conntrack::ENTRY,
    cpu::ENTRY,
    cpufreq::ENTRY,
    diskstats::ENTRY,
    dmi::ENTRY,
    edac::ENTRY,
    entropy::ENTRY,
    fibrechannel::ENTRY,
    filefd::ENTRY,
    filesystem::ENTRY,
    hwmon::ENTRY,
    infiniband::ENTRY,
    ipvs::ENTRY,
    loadavg::ENTRY,
    mdadm::ENTRY,
    meminfo::ENTRY,
    netclass::ENTRY,
    netdev::ENTRY,
    netstat::ENTRY,
    nfs::ENTRY,
    nfsd::ENTRY,
    nvme::ENTRY,
    os::ENTRY,
    powersupplyclass::ENTRY,
    pressure::ENTRY,
    rapl::ENTRY,
    schedstat::ENTRY,
    selinux::ENTRY,
    sockstat::ENTRY,
    softnet::ENTRY,
    stat::ENTRY,
    tapestats::ENTRY,
    textfile::ENTRY,
    thermal_zone::ENTRY,
    time::ENTRY,
    timex::ENTRY,
    udp_queues::ENTRY,
    uname::ENTRY,
    vmstat::ENTRY,
    watchdog::ENTRY,
    xfs::ENTRY,
    zfs::ENTRY,
];

/// The flags of all collectors, for [`ember_exporter::command`].
pub fn flags() -> Vec<CollectorFlag> {
    ALL.iter().map(|e| e.flag).collect()
}

/// The extra arguments of all collectors.
pub fn args() -> Vec<Arg> {
    ALL.iter().flat_map(|e| (e.args)()).collect()
}

/// Constructs the collectors named in `enabled`.
pub fn build(enabled: &[&str], ctx: &Context<'_>) -> Result<Vec<Box<dyn Collector>>, String> {
    let mut out = Vec::new();
    for entry in ALL {
        if enabled.contains(&entry.flag.name) {
            out.push(
                (entry.build)(ctx).map_err(|e| format!("collector {}: {e}", entry.flag.name))?,
            );
        }
    }
    Ok(out)
}

/// Builds one collector by name with the given roots and extra command-line arguments
/// (such as `--collector.textfile.directory=...`), as the fixture tests do.
pub fn build_one(
    name: &str,
    paths: &Paths,
    extra_args: &[String],
) -> Result<Box<dyn Collector>, String> {
    let entry = ALL
        .iter()
        .find(|e| e.flag.name == name)
        .ok_or_else(|| format!("no collector named {name}"))?;
    let matches = clap::Command::new("node_exporter")
        .args(args())
        .try_get_matches_from(
            std::iter::once("node_exporter".to_string()).chain(extra_args.iter().cloned()),
        )
        .map_err(|e| e.to_string())?;
    let ctx = Context {
        paths,
        matches: &matches,
    };
    (entry.build)(&ctx)
}

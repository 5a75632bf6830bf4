//! `cpu`: per-CPU time from `/proc/stat` (`node_cpu_seconds_total`,
//! `node_cpu_guest_seconds_total`), thermal throttle counts and isolated CPUs from
//! `/sys/devices/system/cpu`, and with `--collector.cpu.info` the `/proc/cpuinfo` info
//! metrics.
//!
//! As upstream, the counters are kept monotonic across scrapes: a value that goes
//! backwards keeps the previous one, and an idle counter that jumps back by 3 s or more
//! (a CPU hot-plug) resets that CPU's cache.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::util::{
    Family, arg_flag, arg_regex, arg_str, bool_args, dir_names, parse_error, read_string, read_u64,
    value_arg,
};

/// `USER_HZ`: the unit of the `/proc/stat` CPU columns on every Linux architecture.
const USER_HZ: f64 = 100.0;

/// An idle counter that goes back by this many seconds means the CPU was hot-plugged.
const JUMP_BACK_SECONDS: f64 = 3.0;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "cpu",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        let m = ctx.matches;
        let flags_include = arg_regex(m, "collector.cpu.info.flags-include")?;
        let bugs_include = arg_regex(m, "collector.cpu.info.bugs-include")?;
        // Upstream turns `--collector.cpu.info` on when either include flag is set.
        let info = arg_flag(m, "collector.cpu.info", false)
            || arg_str(m, "collector.cpu.info.flags-include").is_some_and(|s| !s.is_empty())
            || arg_str(m, "collector.cpu.info.bugs-include").is_some_and(|s| !s.is_empty());
        let isolated_path = ctx.paths.sys("devices/system/cpu/isolated");
        let isolated = match std::fs::read_to_string(&isolated_path) {
            Ok(text) => Some(parse_cpu_list(&text).map_err(|e| {
                format!(
                    "unable to get isolated cpus from {}: {e}",
                    isolated_path.display()
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("unable to get isolated cpus: {e}")),
        };
        Ok(Box::new(Cpu {
            stat: ctx.paths.proc("stat"),
            cpuinfo: ctx.paths.proc("cpuinfo"),
            cpu_dir: ctx.paths.sys("devices/system/cpu"),
            guest: arg_flag(m, "collector.cpu.guest", true),
            info,
            flags_include,
            bugs_include,
            isolated,
            cache: Mutex::new(HashMap::new()),
        }))
    },
};

fn args() -> Vec<Arg> {
    let mut args = bool_args(
        "collector.cpu.guest",
        "Enables metric node_cpu_guest_seconds_total",
    );
    args.extend(bool_args("collector.cpu.info", "Enables metric cpu_info"));
    args.push(value_arg(
        "collector.cpu.info.flags-include",
        None,
        "Filter the `flags` field in cpuInfo with a value that must be a regular expression",
    ));
    args.push(value_arg(
        "collector.cpu.info.bugs-include",
        None,
        "Filter the `bugs` field in cpuInfo with a value that must be a regular expression",
    ));
    args
}

#[derive(Debug)]
struct Cpu {
    stat: PathBuf,
    cpuinfo: PathBuf,
    cpu_dir: PathBuf,
    guest: bool,
    info: bool,
    flags_include: Option<Regex>,
    bugs_include: Option<Regex>,
    isolated: Option<Vec<u32>>,
    cache: Mutex<HashMap<u32, CpuTimes>>,
}

/// One `cpuN` line of `/proc/stat`, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTimes {
    pub(crate) user: f64,
    pub(crate) nice: f64,
    pub(crate) system: f64,
    pub(crate) idle: f64,
    pub(crate) iowait: f64,
    pub(crate) irq: f64,
    pub(crate) softirq: f64,
    pub(crate) steal: f64,
    pub(crate) guest: f64,
    pub(crate) guest_nice: f64,
}

impl CpuTimes {
    /// Parses the numeric columns after `cpuN`; missing trailing columns (old kernels)
    /// are zero.
    pub(crate) fn parse(fields: &[&str]) -> Option<CpuTimes> {
        let mut v = [0.0f64; 10];
        if fields.is_empty() {
            return None;
        }
        for (slot, field) in v.iter_mut().zip(fields) {
            *slot = field.parse::<u64>().ok()? as f64 / USER_HZ;
        }
        Some(CpuTimes {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: v[4],
            irq: v[5],
            softirq: v[6],
            steal: v[7],
            guest: v[8],
            guest_nice: v[9],
        })
    }

    /// Merges a new reading into the cached one as upstream's `updateCPUStats` does.
    fn merge(mut self, new: &CpuTimes) -> CpuTimes {
        if self.idle - new.idle >= JUMP_BACK_SECONDS {
            self = CpuTimes::default();
        }
        let keep_max = |old: &mut f64, new: f64| {
            if new >= *old {
                *old = new;
            }
        };
        keep_max(&mut self.idle, new.idle);
        keep_max(&mut self.user, new.user);
        keep_max(&mut self.nice, new.nice);
        keep_max(&mut self.system, new.system);
        keep_max(&mut self.iowait, new.iowait);
        keep_max(&mut self.irq, new.irq);
        keep_max(&mut self.softirq, new.softirq);
        keep_max(&mut self.steal, new.steal);
        keep_max(&mut self.guest, new.guest);
        keep_max(&mut self.guest_nice, new.guest_nice);
        self
    }
}

/// The per-CPU lines (`cpu0`, `cpu1`, ...) of `/proc/stat`; the `cpu` total is skipped.
pub(crate) fn parse_proc_stat_cpus(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<u32, CpuTimes>, CollectorError> {
    let mut cpus = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(id) = fields.first().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        let id: u32 = id
            .parse()
            .map_err(|_| parse_error(path, format!("bad cpu line {line:?}")))?;
        let times = CpuTimes::parse(&fields[1..])
            .ok_or_else(|| parse_error(path, format!("bad cpu line {line:?}")))?;
        cpus.insert(id, times);
    }
    Ok(cpus)
}

/// A kernel CPU list such as `0-2,5,7-8`.
pub(crate) fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("bad cpu number {s:?} in {text:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("bad cpu range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// One processor block of `/proc/cpuinfo` (the fields node_exporter uses).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct CpuInfo {
    processor: String,
    vendor_id: String,
    cpu_family: String,
    model: String,
    model_name: String,
    stepping: String,
    microcode: String,
    cache_size: String,
    physical_id: String,
    core_id: String,
    flags: Vec<String>,
    bugs: Vec<String>,
}

/// Parses `/proc/cpuinfo` (x86 layout: `key\t: value`, one block per processor).
pub(crate) fn parse_cpuinfo(text: &str) -> Vec<CpuInfo> {
    let mut out: Vec<CpuInfo> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "processor" {
            out.push(CpuInfo {
                processor: value.to_string(),
                ..CpuInfo::default()
            });
            continue;
        }
        let Some(cpu) = out.last_mut() else {
            continue;
        };
        let words = || value.split_whitespace().map(str::to_string).collect();
        match key {
            "vendor_id" => cpu.vendor_id = value.to_string(),
            "cpu family" => cpu.cpu_family = value.to_string(),
            "model" => cpu.model = value.to_string(),
            "model name" => cpu.model_name = value.to_string(),
            "stepping" => cpu.stepping = value.to_string(),
            "microcode" => cpu.microcode = value.to_string(),
            "cache size" => cpu.cache_size = value.to_string(),
            "physical id" => cpu.physical_id = value.to_string(),
            "core id" => cpu.core_id = value.to_string(),
            "flags" => cpu.flags = words(),
            "bugs" => cpu.bugs = words(),
            _ => {}
        }
    }
    out
}

impl Cpu {
    fn update_info(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let infos = parse_cpuinfo(&read_string(&self.cpuinfo)?);
        let mut info = Family::gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
        for cpu in &infos {
            info.add(
                &[
                    ("package", &cpu.physical_id),
                    ("core", &cpu.core_id),
                    ("cpu", &cpu.processor),
                    ("vendor", &cpu.vendor_id),
                    ("family", &cpu.cpu_family),
                    ("model", &cpu.model),
                    ("model_name", &cpu.model_name),
                    ("microcode", &cpu.microcode),
                    ("stepping", &cpu.stepping),
                    ("cachesize", &cpu.cache_size),
                ],
                1.0,
            );
        }
        info.push_to(out);
        if let Some(first) = infos.first() {
            let mut field = |name: &str, help: &str, label: &str, values: &[String], filter| {
                let Some(filter): Option<&Regex> = filter else {
                    return;
                };
                let mut family = Family::gauge(name, help);
                for v in values.iter().filter(|v| filter.is_match(v)) {
                    family.add(&[(label, v)], 1.0);
                }
                family.push_to(out);
            };
            field(
                "node_cpu_flag_info",
                "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                "flag",
                &first.flags,
                self.flags_include.as_ref(),
            );
            field(
                "node_cpu_bug_info",
                "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                "bug",
                &first.bugs,
                self.bugs_include.as_ref(),
            );
        }
        Ok(())
    }

    fn update_stat(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.stat)?;
        let new = parse_proc_stat_cpus(&self.stat, &text)?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, times) in &new {
            let old = cache.get(id).copied().unwrap_or_default();
            cache.insert(*id, old.merge(times));
        }
        let mut seconds = Family::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        let mut guest = Family::counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        );
        let mut ids: Vec<&u32> = cache.keys().collect();
        ids.sort();
        for id in ids {
            let t = &cache[id];
            let cpu = id.to_string();
            for (mode, value) in [
                ("user", t.user),
                ("nice", t.nice),
                ("system", t.system),
                ("idle", t.idle),
                ("iowait", t.iowait),
                ("irq", t.irq),
                ("softirq", t.softirq),
                ("steal", t.steal),
            ] {
                seconds.add(&[("cpu", &cpu), ("mode", mode)], value);
            }
            if self.guest {
                guest.add(&[("cpu", &cpu), ("mode", "user")], t.guest);
                guest.add(&[("cpu", &cpu), ("mode", "nice")], t.guest_nice);
            }
        }
        seconds.push_to(out);
        guest.push_to(out);
        Ok(())
    }

    fn update_thermal_throttle(&self, out: &mut Vec<MetricFamily>) {
        let mut packages: BTreeMap<u64, u64> = BTreeMap::new();
        let mut cores: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
        let cpus = dir_names(&self.cpu_dir).unwrap_or_default();
        for name in cpus.iter().filter(|n| {
            n.strip_prefix("cpu")
                .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()))
        }) {
            let dir = self.cpu_dir.join(name);
            let (Ok(package), Ok(core)) = (
                read_u64(&dir.join("topology/physical_package_id")),
                read_u64(&dir.join("topology/core_id")),
            ) else {
                continue;
            };
            cores.entry((package, core)).or_insert_with(|| {
                read_u64(&dir.join("thermal_throttle/core_throttle_count")).ok()
            });
            if let std::collections::btree_map::Entry::Vacant(slot) = packages.entry(package) {
                if let Ok(n) = read_u64(&dir.join("thermal_throttle/package_throttle_count")) {
                    slot.insert(n);
                }
            }
        }
        let mut package_family = Family::counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
        );
        for (package, count) in &packages {
            package_family.add(&[("package", &package.to_string())], *count as f64);
        }
        let mut core_family = Family::counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
        );
        for ((package, core), count) in &cores {
            if let Some(count) = count {
                core_family.add(
                    &[
                        ("package", &package.to_string()),
                        ("core", &core.to_string()),
                    ],
                    *count as f64,
                );
            }
        }
        package_family.push_to(out);
        core_family.push_to(out);
    }
}

impl Collector for Cpu {
    fn name(&self) -> &str {
        "cpu"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if self.info {
            self.update_info(out)?;
        }
        self.update_stat(out)?;
        if let Some(isolated) = &self.isolated {
            let mut family = Family::gauge(
                "node_cpu_isolated",
                "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            );
            for cpu in isolated {
                family.add(&[("cpu", &cpu.to_string())], 1.0);
            }
            family.push_to(out);
        }
        self.update_thermal_throttle(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(parse_cpu_list("0-2,5,7-8\n").unwrap(), [0, 1, 2, 5, 7, 8]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    #[test]
    fn old_kernels_without_guest_columns_read_as_zero() {
        let t = CpuTimes::parse(&["100", "200", "300", "400"]).unwrap();
        assert_eq!(t.idle, 4.0);
        assert_eq!(t.guest, 0.0);
        assert!(CpuTimes::parse(&["x"]).is_none());
    }

    #[test]
    fn counters_never_go_backwards_and_hotplug_resets() {
        let a = CpuTimes {
            user: 10.0,
            idle: 100.0,
            ..CpuTimes::default()
        };
        let b = CpuTimes {
            user: 9.0,
            idle: 101.0,
            ..CpuTimes::default()
        };
        let merged = a.merge(&b);
        assert_eq!((merged.user, merged.idle), (10.0, 101.0));
        let after_hotplug = CpuTimes {
            user: 1.0,
            idle: 2.0,
            ..CpuTimes::default()
        };
        let merged = merged.merge(&after_hotplug);
        assert_eq!((merged.user, merged.idle), (1.0, 2.0));
    }

    #[test]
    fn cpuinfo_blocks_split_on_processor() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme\n\n\
                    processor\t: 1\nmodel name\t: Xeon: fast\nbugs\t\t: spectre_v1\n";
        let cpus = parse_cpuinfo(text);
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].flags, ["fpu", "vme"]);
        assert_eq!(cpus[1].model_name, "Xeon: fast");
        assert_eq!(cpus[1].bugs, ["spectre_v1"]);
    }

    fn families(args: &[&str]) -> Vec<String> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cpu");
        let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        let c = crate::collectors::build_one("cpu", &crate::Paths::fixture(&dir), &args).unwrap();
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        out.into_iter().map(|f| f.name).collect()
    }

    #[test]
    fn info_is_off_and_guest_on_by_default_as_upstream() {
        let names = families(&[]);
        assert!(names.contains(&"node_cpu_guest_seconds_total".to_string()));
        assert!(!names.iter().any(|n| n.starts_with("node_cpu_info")));
        assert!(!names.iter().any(|n| n.ends_with("flag_info")));

        let names = families(&["--no-collector.cpu.guest", "--collector.cpu.info"]);
        assert!(!names.contains(&"node_cpu_guest_seconds_total".to_string()));
        assert!(names.contains(&"node_cpu_info".to_string()));
        // Without an include pattern no flag or bug is exported.
        assert!(!names.iter().any(|n| n.ends_with("flag_info")));

        // An include pattern turns the info metrics on by itself.
        let names = families(&["--collector.cpu.info.bugs-include=."]);
        assert!(names.contains(&"node_cpu_info".to_string()));
        assert!(names.contains(&"node_cpu_bug_info".to_string()));
    }
}

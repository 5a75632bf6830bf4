//! `cpufreq`: CPU frequency scaling from `<sysfs>/devices/system/cpu/cpuN/cpufreq/`
//! (values in kHz, exported in Hz).

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, dir_names, read_u64};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "cpufreq",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Cpufreq {
            dir: ctx.paths.sys("devices/system/cpu"),
        }))
    },
};

#[derive(Debug)]
struct Cpufreq {
    dir: PathBuf,
}

/// Metric, HELP, sysfs file.
const FILES: [(&str, &str, &str); 6] = [
    (
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
        "cpuinfo_cur_freq",
    ),
    (
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
        "cpuinfo_min_freq",
    ),
    (
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
        "cpuinfo_max_freq",
    ),
    (
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
        "scaling_cur_freq",
    ),
    (
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
        "scaling_min_freq",
    ),
    (
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
        "scaling_max_freq",
    ),
];

impl Collector for Cpufreq {
    fn name(&self) -> &str {
        "cpufreq"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut families: Vec<Family> = FILES
            .iter()
            .map(|(n, h, _)| Family::gauge(*n, *h))
            .collect();
        let mut cpus: Vec<(u32, String)> = dir_names(&self.dir)?
            .into_iter()
            .filter_map(|n| {
                let id = n.strip_prefix("cpu")?.parse::<u32>().ok()?;
                Some((id, n))
            })
            .collect();
        cpus.sort();
        for (id, name) in cpus {
            let freq = self.dir.join(&name).join("cpufreq");
            if !freq.is_dir() {
                continue;
            }
            let cpu = id.to_string();
            for (family, (_, _, file)) in families.iter_mut().zip(FILES.iter()) {
                // Unreadable files (cpuinfo_cur_freq is root-only) are skipped.
                if let Ok(khz) = read_u64(&freq.join(file)) {
                    family.add(&[("cpu", &cpu)], khz as f64 * 1000.0);
                }
            }
        }
        for family in families {
            family.push_to(out);
        }
        Ok(())
    }
}

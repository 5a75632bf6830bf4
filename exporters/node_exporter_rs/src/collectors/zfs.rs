//! `zfs`: OpenZFS kstats under `/proc/spl/kstat/zfs`, as node_exporter's `zfs_linux.go`:
//! every numeric entry of `arcstats`, `dmu_tx`, `zil`, ... as an untyped
//! `node_zfs_<subsystem>_<name>` whose HELP is the kstat path, per-pool I/O counters
//! (`<pool>/io`), per-dataset counters (`<pool>/objset-*`) and the pool state. The
//! subsystems, kstat types and pool states are those of node_exporter 1.5 (no
//! `dbufstats`, no signed entries, no `suspended` state).

use std::path::{Path, PathBuf};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_absent, list_dir};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "zfs",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Zfs {
            base: ctx.paths.proc("spl/kstat/zfs"),
        }))
    },
};

/// Subsystem (metric prefix after `node_`) -> kstat file.
const SUBSYSTEMS: [(&str, &str); 10] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

const POOL_STATES: [&str; 6] = [
    "online", "degraded", "faulted", "offline", "removed", "unavail",
];

/// The only kstat data type node_exporter 1.5 reports: KSTAT_DATA_UINT64 (signed
/// entries such as `memory_available_bytes` are skipped).
const KSTAT_UINT64: &str = "4";

#[derive(Debug)]
struct Zfs {
    base: PathBuf,
}

/// The metric-name part of a kstat entry: `-` becomes `_`.
fn metric_name(entry: &str) -> String {
    entry.replace('-', "_")
}

/// Parses a named kstat file (`name type data` header, then one entry per line) into
/// (entry, value) pairs of the integer types; `Err` if the header never appears or a
/// value is not an integer.
pub(crate) fn parse_kstat(text: &str, file: &str) -> Result<Vec<(String, u64)>, String> {
    let mut started = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if !started && parts == ["name", "type", "data"] {
            started = true;
            continue;
        }
        if !started || parts.len() < 3 {
            continue;
        }
        if parts[1] == KSTAT_UINT64 {
            let value = parts[2].parse::<u64>().map_err(|_| {
                format!(
                    "could not parse expected integer value for \"kstat.zfs.misc.{file}.{}\"",
                    parts[0]
                )
            })?;
            out.push((parts[0].to_string(), value));
        }
    }
    if !started {
        return Err(format!("did not parse a single {file:?} metric"));
    }
    Ok(out)
}

/// Parses a pool's `io` kstat: a header row starting `nread` (12 or more columns) and
/// value rows under it.
pub(crate) fn parse_pool_io(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut header: Option<Vec<&str>> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let Some(fields) = &header else {
            if parts.len() >= 12 && parts[0] == "nread" {
                header = Some(parts);
            }
            continue;
        };
        for (i, field) in fields.iter().enumerate() {
            let raw = parts
                .get(i)
                .ok_or_else(|| format!("io row has no value for {field}"))?;
            let value = raw.parse::<u64>().map_err(|e| {
                format!(
                    "could not parse expected integer value for \"kstat.zfs.misc.io.{field}\": {e}"
                )
            })?;
            out.push(((*field).to_string(), value));
        }
    }
    Ok(out)
}

/// Parses an `objset-0x...` kstat: the dataset name and its unsigned counters.
pub(crate) fn parse_objset(text: &str) -> Result<(String, Vec<(String, u64)>), String> {
    let mut started = false;
    let mut dataset = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if !started && parts == ["name", "type", "data"] {
            started = true;
            continue;
        }
        if !started || parts.len() < 3 {
            continue;
        }
        if parts[0] == "dataset_name" {
            // Upstream takes the first word of the name only.
            dataset = parts[2].to_string();
            continue;
        }
        if parts[1] == KSTAT_UINT64 {
            let value = parts[2].parse::<u64>().map_err(|_| {
                format!(
                    "could not parse expected integer value for \"kstat.zfs.misc.objset.{}\"",
                    parts[0]
                )
            })?;
            out.push((parts[0].to_string(), value));
        }
    }
    if !started {
        return Err("did not parse a single objset metric".to_string());
    }
    Ok((dataset, out))
}

impl Zfs {
    fn pools(&self) -> Result<Vec<String>, CollectorError> {
        Ok(list_dir(&self.base)?
            .into_iter()
            .filter(|p| self.base.join(p).is_dir())
            .collect())
    }

    fn update_pools(&self, f: &mut Families) -> Result<(), CollectorError> {
        let pools = self.pools()?;
        for pool in &pools {
            let path = self.base.join(pool).join("io");
            let Some(text) = read_existing(&path)? else {
                continue;
            };
            let values = parse_pool_io(&text).map_err(|r| parse_error(&path, r))?;
            for (field, value) in values {
                f.untyped(
                    &format!("node_zfs_zpool_{}", metric_name(&field)),
                    &format!("kstat.zfs.misc.io.{field}"),
                    &[("zpool", pool)],
                    value as f64,
                );
            }
        }
        for pool in &pools {
            let dir = self.base.join(pool);
            for objset in list_dir(&dir)?
                .into_iter()
                .filter(|n| n.starts_with("objset-"))
            {
                let path = dir.join(&objset);
                let Some(text) = read_existing(&path)? else {
                    continue;
                };
                let (dataset, values) = parse_objset(&text).map_err(|r| parse_error(&path, r))?;
                for (entry, value) in values {
                    f.untyped(
                        &format!("node_zfs_zpool_dataset_{}", metric_name(&entry)),
                        &format!("kstat.zfs.misc.objset.{entry}"),
                        &[("zpool", pool), ("dataset", &dataset)],
                        value as f64,
                    );
                }
            }
        }
        for pool in &pools {
            let path = self.base.join(pool).join("state");
            let Some(text) = read_existing(&path)? else {
                continue;
            };
            let actual = text.lines().next().unwrap_or("").to_lowercase();
            for state in POOL_STATES {
                f.gauge(
                    "node_zfs_zpool_state",
                    "kstat.zfs.misc.state",
                    &[("zpool", pool), ("state", state)],
                    if actual == state { 1.0 } else { 0.0 },
                );
            }
        }
        Ok(())
    }
}

/// A file that may be absent (a feature this ZFS version lacks): `Ok(None)`.
fn read_existing(path: &Path) -> Result<Option<String>, CollectorError> {
    match read_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Collector for Zfs {
    fn name(&self) -> &str {
        "zfs"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if !self.base.exists() {
            // No zfs module loaded.
            return Err(CollectorError::NoData);
        }
        let mut f = Families::new();
        for (subsystem, file) in SUBSYSTEMS {
            let path = self.base.join(file);
            let Some(text) = read_existing(&path)? else {
                continue;
            };
            let values = parse_kstat(&text, file).map_err(|r| parse_error(&path, r))?;
            for (entry, value) in values {
                f.untyped(
                    &format!("node_{subsystem}_{}", metric_name(&entry)),
                    &format!("kstat.zfs.misc.{file}.{entry}"),
                    &[],
                    value as f64,
                );
            }
        }
        self.update_pools(&mut f)?;
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_kstat_keeps_unsigned_entries_only() {
        let text = "13 1 0x01 4 1088 4785632139 7430093718929\n\
                    name                            type data\n\
                    hits                            4    8772612\n\
                    c_min                           4    33554432\n\
                    memory_available_bytes          3    1412362240\n\
                    arc_no_grow                     1    0\n\
                    pool                            7    rpool\n";
        let got = parse_kstat(text, "arcstats").expect("parses");
        assert_eq!(
            got,
            [
                ("hits".to_string(), 8772612),
                ("c_min".to_string(), 33554432),
            ]
        );
    }

    #[test]
    fn kstat_without_header_or_with_bad_integer_fails() {
        assert!(parse_kstat("hits 4 1\n", "arcstats").is_err());
        assert!(parse_kstat("name type data\nhits 4 -1\n", "arcstats").is_err());
    }

    #[test]
    fn pool_io_columns_become_fields() {
        let text = "12 3 0x00 1 80 2225326830828 32953476980628\n\
                    nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt\n\
                    1884160  3206144  22       132      7155162  104112268 25347061 7155162  104112268 25347061 0        0\n";
        let got = parse_pool_io(text).expect("parses");
        assert_eq!(got.len(), 12);
        assert_eq!(got[0], ("nread".to_string(), 1884160));
        assert_eq!(got[11], ("rcnt".to_string(), 0));
    }

    #[test]
    fn objset_takes_the_first_word_of_the_dataset_name() {
        let text = "49 1 0x01 7 2160 5214787391 74985931356512\n\
                    name                            type data\n\
                    dataset_name                    7    pool/home dir\n\
                    writes                          4    4\n\
                    nwritten                        4    28\n";
        let (dataset, values) = parse_objset(text).expect("parses");
        assert_eq!(dataset, "pool/home");
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn dashes_become_underscores_in_names() {
        assert_eq!(metric_name("arc_meta-used"), "arc_meta_used");
    }

    proptest::proptest! {
        #[test]
        fn any_kstat_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&[
                "name", "type", "data", "hits", "4", "3", "7", "nread", "nwritten", "reads",
                "writes", "wtime", "wlentime", "wupdate", "rtime", "rlentime", "rupdate", "wcnt",
                "rcnt", "dataset_name", "pool/fs",
            ])
        ) {
            let _ = parse_kstat(&text, "arcstats");
            let _ = parse_pool_io(&text);
            let _ = parse_objset(&text);
        }
    }
}

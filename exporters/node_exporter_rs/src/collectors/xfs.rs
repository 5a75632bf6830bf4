//! `xfs`: per-filesystem XFS runtime statistics from `/sys/fs/xfs/<dev>/stats/stats`, as
//! node_exporter's `xfs_linux.go` over procfs's `xfs.SysStats`. Counter names follow the
//! XFS wiki's Runtime_Stats page (`node_xfs_block_mapping_reads_total{device}`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_absent, list_dir};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "xfs",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Xfs {
            dir: ctx.paths.sys("fs/xfs"),
        }))
    },
};

/// The value counts procfs accepts for each line it knows; other labels are not checked
/// beyond their values being 32-bit integers.
const LINE_LENGTHS: [(&str, &[usize]); 22] = [
    ("extent_alloc", &[4]),
    ("abt", &[4]),
    ("blk_map", &[7]),
    ("bmbt", &[4]),
    ("dir", &[4]),
    ("trans", &[3]),
    ("ig", &[7]),
    ("log", &[5]),
    ("push_ail", &[10]),
    ("xstrat", &[2]),
    ("rw", &[2]),
    ("attr", &[4]),
    ("icluster", &[3]),
    ("vnodes", &[7, 8]),
    ("buf", &[9]),
    ("xpc", &[3]),
    ("abtb2", &[15]),
    ("abtc2", &[15]),
    ("bmbt2", &[15]),
    ("ibt2", &[15]),
    ("qm", &[8, 9]),
    ("debug", &[1]),
];

/// (line label, value index, metric name after `node_xfs_`, HELP).
const METRICS: [(&str, usize, &str, &str); 39] = [
    (
        "extent_alloc",
        0,
        "extent_allocation_extents_allocated_total",
        "Number of extents allocated for a filesystem.",
    ),
    (
        "extent_alloc",
        1,
        "extent_allocation_blocks_allocated_total",
        "Number of blocks allocated for a filesystem.",
    ),
    (
        "extent_alloc",
        2,
        "extent_allocation_extents_freed_total",
        "Number of extents freed for a filesystem.",
    ),
    (
        "extent_alloc",
        3,
        "extent_allocation_blocks_freed_total",
        "Number of blocks freed for a filesystem.",
    ),
    (
        "abt",
        0,
        "allocation_btree_lookups_total",
        "Number of allocation B-tree lookups for a filesystem.",
    ),
    (
        "abt",
        1,
        "allocation_btree_compares_total",
        "Number of allocation B-tree compares for a filesystem.",
    ),
    (
        "abt",
        2,
        "allocation_btree_records_inserted_total",
        "Number of allocation B-tree records inserted for a filesystem.",
    ),
    (
        "abt",
        3,
        "allocation_btree_records_deleted_total",
        "Number of allocation B-tree records deleted for a filesystem.",
    ),
    (
        "blk_map",
        0,
        "block_mapping_reads_total",
        "Number of block map for read operations for a filesystem.",
    ),
    (
        "blk_map",
        1,
        "block_mapping_writes_total",
        "Number of block map for write operations for a filesystem.",
    ),
    (
        "blk_map",
        2,
        "block_mapping_unmaps_total",
        "Number of block unmaps (deletes) for a filesystem.",
    ),
    (
        "blk_map",
        3,
        "block_mapping_extent_list_insertions_total",
        "Number of extent list insertions for a filesystem.",
    ),
    (
        "blk_map",
        4,
        "block_mapping_extent_list_deletions_total",
        "Number of extent list deletions for a filesystem.",
    ),
    (
        "blk_map",
        5,
        "block_mapping_extent_list_lookups_total",
        "Number of extent list lookups for a filesystem.",
    ),
    (
        "blk_map",
        6,
        "block_mapping_extent_list_compares_total",
        "Number of extent list compares for a filesystem.",
    ),
    (
        "bmbt",
        0,
        "block_map_btree_lookups_total",
        "Number of block map B-tree lookups for a filesystem.",
    ),
    (
        "bmbt",
        1,
        "block_map_btree_compares_total",
        "Number of block map B-tree compares for a filesystem.",
    ),
    (
        "bmbt",
        2,
        "block_map_btree_records_inserted_total",
        "Number of block map B-tree records inserted for a filesystem.",
    ),
    (
        "bmbt",
        3,
        "block_map_btree_records_deleted_total",
        "Number of block map B-tree records deleted for a filesystem.",
    ),
    (
        "dir",
        0,
        "directory_operation_lookup_total",
        "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
    ),
    (
        "dir",
        1,
        "directory_operation_create_total",
        "Number of times a new directory entry was created for a filesystem.",
    ),
    (
        "dir",
        2,
        "directory_operation_remove_total",
        "Number of times an existing directory entry was created for a filesystem.",
    ),
    (
        "dir",
        3,
        "directory_operation_getdents_total",
        "Number of times the directory getdents operation was performed for a filesystem.",
    ),
    (
        "ig",
        0,
        "inode_operation_attempts_total",
        "Number of times the OS looked for an XFS inode in the inode cache.",
    ),
    (
        "ig",
        1,
        "inode_operation_found_total",
        "Number of times the OS looked for and found an XFS inode in the inode cache.",
    ),
    (
        "ig",
        2,
        "inode_operation_recycled_total",
        "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
    ),
    (
        "ig",
        3,
        "inode_operation_missed_total",
        "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
    ),
    (
        "ig",
        4,
        "inode_operation_duplicates_total",
        "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
    ),
    (
        "ig",
        5,
        "inode_operation_reclaims_total",
        "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
    ),
    (
        "ig",
        6,
        "inode_operation_attribute_changes_total",
        "Number of times the OS explicitly changed the attributes of an XFS inode.",
    ),
    // The kernel's `rw` line is write calls, then read calls.
    (
        "rw",
        1,
        "read_calls_total",
        "Number of read(2) system calls made to files in a filesystem.",
    ),
    (
        "rw",
        0,
        "write_calls_total",
        "Number of write(2) system calls made to files in a filesystem.",
    ),
    (
        "vnodes",
        0,
        "vnode_active_total",
        "Number of vnodes not on free lists for a filesystem.",
    ),
    (
        "vnodes",
        1,
        "vnode_allocate_total",
        "Number of times vn_alloc called for a filesystem.",
    ),
    (
        "vnodes",
        2,
        "vnode_get_total",
        "Number of times vn_get called for a filesystem.",
    ),
    (
        "vnodes",
        3,
        "vnode_hold_total",
        "Number of times vn_hold called for a filesystem.",
    ),
    (
        "vnodes",
        4,
        "vnode_release_total",
        "Number of times vn_rele called for a filesystem.",
    ),
    (
        "vnodes",
        5,
        "vnode_reclaim_total",
        "Number of times vn_reclaim called for a filesystem.",
    ),
    (
        "vnodes",
        6,
        "vnode_remove_total",
        "Number of times vn_remove called for a filesystem.",
    ),
];

/// Parses one `stats` file into label -> values; missing lines read as zeros later.
pub(crate) fn parse_stats(text: &str) -> Result<BTreeMap<String, Vec<u64>>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let label = fields[0];
        let values = fields[1..]
            .iter()
            .map(|v| {
                if label == "xpc" {
                    v.parse::<u64>().map_err(|e| e.to_string())
                } else {
                    v.parse::<u32>().map(u64::from).map_err(|e| e.to_string())
                }
            })
            .collect::<Result<Vec<u64>, String>>()
            .map_err(|e| format!("line {label:?}: {e}"))?;
        if let Some((_, lengths)) = LINE_LENGTHS.iter().find(|(l, _)| *l == label)
            && !lengths.contains(&values.len())
        {
            return Err(format!(
                "incorrect number of values for XFS {label} stats: {}",
                values.len()
            ));
        }
        out.insert(label.to_string(), values);
    }
    Ok(out)
}

#[derive(Debug)]
struct Xfs {
    dir: PathBuf,
}

impl Collector for Xfs {
    fn name(&self) -> &str {
        "xfs"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // No /sys/fs/xfs (module not loaded, or a kernel before 4.4): nothing to report.
        let devices = match list_dir(&self.dir) {
            Ok(d) => d,
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut f = Families::new();
        for device in devices {
            let path = self.dir.join(&device).join("stats/stats");
            if !path.is_file() {
                continue;
            }
            let text = read_string(&path)?;
            let stats = parse_stats(&text).map_err(|r| parse_error(&path, r))?;
            for (line, idx, name, help) in METRICS {
                let value = stats
                    .get(line)
                    .and_then(|v| v.get(idx))
                    .copied()
                    .unwrap_or(0);
                f.counter(
                    &format!("node_xfs_{name}"),
                    help,
                    &[("device", &device)],
                    value as f64,
                );
            }
        }
        f.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_lines_parse_with_lengths_checked() {
        let s = parse_stats(
            "extent_alloc 1 2 3 4\nrw 10 20\nvnodes 1 2 3 4 5 6 7\nxpc 5000000000 2 3\n",
        )
        .expect("parses");
        assert_eq!(s["rw"], [10, 20]);
        assert_eq!(s["xpc"][0], 5_000_000_000);
        assert!(parse_stats("rw 1 2 3\n").is_err());
        assert!(parse_stats("vnodes 1 2 3\n").is_err());
        // Only xpc holds 64-bit counters.
        assert!(parse_stats("rw 5000000000 1\n").is_err());
        assert!(parse_stats("rmapbt 5000000000 1\n").is_err());
        assert!(parse_stats("rmapbt 1 2 3 4 5\n").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_stats_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&["extent_alloc", "rw", "vnodes", "xpc", "qm", "ig", "1", "4294967296"])
        ) {
            let _ = parse_stats(&text);
        }
    }
}

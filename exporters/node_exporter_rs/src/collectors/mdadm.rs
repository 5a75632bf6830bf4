//! `mdadm`: software RAID arrays from `/proc/mdstat`, as node_exporter's
//! `mdadm_linux.go` over procfs's `MDStat` parser: `node_md_state{state}`,
//! `node_md_disks{state}`, `node_md_disks_required`, `node_md_blocks`,
//! `node_md_blocks_synced`.

use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::sysfs::{Families, is_not_found};
use crate::util::{parse_error, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "mdadm",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Mdadm {
            path: ctx.paths.proc("mdstat"),
        }))
    },
};

#[derive(Debug)]
struct Mdadm {
    path: PathBuf,
}

/// One array as procfs's `MDStat` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MdStat {
    pub(crate) name: String,
    /// `active`, `inactive`, `recovering`, `resyncing` or `checking`.
    pub(crate) state: String,
    pub(crate) disks_active: i64,
    pub(crate) disks_total: i64,
    pub(crate) disks_failed: i64,
    pub(crate) disks_down: i64,
    pub(crate) disks_spare: i64,
    pub(crate) blocks_total: i64,
    pub(crate) blocks_synced: i64,
    pub(crate) synced_pct: f64,
    pub(crate) finish_minutes: f64,
    pub(crate) speed: f64,
}

/// Parses `/proc/mdstat`; `Err` carries the reason.
pub(crate) fn parse_mdstat(text: &str) -> Result<Vec<MdStat>, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(format!(
                "not enough fields in mdline (expected at least 3): {line}"
            ));
        }
        let name = fields[0].to_string();
        let mut state = fields[2].to_string();
        if lines.len() <= i + 3 {
            return Err(format!("too few lines for md device {name}"));
        }
        let failed = line.matches("(F)").count() as i64;
        let spare = line.matches("(S)").count() as i64;
        let (active, total, down, size) = eval_status_line(line, lines[i + 1])?;
        let mut sync_idx = i + 2;
        if lines[i + 2].contains("bitmap") {
            sync_idx += 1;
        }
        let sync_line = lines[sync_idx];
        let (mut synced, mut pct, mut finish, mut speed) = (size, 0.0, 0.0, 0.0);
        let recovering = sync_line.contains("recovery");
        let resyncing = sync_line.contains("resync");
        let checking = sync_line.contains("check");
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .to_string();
            if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                synced = 0;
            } else {
                (synced, pct, finish, speed) = eval_recovery_line(sync_line)
                    .map_err(|e| format!("parsing sync line of md device {name}: {e}"))?;
            }
        }
        out.push(MdStat {
            name,
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: failed,
            disks_down: down,
            disks_spare: spare,
            blocks_total: size,
            blocks_synced: synced,
            synced_pct: pct,
            finish_minutes: finish,
            speed,
        });
    }
    Ok(out)
}

/// (active, total, down, size) from the device line and the status line under it.
fn eval_status_line(device_line: &str, status_line: &str) -> Result<(i64, i64, i64, i64), String> {
    let size: i64 = status_line
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("unexpected status line {status_line:?}"))?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        let total = device_line.matches('[').count() as i64;
        return Ok((total, total, 0, size));
    }
    if device_line.contains("inactive") {
        return Ok((0, 0, 0, size));
    }
    // `(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]`: the last `[n/m] [UU_]` after "blocks ".
    let after = status_line
        .find(" blocks ")
        .filter(|&p| p > 0 && status_line.as_bytes()[p - 1].is_ascii_digit())
        .map(|p| &status_line[p + " blocks ".len()..])
        .ok_or_else(|| format!("couldn't find all the substring matches: {status_line}"))?;
    let mut starts: Vec<usize> = after.match_indices('[').map(|(i, _)| i).collect();
    starts.reverse();
    for start in starts {
        if let Some((total, active, down)) = disk_counts(&after[start..]) {
            return Ok((active, total, down, size));
        }
    }
    Err(format!(
        "couldn't find all the substring matches: {status_line}"
    ))
}

/// Parses `[total/active] [U_U...]` at the start of `s`.
fn disk_counts(s: &str) -> Option<(i64, i64, i64)> {
    let rest = s.strip_prefix('[')?;
    let (counts, rest) = rest.split_once("] [")?;
    let (total, active) = counts.split_once('/')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(total) || !digits(active) {
        return None;
    }
    let end = rest.find(']')?;
    let flags = &rest[..end];
    if flags.is_empty() || !flags.bytes().all(|b| b == b'U' || b == b'_') {
        return None;
    }
    Some((
        total.parse().ok()?,
        active.parse().ok()?,
        flags.matches('_').count() as i64,
    ))
}

/// (synced blocks, percent, finish minutes, speed) from a
/// `[=>...]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec` line.
fn eval_recovery_line(line: &str) -> Result<(i64, f64, f64, f64), String> {
    let unexpected = |what: &str| format!("unexpected recovery line matching {what}: {line}");
    // `\((\d+)/\d+\)`
    let synced = line
        .match_indices('(')
        .find_map(|(i, _)| {
            let (a, rest) = line[i + 1..].split_once('/')?;
            let (b, _) = rest.split_once(')')?;
            let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
            (digits(a) && digits(b)).then(|| a.parse::<i64>().ok())?
        })
        .ok_or_else(|| unexpected("blocks"))?;
    // `= (.+)%`, greedy.
    let pct = between(line, "= ", |s| s.rfind('%'))
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or_else(|| unexpected("percentage"))?;
    // `finish=(.+)min`, greedy.
    let finish = between(line, "finish=", |s| s.rfind("min"))
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| unexpected("est. finish time"))?;
    // `speed=(.+)[A-Z]`, greedy: up to the last capital letter.
    let speed = between(line, "speed=", |s| {
        s.char_indices()
            .skip(1)
            .filter(|(_, c)| c.is_ascii_uppercase())
            .map(|(i, _)| i)
            .last()
    })
    .and_then(|s| s.parse::<f64>().ok())
    .ok_or_else(|| unexpected("speed"))?;
    Ok((synced, pct, finish, speed))
}

/// The text after the first `open` up to the end position `close` finds in what follows;
/// empty captures do not match (the `.+` of upstream's expressions).
fn between<'a>(
    line: &'a str,
    open: &str,
    close: impl Fn(&str) -> Option<usize>,
) -> Option<&'a str> {
    let start = line.find(open)? + open.len();
    let rest = &line[start..];
    let end = close(rest)?;
    (end > 0).then(|| &rest[..end])
}

impl Collector for Mdadm {
    fn name(&self) -> &str {
        "mdadm"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = match read_string(&self.path) {
            Ok(text) => text,
            Err(e) if is_not_found(&e) => return Err(CollectorError::NoData),
            Err(e) => return Err(e),
        };
        let stats = parse_mdstat(&text).map_err(|reason| parse_error(&self.path, reason))?;
        emit(&stats, out);
        Ok(())
    }
}

fn emit(stats: &[MdStat], out: &mut Vec<MetricFamily>) {
    let mut f = Families::new();
    for md in stats {
        let dev = md.name.as_str();
        f.gauge(
            "node_md_disks_required",
            "Total number of disks of device.",
            &[("device", dev)],
            md.disks_total as f64,
        );
        for (state, n) in [
            ("active", md.disks_active),
            ("failed", md.disks_failed),
            ("spare", md.disks_spare),
        ] {
            f.gauge(
                "node_md_disks",
                "Number of active/failed/spare disks of device.",
                &[("device", dev), ("state", state)],
                n as f64,
            );
        }
        for (label, state) in [
            ("active", "active"),
            ("inactive", "inactive"),
            ("recovering", "recovering"),
            ("resync", "resyncing"),
            ("check", "checking"),
        ] {
            f.gauge(
                "node_md_state",
                "Indicates the state of md-device.",
                &[("device", dev), ("state", label)],
                if md.state == state { 1.0 } else { 0.0 },
            );
        }
        f.gauge(
            "node_md_blocks",
            "Total number of blocks on device.",
            &[("device", dev)],
            md.blocks_total as f64,
        );
        f.gauge(
            "node_md_blocks_synced",
            "Number of blocks synced on device.",
            &[("device", dev)],
            md.blocks_synced as f64,
        );
    }
    f.push_to(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Personalities : [raid1] [raid6] [raid5] [raid4] [raid0] [linear]\n";

    fn one(body: &str) -> MdStat {
        let text = format!("{HEADER}{body}\nunused devices: <none>\n");
        let mut all = parse_mdstat(&text).expect("parses");
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn clean_raid1_is_active_and_fully_synced() {
        let md =
            one("md0 : active raid1 sdb1[1] sda1[0]\n      1046528 blocks super 1.2 [2/2] [UU]\n");
        assert_eq!(md.state, "active");
        assert_eq!((md.disks_active, md.disks_total, md.disks_down), (2, 2, 0));
        assert_eq!((md.blocks_total, md.blocks_synced), (1046528, 1046528));
    }

    #[test]
    fn degraded_array_in_recovery_counts_failed_spare_and_progress() {
        let md = one(
            "md2 : active raid5 sdd1[4] sdc1[2](F) sdb1[1] sda1[0] sde1[5](S)\n      \
             2929890816 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UU_U]\n      \
             [===>.................]  recovery = 17.3% (169063040/976630272) finish=81.4min speed=165280K/sec\n",
        );
        assert_eq!(md.state, "recovering");
        assert_eq!((md.disks_active, md.disks_total, md.disks_down), (3, 4, 1));
        assert_eq!((md.disks_failed, md.disks_spare), (1, 1));
        assert_eq!(md.blocks_synced, 169063040);
        assert_eq!(
            (md.synced_pct, md.finish_minutes, md.speed),
            (17.3, 81.4, 165280.0)
        );
    }

    #[test]
    fn bitmap_line_is_skipped_before_the_sync_line() {
        let md = one(
            "md3 : active raid1 sdb2[1] sda2[0]\n      976630464 blocks super 1.2 [2/2] [UU]\n      \
             bitmap: 2/8 pages [8KB], 65536KB chunk\n      \
             [=>...................]  check =  6.0% (58597888/976630464) finish=75.1min speed=203714K/sec\n",
        );
        assert_eq!(md.state, "checking");
        assert_eq!(md.blocks_synced, 58597888);
    }

    #[test]
    fn delayed_and_pending_resyncs_have_nothing_synced() {
        for word in ["resync=DELAYED", "resync=PENDING"] {
            let md = one(&format!(
                "md4 : active raid1 sdd1[1] sdc1[0]\n      523968 blocks super 1.2 [2/2] [UU]\n      {word}\n"
            ));
            assert_eq!(md.state, "resyncing");
            assert_eq!(md.blocks_synced, 0);
        }
    }

    #[test]
    fn raid0_linear_and_inactive_arrays() {
        let md = one(
            "md5 : active raid0 sdb[1] sdc[0]\n      1855870976 blocks super 1.2 512k chunks\n",
        );
        assert_eq!((md.disks_active, md.disks_total), (2, 2));
        let md = one(
            "md6 : active linear sda1[1] sdb1[0] sdc1[2]\n      2095104 blocks super 1.2 0k rounding\n",
        );
        assert_eq!((md.disks_active, md.disks_total), (3, 3));
        let md =
            one("md127 : inactive sdb[0](S) sdc[1](S)\n      7932 blocks super external:imsm\n");
        assert_eq!(md.state, "inactive");
        assert_eq!((md.disks_active, md.disks_total, md.disks_spare), (0, 0, 2));
    }

    #[test]
    fn truncated_or_malformed_input_is_an_error() {
        assert!(parse_mdstat("md0 : active\n").is_err());
        assert!(parse_mdstat("md0 : active raid1 sda[0]\n   garbage\n\n\n").is_err());
        assert!(
            parse_mdstat(
                "md0 : active raid1 sda[0] sdb[1]\n      100 blocks [2/2] [UU]\n      [>..]  recovery = x% (1/2)\n\n"
            )
            .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn any_mdstat_text_parses_or_errs_without_panicking(
            text in crate::sysfs::testing::text(&[
                "md0", ":", "active", "inactive", "raid1", "raid0", "linear", "sda1[0]",
                "sdb1[1](F)", "sdc[2](S)", "blocks", "super", "1.2", "[2/2]", "[U_]", "[UU]",
                "bitmap:", "recovery", "resync", "check", "=", "8.5%", "(12/100)",
                "finish=1.5min", "speed=1000K/sec", "resync=DELAYED", "PENDING", "Personalities",
                "unused", "      ",
            ])
        ) {
            let _ = parse_mdstat(&text);
        }
    }
}

//! Which blocks to compact, as Prometheus's leveled compactor plans, and which blocks a
//! newer compacted block makes redundant.

use std::collections::HashSet;

use crate::block::{Block, BlockId, BlockMeta};

/// Longest compacted block: 31 days in ms.
const MAX_BLOCK_DURATION: i64 = 31 * 24 * 3_600_000;

/// Block ranges: `base`, then 3× steps (as Prometheus's `ExponentialBlockRanges(base,
/// 10, 3)`), keeping those up to a tenth of the retention time (if any) and 31 days.
pub(crate) fn block_ranges(base: i64, retention_time: Option<i64>) -> Vec<i64> {
    let base = base.max(1);
    let max = retention_time
        .map_or(MAX_BLOCK_DURATION, |r| (r / 10).min(MAX_BLOCK_DURATION))
        .max(base);
    let mut out = vec![base];
    let mut r = base;
    for _ in 1..10 {
        r = r.saturating_mul(3);
        if r > max {
            break;
        }
        out.push(r);
    }
    out
}

/// The blocks to merge next (ids), or `None`. `metas` sorted by min time.
///
/// The newest block is left out (Prometheus leaves it for backups). For each range after
/// the first, blocks that fit in an aligned window of that range are grouped; the first
/// group of at least two blocks that spans the whole window, or ends before the newest
/// remaining block starts, is chosen.
pub(crate) fn plan(metas: &[&BlockMeta], ranges: &[i64]) -> Option<Vec<BlockId>> {
    let (_, ds) = metas.split_last()?;
    let high = ds.last()?.min_time;
    for &r in ranges.iter().skip(1) {
        for group in split_by_range(ds, r) {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let (mint, maxt) = (first.min_time, last.max_time);
            if group.len() > 1 && (maxt - mint == r || maxt <= high) {
                return Some(group.iter().map(|m| m.id).collect());
            }
        }
    }
    None
}

/// Groups of consecutive blocks lying wholly in one aligned window of `r` ms; blocks
/// crossing a window boundary are in no group.
fn split_by_range<'a>(ds: &[&'a BlockMeta], r: i64) -> Vec<Vec<&'a BlockMeta>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ds.len() {
        let t0 = ds[i].min_time.div_euclid(r) * r;
        if ds[i].max_time > t0.saturating_add(r) {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < ds.len() && ds[i].min_time >= t0 && ds[i].max_time <= t0.saturating_add(r) {
            group.push(ds[i]);
            i += 1;
        }
        out.push(group);
    }
    out
}

/// Splits `blocks` into those to keep and those whose sources another block holds
/// entirely, at a higher level or with more sources (left by a crash after a compacted
/// block was written and before its sources were deleted). Order is kept.
pub(crate) fn drop_covered(blocks: Vec<Block>) -> (Vec<Block>, Vec<Block>) {
    let sets: Vec<(BlockId, u32, HashSet<BlockId>)> = blocks
        .iter()
        .map(|b| {
            let m = b.meta();
            let mut s: HashSet<BlockId> = m.sources.iter().copied().collect();
            if s.is_empty() {
                s.insert(m.id);
            }
            (m.id, m.level, s)
        })
        .collect();
    let covered = |i: usize| {
        let (id, level, s) = &sets[i];
        sets.iter().any(|(oid, olevel, os)| {
            oid != id && (olevel > level || os.len() > s.len()) && s.is_subset(os)
        })
    };
    let mut keep = Vec::new();
    let mut drop = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        if covered(i) {
            drop.push(b);
        } else {
            keep.push(b);
        }
    }
    (keep, drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockStats;

    fn meta(min: i64, max: i64) -> BlockMeta {
        let id = BlockId::new();
        BlockMeta {
            id,
            min_time: min,
            max_time: max,
            stats: BlockStats::default(),
            level: 1,
            sources: vec![id],
        }
    }

    #[test]
    fn ranges_grow_by_three_up_to_a_tenth_of_retention() {
        let h = 3_600_000;
        assert_eq!(
            block_ranges(2 * h, Some(15 * 24 * h)),
            [2 * h, 6 * h, 18 * h]
        );
        assert_eq!(block_ranges(2 * h, None).len(), 6); // 486 h ≤ 31 d < 1458 h
        assert_eq!(block_ranges(10, Some(0)), [10]);
    }

    #[test]
    fn plan_merges_full_or_finished_windows_and_never_the_newest_block() {
        let r = [10, 30, 90];
        // Three level-1 blocks in window [0, 30), plus a newer one: merge the three.
        let ms = [meta(0, 10), meta(10, 20), meta(20, 30), meta(30, 40)];
        let refs: Vec<&BlockMeta> = ms.iter().collect();
        assert_eq!(plan(&refs, &r), Some(vec![ms[0].id, ms[1].id, ms[2].id]));
        // Only the newest block in the window after it: nothing.
        assert_eq!(plan(&refs[..1], &r), None);
        // Two blocks in [0, 30) that do not span it, and the second is the newest: wait.
        let ms = [meta(0, 10), meta(12, 20)];
        let refs: Vec<&BlockMeta> = ms.iter().collect();
        assert_eq!(plan(&refs, &r), None);
        // With a block in the next window the first window is finished.
        let ms = [meta(0, 9), meta(12, 19), meta(31, 35), meta(40, 41)];
        let refs: Vec<&BlockMeta> = ms.iter().collect();
        assert_eq!(plan(&refs, &r), Some(vec![ms[0].id, ms[1].id]));
        // A block crossing a window boundary is not merged at that range.
        let ms = [meta(25, 35), meta(40, 41), meta(50, 51)];
        let refs: Vec<&BlockMeta> = ms.iter().collect();
        assert_eq!(plan(&refs, &[10, 30]), None);
    }
}

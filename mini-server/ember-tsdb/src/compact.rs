//! Compaction (merging blocks into one) and retention (deleting blocks by age or by
//! total size) over a directory of blocks.
//!
//! Compaction decodes the sources' series, merges series with equal label sets (on equal
//! timestamps the sample of the block listed first is kept), re-cuts chunks and writes
//! one block whose level is one more than its highest source and whose sources are the
//! union of theirs. Series are merged one at a time (the sources list them sorted), so
//! only one series' samples are decoded at once.

use std::fs;
use std::path::Path;

use crate::Error;
use crate::block::{Block, BlockId, BlockMeta, BlockWriter, WriteOptions, sync_dir};
use crate::labels::Labels;
use crate::querier::Querier;

/// Merges `blocks` into one new block under `dir` and returns its meta; the sources are
/// left in place (delete them with [`delete_block`] once the new block is open).
///
/// ```
/// use ember_tsdb::{Block, Labels, WriteOptions, compact, write_block};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-compact-{}", std::process::id()));
/// let a = Labels::new([("__name__", "a")])?;
/// let o = WriteOptions::default();
/// let m1 = write_block(&dir, vec![(a.clone(), vec![(0, 1.0), (10, 2.0)])], &o)?;
/// let m2 = write_block(&dir, vec![(a.clone(), vec![(10, 9.0), (20, 3.0)])], &o)?;
/// let blocks = [Block::open(dir.join(m1.id.to_string()))?, Block::open(dir.join(m2.id.to_string()))?];
/// let m = compact(&dir, &blocks, &o)?;
/// assert_eq!((m.level, m.sources.len(), m.stats.num_samples), (2, 2, 3));
/// let merged = Block::open(dir.join(m.id.to_string()))?;
/// assert_eq!(merged.series_samples(0)?.unwrap().1, [(0, 1.0), (10, 2.0), (20, 3.0)]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn compact(dir: &Path, blocks: &[Block], options: &WriteOptions) -> Result<BlockMeta, Error> {
    let mut sources: Vec<BlockId> = blocks
        .iter()
        .flat_map(|b| b.meta().sources.iter().copied())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let level = blocks.iter().map(|b| b.meta().level).max().unwrap_or(0) + 1;
    let opts = WriteOptions {
        level,
        sources,
        ..options.clone()
    };
    let mut writer = BlockWriter::new(dir, &opts);
    // Each block lists its series sorted by labels: merge the lists, one series at a time.
    let mut cursors = vec![0usize; blocks.len()];
    loop {
        let mut min: Option<&Labels> = None;
        for (b, &c) in blocks.iter().zip(&cursors) {
            if let Some((l, _)) = b.series(c) {
                if min.is_none_or(|m| l < m) {
                    min = Some(l);
                }
            }
        }
        let Some(labels) = min.cloned() else { break };
        let mut samples = Vec::new();
        for (b, c) in blocks.iter().zip(cursors.iter_mut()) {
            if b.series(*c).is_some_and(|(l, _)| *l == labels) {
                if let Some((_, s)) = b.series_samples(*c)? {
                    samples.extend(s);
                }
                *c += 1;
            }
        }
        // Stable: the first block's sample stays first among equal timestamps.
        samples.sort_by_key(|x| x.0);
        samples.dedup_by_key(|x| x.0);
        writer.add_series(labels, &samples)?;
    }
    writer.finish()
}

/// Writes every sample of `source` in `mint..=maxt` as one block under `dir` (for
/// instance the head's oldest 2 h, before the head drops them); `None` when the range
/// holds no sample. Series are streamed in label order, one at a time.
///
/// ```
/// use ember_tsdb::{Block, Head, HeadOptions, Labels, WriteOptions, write_range};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-range-{}", std::process::id()));
/// let mut head = Head::new(HeadOptions::default());
/// let id = head.series_id(Labels::new([("__name__", "up")])?);
/// for t in 0..10 {
///     head.append(id, t * 1_000, 1.0)?;
/// }
/// let meta = write_range(&head, &dir, 0, 4_999, &WriteOptions::default())?.expect("samples");
/// assert_eq!((meta.min_time, meta.max_time, meta.stats.num_samples), (0, 4_001, 5));
/// assert!(write_range(&head, &dir, 20_000, 30_000, &WriteOptions::default())?.is_none());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn write_range(
    source: &dyn Querier,
    dir: &Path,
    mint: i64,
    maxt: i64,
    options: &WriteOptions,
) -> Result<Option<BlockMeta>, Error> {
    let mut writer = BlockWriter::new(dir, options);
    let mut any = false;
    for s in source.select(&[], mint, maxt)? {
        let samples: Vec<(i64, f64)> = s.iter().collect();
        any |= !samples.is_empty();
        writer.add_series(s.labels().clone(), &samples)?;
    }
    if any {
        writer.finish().map(Some)
    } else {
        Ok(None)
    }
}

/// Opens every block directory under `dir` (names that parse as a [`BlockId`]), sorted
/// by min time. Leftover `*.tmp` directories of interrupted writes are removed.
pub fn open_blocks(dir: &Path) -> Result<Vec<Block>, Error> {
    let io = |source| Error::BlockIo {
        path: dir.to_path_buf(),
        source,
    };
    let mut blocks = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !entry.path().is_dir() {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".tmp") {
            if stem.parse::<BlockId>().is_ok() {
                fs::remove_dir_all(entry.path()).map_err(|source| Error::BlockIo {
                    path: entry.path(),
                    source,
                })?;
            }
            continue;
        }
        if name.parse::<BlockId>().is_ok() {
            blocks.push(Block::open(entry.path())?);
        }
    }
    blocks.sort_by_key(|b| (b.meta().min_time, b.meta().id));
    Ok(blocks)
}

/// Deletes a block directory: renamed to `<id>.tmp` first (so a crash never leaves a
/// half-deleted block that opens), then removed.
pub fn delete_block(block: Block) -> Result<(), Error> {
    let dir = block.dir().to_path_buf();
    drop(block);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::BlockIo { path, source }
    };
    let mut tmp = dir.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    fs::rename(&dir, &tmp).map_err(io(&dir))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    fs::remove_dir_all(&tmp).map_err(io(&tmp))
}

/// Deletes the blocks whose samples are all older than `before` (`max_time <= before`);
/// returns the ids deleted and the blocks kept.
pub fn retain_after(blocks: Vec<Block>, before: i64) -> Result<(Vec<BlockId>, Vec<Block>), Error> {
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for b in blocks {
        if b.meta().max_time <= before {
            deleted.push(b.meta().id);
            delete_block(b)?;
        } else {
            kept.push(b);
        }
    }
    Ok((deleted, kept))
}

/// Deletes the oldest blocks (by max time) until the rest take at most `max_bytes`;
/// returns the ids deleted and the blocks kept.
///
/// ```
/// use ember_tsdb::{Labels, WriteOptions, open_blocks, retain_after, retain_size, write_block};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-retain-{}", std::process::id()));
/// let a = Labels::new([("__name__", "a")])?;
/// for t in [0, 100, 200] {
///     write_block(&dir, vec![(a.clone(), vec![(t, 1.0)])], &WriteOptions::default())?;
/// }
/// let (gone, kept) = retain_after(open_blocks(&dir)?, 101)?; // max_time is exclusive
/// assert_eq!((gone.len(), kept.len()), (2, 1));
/// let one = kept[0].size_bytes();
/// let (gone, kept) = retain_size(kept, one - 1)?;
/// assert_eq!((gone.len(), kept.len()), (1, 0));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn retain_size(
    mut blocks: Vec<Block>,
    max_bytes: u64,
) -> Result<(Vec<BlockId>, Vec<Block>), Error> {
    // Newest first: keep while the running total fits.
    blocks.sort_by_key(|b| std::cmp::Reverse((b.meta().max_time, b.meta().id)));
    let mut total = 0u64;
    let mut kept = Vec::new();
    let mut deleted = Vec::new();
    for b in blocks {
        total = total.saturating_add(b.size_bytes());
        if total <= max_bytes && deleted.is_empty() {
            kept.push(b);
        } else {
            deleted.push(b.meta().id);
            delete_block(b)?;
        }
    }
    kept.reverse();
    Ok((deleted, kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::tests::temp_dir;
    use crate::block::{SeriesSamples, write_block};

    fn l(v: &str) -> Labels {
        Labels::new([("__name__", "m"), ("v", v)]).unwrap()
    }

    fn block(dir: &Path, series: Vec<SeriesSamples>) -> Block {
        let m = write_block(dir, series, &WriteOptions::default()).unwrap();
        Block::open(dir.join(m.id.to_string())).unwrap()
    }

    #[test]
    fn compaction_merges_dedupes_and_records_lineage() {
        let dir = temp_dir("compact");
        let a = block(
            &dir,
            vec![
                (l("a"), vec![(0, 1.0), (10, 2.0)]),
                (l("b"), vec![(5, 5.0)]),
            ],
        );
        let b = block(
            &dir,
            vec![
                (l("a"), vec![(10, 99.0), (20, 3.0)]),
                (l("c"), vec![(7, 7.0)]),
            ],
        );
        let m1 = compact(&dir, &[a, b], &WriteOptions::default()).unwrap();
        let c = block(&dir, vec![(l("a"), vec![(30, 4.0)])]);
        let lvl2 = Block::open(dir.join(m1.id.to_string())).unwrap();
        let sources_before: Vec<BlockId> = lvl2.meta().sources.clone();
        let m2 = compact(&dir, &[lvl2, c], &WriteOptions::default()).unwrap();
        assert_eq!(m2.level, 3);
        assert_eq!(m2.sources.len(), 3);
        assert!(sources_before.iter().all(|s| m2.sources.contains(s)));
        let merged = Block::open(dir.join(m2.id.to_string())).unwrap();
        let got: Vec<SeriesSamples> = (0..merged.num_series())
            .map(|i| merged.series_samples(i).unwrap().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (l("a"), vec![(0, 1.0), (10, 2.0), (20, 3.0), (30, 4.0)]),
                (l("b"), vec![(5, 5.0)]),
                (l("c"), vec![(7, 7.0)]),
            ]
        );
        assert_eq!((m2.min_time, m2.max_time, m2.stats.num_samples), (0, 31, 6));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_blocks_sorts_skips_strangers_and_removes_leftovers() {
        let dir = temp_dir("open");
        let late = block(&dir, vec![(l("a"), vec![(100, 1.0)])]).meta().id;
        let early = block(&dir, vec![(l("a"), vec![(1, 1.0)])]).meta().id;
        let leftover = dir.join(format!("{}.tmp", BlockId::new()));
        fs::create_dir_all(&leftover).unwrap();
        fs::create_dir_all(dir.join("wal")).unwrap();
        fs::write(dir.join("notes.txt"), "x").unwrap();
        let blocks = open_blocks(&dir).unwrap();
        let ids: Vec<BlockId> = blocks.iter().map(|b| b.meta().id).collect();
        assert_eq!(ids, [early, late]);
        assert!(!leftover.exists());
        assert!(dir.join("wal").exists());
        // Retention by size keeps the newest that fit, and deletes everything older.
        let total: u64 = blocks.iter().map(Block::size_bytes).sum();
        let (gone, kept) = retain_size(blocks, total).unwrap();
        assert_eq!((gone.len(), kept.len()), (0, 2));
        let (gone, kept) = retain_size(kept, total - 1).unwrap();
        assert_eq!(gone, [early]);
        assert_eq!(kept[0].meta().id, late);
        assert!(!dir.join(early.to_string()).exists());
        let (gone, kept) = retain_after(kept, 100).unwrap();
        assert_eq!((gone.len(), kept.len()), (0, 1)); // max_time 101 > 100
        let (gone, _) = retain_after(kept, 101).unwrap();
        assert_eq!(gone, [late]);
        assert!(open_blocks(&dir).unwrap().is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_block_stops_open_blocks_with_its_path() {
        let dir = temp_dir("opencorrupt");
        let id = block(&dir, vec![(l("a"), vec![(1, 1.0)])]).meta().id;
        let index = dir.join(id.to_string()).join(crate::block::INDEX_FILE);
        let mut bytes = fs::read(&index).unwrap();
        bytes[10] ^= 1;
        fs::write(&index, bytes).unwrap();
        match open_blocks(&dir) {
            Err(Error::CorruptBlock { path, .. }) => assert_eq!(path, index),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

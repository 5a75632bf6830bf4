//! Head compaction into blocks, block compaction (the leveled plan of `plan.rs`), retention
//! by time and size, and the block list they maintain.

use std::fs::{self};

use crate::Error;
use crate::block::{Block, BlockId, BlockMeta, WriteOptions};
use crate::chunk::Chunk;
use crate::compact::{compact, delete_block, open_blocks, retain_after, retain_size, write_range};
use crate::labels::Labels;
use crate::record::Metadata;
use crate::wal::{io_err, list_segments};

use super::{
    Db, MaintainReport, checkpoint_path, dir_bytes, list_checkpoints, plan, set_aside_name,
    sync_dir,
};

impl Db {
    /// Head compaction, as Prometheus does it: while the head spans more than 1.5 times
    /// [`Options::block_range`](super::Options::block_range), its oldest whole range `[k·range, (k+1)·range)` is
    /// written as a level-1 block (into `<id>.tmp/`, synced, renamed), then the head is
    /// cut at the range's end with a checkpoint ([`Db::cut`]). A crash after the rename
    /// and before the checkpoint loses nothing and duplicates nothing: on open, replayed
    /// samples before the newest block's end are skipped. Returns the blocks written.
    pub fn compact_head(&mut self) -> Result<Vec<BlockMeta>, Error> {
        let range = self.options.block_range.max(1);
        let mut written = Vec::new();
        while let Some((mint, maxt)) = self.head.time_range() {
            if maxt.saturating_sub(mint) <= range / 2 * 3 {
                break;
            }
            let start = mint.div_euclid(range) * range;
            let end = start.saturating_add(range);
            let meta = write_range(
                &self.head,
                &self.dir,
                start,
                end - 1,
                &WriteOptions::default(),
            )?;
            if let Some(meta) = meta {
                self.metrics.compactions.inc();
                self.add_block(&meta)?;
                written.push(meta);
            }
            // The block holds them: the sink has nothing left to keep.
            let mut drop_all = |_: &Labels, _: Option<&Metadata>, _: &[Chunk]| Ok(());
            self.cut(end, &mut drop_all)?;
        }
        self.publish_blocks();
        Ok(written)
    }

    /// Block compaction: merges blocks as planned by Prometheus's leveled compactor
    /// (windows of 3, 9, 27… block ranges, see [`Options::block_range`](super::Options::block_range); the newest block
    /// is never merged), until nothing is left to merge. The merged block is durable
    /// (synced and renamed) before its sources are deleted; after a crash in between,
    /// [`Db::open`] deletes blocks whose sources a higher-level block holds. Returns the
    /// blocks written.
    pub fn compact_blocks(&mut self) -> Result<Vec<BlockMeta>, Error> {
        let ranges = plan::block_ranges(self.options.block_range, self.options.retention_time);
        let mut written = Vec::new();
        loop {
            let metas: Vec<&BlockMeta> = self.blocks.iter().map(Block::meta).collect();
            let Some(ids) = plan::plan(&metas, &ranges) else {
                break;
            };
            let (sources, rest): (Vec<Block>, Vec<Block>) = std::mem::take(&mut self.blocks)
                .into_iter()
                .partition(|b| ids.contains(&b.meta().id));
            self.blocks = rest;
            let meta = match compact(&self.dir, &sources, &WriteOptions::default()) {
                Ok(m) => m,
                Err(e) => {
                    self.metrics.compactions_failed.inc();
                    self.blocks.extend(sources);
                    self.sort_blocks();
                    return Err(e);
                }
            };
            self.metrics.compactions.inc();
            if let Err(e) = self.add_block(&meta) {
                self.blocks.extend(sources);
                self.sort_blocks();
                return Err(e);
            }
            for b in sources {
                delete_block(b)?;
            }
            written.push(meta);
        }
        self.publish_blocks();
        Ok(written)
    }

    /// Retention: deletes blocks whose data ends more than [`Options::retention_time`](super::Options::retention_time)
    /// before the newest block's end, then the oldest blocks while blocks plus WAL take
    /// more than [`Options::retention_size`](super::Options::retention_size) bytes (as Prometheus, the head's samples are
    /// never deleted by retention). Returns the ids deleted.
    pub fn apply_retention(&mut self) -> Result<Vec<BlockId>, Error> {
        let mut deleted = Vec::new();
        if let (Some(rt), Some(newest)) = (
            self.options.retention_time,
            self.blocks.iter().map(|b| b.meta().max_time).max(),
        ) {
            let before = newest.saturating_sub(rt).saturating_sub(1);
            let blocks = std::mem::take(&mut self.blocks);
            let (gone, kept) = match retain_after(blocks, before) {
                Ok(r) => r,
                Err(e) => return self.reload_blocks(e),
            };
            self.blocks = kept;
            if !gone.is_empty() {
                self.metrics.time_retentions.inc();
            }
            deleted.extend(gone);
        }
        if let Some(max) = self.options.retention_size {
            let wal = dir_bytes(&self.wal_dir)?;
            let blocks = std::mem::take(&mut self.blocks);
            let (gone, kept) = match retain_size(blocks, max.saturating_sub(wal)) {
                Ok(r) => r,
                Err(e) => return self.reload_blocks(e),
            };
            self.blocks = kept;
            if !gone.is_empty() {
                self.metrics.size_retentions.inc();
            }
            deleted.extend(gone);
        }
        self.sort_blocks();
        self.publish_blocks();
        Ok(deleted)
    }

    /// Everything the store does in the background in Prometheus, run by the caller (no
    /// thread): head compaction, block compaction, retention. Call it periodically (for
    /// instance once a minute, as Prometheus).
    pub fn maintain(&mut self) -> Result<MaintainReport, Error> {
        let head_blocks = self.compact_head()?;
        let compacted = self.compact_blocks()?;
        let deleted = self.apply_retention()?;
        Ok(MaintainReport {
            head_blocks,
            compacted,
            deleted,
        })
    }

    /// After a failed deletion the list may be short: read the directory again.
    pub(super) fn reload_blocks<T>(&mut self, e: Error) -> Result<T, Error> {
        self.blocks = open_blocks(&self.dir)?;
        self.publish_blocks();
        Err(e)
    }

    pub(super) fn add_block(&mut self, meta: &BlockMeta) -> Result<(), Error> {
        let block = Block::open(self.dir.join(meta.id.to_string()))?;
        self.blocks.push(block);
        self.sort_blocks();
        Ok(())
    }

    pub(super) fn sort_blocks(&mut self) {
        self.blocks
            .sort_by_key(|b| (b.meta().min_time, b.meta().id));
    }

    pub(super) fn publish_blocks(&mut self) {
        self.metrics.blocks_loaded.set(self.blocks.len() as i64);
        self.metrics
            .storage_blocks_bytes
            .set(self.blocks.iter().map(Block::size_bytes).sum::<u64>() as i64);
        let lowest = self
            .blocks
            .first()
            .map(|b| b.meta().min_time)
            .or_else(|| self.head.time_range().map(|r| r.0));
        self.metrics
            .lowest_timestamp
            .set(lowest.unwrap_or(i64::MAX));
    }

    /// Deletes segments `0..=n` and checkpoints before `n`.
    pub(super) fn delete_covered(&mut self, n: u32) -> Result<(u32, u32), Error> {
        let mut segments = 0;
        let covered: Vec<u32> = list_segments(&self.wal_dir)?
            .into_iter()
            .filter(|&s| s <= n)
            .collect();
        if !covered.is_empty() {
            self.metrics.wal_truncations.inc();
            for s in covered {
                let p = crate::wal::segment_path(&self.wal_dir, s);
                if let Err(e) = fs::remove_file(&p) {
                    self.metrics.wal_truncations_failed.inc();
                    return Err(io_err(&p)(e));
                }
                segments += 1;
            }
        }
        let mut checkpoints = 0;
        for c in list_checkpoints(&self.wal_dir)? {
            if c < n && self.set_aside == Some(c) {
                let from = checkpoint_path(&self.wal_dir, c);
                let to = set_aside_name(&self.wal_dir, &format!("checkpoint.{c:08}.corrupt"));
                fs::rename(&from, &to).map_err(io_err(&from))?;
            } else if c < n {
                self.metrics.checkpoint_deletions.inc();
                let p = checkpoint_path(&self.wal_dir, c);
                if let Err(e) = fs::remove_dir_all(&p) {
                    self.metrics.checkpoint_deletions_failed.inc();
                    return Err(io_err(&p)(e));
                }
                checkpoints += 1;
            }
        }
        sync_dir(&self.wal_dir)?;
        Ok((segments, checkpoints))
    }
}

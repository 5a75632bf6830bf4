//! Persisted blocks: immutable directories holding the samples of a time range.
//!
//! A block directory `<id>/` holds three files (byte layouts in `FORMAT.md`):
//!
//! | file | what |
//! |---|---|
//! | `chunks` | pages of chunk records (the codecs of [`crate::Chunk`]), deflate-compressed, CRC per page |
//! | `index` | symbols, series (label refs, chunk refs with time ranges), a label name → values table, postings per label pair; CRC per section, a footer holding the CRC of `meta.json` |
//! | `meta.json` | id, time range, counts, compaction level and sources |
//!
//! Blocks are written into `<id>.tmp/`, synced and renamed ([`write_block`]). [`Block::open`]
//! reads and checks the whole index and `meta.json` (their CRCs), and the chunks file's
//! header; each chunk page's CRC is checked when it is first read. A damaged byte anywhere therefore
//! yields [`Error::CorruptBlock`] at open or at read, never a panic.

mod buf;
mod chunks;
mod index;
mod meta;
mod writer;

use std::fs;
use std::path::{Path, PathBuf};

pub use chunks::ChunkMeta;
pub use meta::{BlockId, BlockMeta, BlockStats, META_VERSION};
pub use writer::{BlockWriter, WriteOptions, write_block};

pub(crate) use writer::sync_dir;

use crate::Error;
use crate::chunk::Chunk;
use crate::labels::Labels;
use chunks::ChunksReader;
use index::Index;

/// A series and its samples (timestamps in ms, strictly increasing), as blocks are
/// written from and read back into.
pub type SeriesSamples = (Labels, Vec<(i64, f64)>);

/// Name of the chunks file in a block directory.
pub const CHUNKS_FILE: &str = "chunks";
/// Name of the index file in a block directory.
pub const INDEX_FILE: &str = "index";
/// Name of the meta file in a block directory.
pub const META_FILE: &str = "meta.json";

/// An open, checked block.
///
/// ```
/// use ember_tsdb::{Block, Labels, WriteOptions, write_block};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-block-{}", std::process::id()));
/// let a = Labels::new([("__name__", "a")])?;
/// let meta = write_block(&dir, vec![(a, vec![(0, 1.5), (10, 2.5)])], &WriteOptions::default())?;
/// let block = Block::open(dir.join(meta.id.to_string()))?;
/// assert_eq!(block.meta(), &meta);
/// assert_eq!(block.num_series(), 1);
/// block.verify()?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Index,
    index_len: u64,
    meta_len: u64,
    chunks: ChunksReader,
}

impl Block {
    /// Opens the block in `dir`, reading and checking `meta.json` and the index.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref().to_path_buf();
        let read = |name: &str| {
            let path = dir.join(name);
            fs::read(&path).map_err(|source| Error::BlockIo { path, source })
        };
        let corrupt = |name: &str, reason: String| Error::CorruptBlock {
            path: dir.join(name),
            reason,
        };
        let meta_bytes = read(META_FILE)?;
        let index_bytes = read(INDEX_FILE)?;
        let index = index::decode(&index_bytes).map_err(|r| corrupt(INDEX_FILE, r))?;
        if crc32fast::hash(&meta_bytes) != index.meta_crc {
            return Err(corrupt(
                META_FILE,
                "checksum differs from the one recorded in the index".into(),
            ));
        }
        let meta = BlockMeta::from_json(&meta_bytes).map_err(|r| corrupt(META_FILE, r))?;
        if meta.stats.num_series != index.series.len() as u64 {
            return Err(corrupt(
                META_FILE,
                "series count differs from the index".into(),
            ));
        }
        let chunks = ChunksReader::open(&dir.join(CHUNKS_FILE))?;
        Ok(Self {
            dir,
            meta,
            index,
            index_len: index_bytes.len() as u64,
            meta_len: meta_bytes.len() as u64,
            chunks,
        })
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The block's `meta.json`.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Bytes on disk: chunks, index and meta files.
    pub fn size_bytes(&self) -> u64 {
        self.chunks.len() + self.index_len + self.meta_len
    }

    /// Bytes of the index file.
    pub fn index_bytes(&self) -> u64 {
        self.index_len
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.index.series.len()
    }

    /// Labels and chunk references of the series at position `i` (sorted by labels).
    pub fn series(&self, i: usize) -> Option<(&Labels, &[ChunkMeta])> {
        self.index
            .series
            .get(i)
            .map(|s| (&s.labels, s.chunks.as_slice()))
    }

    /// Reads and checks one chunk. Its page is decompressed once and kept with the 31
    /// other most recently used ones (2 MiB at most), so chunks read side by side (series
    /// iterated together, neighbouring chunks of one query) share the work.
    pub fn read_chunk(&self, meta: &ChunkMeta) -> Result<Chunk, Error> {
        self.chunks.read(meta)
    }

    /// Chunk pages decompressed since the block was opened (reads that the page cache
    /// of [`Block::read_chunk`] did not answer).
    pub fn pages_inflated(&self) -> u64 {
        self.chunks.pages_inflated()
    }

    /// All samples of the series at position `i`, decoded and checked against the index.
    pub fn series_samples(&self, i: usize) -> Result<Option<SeriesSamples>, Error> {
        let Some((labels, metas)) = self.series(i) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for m in metas {
            self.decode_checked(m, &mut out)?;
        }
        Ok(Some((labels.clone(), out)))
    }

    /// Reads every chunk and checks it against the index (CRC, time range, complete
    /// decoding).
    pub fn verify(&self) -> Result<(), Error> {
        let mut buf = Vec::new();
        for s in &self.index.series {
            for m in &s.chunks {
                buf.clear();
                self.decode_checked(m, &mut buf)?;
            }
        }
        Ok(())
    }

    fn decode_checked(&self, m: &ChunkMeta, out: &mut Vec<(i64, f64)>) -> Result<(), Error> {
        let chunk = self.read_chunk(m)?;
        let start = out.len();
        let mut it = chunk.iter();
        out.extend(&mut it);
        let got = &out[start..];
        let ok = !it.is_truncated()
            && got.first().is_some_and(|s| s.0 == m.min_time)
            && got.last().is_some_and(|s| s.0 == m.max_time);
        if ok {
            Ok(())
        } else {
            Err(Error::CorruptBlock {
                path: self.dir.join(CHUNKS_FILE),
                reason: format!("chunk at offset {} disagrees with the index", m.offset),
            })
        }
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }
}

#[cfg(test)]
pub(crate) mod tests;

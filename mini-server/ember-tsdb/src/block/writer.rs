//! Writing a block atomically: `DIR/<id>.tmp`, fsync, rename to `DIR/<id>`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SeriesSamples;
use super::chunks::{ChunkMeta, ChunksWriter};
use super::index::{self, SeriesEntry};
use super::meta::{BlockId, BlockMeta, BlockStats};
use crate::Error;
use crate::chunk::Chunk;
use crate::labels::Labels;

/// How a block is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Most samples in one persisted chunk (at most [`crate::MAX_CHUNK_SAMPLES`]).
    /// Longer chunks compress better; a query decodes whole chunks.
    pub max_chunk_samples: usize,
    /// Compaction level recorded in `meta.json`.
    pub level: u32,
    /// Threads encoding chunks (series are spread over them).
    pub threads: usize,
    /// Deflate-compress chunk pages (each page is stored as is when that is not
    /// smaller).
    pub compress: bool,
    /// Source blocks recorded in `meta.json`; empty means the block itself.
    pub sources: Vec<BlockId>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            max_chunk_samples: crate::MAX_CHUNK_SAMPLES,
            level: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            compress: true,
            sources: Vec::new(),
        }
    }
}

/// Writes one block under `dir` from series and their samples, and returns its meta.
///
/// Series may come in any order; each series' timestamps must be strictly increasing
/// (else [`Error::OutOfOrder`]) and a label set may appear once (else
/// [`Error::DuplicateSeries`]). Series without samples are left out. Chunks are cut
/// every [`WriteOptions::max_chunk_samples`] samples and coded by [`Chunk::encode`].
/// Nothing is written for an empty set: [`Error::EmptyBlock`].
///
/// ```
/// use ember_tsdb::{Block, Labels, WriteOptions, write_block};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-write-{}", std::process::id()));
/// let up = Labels::new([("__name__", "up"), ("job", "node")])?;
/// let meta = write_block(&dir, vec![(up.clone(), vec![(1_000, 1.0), (16_000, 0.0)])], &WriteOptions::default())?;
/// assert_eq!((meta.min_time, meta.max_time, meta.stats.num_samples), (1_000, 16_001, 2));
/// let block = Block::open(dir.join(meta.id.to_string()))?;
/// assert_eq!(block.series_samples(0)?, Some((up, vec![(1_000, 1.0), (16_000, 0.0)])));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn write_block(
    dir: &Path,
    series: Vec<SeriesSamples>,
    options: &WriteOptions,
) -> Result<BlockMeta, Error> {
    let mut series: Vec<SeriesSamples> =
        series.into_iter().filter(|(_, s)| !s.is_empty()).collect();
    series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = series.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::DuplicateSeries(w[0].0.clone()));
    }
    if series.is_empty() {
        return Err(Error::EmptyBlock);
    }
    let mut writer = BlockWriter::new(dir, options);
    let encoded = encode_all(&series, writer.per_chunk, options.threads.max(1))?;
    for ((labels, samples), encoded) in series.into_iter().zip(encoded) {
        writer.add_encoded(labels, &samples, &encoded)?;
    }
    writer.finish()
}

/// Writes a block one series at a time, in label order, so only the current series'
/// samples (and the compressed chunks and index built so far) are held in memory.
///
/// ```
/// use ember_tsdb::{Block, BlockWriter, Labels, WriteOptions};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-writer-{}", std::process::id()));
/// let mut w = BlockWriter::new(&dir, &WriteOptions::default());
/// w.add_series(Labels::new([("__name__", "a")])?, &[(0, 1.0)])?;
/// w.add_series(Labels::new([("__name__", "b")])?, &[(0, 2.0), (5, 3.0)])?;
/// assert!(w.add_series(Labels::new([("__name__", "a")])?, &[(9, 1.0)]).is_err()); // not after `b`
/// let meta = w.finish()?;
/// assert_eq!((meta.stats.num_series, meta.stats.num_samples), (2, 3));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug)]
pub struct BlockWriter {
    dir: std::path::PathBuf,
    options: WriteOptions,
    per_chunk: usize,
    chunks: ChunksWriter,
    entries: Vec<SeriesEntry>,
    stats: BlockStats,
    min_time: i64,
    max_time: i64,
}

impl BlockWriter {
    /// A writer of one block under `dir`; nothing is written before [`BlockWriter::finish`].
    pub fn new(dir: &Path, options: &WriteOptions) -> Self {
        Self {
            dir: dir.to_path_buf(),
            options: options.clone(),
            per_chunk: options.max_chunk_samples.clamp(1, crate::MAX_CHUNK_SAMPLES),
            chunks: ChunksWriter::new(options.compress),
            entries: Vec::new(),
            stats: BlockStats::default(),
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    /// Adds a series; its labels must sort after the previous series' (else
    /// [`Error::DuplicateSeries`] or [`Error::UnsortedSeries`]) and its timestamps must
    /// increase. A series without samples is skipped.
    pub fn add_series(&mut self, labels: Labels, samples: &[(i64, f64)]) -> Result<(), Error> {
        let encoded: Vec<Chunk> = samples
            .chunks(self.per_chunk)
            .map(Chunk::encode)
            .collect::<Result<_, _>>()?;
        self.add_encoded(labels, samples, &encoded)
    }

    fn add_encoded(
        &mut self,
        labels: Labels,
        samples: &[(i64, f64)],
        encoded: &[Chunk],
    ) -> Result<(), Error> {
        if samples.is_empty() {
            return Ok(());
        }
        if let Some(last) = self.entries.last() {
            match last.labels.cmp(&labels) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(Error::DuplicateSeries(labels)),
                std::cmp::Ordering::Greater => return Err(Error::UnsortedSeries(labels)),
            }
        }
        let mut metas = Vec::with_capacity(encoded.len());
        for part in samples.chunks(self.per_chunk) {
            let (first, last) = (part[0].0, part[part.len() - 1].0);
            metas.push(ChunkMeta {
                min_time: first,
                max_time: last,
                page_offset: 0,
                page_len: 0,
                offset: 0,
            });
            self.min_time = self.min_time.min(first);
            self.max_time = self.max_time.max(last);
        }
        self.stats.num_chunks += metas.len() as u64;
        self.stats.num_samples += samples.len() as u64;
        self.stats.num_series += 1;
        self.entries.push(SeriesEntry {
            labels,
            chunks: metas,
        });
        let entry = self.entries.len() - 1;
        for (k, chunk) in encoded.iter().enumerate() {
            self.chunks.add(chunk, &mut self.entries, entry, k)?;
        }
        Ok(())
    }

    /// Writes the block atomically and returns its meta ([`Error::EmptyBlock`] if no
    /// series had samples).
    pub fn finish(mut self) -> Result<BlockMeta, Error> {
        if self.entries.is_empty() {
            return Err(Error::EmptyBlock);
        }
        let chunks = self
            .chunks
            .into_bytes(&mut self.entries, self.options.threads.max(1))?;
        let id = BlockId::new();
        let options = &self.options;
        let meta = BlockMeta {
            id,
            min_time: self.min_time,
            max_time: self.max_time.saturating_add(1),
            stats: self.stats,
            level: options.level.max(1),
            sources: if options.sources.is_empty() {
                vec![id]
            } else {
                options.sources.clone()
            },
        };
        let meta_json = meta.to_json();
        let index = index::encode(&self.entries, crc32fast::hash(meta_json.as_bytes()));
        let files: [(&str, &[u8]); 3] = [
            (super::CHUNKS_FILE, &chunks),
            (super::INDEX_FILE, &index),
            (super::META_FILE, meta_json.as_bytes()),
        ];
        commit(&self.dir, &id.to_string(), &files)?;
        Ok(meta)
    }
}

/// Encodes every series' chunks with [`Chunk::encode`] on `threads` threads, each taking
/// the next series not yet taken (series differ much in cost); the result is in series
/// order.
fn encode_all(
    series: &[SeriesSamples],
    per_chunk: usize,
    threads: usize,
) -> Result<Vec<Vec<Chunk>>, Error> {
    let encode = |samples: &[(i64, f64)]| -> Result<Vec<Chunk>, Error> {
        samples.chunks(per_chunk).map(Chunk::encode).collect()
    };
    if threads <= 1 || series.len() < 2 {
        return series.iter().map(|(_, samples)| encode(samples)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Vec<Chunk>>> = vec![None; series.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(series.len()))
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((_, samples)) = series.get(i) else {
                            return Ok(done);
                        };
                        done.push((i, encode(samples)?));
                    }
                })
            })
            .collect();
        for h in handles {
            let done: Vec<(usize, Vec<Chunk>)> = h
                .join()
                .map_err(|_| Error::ThreadPanicked("chunk encoding"))??;
            for (i, chunks) in done {
                out[i] = Some(chunks);
            }
        }
        Ok::<(), Error>(())
    })?;
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Writes `files` into `dir/name.tmp`, syncs them and the directory, then renames it to
/// `dir/name` and syncs `dir`.
fn commit(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> Result<(), Error> {
    let io = |path: PathBuf| move |source| Error::BlockIo { path, source };
    fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let tmp = dir.join(format!("{name}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(tmp.clone()))?;
    }
    fs::create_dir(&tmp).map_err(io(tmp.clone()))?;
    for (file, bytes) in files {
        let path = tmp.join(file);
        let mut f = File::create(&path).map_err(io(path.clone()))?;
        f.write_all(bytes).map_err(io(path.clone()))?;
        f.sync_all().map_err(io(path.clone()))?;
    }
    sync_dir(&tmp)?;
    let fin = dir.join(name);
    fs::rename(&tmp, &fin).map_err(io(fin.clone()))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::BlockIo {
            path: dir.to_path_buf(),
            source,
        })
}

//! The `chunks` file: pages of chunk records, each page deflate-compressed (or stored
//! when that is not smaller) and CRC-checked. A chunk is addressed by its page's offset
//! and length in the file and its offset inside the decompressed page.
//!
//! The chunk codecs leave their bit streams with skewed byte statistics (fixed widths
//! wider than most deltas, repeated control bits); a Huffman stage over pages of
//! several chunks recovers 10 to 15% on the bench data, which is what takes the
//! dataset under the 1.3 bytes per sample.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::buf::{Reader, put_varint};
use super::index::SeriesEntry;
use crate::Error;
use crate::chunk::Chunk;

/// Magic bytes at the start of a chunks file.
pub(crate) const CHUNKS_MAGIC: [u8; 4] = *b"EMBC";
/// Version byte after the magic.
pub(crate) const CHUNKS_VERSION: u8 = 1;
/// Bytes before the first page.
pub(crate) const CHUNKS_HEADER_LEN: u64 = 8;
/// A page is closed once its records reach this many bytes (a larger chunk gets a page
/// of its own).
pub(crate) const PAGE_TARGET: usize = 64 * 1024;
/// Largest decompressed page accepted by a reader.
const MAX_PAGE: u64 = 64 * 1024 * 1024;

/// DEFLATE level of the pages. On the bench data (`gen_dataset.py 50 24 15`, 24 h blocks)
/// level 3 writes 9,285,915 bytes, level 6 (used before) 9,286,018 with more CPU, and
/// level 1 9,416,428 (1.4% more).
const LEVEL: u32 = 3;

const CODEC_STORED: u8 = 0;
const CODEC_DEFLATE: u8 = 1;

/// Where a chunk is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp (inclusive).
    pub max_time: i64,
    /// Offset of the chunk's page in the chunks file.
    pub page_offset: u64,
    /// Length of that page in the file, header and CRC included.
    pub page_len: u32,
    /// Offset of the chunk's record inside the decompressed page.
    pub offset: u32,
}

/// Builds a chunks file in memory: pages are closed as chunks are added and compressed
/// together at the end, on several threads.
#[derive(Debug)]
pub(crate) struct ChunksWriter {
    /// Closed pages: their records and their chunks (series position, chunk position),
    /// whose `page_offset`/`page_len` are set once the file is assembled.
    pages: Vec<(Vec<u8>, Vec<ChunkPos>)>,
    page: Vec<u8>,
    /// Chunks of the open page.
    pending: Vec<ChunkPos>,
    compress: bool,
}

/// A chunk's place in the writer's series: (series position, chunk position).
type ChunkPos = (usize, usize);

impl ChunksWriter {
    pub(crate) fn new(compress: bool) -> Self {
        Self {
            pages: Vec::new(),
            page: Vec::with_capacity(PAGE_TARGET * 2),
            pending: Vec::new(),
            compress,
        }
    }

    /// Appends a chunk to the open page; chunk `k` of `series[s]` gets its location when
    /// the file is assembled ([`Self::into_bytes`]).
    pub(crate) fn add(
        &mut self,
        chunk: &Chunk,
        series: &mut [SeriesEntry],
        s: usize,
        k: usize,
    ) -> Result<(), Error> {
        let offset = u32::try_from(self.page.len()).map_err(|_| page_too_large())?;
        put_varint(&mut self.page, chunk.as_bytes().len() as u64);
        self.page.extend_from_slice(chunk.as_bytes());
        if let Some(m) = series.get_mut(s).and_then(|e| e.chunks.get_mut(k)) {
            m.offset = offset;
        }
        self.pending.push((s, k));
        if self.page.len() >= PAGE_TARGET {
            self.flush();
        }
        Ok(())
    }

    /// Closes the open page, if any.
    pub(crate) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let page = std::mem::replace(&mut self.page, Vec::with_capacity(PAGE_TARGET * 2));
        self.pages.push((page, std::mem::take(&mut self.pending)));
    }

    /// Compresses the pages (spread over `threads` threads), lays them out one after the
    /// other and fills in the location of every chunk in `series`.
    pub(crate) fn into_bytes(
        mut self,
        series: &mut [SeriesEntry],
        threads: usize,
    ) -> Result<Vec<u8>, Error> {
        self.flush();
        let compress = self.compress;
        let deflate = |page: &[u8]| -> Option<Vec<u8>> {
            if !compress {
                return None;
            }
            let mut enc = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(page.len()),
                flate2::Compression::new(LEVEL),
            );
            std::io::Write::write_all(&mut enc, page)
                .and_then(|()| enc.finish())
                .ok()
                .filter(|d| d.len() < page.len())
        };
        let pages = &self.pages;
        let threads = threads.clamp(1, pages.len().max(1));
        let per_thread = pages.len().div_ceil(threads).max(1);
        let deflated: Vec<Option<Vec<u8>>> = if threads <= 1 {
            pages.iter().map(|(p, _)| deflate(p)).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = pages
                    .chunks(per_thread)
                    .map(|part| {
                        scope
                            .spawn(move || part.iter().map(|(p, _)| deflate(p)).collect::<Vec<_>>())
                    })
                    .collect();
                let mut out = Vec::with_capacity(pages.len());
                for h in handles {
                    out.extend(
                        h.join()
                            .map_err(|_| Error::ThreadPanicked("page compression"))?,
                    );
                }
                Ok::<_, Error>(out)
            })?
        };
        let total: usize = deflated
            .iter()
            .zip(pages)
            .map(|(d, (p, _))| d.as_ref().map_or(p.len(), Vec::len) + 24)
            .sum();
        let mut buf = Vec::with_capacity(CHUNKS_HEADER_LEN as usize + total);
        buf.extend_from_slice(&CHUNKS_MAGIC);
        buf.extend_from_slice(&[CHUNKS_VERSION, 0, 0, 0]);
        for ((page, chunks), deflated) in pages.iter().zip(&deflated) {
            let start = buf.len();
            let (codec, body) = match deflated {
                Some(d) => (CODEC_DEFLATE, d.as_slice()),
                None => (CODEC_STORED, page.as_slice()),
            };
            buf.push(codec);
            put_varint(&mut buf, page.len() as u64);
            put_varint(&mut buf, body.len() as u64);
            buf.extend_from_slice(body);
            let crc = crc32fast::hash(&buf[start..]);
            buf.extend_from_slice(&crc.to_le_bytes());
            let page_len = u32::try_from(buf.len() - start).map_err(|_| page_too_large())?;
            for &(s, k) in chunks {
                if let Some(m) = series.get_mut(s).and_then(|e| e.chunks.get_mut(k)) {
                    m.page_offset = start as u64;
                    m.page_len = page_len;
                }
            }
        }
        Ok(buf)
    }
}

fn page_too_large() -> Error {
    Error::ChunkFull {
        max: crate::MAX_CHUNK_SAMPLES,
    }
}

/// Most decompressed pages a [`ChunksReader`] keeps.
pub(crate) const PAGE_CACHE_PAGES: usize = 32;
/// Most decompressed bytes a [`ChunksReader`] keeps (32 pages of the 64 KiB target); a
/// larger page (one large chunk) is read and not kept.
pub(crate) const PAGE_CACHE_BYTES: usize = 2 << 20;

/// Reads chunks from a chunks file with positioned reads, keeping the most recently used
/// decompressed pages (at most [`PAGE_CACHE_PAGES`] and [`PAGE_CACHE_BYTES`]), so reads
/// that come back to a page (series iterated side by side, neighbouring chunks of one
/// query) inflate it once.
#[derive(Debug)]
pub(crate) struct ChunksReader {
    path: PathBuf,
    file: File,
    len: u64,
    cache: Mutex<PageCache>,
}

/// The decompressed pages of a reader, least recently used first out.
#[derive(Debug, Default)]
struct PageCache {
    /// (page offset, page, last use); at most [`PAGE_CACHE_PAGES`], a linear scan.
    pages: Vec<(u64, Arc<Vec<u8>>, u64)>,
    bytes: usize,
    clock: u64,
    /// Pages decompressed (cache misses), for tests and benches.
    inflated: u64,
}

impl PageCache {
    fn get(&mut self, offset: u64) -> Option<Arc<Vec<u8>>> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.pages.iter_mut().find(|(at, _, _)| *at == offset)?;
        entry.2 = clock;
        Some(Arc::clone(&entry.1))
    }

    fn insert(&mut self, offset: u64, page: &Arc<Vec<u8>>) {
        self.inflated += 1;
        if page.len() > PAGE_CACHE_BYTES || self.pages.iter().any(|(at, _, _)| *at == offset) {
            return;
        }
        while !self.pages.is_empty()
            && (self.pages.len() >= PAGE_CACHE_PAGES || self.bytes + page.len() > PAGE_CACHE_BYTES)
        {
            let oldest = self
                .pages
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, _, used))| *used)
                .map_or(0, |(i, _)| i);
            let (_, gone, _) = self.pages.swap_remove(oldest);
            self.bytes -= gone.len();
        }
        self.clock += 1;
        self.bytes += page.len();
        self.pages.push((offset, Arc::clone(page), self.clock));
    }
}

impl ChunksReader {
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::BlockIo {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let corrupt = |reason: &str| Error::CorruptBlock {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if len < CHUNKS_HEADER_LEN {
            return Err(corrupt("chunks file shorter than its header"));
        }
        let mut header = [0u8; 8];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        if header[..4] != CHUNKS_MAGIC {
            return Err(corrupt("chunks file has a bad magic number"));
        }
        if header[4] != CHUNKS_VERSION || header[5..] != [0, 0, 0] {
            return Err(corrupt("chunks file has an unsupported version or flags"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len,
            cache: Mutex::new(PageCache::default()),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Pages decompressed so far (reads the cache did not answer).
    pub(crate) fn pages_inflated(&self) -> u64 {
        self.cache.lock().map_or(0, |c| c.inflated)
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::CorruptBlock {
            path: self.path.clone(),
            reason,
        }
    }

    /// The decompressed page at `offset`, checked.
    fn page(&self, offset: u64, len: u32) -> Result<Arc<Vec<u8>>, Error> {
        if let Some(page) = self.cache.lock().ok().and_then(|mut c| c.get(offset)) {
            return Ok(page);
        }
        let end = offset.checked_add(u64::from(len));
        if offset < CHUNKS_HEADER_LEN || end.is_none_or(|e| e > self.len) || len < 7 {
            return Err(self.corrupt(format!("page reference {offset}+{len} is outside the file")));
        }
        let mut raw = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut raw, offset)
            .map_err(|source| Error::BlockIo {
                path: self.path.clone(),
                source,
            })?;
        let page =
            decode_page(&raw).map_err(|r| self.corrupt(format!("page at offset {offset}: {r}")))?;
        let page = Arc::new(page);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(offset, &page);
        }
        Ok(page)
    }

    /// Reads, checks and wraps the chunk at `meta`.
    pub(crate) fn read(&self, meta: &ChunkMeta) -> Result<Chunk, Error> {
        let page = self.page(meta.page_offset, meta.page_len)?;
        let rec = page.get(meta.offset as usize..).ok_or_else(|| {
            self.corrupt(format!("chunk offset {} is past its page", meta.offset))
        })?;
        let mut r = Reader::new(rec);
        let data = r
            .bytes()
            .map_err(|e| self.corrupt(format!("chunk at page offset {}: {e}", meta.offset)))?;
        Chunk::from_bytes(data.to_vec()).map_err(|e| self.corrupt(e.to_string()))
    }
}

/// Checks one page (CRC, lengths, codec) and returns its records.
fn decode_page(raw: &[u8]) -> Result<Vec<u8>, String> {
    let body_len = raw.len().checked_sub(4).ok_or("page too short")?;
    let (body, crc) = raw.split_at(body_len);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != want {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader::new(body);
    let codec = r.take(1)?[0];
    let plain_len = r.varint()?;
    if plain_len > MAX_PAGE {
        return Err("page larger than the reader accepts".into());
    }
    let stored = r.bytes()?;
    if !r.is_empty() {
        return Err("page length disagrees with the index".into());
    }
    let page = match codec {
        CODEC_STORED => stored.to_vec(),
        CODEC_DEFLATE => {
            let mut out = Vec::with_capacity(plain_len as usize);
            flate2::read::DeflateDecoder::new(stored)
                .take(plain_len + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("deflate: {e}"))?;
            out
        }
        _ => return Err(format!("unknown page codec {codec}")),
    };
    if page.len() as u64 != plain_len {
        return Err("page decompresses to another length than recorded".into());
    }
    Ok(page)
}

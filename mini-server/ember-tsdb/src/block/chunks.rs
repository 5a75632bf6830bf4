//! The `chunks` file: CRC-framed chunk records, addressed by their byte offset.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::buf::{Reader, put_varint};
use crate::Error;
use crate::chunk::Chunk;

/// Magic bytes at the start of a chunks file.
pub(crate) const CHUNKS_MAGIC: [u8; 4] = *b"EMBC";
/// Version byte after the magic.
pub(crate) const CHUNKS_VERSION: u8 = 1;
/// Bytes before the first record.
pub(crate) const CHUNKS_HEADER_LEN: u64 = 8;

/// Where a chunk is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp (inclusive).
    pub max_time: i64,
    /// Offset of the chunk's record in the chunks file.
    pub offset: u64,
    /// Length of the record (varint length, chunk bytes, CRC).
    pub len: u32,
}

/// Builds a chunks file in memory.
#[derive(Debug)]
pub(crate) struct ChunksWriter {
    buf: Vec<u8>,
}

impl ChunksWriter {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(&CHUNKS_MAGIC);
        buf.extend_from_slice(&[CHUNKS_VERSION, 0, 0, 0]);
        Self { buf }
    }

    /// Appends a record; returns its offset and length.
    pub(crate) fn add(&mut self, chunk: &Chunk) -> Result<(u64, u32), Error> {
        let start = self.buf.len();
        put_varint(&mut self.buf, chunk.as_bytes().len() as u64);
        self.buf.extend_from_slice(chunk.as_bytes());
        let crc = crc32fast::hash(&self.buf[start..]);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        let len = u32::try_from(self.buf.len() - start).map_err(|_| Error::ChunkFull {
            max: crate::MAX_CHUNK_SAMPLES,
        })?;
        Ok((start as u64, len))
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads chunk records from a chunks file with positioned reads.
#[derive(Debug)]
pub(crate) struct ChunksReader {
    path: PathBuf,
    file: File,
    len: u64,
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
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads, checks and wraps the chunk at `meta`.
    pub(crate) fn read(&self, meta: &ChunkMeta) -> Result<Chunk, Error> {
        let corrupt = |reason: String| Error::CorruptBlock {
            path: self.path.clone(),
            reason,
        };
        let end = meta.offset.checked_add(u64::from(meta.len));
        if meta.offset < CHUNKS_HEADER_LEN || end.is_none_or(|e| e > self.len) || meta.len < 5 {
            return Err(corrupt(format!(
                "chunk reference {}+{} is outside the file",
                meta.offset, meta.len
            )));
        }
        let mut rec = vec![0u8; meta.len as usize];
        self.file
            .read_exact_at(&mut rec, meta.offset)
            .map_err(|source| Error::BlockIo {
                path: self.path.clone(),
                source,
            })?;
        decode_record(&rec).map_err(|r| corrupt(format!("chunk at offset {}: {r}", meta.offset)))
    }
}

/// Checks one record (length, CRC, chunk header) and returns its chunk.
pub(crate) fn decode_record(rec: &[u8]) -> Result<Chunk, String> {
    let body_len = rec.len().checked_sub(4).ok_or("record too short")?;
    let (body, crc) = rec.split_at(body_len);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != want {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader::new(body);
    let n = r.varint()?;
    let data = r.take(usize::try_from(n).map_err(|_| "length too large")?)?;
    if !r.is_empty() {
        return Err("record length disagrees with the index".into());
    }
    Chunk::from_bytes(data.to_vec()).map_err(|e| e.to_string())
}

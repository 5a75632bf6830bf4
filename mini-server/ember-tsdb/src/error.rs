//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `ember-tsdb`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sample's timestamp is not strictly after the previous one in the chunk.
    #[error("sample timestamp {t} is not after the chunk's last timestamp {last}")]
    OutOfOrder {
        /// The rejected timestamp.
        t: i64,
        /// The chunk's last timestamp.
        last: i64,
    },
    /// The chunk holds the maximum number of samples its header can count.
    #[error("chunk is full ({max} samples)")]
    ChunkFull {
        /// The maximum number of samples in a chunk.
        max: usize,
    },
    /// A chunk's bytes do not start with a valid header.
    #[error("invalid chunk: {reason}")]
    InvalidChunk {
        /// What is wrong with the header.
        reason: &'static str,
    },
    /// A decimal chunk was asked for with a scale past [`crate::MAX_DECIMAL_SCALE`].
    #[error("decimal scale {0} is out of range (at most {max})", max = crate::MAX_DECIMAL_SCALE)]
    InvalidScale(u8),
    /// A label set names the same label twice.
    #[error("label `{0}` appears twice in a label set")]
    DuplicateLabel(String),
    /// A sample has the timestamp of the series' last sample but a different value.
    #[error("sample at {t} has a different value than the sample already stored at that time")]
    DuplicateSample {
        /// The timestamp.
        t: i64,
    },
    /// A sample is before the head's minimum valid time (the time of its last cut).
    #[error("sample timestamp {t} is before the head's minimum valid time {min_valid}")]
    OutOfBounds {
        /// The rejected timestamp.
        t: i64,
        /// The head's minimum valid time.
        min_valid: i64,
    },
    /// A [`crate::BlockSink`] failed; the cut stopped.
    #[error("block sink: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A checkpoint directory could not be used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No series has this id in the head.
    #[error("unknown series id {0}")]
    UnknownSeries(u64),
    /// A WAL record does not fit in one segment.
    #[error("wal record of {len} bytes does not fit in a segment of {max} bytes")]
    RecordTooLarge {
        /// Framed size of the record.
        len: usize,
        /// Maximum segment size.
        max: u64,
    },
    /// An I/O operation on a WAL file or directory failed.
    #[error("wal i/o on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A block file could not be read or written.
    #[error("block i/o on {path}: {source}")]
    BlockIo {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A block file failed a check (checksum, magic, reference, ordering).
    #[error("corrupt block file {path}: {reason}")]
    CorruptBlock {
        /// The damaged file.
        path: PathBuf,
        /// What check failed.
        reason: String,
    },
    /// A block id is not 26 Crockford base-32 characters of at most 128 bits.
    #[error("invalid block id `{0}`")]
    InvalidBlockId(String),
    /// A block was asked for with no sample in it.
    #[error("a block needs at least one sample")]
    EmptyBlock,
    /// The same label set was given twice to a block writer.
    #[error("series {0:?} given twice")]
    DuplicateSeries(crate::Labels),
    /// A block writer was given a series whose labels sort before the previous one's.
    #[error("series {0:?} given out of label order")]
    UnsortedSeries(crate::Labels),
    /// A label matcher's regular expression does not compile.
    #[error("invalid regular expression `{pattern}`: {reason}")]
    InvalidRegex {
        /// The expression as given.
        pattern: String,
        /// The regex crate's message.
        reason: String,
    },
    /// A series selector (`name{label="value",...}`) does not parse.
    #[error("invalid selector at byte {at}: {reason}")]
    InvalidSelector {
        /// Byte offset in the selector text.
        at: usize,
        /// What was expected.
        reason: String,
    },
    /// A worker thread panicked (a bug; reported rather than propagated).
    #[error("a {0} thread panicked")]
    ThreadPanicked(&'static str),
    /// An OpenMetrics file could not be imported.
    #[error("import: {0}")]
    Import(String),
}

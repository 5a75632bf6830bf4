//! Ember's time series storage: compact chunks, a crash-safe write-ahead log, persisted
//! blocks and label-matcher queries.
//!
//! This crate is being built bottom-up (see `README.md` for status and figures, and
//! `FORMAT.md` for the byte layouts). What exists today:
//!
//! | piece | what |
//! |---|---|
//! | [`Chunk`], [`ChunkAppender`], [`ChunkIter`] | one series' samples, compressed: delta-of-delta timestamps; XOR, decimal or decimal-counter values |
//! | [`Encoding`] | the value coding of a chunk, chosen per chunk by a header byte |
//! | [`Db`], [`Appender`], [`Options`], [`OpenReport`], [`MaintainReport`], [`TsdbMetrics`] | the store: persisted blocks plus a head whose batches are logged to the WAL before they apply, replayed on open; head compaction into blocks, leveled block compaction, retention ([`Db::maintain`]); queries merging blocks and head ([`Db::querier`]) |
//! | [`Head`], [`Labels`], [`SeriesId`], [`HeadStats`], [`HeadSamples`] | in-memory series keyed by sorted labels, out-of-order and duplicate samples rejected and counted, reads by time range, label names and values |
//! | [`WalWriter`], [`replay`], [`ReplayReport`] | write-ahead log: CRC-framed records in numbered segments, fsync policy, torn-tail repair |
//! | [`Record`], [`SeriesRecord`], [`SampleRecord`], [`MetadataRecord`] | what the WAL holds: series (id + labels), sample batches, metadata, head cuts |
//! | [`write_block`], [`Block`], [`BlockMeta`] | persisted immutable blocks: chunks file, index (symbols, series, postings), `meta.json`; CRC-checked |
//! | [`Matcher`], [`Querier`], [`Series`], [`MergeQuerier`] | label-matcher selection over blocks and the head, merged |
//! | [`compact`], [`write_range`], [`open_blocks`], [`retain_after`], [`retain_size`], [`delete_block`] | merging blocks, persisting a time range of any source (the head), retention by time and size |
//! | [`import_openmetrics`], [`import_openmetrics_from`], [`parse_selector`] | backfill from OpenMetrics text (a slice, or streamed from any reader); `name{l="v"}` selectors (the `ember-tsdb` tool uses both) |
//!
//! ```
//! use ember_tsdb::{Chunk, Encoding};
//!
//! // A counter scraped every 15 s, then a staleness marker.
//! let stale = f64::from_bits(0x7ff0000000000002);
//! let mut samples: Vec<(i64, f64)> =
//!     (0..120).map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64)).collect();
//! samples.push((1_700_001_800_000, stale));
//!
//! let chunk = Chunk::encode(&samples)?;
//! assert_eq!(chunk.encoding(), Encoding::DecimalCounter { scale: 0 });
//! assert!(chunk.as_bytes().len() < 121); // under a byte per sample, 16 for a raw pair
//! let back: Vec<(i64, f64)> = chunk.iter().collect();
//! assert_eq!(back[..120], samples[..120]);
//! assert_eq!(back[120].1.to_bits(), stale.to_bits());
//! # Ok::<(), ember_tsdb::Error>(())
//! ```

mod bits;
mod block;
mod chunk;
mod compact;
mod db;
mod decimal;
mod error;
mod head;
mod import;
mod labels;
mod matcher;
mod querier;
mod record;
mod selector;
mod wal;
mod xor;

pub use block::{
    Block, BlockId, BlockMeta, BlockStats, BlockWriter, CHUNKS_FILE, ChunkMeta, INDEX_FILE,
    META_FILE, META_VERSION, SeriesSamples, WriteOptions, write_block,
};
pub use chunk::{CHUNK_HEADER_LEN, Chunk, ChunkAppender, ChunkIter, Encoding, MAX_CHUNK_SAMPLES};
pub use compact::{compact, delete_block, open_blocks, retain_after, retain_size, write_range};
pub use db::{
    Appender, CheckpointReport, CutReport, DEFAULT_BLOCK_RANGE, DEFAULT_RETENTION_TIME, Db,
    MaintainReport, OpenReport, Options, TsdbMetrics,
};
pub use decimal::MAX_DECIMAL_SCALE;
pub use error::Error;
pub use head::{
    BlockSink, CutStats, Head, HeadOptions, HeadSamples, HeadSeries, HeadStats, LabelPairs,
    MAX_SERIES, SeriesId,
};
pub use import::{ImportOptions, ImportReport, import_openmetrics, import_openmetrics_from};
pub use labels::Labels;
pub use matcher::{MatchOp, Matcher};
pub use querier::{MergeQuerier, Querier, SampleIter, Series, TimedChunk};
pub use record::{Metadata, MetadataRecord, MetricType, Record, SampleRecord, SeriesRecord};
pub use selector::parse_selector;
pub use wal::{
    Corruption, DEFAULT_SEGMENT_SIZE, FRAME_HEADER_LEN, ReplayReport, SyncObserver, SyncPolicy,
    WalOptions, WalWriter, decode_segment, replay, replay_from,
};

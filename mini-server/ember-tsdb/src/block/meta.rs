//! `meta.json`: a block's id, time range, statistics and compaction lineage.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Version written in `meta.json` and checked on open.
pub const META_VERSION: u64 = 1;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A 128-bit block id: 48 bits of milliseconds since the epoch, then 80 random bits,
/// written as 26 Crockford base-32 characters (the ULID text form), so ids sort by
/// creation time.
///
/// ```
/// use ember_tsdb::BlockId;
///
/// let a = BlockId::new();
/// let parsed: BlockId = a.to_string().parse()?;
/// assert_eq!(a, parsed);
/// assert_eq!(a.to_string().len(), 26);
/// assert!("not-an-id".parse::<BlockId>().is_err());
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u128);

impl BlockId {
    /// A fresh id: the current time and 80 bits from the standard library's randomly
    /// keyed hasher (mixed with a process-wide counter, so ids made in the same
    /// millisecond differ).
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(ms);
        h.write_u32(std::process::id());
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        let random = (u128::from(a) << 16) ^ u128::from(b & 0xffff);
        let ms = ms & ((1u128 << 48) - 1);
        Self((ms << 80) | (random & ((1u128 << 80) - 1)))
    }
}

impl Default for BlockId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = [0u8; 26];
        for (i, c) in s.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *c = CROCKFORD[((self.0 >> shift) & 31) as usize];
        }
        f.write_str(std::str::from_utf8(&s).map_err(|_| fmt::Error)?)
    }
}

impl std::str::FromStr for BlockId {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        let bad = || crate::Error::InvalidBlockId(s.to_string());
        if s.len() != 26 {
            return Err(bad());
        }
        let mut v: u128 = 0;
        for (i, c) in s.bytes().enumerate() {
            let d = CROCKFORD
                .iter()
                .position(|&x| x == c.to_ascii_uppercase())
                .ok_or_else(bad)? as u128;
            // The first character carries 3 bits only (26 × 5 = 130).
            if i == 0 && d > 7 {
                return Err(bad());
            }
            v = (v << 5) | d;
        }
        Ok(Self(v))
    }
}

/// Counts in a block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// Samples.
    pub num_samples: u64,
    /// Series.
    pub num_series: u64,
    /// Chunks.
    pub num_chunks: u64,
}

/// The content of `meta.json`.
///
/// `min_time` is the first sample's timestamp and `max_time` one past the last's
/// (exclusive, as Prometheus's block metas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// The block's id, also its directory name.
    pub id: BlockId,
    /// Smallest sample timestamp (ms), inclusive.
    pub min_time: i64,
    /// Largest sample timestamp (ms) plus one.
    pub max_time: i64,
    /// Counts.
    pub stats: BlockStats,
    /// 1 for a block written from samples, one more than its highest source when
    /// compacted.
    pub level: u32,
    /// Ids of the level-1 blocks whose data this block holds (itself when level 1).
    pub sources: Vec<BlockId>,
}

impl BlockMeta {
    /// The JSON text written to `meta.json`.
    pub fn to_json(&self) -> String {
        let sources: Vec<String> = self.sources.iter().map(|s| format!("\"{s}\"")).collect();
        format!(
            "{{\n  \"ulid\": \"{}\",\n  \"minTime\": {},\n  \"maxTime\": {},\n  \"stats\": {{\n    \"numSamples\": {},\n    \"numSeries\": {},\n    \"numChunks\": {}\n  }},\n  \"compaction\": {{\n    \"level\": {},\n    \"sources\": [{}]\n  }},\n  \"version\": {}\n}}\n",
            self.id,
            self.min_time,
            self.max_time,
            self.stats.num_samples,
            self.stats.num_series,
            self.stats.num_chunks,
            self.level,
            sources.join(", "),
            META_VERSION
        )
    }

    /// Parses `meta.json` text; the reason on failure is for a corruption error.
    pub(crate) fn from_json(text: &[u8]) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| format!("meta.json is not JSON: {e}"))?;
        let int = |v: &serde_json::Value, what: &str| {
            v.as_i64()
                .ok_or_else(|| format!("meta.json: `{what}` is not an integer"))
        };
        let uint = |v: &serde_json::Value, what: &str| {
            v.as_u64()
                .ok_or_else(|| format!("meta.json: `{what}` is not a non-negative integer"))
        };
        let id = |v: &serde_json::Value| -> Result<BlockId, String> {
            v.as_str()
                .ok_or_else(|| "meta.json: an id is not a string".to_string())?
                .parse()
                .map_err(|e: crate::Error| format!("meta.json: {e}"))
        };
        let version = uint(&v["version"], "version")?;
        if version != META_VERSION {
            return Err(format!("meta.json: unsupported version {version}"));
        }
        let stats = &v["stats"];
        let sources = v["compaction"]["sources"]
            .as_array()
            .ok_or("meta.json: `compaction.sources` is not an array")?
            .iter()
            .map(id)
            .collect::<Result<Vec<_>, _>>()?;
        let level = uint(&v["compaction"]["level"], "compaction.level")?;
        Ok(Self {
            id: id(&v["ulid"])?,
            min_time: int(&v["minTime"], "minTime")?,
            max_time: int(&v["maxTime"], "maxTime")?,
            stats: BlockStats {
                num_samples: uint(&stats["numSamples"], "stats.numSamples")?,
                num_series: uint(&stats["numSeries"], "stats.numSeries")?,
                num_chunks: uint(&stats["numChunks"], "stats.numChunks")?,
            },
            level: u32::try_from(level).map_err(|_| "meta.json: level out of range")?,
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_through_json() {
        let m = BlockMeta {
            id: BlockId::new(),
            min_time: -5,
            max_time: 1_700_000_000_001,
            stats: BlockStats {
                num_samples: 10,
                num_series: 2,
                num_chunks: 3,
            },
            level: 2,
            sources: vec![BlockId(1), BlockId(u128::MAX)],
        };
        assert_eq!(BlockMeta::from_json(m.to_json().as_bytes()), Ok(m));
        assert!(BlockMeta::from_json(b"{}").is_err());
    }

    #[test]
    fn ids_sort_by_time_and_differ() {
        let a = BlockId::new();
        let b = BlockId::new();
        assert_ne!(a, b);
        assert!(a.0 >> 80 <= b.0 >> 80);
        assert_eq!(BlockId(u128::MAX).to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert!("8ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<BlockId>().is_err());
    }
}

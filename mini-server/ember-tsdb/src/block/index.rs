//! The `index` file: symbols, series with their chunk references, a label name → values
//! table and postings per label pair, each section CRC-checked, with a footer that
//! locates the sections and holds the CRC of `meta.json`.
//!
//! The reader decodes the whole index into memory on open: every byte is checked once
//! there, and queries then touch no index bytes on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::buf::{Reader, put_varint, put_zvarint};
use super::chunks::ChunkMeta;
use crate::labels::Labels;

/// Magic bytes at the start of an index file.
pub(crate) const INDEX_MAGIC: [u8; 4] = *b"EMBI";
/// Version byte after the magic.
pub(crate) const INDEX_VERSION: u8 = 1;
/// Number of sections (symbols, series, label values, postings).
const SECTIONS: usize = 4;
/// Footer: section offsets (u64 LE each), CRC of meta.json, CRC of the footer.
pub(crate) const FOOTER_LEN: usize = SECTIONS * 8 + 4 + 4;

/// One series in a block: its labels and chunks in time order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesEntry {
    pub(crate) labels: Labels,
    pub(crate) chunks: Vec<ChunkMeta>,
}

/// A decoded index.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Series sorted by label set; their position is their reference.
    pub(crate) series: Vec<SeriesEntry>,
    /// Label name → sorted values, each with the sorted series references having it.
    pub(crate) postings: BTreeMap<String, Vec<(String, Vec<u32>)>>,
    /// CRC-32 of the block's `meta.json` as written.
    pub(crate) meta_crc: u32,
}

impl Index {
    /// Series references having `name="value"`.
    pub(crate) fn postings(&self, name: &str, value: &str) -> &[u32] {
        self.postings
            .get(name)
            .and_then(|vs| {
                vs.binary_search_by(|(v, _)| v.as_str().cmp(value))
                    .ok()
                    .map(|i| vs[i].1.as_slice())
            })
            .unwrap_or(&[])
    }
}

/// Encodes an index for series already sorted by label set (references are positions).
pub(crate) fn encode(series: &[SeriesEntry], meta_crc: u32) -> Vec<u8> {
    let mut symbols = BTreeSet::new();
    let mut table: BTreeMap<&str, BTreeMap<&str, Vec<u32>>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        for (n, v) in s.labels.pairs() {
            symbols.insert(n.as_str());
            symbols.insert(v.as_str());
            table
                .entry(n.as_str())
                .or_default()
                .entry(v.as_str())
                .or_default()
                .push(i as u32);
        }
    }
    let sym_ref: HashMap<&str, u64> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u64))
        .collect();
    let r = |s: &str| sym_ref.get(s).copied().unwrap_or(0);

    let mut out = Vec::new();
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&[INDEX_VERSION, 0, 0, 0]);
    let mut offsets = [0u64; SECTIONS];
    let mut body = Vec::new();

    put_varint(&mut body, symbols.len() as u64);
    for s in &symbols {
        super::buf::put_bytes(&mut body, s.as_bytes());
    }
    offsets[0] = section(&mut out, &mut body);

    put_varint(&mut body, series.len() as u64);
    for s in series {
        put_varint(&mut body, s.labels.pairs().len() as u64);
        for (n, v) in s.labels.pairs() {
            put_varint(&mut body, r(n));
            put_varint(&mut body, r(v));
        }
        put_varint(&mut body, s.chunks.len() as u64);
        let mut prev_max = 0i64;
        for c in &s.chunks {
            put_zvarint(&mut body, c.min_time.wrapping_sub(prev_max));
            put_varint(&mut body, c.max_time.wrapping_sub(c.min_time) as u64);
            put_varint(&mut body, c.page_offset);
            put_varint(&mut body, u64::from(c.page_len));
            put_varint(&mut body, u64::from(c.offset));
            prev_max = c.max_time;
        }
    }
    offsets[1] = section(&mut out, &mut body);

    put_varint(&mut body, table.len() as u64);
    for (n, values) in &table {
        put_varint(&mut body, r(n));
        put_varint(&mut body, values.len() as u64);
        for v in values.keys() {
            put_varint(&mut body, r(v));
        }
    }
    offsets[2] = section(&mut out, &mut body);

    let pairs: usize = table.values().map(BTreeMap::len).sum();
    put_varint(&mut body, pairs as u64);
    for (n, values) in &table {
        for (v, refs) in values {
            put_varint(&mut body, r(n));
            put_varint(&mut body, r(v));
            put_varint(&mut body, refs.len() as u64);
            let mut prev = 0u32;
            for (k, &s) in refs.iter().enumerate() {
                put_varint(&mut body, u64::from(if k == 0 { s } else { s - prev }));
                prev = s;
            }
        }
    }
    offsets[3] = section(&mut out, &mut body);

    let footer_start = out.len();
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&meta_crc.to_le_bytes());
    let crc = crc32fast::hash(&out[footer_start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes `body` framed as a section at the end of `out`, clears it, returns its offset.
fn section(out: &mut Vec<u8>, body: &mut Vec<u8>) -> u64 {
    let at = out.len() as u64;
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    body.clear();
    at
}

/// Decodes and validates a whole index file.
pub(crate) fn decode(buf: &[u8]) -> Result<Index, String> {
    if buf.len() < 8 + FOOTER_LEN {
        return Err("index shorter than its header and footer".into());
    }
    if buf[..4] != INDEX_MAGIC {
        return Err("index has a bad magic number".into());
    }
    if buf[4] != INDEX_VERSION || buf[5..8] != [0, 0, 0] {
        return Err("index has an unsupported version or flags".into());
    }
    let footer_start = buf.len() - FOOTER_LEN;
    let footer = &buf[footer_start..];
    let mut fr = Reader::new(footer);
    let mut offsets = [0u64; SECTIONS];
    for o in &mut offsets {
        *o = fr.u64_le()?;
    }
    let meta_crc = fr.u32_le()?;
    let crc = fr.u32_le()?;
    if crc32fast::hash(&footer[..FOOTER_LEN - 4]) != crc {
        return Err("index footer checksum mismatch".into());
    }
    // Sections are contiguous from the header to the footer, so every byte is covered
    // by a checksum.
    let mut bodies = Vec::with_capacity(SECTIONS);
    let mut at = 8usize;
    for (i, &o) in offsets.iter().enumerate() {
        if o != at as u64 {
            return Err(format!("index section {i} is not where the footer says"));
        }
        let mut r = Reader::new(buf.get(at..footer_start).ok_or("section past the footer")?);
        let len = r.u32_le()? as usize;
        let body = r
            .take(len)
            .map_err(|_| format!("index section {i} is truncated"))?;
        let crc = r.u32_le()?;
        if crc32fast::hash(body) != crc {
            return Err(format!("index section {i} checksum mismatch"));
        }
        bodies.push(body);
        at += 8 + len;
    }
    if at != footer_start {
        return Err("bytes between the last index section and the footer".into());
    }

    let symbols = decode_symbols(bodies[0])?;
    let series = decode_series(bodies[1], &symbols)?;
    let postings = decode_postings(bodies[2], bodies[3], &symbols, series.len())?;
    Ok(Index {
        series,
        postings,
        meta_crc,
    })
}

fn decode_symbols(body: &[u8]) -> Result<Vec<&str>, String> {
    let mut r = Reader::new(body);
    let n = r.count(1)?;
    let mut symbols: Vec<&str> = Vec::with_capacity(n);
    for _ in 0..n {
        let s = r.string()?;
        if symbols.last().is_some_and(|p| *p >= s) {
            return Err("symbols are not sorted and unique".into());
        }
        symbols.push(s);
    }
    if !r.is_empty() {
        return Err("trailing bytes in the symbol table".into());
    }
    Ok(symbols)
}

fn decode_series(body: &[u8], symbols: &[&str]) -> Result<Vec<SeriesEntry>, String> {
    let mut r = Reader::new(body);
    let n = r.count(2)?;
    let mut series: Vec<SeriesEntry> = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.count(2)?;
        let mut pairs = Vec::with_capacity(k);
        let mut prev_name = None;
        for _ in 0..k {
            let name = r.index(symbols.len())?;
            let value = r.index(symbols.len())?;
            if prev_name.is_some_and(|p| p >= name) {
                return Err("series labels are not sorted by name".into());
            }
            prev_name = Some(name);
            pairs.push((symbols[name], symbols[value]));
        }
        let labels = Labels::new(pairs).map_err(|e| e.to_string())?;
        if series.last().is_some_and(|p| p.labels >= labels) {
            return Err("series are not sorted by label set".into());
        }
        let c = r.count(5)?;
        let mut chunks = Vec::with_capacity(c);
        let mut prev_max: Option<i64> = None;
        for _ in 0..c {
            let min_time = prev_max.unwrap_or(0).wrapping_add(r.zvarint()?);
            let span = r.varint()?;
            let max_time = min_time
                .checked_add_unsigned(span)
                .ok_or("chunk time range overflows")?;
            if prev_max.is_some_and(|p| min_time <= p) {
                return Err("chunks of a series overlap or are out of order".into());
            }
            prev_max = Some(max_time);
            let page_offset = r.varint()?;
            let page_len = u32::try_from(r.varint()?).map_err(|_| "page length out of range")?;
            let offset = u32::try_from(r.varint()?).map_err(|_| "chunk offset out of range")?;
            chunks.push(ChunkMeta {
                min_time,
                max_time,
                page_offset,
                page_len,
                offset,
            });
        }
        series.push(SeriesEntry { labels, chunks });
    }
    if !r.is_empty() {
        return Err("trailing bytes in the series section".into());
    }
    Ok(series)
}

type Postings = BTreeMap<String, Vec<(String, Vec<u32>)>>;

fn decode_postings(
    table: &[u8],
    postings: &[u8],
    symbols: &[&str],
    num_series: usize,
) -> Result<Postings, String> {
    let mut r = Reader::new(table);
    let names = r.count(2)?;
    let mut expected: Vec<(usize, usize)> = Vec::new();
    let mut prev_name = None;
    for _ in 0..names {
        let name = r.index(symbols.len())?;
        if prev_name.is_some_and(|p| p >= name) {
            return Err("label names table is not sorted".into());
        }
        prev_name = Some(name);
        let m = r.count(1)?;
        let mut prev_value = None;
        for _ in 0..m {
            let value = r.index(symbols.len())?;
            if prev_value.is_some_and(|p| p >= value) {
                return Err("label values table is not sorted".into());
            }
            prev_value = Some(value);
            expected.push((name, value));
        }
    }
    if !r.is_empty() {
        return Err("trailing bytes in the label values table".into());
    }

    let mut r = Reader::new(postings);
    let n = r.count(3)?;
    if n != expected.len() {
        return Err("postings and label values tables disagree".into());
    }
    let mut out: Postings = BTreeMap::new();
    for &(want_name, want_value) in &expected {
        let name = r.index(symbols.len())?;
        let value = r.index(symbols.len())?;
        if (name, value) != (want_name, want_value) {
            return Err("postings and label values tables disagree".into());
        }
        let m = r.count(1)?;
        let mut refs = Vec::with_capacity(m);
        for k in 0..m {
            let d = r.varint()?;
            let s = if k == 0 {
                d
            } else {
                if d == 0 {
                    return Err("postings list is not strictly increasing".into());
                }
                u64::from(refs.last().copied().unwrap_or(0)).saturating_add(d)
            };
            if s >= num_series as u64 {
                return Err("posting refers to a missing series".into());
            }
            refs.push(s as u32);
        }
        out.entry(symbols[name].to_string())
            .or_default()
            .push((symbols[value].to_string(), refs));
    }
    if !r.is_empty() {
        return Err("trailing bytes in the postings section".into());
    }
    Ok(out)
}

//! Backfilling from OpenMetrics text, as `promtool tsdb create-blocks-from openmetrics`
//! reads it: every sample has a timestamp (seconds), the input ends with `# EOF`.
//!
//! Samples are grouped into blocks aligned to [`ImportOptions::block_duration`]
//! (`floor(t / d) * d`), one block written per range that has samples.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use ember_expfmt::{Entry, OpenMetricsParser};

use crate::Error;
use crate::block::{BlockMeta, SeriesSamples, WriteOptions, write_block};
use crate::labels::Labels;

/// Import settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Parser threads: the input is read in pieces of about [`Self::piece_bytes`], cut
    /// between two sample lines with different timestamps (so no histogram point is
    /// split), and the pieces are parsed in parallel, each after the metadata lines of the
    /// family it starts in. Checks that span pieces (a family name used twice, a metric's
    /// samples not together) are then made per piece only.
    pub threads: usize,
    /// Bytes of input per piece (at least a line; memory holds a few pieces per thread).
    /// A piece grows past this until it can be cut: a file whose samples all share one
    /// timestamp is read as one piece.
    pub piece_bytes: usize,
    /// Length of each block's time range in milliseconds (Prometheus's default is 2 h).
    pub block_duration: i64,
    /// How chunks are cut in the blocks written.
    pub write: WriteOptions,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            piece_bytes: 4 << 20,
            block_duration: 2 * 3_600_000,
            write: WriteOptions::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Samples read from the input.
    pub samples: u64,
    /// Distinct series.
    pub series: u64,
    /// Samples dropped because their series already had a sample at that timestamp.
    pub duplicates: u64,
    /// The blocks written, in time order.
    pub blocks: Vec<BlockMeta>,
}

/// Parses `input` and writes its samples as blocks under `dir` (see
/// [`import_openmetrics_from`], which reads from any reader).
///
/// ```
/// use ember_tsdb::{Block, ImportOptions, import_openmetrics};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-import-{}", std::process::id()));
/// let om = b"# TYPE up gauge\nup{job=\"a\"} 1 1700000000\nup{job=\"a\"} 0 1700000015.5\n# EOF\n";
/// let r = import_openmetrics(om, &dir, &ImportOptions::default())?;
/// assert_eq!((r.samples, r.series, r.blocks.len()), (2, 1, 1));
/// let b = Block::open(dir.join(r.blocks[0].id.to_string()))?;
/// assert_eq!(b.series_samples(0)?.unwrap().1, [(1_700_000_000_000, 1.0), (1_700_000_015_500, 0.0)]);
/// assert!(import_openmetrics(b"up 1\n# EOF\n", &dir, &ImportOptions::default()).is_err()); // no timestamp
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn import_openmetrics(
    input: &[u8],
    dir: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, Error> {
    import_openmetrics_from(input, dir, options)
}

/// Reads OpenMetrics text from `input` as it goes (memory: a few pieces of
/// [`ImportOptions::piece_bytes`] per thread, plus the samples as `(i64, f64)` pairs) and
/// writes its samples as blocks under `dir`, aligned to
/// [`ImportOptions::block_duration`]. Errors name the line and column in the whole input.
///
/// ```
/// use ember_tsdb::{ImportOptions, import_openmetrics_from};
///
/// let dir = std::env::temp_dir().join(format!("ember-doc-import-from-{}", std::process::id()));
/// let om = "# TYPE a counter\na_total 1 1\na_total 2 2\na_total -1 3\n# EOF\n";
/// let e = import_openmetrics_from(om.as_bytes(), &dir, &ImportOptions::default()).unwrap_err();
/// assert_eq!(e.to_string(), "import: line 4, column 9: value of `a_total` must not be negative");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn import_openmetrics_from<R: Read>(
    input: R,
    dir: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, Error> {
    if options.block_duration <= 0 {
        return Err(Error::Import("block duration must be positive".into()));
    }
    let threads = options.threads.max(1);
    let stop = AtomicBool::new(false);
    let (piece_tx, piece_rx) = mpsc::sync_channel::<Piece>(threads * 2);
    let piece_rx = Mutex::new(piece_rx);
    // Buffers of parsed pieces, for the reader to fill again (no fresh pages to fault in).
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let (result_tx, result_rx) = mpsc::channel::<(usize, Result<Parsed, Error>)>();
    let merged = std::thread::scope(|scope| {
        for _ in 0..threads {
            let result_tx = result_tx.clone();
            let (piece_rx, stop, pool) = (&piece_rx, &stop, &pool);
            scope.spawn(move || {
                loop {
                    let piece = match piece_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(piece) = piece else { break };
                    let parsed = if stop.load(Ordering::Relaxed) {
                        Ok(Parsed::default())
                    } else {
                        parse_piece(&piece)
                    };
                    if let Ok(mut pool) = pool.lock() {
                        if pool.len() < 2 * threads {
                            pool.push(piece.text);
                        }
                    }
                    if result_tx.send((piece.index, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        let merger = {
            let stop = &stop;
            scope.spawn(move || merge(result_rx, stop))
        };
        let read = read_pieces(input, options.piece_bytes.max(1), &piece_tx, &stop, &pool);
        if let Err((index, e)) = read {
            let _ = result_tx.send((index, Err(e)));
        }
        drop(piece_tx);
        drop(result_tx);
        merger
            .join()
            .unwrap_or(Err(Error::ThreadPanicked("import merger")))
    });
    let (series, samples) = merged?;
    let mut report = ImportReport {
        samples,
        series: series.len() as u64,
        ..ImportReport::default()
    };

    // Split each series by aligned block range.
    let d = options.block_duration;
    let mut ranges: BTreeMap<i64, Vec<SeriesSamples>> = BTreeMap::new();
    for (labels, mut samples) in series {
        // Stable: of two samples at one timestamp the first read is kept.
        if !samples.is_sorted_by_key(|s| s.0) {
            samples.sort_by_key(|s| s.0);
        }
        let before = samples.len();
        samples.dedup_by_key(|s| s.0);
        report.duplicates += (before - samples.len()) as u64;
        let Some(last) = samples.last() else {
            continue;
        };
        // The last range keeps the vector (its samples moved down in place); the others
        // are copied out.
        let last_range = last.0.div_euclid(d);
        let last_start = samples.partition_point(|s| s.0.div_euclid(d) < last_range);
        let mut rest = &samples[..last_start];
        while let Some(first) = rest.first() {
            let range = first.0.div_euclid(d);
            let end = rest.partition_point(|s| s.0.div_euclid(d) == range);
            ranges
                .entry(range)
                .or_default()
                .push((labels.clone(), rest[..end].to_vec()));
            rest = &rest[end..];
        }
        samples.drain(..last_start);
        ranges
            .entry(last_range)
            .or_default()
            .push((labels, samples));
    }
    while let Some((_, block_series)) = ranges.pop_first() {
        report
            .blocks
            .push(write_block(dir, block_series, &options.write)?);
    }
    Ok(report)
}

/// Samples of a series, in input order.
type Samples = Vec<(i64, f64)>;

/// A piece of the input for a parser thread.
#[derive(Debug)]
struct Piece {
    /// Position among the pieces.
    index: usize,
    /// Line number (from 1) in the whole input of the piece's first line.
    first_line: u64,
    /// Metadata lines of the family the piece starts in (copied from before it), then the
    /// piece's lines, then `# EOF` unless the input ends in this piece.
    text: Vec<u8>,
    /// Lines of `text` before the piece's own.
    prefix_lines: u64,
}

/// Samples of one piece, by series in first-seen order.
#[derive(Debug, Default)]
struct Parsed {
    series: Vec<SeriesSamples>,
    samples: u64,
}

/// Reads `input` into pieces of about `piece_bytes`, each cut after a sample line whose
/// timestamp differs from that of the sample line after it (a histogram point is one
/// metric at one timestamp, so none is split), and sends them in order. On an error,
/// returns it with the index it takes among the pieces.
fn read_pieces<R: Read>(
    mut input: R,
    piece_bytes: usize,
    tx: &mpsc::SyncSender<Piece>,
    stop: &AtomicBool,
    pool: &Mutex<Vec<Vec<u8>>>,
) -> Result<(), (usize, Error)> {
    let mut index = 0;
    let mut first_line = 1u64;
    // The block of metadata lines most recently read (the family a piece starts in).
    let mut meta: Vec<u8> = Vec::new();
    // Input read past the last piece.
    let mut carry: Vec<u8> = Vec::new();
    let mut ended = false;
    while !ended && !stop.load(Ordering::Relaxed) {
        let capacity = meta.len() + piece_bytes + carry.len() + 4096;
        let mut text = match pool.lock().ok().and_then(|mut p| p.pop()) {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        };
        text.extend_from_slice(&meta);
        let body = text.len();
        text.append(&mut carry);
        // Read until the piece is long enough and a cut is found, or the input ends.
        let mut searched = body;
        let cut = loop {
            if text.len() - body >= piece_bytes {
                if let Some(c) = find_cut(&text[body..], searched - body) {
                    break Some(body + c);
                }
                searched = text.len();
            }
            let want = (body + piece_bytes).max(text.len() + (piece_bytes / 4).max(1));
            // Into the spare capacity, which is not zeroed first.
            let limit = (want - text.len()) as u64;
            let n = input
                .by_ref()
                .take(limit)
                .read_to_end(&mut text)
                .map_err(|e| (index, Error::Import(format!("reading the input: {e}"))))?;
            if n == 0 {
                ended = true;
                break None;
            }
        };
        if let Some(cut) = cut {
            carry.extend_from_slice(&text[cut..]);
            text.truncate(cut);
        }
        let lines = memchr::memchr_iter(b'\n', &text[body..]).count() as u64;
        // The last block of consecutive metadata lines is the prefix of the next piece
        // (which starts with a sample line, as the cut is between two).
        let own = &text[body..];
        let starts = (own.first() == Some(&b'#'))
            .then_some(0)
            .into_iter()
            .chain(memchr::memmem::find_iter(own, b"\n#").map(|p| p + 1));
        let mut block_end = None;
        for start in starts {
            let end = memchr::memchr(b'\n', &own[start..]).map_or(own.len(), |i| start + i);
            let line = &own[start..end];
            if line == b"# EOF" {
                continue;
            }
            if block_end != Some(start) {
                meta.clear();
            }
            meta.extend_from_slice(line);
            meta.push(b'\n');
            block_end = Some(end + 1);
        }
        if !ended {
            text.extend_from_slice(b"# EOF\n");
        }
        let prefix_lines = memchr::memchr_iter(b'\n', &text[..body]).count() as u64;
        let piece = Piece {
            index,
            first_line,
            text,
            prefix_lines,
        };
        if tx.send(piece).is_err() {
            break;
        }
        index += 1;
        first_line += lines;
    }
    Ok(())
}

/// Where a piece may end in `body`, searching lines that end after `from`: the start of a
/// sample line (the last such) whose timestamp differs from that of the sample line
/// before it; neither line may hold a `#` (an exemplar's value would look like the
/// timestamp). The line after the cut must be whole (end with a newline).
fn find_cut(body: &[u8], from: usize) -> Option<usize> {
    let mut end = memchr::memrchr(b'\n', body)?;
    while end > from {
        let m_start = memchr::memrchr(b'\n', &body[..end])? + 1;
        let l_end = m_start - 1;
        let l_start = memchr::memrchr(b'\n', &body[..l_end]).map_or(0, |i| i + 1);
        let (l, m) = (&body[l_start..l_end], &body[m_start..end]);
        let plain = |line: &[u8]| !line.is_empty() && memchr::memchr(b'#', line).is_none();
        if plain(l) && plain(m) && last_token(l) != last_token(m) {
            return Some(m_start);
        }
        end = l_end;
    }
    None
}

/// The text after the last space of `line` (a sample line's timestamp).
fn last_token(line: &[u8]) -> &[u8] {
    memchr::memrchr(b' ', line).map_or(line, |i| &line[i + 1..])
}

/// Merges parsed pieces in input order; stops at the first error (in input order).
fn merge(
    rx: mpsc::Receiver<(usize, Result<Parsed, Error>)>,
    stop: &AtomicBool,
) -> Result<(Vec<SeriesSamples>, u64), Error> {
    let mut by_labels: HashMap<Labels, usize, foldhash::fast::RandomState> = HashMap::default();
    // Each series' samples as the pieces gave them, joined once at the end (growing one
    // vector piece by piece copied and faulted in its samples about twice over).
    let mut series: Vec<(Labels, Vec<Samples>)> = Vec::new();
    let mut samples = 0u64;
    let mut waiting: BTreeMap<usize, Result<Parsed, Error>> = BTreeMap::new();
    let mut next = 0;
    for (index, result) in rx {
        waiting.insert(index, result);
        while let Some(result) = waiting.remove(&next) {
            next += 1;
            let part = match result {
                Ok(p) => p,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            samples += part.samples;
            for (labels, s) in part.series {
                match by_labels.get(&labels) {
                    Some(&i) => series[i].1.push(s),
                    None => {
                        by_labels.insert(labels.clone(), series.len());
                        series.push((labels, vec![s]));
                    }
                }
            }
        }
    }
    if let Some((_, Err(e))) = waiting.pop_first() {
        return Err(e);
    }
    let series = series
        .into_iter()
        .map(|(labels, mut parts)| {
            if parts.len() == 1 {
                return (labels, parts.pop().unwrap_or_default());
            }
            let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for part in parts {
                all.extend_from_slice(&part);
            }
            (labels, all)
        })
        .collect();
    Ok((series, samples))
}

/// Parses one piece.
fn parse_piece(piece: &Piece) -> Result<Parsed, Error> {
    // Line `n` of the piece's text is line `n - prefix_lines` of the piece.
    let file_line = |n: u64| piece.first_line + n.saturating_sub(piece.prefix_lines + 1);
    let located = |e: ember_expfmt::Error| {
        let ember_expfmt::Error::Parse {
            line,
            column,
            message,
        } = &e
        else {
            return Error::Import(e.to_string());
        };
        Error::Import(format!(
            "line {}, column {column}: {message}",
            file_line(*line as u64)
        ))
    };
    let mut by_text: HashMap<(&str, &str), usize, foldhash::fast::RandomState> = HashMap::default();
    let mut by_labels: HashMap<Labels, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut series: Vec<SeriesSamples> = Vec::new();
    let mut samples = 0u64;
    let mut previous: Option<((&str, &str), usize)> = None;
    // Every line but `# EOF` is one entry.
    let mut line = 0u64;
    for entry in OpenMetricsParser::new(&piece.text) {
        line += 1;
        let Entry::Sample(s) = entry.map_err(located)? else {
            continue;
        };
        let Some(t) = s.timestamp_ms else {
            return Err(Error::Import(format!(
                "line {}: sample `{}{{{}}}` has no timestamp",
                file_line(line),
                s.name,
                s.labels.as_str()
            )));
        };
        let key = (s.name, s.labels.as_str());
        // Consecutive lines are mostly of one series: no hashing then.
        if let Some((last_key, i)) = previous.filter(|(k, _)| *k == key) {
            series[i].1.push((t, s.value));
            samples += 1;
            previous = Some((last_key, i));
            continue;
        }
        let idx = match by_text.get(&key) {
            Some(&i) => i,
            None => {
                let labels = Labels::new(
                    std::iter::once(("__name__".to_string(), s.name.to_string())).chain(
                        s.labels
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.into_owned())),
                    ),
                )?;
                // The same series may be spelled with labels in another order.
                let i = *by_labels.entry(labels.clone()).or_insert_with(|| {
                    series.push((labels, Vec::new()));
                    series.len() - 1
                });
                by_text.insert(key, i);
                i
            }
        };
        series[idx].1.push((t, s.value));
        samples += 1;
        previous = Some((key, idx));
    }
    Ok(Parsed { series, samples })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Block;

    /// Families of every shape import cares about: metrics of several samples, histogram points of several lines, escaped labels.
    const OM: &str = "# TYPE a counter\n# HELP a Help.\na_total{x=\"1\"} 1 1\na_total{x=\"1\"} 2 2\n\
a_total{x=\"2\"} 1 1\na_total{x=\"2\"} 3 2\n# TYPE b_bytes gauge\n# UNIT b_bytes bytes\nb_bytes 1 1\nb_bytes 2 2.5\nb_bytes 3 4\n\
# TYPE h histogram\nh_bucket{le=\"1\"} 0 1\nh_bucket{le=\"+Inf\"} 1 1\nh_count 1 1\nh_sum 0.5 1\n\
h_bucket{le=\"1\"} 1 2\nh_bucket{le=\"+Inf\"} 2 2\nh_count 2 2\nh_sum 1.5 2\n\
c{l=\"q\\\"\\n\\\\\"} 7 3\nc{l=\"q\\\"\\n\\\\\"} 8 4\n# EOF\n";

    fn options(threads: usize, piece_bytes: usize) -> ImportOptions {
        ImportOptions {
            threads,
            piece_bytes,
            ..ImportOptions::default()
        }
    }

    /// Every series with its samples, from the blocks of an import.
    fn contents(dir: &Path, report: &ImportReport) -> Vec<SeriesSamples> {
        let mut all = Vec::new();
        for m in &report.blocks {
            let b = Block::open(dir.join(m.id.to_string())).unwrap();
            for i in 0..b.num_series() {
                all.push(b.series_samples(i).unwrap().unwrap());
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ember-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn pieces_end_between_samples_of_different_timestamps() {
        let body = b"a 1 1\na 2 2\nb 1 2\n";
        assert_eq!(find_cut(body, 0), Some(6)); // "a 2 2" / "b 1 2" share a timestamp
        assert_eq!(
            find_cut(b"h{le=\"1\"} 0 5\nh{le=\"2\"} 0 5\nh_count 0 5\n", 0),
            None
        );
        // An exemplar's tail is not a timestamp: no cut next to it.
        assert_eq!(find_cut(b"a 1 1\na_total 1 # {t=\"1\"} 2\nz\n", 0), None);
        assert_eq!(find_cut(b"a 1 1\na 1 2", 0), None); // the line after must be whole
        assert_eq!(find_cut(b"# TYPE a gauge\na 1 1\n", 0), None);
        assert_eq!(find_cut(body, 12), None); // only lines ending after `from`
    }

    #[test]
    fn any_piece_size_and_thread_count_imports_the_same() {
        let dir = temp("pieces");
        let whole =
            import_openmetrics(OM.as_bytes(), &dir.join("whole"), &options(1, 1 << 20)).unwrap();
        let want = contents(&dir.join("whole"), &whole);
        assert_eq!((whole.samples, whole.series), (17, 8));
        // Every size up to a few lines, then a sample of larger ones (each import syncs).
        let sizes = (1..64).chain((64..OM.len() + 8).step_by(13));
        for piece_bytes in sizes {
            {
                let threads = 1 + piece_bytes % 3;
                let d = dir.join(format!("{piece_bytes}-{threads}"));
                let r =
                    import_openmetrics(OM.as_bytes(), &d, &options(threads, piece_bytes)).unwrap();
                assert_eq!((r.samples, r.series), (whole.samples, whole.series));
                assert_eq!(contents(&d, &r), want, "pieces of {piece_bytes} bytes");
                let _ = std::fs::remove_dir_all(&d);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_name_the_same_line_whatever_the_pieces() {
        let dir = temp("errors");
        let bad = [
            // (input, the error from one piece)
            (
                OM.replace("a_total{x=\"2\"} 3 2", "a_total{x=\"2\"} -3 2"),
                "line 6, column 16: value of `a_total` must not be negative",
            ),
            (
                OM.replace("h_count 2 2", "h_count 3 2"),
                "line 19, column 9: count 3 of `h` does not equal its `+Inf` bucket 2",
            ),
            (
                OM.replace("h_bucket{le=\"+Inf\"} 2 2\n", ""),
                "line 17, column 1: histogram `h` has a metric point without a `+Inf` bucket",
            ),
            (
                OM.replace("b_bytes 3 4", "b_bytes 3 4\n# HELP b_bytes late"),
                "line 12, column 1: metadata for `b_bytes` after its samples",
            ),
            (
                OM.replace("b_bytes 1 1", "b_bytes 1"),
                "line 9: sample `b_bytes{}` has no timestamp",
            ),
            (
                OM.replace("# EOF\n", ""),
                "line 23, column 1: missing `# EOF` at the end of the exposition",
            ),
            (
                OM.replace("# EOF\n", "# EOF\nb_bytes 1 9\n"),
                "line 24, column 1: unexpected data after `# EOF`",
            ),
            (
                OM.replace("c{l=", "c{=l"),
                "line 21, column 3: expected a label name, found `=`",
            ),
        ];
        for (input, want) in &bad {
            let one = import_openmetrics(input.as_bytes(), &dir, &options(1, 1 << 20));
            let one = one.err().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(one, format!("import: {want}"), "{input}");
            for piece_bytes in 1..input.len() + 2 {
                let e = import_openmetrics(input.as_bytes(), &dir, &options(2, piece_bytes));
                let e = e.err().map(|e| e.to_string()).unwrap_or_default();
                assert_eq!(e, one, "pieces of {piece_bytes} bytes:\n{input}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failing_reader_is_an_error() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                let line = b"a 1 1\n";
                let n = line.len().min(buf.len());
                buf[..n].copy_from_slice(&line[..n]);
                Ok(n)
            }
        }
        let dir = temp("failing");
        let e = import_openmetrics_from(Failing(3), &dir, &options(2, 4)).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Backfilling from OpenMetrics text, as `promtool tsdb create-blocks-from openmetrics`
//! reads it: every sample has a timestamp (seconds), the input ends with `# EOF`.
//!
//! Samples are grouped into blocks aligned to [`ImportOptions::block_duration`]
//! (`floor(t / d) * d`), one block written per range that has samples.

use std::collections::HashMap;
use std::path::Path;

use ember_expfmt::{Entry, OpenMetricsParser};

use crate::Error;
use crate::block::{BlockMeta, SeriesSamples, WriteOptions, write_block};
use crate::labels::Labels;

/// Import settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Parser threads: the input is cut into this many parts at family boundaries
    /// (where a metadata line follows a sample line) and the parts are parsed in
    /// parallel. Checks that span families (a family name used twice) are then made
    /// per part only.
    pub threads: usize,
    /// Length of each block's time range in milliseconds (Prometheus's default is 2 h).
    pub block_duration: i64,
    /// How chunks are cut in the blocks written.
    pub write: WriteOptions,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
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

/// Parses `input` and writes its samples as blocks under `dir`.
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
    if options.block_duration <= 0 {
        return Err(Error::Import("block duration must be positive".into()));
    }
    let mut report = ImportReport::default();
    let bounds = part_bounds(input, options.threads.max(1));
    let parts: Vec<Result<Parsed, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let (from, to) = (w[0], w[1]);
                let last = to == input.len();
                scope.spawn(move || parse_part(input, from, to, last))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(Error::ThreadPanicked("parser"))))
            .collect()
    });
    // Parts are in input order, so appending keeps each series' samples in input order.
    let mut by_labels: HashMap<Labels, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut series: Vec<SeriesSamples> = Vec::new();
    for part in parts {
        let part = part?;
        report.samples += part.samples;
        for (labels, samples) in part.series {
            match by_labels.get(&labels) {
                Some(&i) => series[i].1.extend(samples),
                None => {
                    by_labels.insert(labels.clone(), series.len());
                    series.push((labels, samples));
                }
            }
        }
    }
    report.series = series.len() as u64;

    // Split each series by aligned block range.
    let d = options.block_duration;
    let mut ranges: std::collections::BTreeMap<i64, Vec<SeriesSamples>> =
        std::collections::BTreeMap::new();
    for (labels, mut samples) in series {
        // Stable: of two samples at one timestamp the first read is kept.
        if !samples.is_sorted_by_key(|s| s.0) {
            samples.sort_by_key(|s| s.0);
        }
        let before = samples.len();
        samples.dedup_by_key(|s| s.0);
        report.duplicates += (before - samples.len()) as u64;
        let mut rest = samples.as_slice();
        while let Some(first) = rest.first() {
            let range = first.0.div_euclid(d);
            let end = rest.partition_point(|s| s.0.div_euclid(d) == range);
            ranges
                .entry(range)
                .or_default()
                .push((labels.clone(), rest[..end].to_vec()));
            rest = &rest[end..];
        }
    }
    for (_, block_series) in ranges {
        report
            .blocks
            .push(write_block(dir, block_series, &options.write)?);
    }
    Ok(report)
}

/// Samples of one part of the input, by series in first-seen order.
struct Parsed {
    series: Vec<SeriesSamples>,
    samples: u64,
}

/// Start offsets of `n` parts (and the input length last): each part after the first
/// starts at a metadata line that follows a sample line, so no family is split.
fn part_bounds(input: &[u8], n: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    for k in 1..n {
        let mut at = (input.len() / n * k).max(bounds[bounds.len() - 1]);
        let found = loop {
            let Some(i) = input[at..].windows(2).position(|w| w == b"\n#") else {
                break None;
            };
            let line_start = at + i + 1;
            let prev_start = input[..at + i]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |p| p + 1);
            let eof = input[line_start..].starts_with(b"# EOF");
            if !eof && input.get(prev_start) != Some(&b'#') && prev_start < at + i {
                break Some(line_start);
            }
            at = line_start;
        };
        match found {
            Some(b) if b > bounds[bounds.len() - 1] && b < input.len() => bounds.push(b),
            _ => break,
        }
    }
    bounds.push(input.len());
    bounds
}

/// Parses `input[from..to]`; a part that is not the last ends without `# EOF`.
fn parse_part(input: &[u8], from: usize, to: usize, last: bool) -> Result<Parsed, Error> {
    let part = &input[from..to];
    let located = |e: ember_expfmt::Error| {
        let ember_expfmt::Error::Parse {
            line,
            column,
            message,
        } = &e
        else {
            return Error::Import(e.to_string());
        };
        let before = input[..from].iter().filter(|&&c| c == b'\n').count();
        Error::Import(format!(
            "line {}, column {column}: {message}",
            line + before
        ))
    };
    let mut by_text: HashMap<(&str, &str), usize, foldhash::fast::RandomState> = HashMap::default();
    let mut by_labels: HashMap<Labels, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut series: Vec<SeriesSamples> = Vec::new();
    let mut samples = 0u64;
    let mut previous: Option<((&str, &str), usize)> = None;
    let mut parser = OpenMetricsParser::new(part);
    while let Some(entry) = parser.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(ember_expfmt::Error::Parse { message, .. })
                if !last && message.starts_with(MISSING_EOF) && parser.next().is_none() =>
            {
                break;
            }
            Err(e) => return Err(located(e)),
        };
        let Entry::Sample(s) = entry else { continue };
        let Some(t) = s.timestamp_ms else {
            return Err(Error::Import(format!(
                "sample `{}{{{}}}` has no timestamp",
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

/// How the OpenMetrics parser reports an input that ends without `# EOF` (the end of
/// every part but the last).
const MISSING_EOF: &str = "missing `# EOF`";

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &[u8] = b"# TYPE a counter\na_total 1 1\na_total 2 2\n# HELP b x\n# TYPE b gauge\nb 1 1\n# TYPE c gauge\nc 1 1\n# EOF\n";

    #[test]
    fn parts_start_at_family_metadata_after_samples() {
        let b = part_bounds(OM, 3);
        assert_eq!(b.len(), 4);
        assert!(OM[b[1]..].starts_with(b"# HELP b"));
        assert!(OM[b[2]..].starts_with(b"# TYPE c"));
        assert_eq!(part_bounds(OM, 1), [0, OM.len()]);
        // More parts than families: as many as there are boundaries.
        assert_eq!(part_bounds(OM, 50).len(), 4); // never at `# EOF`
        assert_eq!(part_bounds(b"# EOF\n", 4), [0, 6]);
    }

    #[test]
    fn a_part_without_eof_parses_and_the_parser_still_reports_it_so() {
        // Import relies on this message for parts that are not the last.
        let end = part_bounds(OM, 3)[1];
        let err = OpenMetricsParser::new(&OM[..end]).find_map(Result::err);
        assert!(err.is_some_and(|e| e.to_string().contains(MISSING_EOF)));
        let p = parse_part(OM, 0, end, false).unwrap();
        assert_eq!(p.samples, 2);
        assert!(parse_part(OM, 0, end, true).is_err());
    }

    #[test]
    fn errors_in_later_parts_carry_whole_file_line_numbers() {
        let bad = b"# TYPE a gauge\na 1 1\n# TYPE b gauge\nb x 1\n# EOF\n";
        let from = bad.windows(8).position(|w| w == b"# TYPE b").unwrap();
        assert_eq!(part_bounds(bad, 4), [0, from, bad.len()]);
        let e = parse_part(bad, from, bad.len(), true)
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("import: line 4, column"), "{e}");
    }

    #[test]
    fn parallel_and_single_threaded_imports_agree() {
        let dir = std::env::temp_dir().join(format!("ember-import-par-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let one = ImportOptions {
            threads: 1,
            ..ImportOptions::default()
        };
        let four = ImportOptions {
            threads: 4,
            ..ImportOptions::default()
        };
        let a = import_openmetrics(OM, &dir.join("1"), &one).unwrap();
        let b = import_openmetrics(OM, &dir.join("4"), &four).unwrap();
        assert_eq!((a.samples, a.series), (b.samples, b.series));
        assert_eq!((a.samples, a.series), (4, 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

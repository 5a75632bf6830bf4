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
    /// Length of each block's time range in milliseconds (Prometheus's default is 2 h).
    pub block_duration: i64,
    /// How chunks are cut in the blocks written.
    pub write: WriteOptions,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
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
    let mut by_text: HashMap<(&str, &str), usize, foldhash::fast::RandomState> = HashMap::default();
    let mut by_labels: HashMap<Labels, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut series: Vec<SeriesSamples> = Vec::new();
    let mut report = ImportReport::default();
    for entry in OpenMetricsParser::new(input) {
        let entry = entry.map_err(|e| Error::Import(e.to_string()))?;
        let Entry::Sample(s) = entry else { continue };
        let Some(t) = s.timestamp_ms else {
            return Err(Error::Import(format!(
                "sample `{}{{{}}}` has no timestamp",
                s.name,
                s.labels.as_str()
            )));
        };
        let key = (s.name, s.labels.as_str());
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
        report.samples += 1;
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

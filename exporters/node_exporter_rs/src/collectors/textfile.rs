//! `textfile`: metrics that other programs write as `*.prom` files (text format 0.0.4)
//! into `--collector.textfile.directory`, plus `node_textfile_mtime_seconds{file}` for
//! each file read and `node_textfile_scrape_error` (1 if any file or the directory could
//! not be read or parsed).
//!
//! A file that fails to parse, or that carries client-side timestamps, is skipped whole,
//! as upstream does. One difference from node_exporter: the workspace's data model names
//! counters with `_total`, so a counter declared in a file under a name without `_total`
//! is passed on as untyped under its own name, keeping queries that use the name working.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use clap::Arg;
use ember_expfmt::{
    Bucket, Label, Metric, MetricFamily, MetricType, MetricValue, ParsedFamily, Quantile,
    parse_text,
};
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::Entry;
use crate::util::{Family, arg_str, value_arg};

/// Debian's default (upstream's is empty).
const DIRECTORY_DEFAULT: &str = "/var/lib/prometheus/node-exporter";

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "textfile",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        Ok(Box::new(Textfile {
            dir: PathBuf::from(
                arg_str(ctx.matches, "collector.textfile.directory").unwrap_or(DIRECTORY_DEFAULT),
            ),
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![value_arg(
        "collector.textfile.directory",
        Some(DIRECTORY_DEFAULT),
        "Directory to read text files with metrics from.",
    )]
}

#[derive(Debug)]
struct Textfile {
    dir: PathBuf,
}

/// Why a file was skipped.
#[derive(Debug)]
enum FileError {
    Read(std::io::Error),
    Parse(ember_expfmt::Error),
    Timestamps,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Read(e) => write!(f, "reading: {e}"),
            FileError::Parse(e) => write!(f, "parsing: {e}"),
            FileError::Timestamps => f.write_str("contains unsupported client-side timestamps"),
        }
    }
}

/// Labels without the one named `skip`.
fn labels_without(labels: &[Label], skip: &str) -> Vec<Label> {
    labels.iter().filter(|(k, _)| k != skip).cloned().collect()
}

/// Groups a parsed family's flat samples into metrics of its type.
/// `default_help` stands in for a missing HELP (upstream: `Metric read from <files>`).
pub(crate) fn convert(family: ParsedFamily, default_help: &str) -> Result<MetricFamily, String> {
    let help = family
        .help
        .clone()
        .unwrap_or_else(|| default_help.to_string());
    let mut metric_type = family.metric_type;
    if metric_type == MetricType::Counter && !family.name.ends_with("_total") {
        metric_type = MetricType::Unknown;
    }
    let plain = |value: f64| match metric_type {
        MetricType::Counter => MetricValue::Counter {
            value,
            exemplar: None,
        },
        MetricType::Gauge => MetricValue::Gauge(value),
        _ => MetricValue::Unknown(value),
    };
    let mut metrics: Vec<Metric> = Vec::new();
    match metric_type {
        MetricType::Histogram | MetricType::Summary => {
            let hist = metric_type == MetricType::Histogram;
            let special = if hist { "le" } else { "quantile" };
            let mut index: HashMap<Vec<Label>, usize> = HashMap::new();
            for s in &family.samples {
                let key = labels_without(&s.labels, special);
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    metrics.push(Metric {
                        labels: key,
                        value: if hist {
                            MetricValue::Histogram {
                                buckets: Vec::new(),
                                count: 0.0,
                                sum: None,
                            }
                        } else {
                            MetricValue::Summary {
                                quantiles: Vec::new(),
                                count: 0.0,
                                sum: 0.0,
                            }
                        },
                        timestamp_ms: None,
                        created: None,
                    });
                    metrics.len() - 1
                });
                let suffix = s.name.strip_prefix(family.name.as_str()).unwrap_or("");
                let bound = s
                    .labels
                    .iter()
                    .find(|(k, _)| k == special)
                    .map(|(_, v)| parse_bound(v))
                    .transpose()?;
                match (&mut metrics[i].value, suffix, bound) {
                    (MetricValue::Histogram { buckets, .. }, "_bucket", Some(b)) => {
                        buckets.push(Bucket {
                            upper_bound: b,
                            cumulative_count: s.value,
                            exemplar: None,
                        });
                    }
                    (MetricValue::Histogram { count, .. }, "_count", None) => *count = s.value,
                    (MetricValue::Histogram { sum, .. }, "_sum", None) => *sum = Some(s.value),
                    (MetricValue::Summary { quantiles, .. }, "", Some(q)) => {
                        quantiles.push(Quantile {
                            quantile: q,
                            value: s.value,
                        });
                    }
                    (MetricValue::Summary { count, .. }, "_count", None) => *count = s.value,
                    (MetricValue::Summary { sum, .. }, "_sum", None) => *sum = s.value,
                    _ => return Err(format!("unexpected sample {} in {}", s.name, family.name)),
                }
            }
        }
        _ => {
            for s in &family.samples {
                metrics.push(Metric {
                    labels: s.labels.clone(),
                    value: plain(s.value),
                    timestamp_ms: None,
                    created: None,
                });
            }
        }
    }
    Ok(MetricFamily {
        name: family.name,
        help,
        metric_type,
        unit: None,
        metrics,
    })
}

/// Adds a family to those already read, as Prometheus's registry gathers them: metrics
/// of a name already seen join that family; a family whose HELP or type differs from
/// the earlier one, or a metric whose label set was already seen, is dropped with an
/// error log, so the exposition never holds a name twice.
pub(crate) fn merge(families: &mut Vec<MetricFamily>, family: MetricFamily) {
    let Some(existing) = families.iter_mut().find(|f| f.name == family.name) else {
        families.push(family);
        return;
    };
    if existing.help != family.help {
        tracing::error!(
            metric = %family.name,
            help = %family.help,
            want = %existing.help,
            "textfile metric has a different HELP than earlier; dropping it"
        );
        return;
    }
    if existing.metric_type != family.metric_type {
        tracing::error!(
            metric = %family.name,
            "textfile metric declared with two different types; dropping the later one"
        );
        return;
    }
    for metric in family.metrics {
        let mut labels = metric.labels.clone();
        labels.sort();
        let seen = existing.metrics.iter().any(|m| {
            let mut other = m.labels.clone();
            other.sort();
            other == labels
        });
        if seen {
            tracing::error!(metric = %family.name, "textfile metric collected twice with the same labels; dropping the later one");
        } else {
            existing.metrics.push(metric);
        }
    }
}

fn parse_bound(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v.parse().map_err(|_| format!("bad bound {v:?}")),
    }
}

fn read_file(path: &Path) -> Result<Vec<ParsedFamily>, FileError> {
    let bytes = std::fs::read(path).map_err(FileError::Read)?;
    let parsed = parse_text(&bytes).map_err(FileError::Parse)?;
    if parsed
        .iter()
        .any(|f| f.samples.iter().any(|s| s.timestamp_ms.is_some()))
    {
        return Err(FileError::Timestamps);
    }
    Ok(parsed)
}

impl Collector for Textfile {
    fn name(&self) -> &str {
        "textfile"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut error = false;
        let mut mtimes: Vec<(String, f64)> = Vec::new();
        let mut parsed_files: Vec<(PathBuf, Vec<ParsedFamily>)> = Vec::new();
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "prom") && !p.is_dir())
                    .collect();
                files.sort();
                for path in files {
                    let mtime = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
                    match (read_file(&path), mtime) {
                        (Ok(families), Some(mtime)) => {
                            parsed_files.push((path.clone(), families));
                            mtimes.push((path.display().to_string(), mtime.as_secs_f64().floor()));
                        }
                        (Err(e), _) => {
                            tracing::error!(file = %path.display(), error = %e, "failed to read textfile");
                            error = true;
                        }
                        (Ok(_), None) => error = true,
                    }
                }
            }
            Err(e) => {
                tracing::error!(path = %self.dir.display(), error = %e, "failed to read textfile collector directory");
                error = true;
            }
        }
        // Upstream's default HELP names every file that holds the metric.
        let mut files_of: HashMap<&str, Vec<String>> = HashMap::new();
        for (path, families) in &parsed_files {
            for family in families {
                let files = files_of.entry(family.name.as_str()).or_default();
                let file = path.display().to_string();
                if files.last() != Some(&file) {
                    files.push(file);
                }
            }
        }
        let default_help: HashMap<String, String> = files_of
            .into_iter()
            .map(|(name, files)| {
                (
                    name.to_string(),
                    format!("Metric read from {}", files.join(", ")),
                )
            })
            .collect();
        let mut merged: Vec<MetricFamily> = Vec::new();
        for (path, families) in parsed_files {
            for family in families {
                let help = default_help.get(&family.name).cloned().unwrap_or_default();
                match convert(family, &help) {
                    Ok(family) => merge(&mut merged, family),
                    Err(e) => {
                        tracing::error!(file = %path.display(), error = %e, "failed to read textfile");
                        error = true;
                    }
                }
            }
        }
        out.extend(merged);
        let mut family = Family::gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
        );
        for (file, mtime) in &mtimes {
            family.add(&[("file", file)], *mtime);
        }
        family.push_to(out);
        let mut family = Family::gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
        );
        family.add(&[], if error { 1.0 } else { 0.0 });
        family.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_of_one_name_from_two_files_merge() {
        let read = |text: &str| -> Vec<MetricFamily> {
            parse_text(text.as_bytes())
                .unwrap()
                .into_iter()
                .map(|f| convert(f, "Metric read from x.prom").unwrap())
                .collect()
        };
        let mut all = Vec::new();
        for f in read("# HELP r First.\n# TYPE r gauge\nr{a=\"1\"} 1\n") {
            merge(&mut all, f);
        }
        for f in read("# HELP r First.\n# TYPE r gauge\nr{a=\"2\"} 2\nr{a=\"1\"} 9\n") {
            merge(&mut all, f);
        }
        // A different HELP or type: dropped, as Prometheus's registry refuses it.
        for f in read("# HELP r Other.\n# TYPE r gauge\nr{a=\"3\"} 3\n") {
            merge(&mut all, f);
        }
        for f in read("# TYPE r summary\nr_sum 1\nr_count 1\n") {
            merge(&mut all, f);
        }
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].help, "First.");
        assert_eq!(all[0].metrics.len(), 2);
        assert_eq!(all[0].metrics[1].value, MetricValue::Gauge(2.0));
    }

    #[test]
    fn histograms_and_summaries_regroup() {
        let text = "# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 2\nh_bucket{a=\"1\",le=\"+Inf\"} 3\n\
                    h_sum{a=\"1\"} 1.5\nh_count{a=\"1\"} 3\n\
                    # TYPE s summary\ns{quantile=\"0.9\"} 7\ns_sum 10\ns_count 2\n\
                    # TYPE c counter\nc 4\n";
        let parsed = parse_text(text.as_bytes()).unwrap();
        let fams: Vec<MetricFamily> = parsed
            .into_iter()
            .map(|f| convert(f, "Metric read from x.prom").unwrap())
            .collect();
        match &fams[0].metrics[0].value {
            MetricValue::Histogram {
                buckets,
                count,
                sum,
            } => {
                assert_eq!(buckets.len(), 2);
                assert!(buckets[1].upper_bound.is_infinite());
                assert_eq!((*count, *sum), (3.0, Some(1.5)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fams[0].metrics[0].labels,
            [("a".to_string(), "1".to_string())]
        );
        match &fams[1].metrics[0].value {
            MetricValue::Summary { quantiles, sum, .. } => {
                assert_eq!(quantiles[0].value, 7.0);
                assert_eq!(*sum, 10.0);
            }
            other => panic!("{other:?}"),
        }
        // A counter not named `_total` keeps its name as untyped.
        assert_eq!(fams[2].metric_type, MetricType::Unknown);
        assert_eq!(fams[2].help, "Metric read from x.prom");
    }
}

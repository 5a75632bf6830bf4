//! Helpers for collectors that read many small sysfs/procfs attribute files: reading one
//! attribute trimmed or as a number, listing a class directory, telling "absent" from
//! other errors, and [`Families`], which merges samples of the same metric name coming
//! from many devices into one family (the text format needs each family once).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use ember_expfmt::{MetricFamily, MetricType};
use ember_exporter::CollectorError;

use crate::util::{Family, parse_error, read_string};

/// Reads an attribute file and trims surrounding white space (procfs's `SysReadFile`).
pub fn read_trim(path: &Path) -> Result<String, CollectorError> {
    Ok(read_string(path)?.trim().to_string())
}

/// Reads an attribute file as an unsigned integer.
pub fn read_u64(path: &Path) -> Result<u64, CollectorError> {
    let text = read_trim(path)?;
    text.parse()
        .map_err(|_| parse_error(path, format!("{text:?} is not an unsigned integer")))
}

/// Reads an attribute file as a signed integer.
pub fn read_i64(path: &Path) -> Result<i64, CollectorError> {
    let text = read_trim(path)?;
    text.parse()
        .map_err(|_| parse_error(path, format!("{text:?} is not an integer")))
}

/// Reads an attribute file as a float.
pub fn read_f64(path: &Path) -> Result<f64, CollectorError> {
    let text = read_trim(path)?;
    parse_f64(&text).ok_or_else(|| parse_error(path, format!("{text:?} is not a number")))
}

/// Parses a number as Go's `strconv.ParseFloat` does for the inputs sysfs produces.
pub fn parse_f64(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// An optional attribute: `Ok(None)` when the file does not exist (or cannot be read for
/// lack of permission, as procfs treats optional attributes).
pub fn optional<T>(result: Result<T, CollectorError>) -> Result<Option<T>, CollectorError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the error is a read of something that does not exist (or is not readable by
/// us): the "subsystem absent on this host" case.
pub fn is_absent(err: &CollectorError) -> bool {
    match err {
        CollectorError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
        ),
        _ => false,
    }
}

/// Whether the error is "not found" only.
pub fn is_not_found(err: &CollectorError) -> bool {
    matches!(err, CollectorError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// The entry names of a directory, sorted; an error names the directory.
pub fn list_dir(dir: &Path) -> Result<Vec<String>, CollectorError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CollectorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CollectorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The entries of a class directory whose name is `prefix` followed by digits, as Go's
/// `filepath.Glob("prefix[0-9]*")` picks them, sorted.
pub fn list_prefixed(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectorError> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|n| {
            n.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect())
}

/// Families keyed by metric name, emitted in name order: collectors that report the same
/// metric for many devices add samples here instead of building one family per device.
#[derive(Debug, Default)]
pub struct Families(BTreeMap<String, Family>);

impl Families {
    /// No families yet.
    pub fn new() -> Self {
        Families::default()
    }

    /// Adds a sample to the family `name`, creating it with `help` and `metric_type` the
    /// first time.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.0
            .entry(name.to_string())
            .or_insert_with(|| Family::new(name, help, metric_type))
            .add(labels, value);
    }

    /// Adds a gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Gauge, labels, value);
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Counter, labels, value);
    }

    /// Adds an untyped sample.
    pub fn untyped(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Unknown, labels, value);
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the families, in name order, to `out`.
    pub fn push_to(self, out: &mut Vec<MetricFamily>) {
        for (_, family) in self.0 {
            family.push_to(out);
        }
    }
}

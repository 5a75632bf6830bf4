//! Groups the entries of a streaming parser into [`ParsedFamily`]s.
//!
//! A family starts at metadata (`# HELP`, `# TYPE`, `# UNIT`) for a new name, or at a
//! sample whose name cannot belong to the current family; then it has type
//! [`MetricType::Unknown`] and is named after the sample. Which sample names belong to a
//! family depends on its type and the format:
//!
//! | type | OpenMetrics | text format |
//! |---|---|---|
//! | counter | `_total`, `_created` | the name itself (it ends in `_total`) |
//! | histogram | `_bucket`, `_count`, `_sum`, `_created` | the name, `_bucket`, `_count`, `_sum` |
//! | gauge histogram | `_bucket`, `_gcount`, `_gsum` | (no such type) |
//! | summary | the name, `_count`, `_sum`, `_created` | the name, `_count`, `_sum` |
//! | info | `_info` | (no such type) |
//! | others | the name | the name |
//!
//! Metadata for the current family's name joins it while the family has no samples and
//! that piece of metadata is not set yet; otherwise it starts a new family. (The
//! OpenMetrics parser has already refused expositions where that would happen.)

use crate::entry::Entry;
use crate::format::Format;
use crate::model::{MetricType, ParsedFamily};

/// Accumulates families from entries.
#[derive(Debug)]
pub(crate) struct FamilyBuilder {
    format: Format,
    families: Vec<ParsedFamily>,
    /// Which metadata the last family has seen (HELP, TYPE, UNIT), even when empty.
    seen: [bool; 3],
}

const HELP: usize = 0;
const TYPE: usize = 1;
const UNIT: usize = 2;

impl FamilyBuilder {
    pub(crate) fn new(format: Format) -> Self {
        FamilyBuilder {
            format,
            families: Vec::new(),
            seen: [false; 3],
        }
    }

    /// Adds one entry.
    pub(crate) fn push(&mut self, entry: &Entry<'_>) {
        let om = self.format == Format::OpenMetrics;
        match entry {
            Entry::Help { name, help } => {
                // An empty OpenMetrics HELP is as if there were none.
                let help = (!(om && help.is_empty())).then(|| help.to_string());
                self.metadata(name, HELP).help = help;
            }
            Entry::Type { name, metric_type } => {
                self.metadata(name, TYPE).metric_type = *metric_type;
            }
            Entry::Unit { name, unit } => {
                let unit = (!unit.is_empty()).then(|| unit.to_string());
                self.metadata(name, UNIT).unit = unit;
            }
            Entry::Comment(_) => {}
            Entry::Sample(s) => {
                let belongs = self
                    .families
                    .last()
                    .is_some_and(|f| belongs(self.format, f, s.name));
                if !belongs {
                    self.seen = [false; 3];
                    self.families.push(ParsedFamily {
                        name: s.name.to_owned(),
                        ..ParsedFamily::default()
                    });
                }
                if let Some(family) = self.families.last_mut() {
                    family.samples.push(s.to_sample());
                }
            }
        }
    }

    /// The family metadata `kind` for `name` goes to, starting one if needed.
    fn metadata(&mut self, name: &str, kind: usize) -> &mut ParsedFamily {
        let joins = self
            .families
            .last()
            .is_some_and(|f| f.name == name && f.samples.is_empty() && !self.seen[kind]);
        if !joins {
            self.seen = [false; 3];
            self.families.push(ParsedFamily {
                name: name.to_owned(),
                ..ParsedFamily::default()
            });
        }
        self.seen[kind] = true;
        let last = self.families.len() - 1;
        &mut self.families[last]
    }

    /// The families, in exposition order.
    pub(crate) fn finish(self) -> Vec<ParsedFamily> {
        self.families
    }
}

/// The sample name suffixes of an OpenMetrics family of type `t`.
pub(crate) fn openmetrics_suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[""],
    }
}

/// The sample name suffixes of a text format family of type `t`.
fn text_suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Histogram => &["", "_bucket", "_count", "_sum"],
        MetricType::Summary => &["", "_count", "_sum"],
        _ => &[""],
    }
}

/// Whether a sample called `name` belongs to `family`.
fn belongs(format: Format, family: &ParsedFamily, name: &str) -> bool {
    let Some(suffix) = name.strip_prefix(family.name.as_str()) else {
        return false;
    };
    let suffixes = match format {
        Format::Text => text_suffixes(family.metric_type),
        Format::OpenMetrics => openmetrics_suffixes(family.metric_type),
    };
    suffixes.contains(&suffix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TextParser;

    fn build(format: Format, input: &[u8]) -> Vec<ParsedFamily> {
        let mut b = FamilyBuilder::new(format);
        for e in TextParser::new(input) {
            b.push(&e.unwrap());
        }
        b.finish()
    }

    #[test]
    fn text_groups_by_type_suffixes() {
        let fams = build(
            Format::Text,
            b"a 1\na 2\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n\
              h_created 5\n# HELP s x\n# TYPE s summary\ns{quantile=\"1\"} 0\ns_sum 0\n",
        );
        let shape: Vec<_> = fams
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type, f.samples.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("a", MetricType::Unknown, 2),
                ("h", MetricType::Histogram, 3),
                ("h_created", MetricType::Unknown, 1),
                ("s", MetricType::Summary, 2),
            ]
        );
        assert_eq!(fams[3].help.as_deref(), Some("x"));
    }

    #[test]
    fn metadata_after_samples_starts_a_new_family() {
        let fams = build(Format::Text, b"a 1\n# TYPE a gauge\na 2\n# TYPE a gauge\n");
        assert_eq!(fams.len(), 3);
        assert_eq!(fams[1].metric_type, MetricType::Gauge);
        assert!(fams[2].samples.is_empty());
    }
}

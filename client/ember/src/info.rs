//! Info: textual facts about the target, carried as labels of a sample of value 1.

use std::sync::Arc;

use ember_expfmt::{FamilyEncoder, MetricType, render_labels};

use crate::error::{Error, check_label_name};
use crate::metric::EncodeMetric;

/// Static information such as a version or build commit, exposed as
/// `<name>_info{key="value",...} 1`.
///
/// ```
/// use ember::{Info, Registry};
/// let registry = Registry::new();
/// let info = Info::new([("version", "1.4.2"), ("commit", "abc123")]).unwrap();
/// registry.register("app", "Build facts.", info).unwrap();
/// assert_eq!(
///     registry.encode_to_string(ember_expfmt::Format::Text),
///     "# HELP app_info Build facts.\n# TYPE app_info gauge\n\
///      app_info{version=\"1.4.2\",commit=\"abc123\"} 1\n"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Info {
    rendered: Arc<str>,
}

impl Info {
    /// Info with these label pairs; names must be valid label names.
    pub fn new<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let labels: Vec<(&str, &str)> = labels.into_iter().collect();
        for (i, (k, _)) in labels.iter().enumerate() {
            check_label_name(k)?;
            if labels[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(Error::DuplicateLabelName((*k).to_string()));
            }
        }
        Ok(Info {
            rendered: render_labels(labels).into(),
        })
    }
}

impl EncodeMetric for Info {
    fn metric_type(&self) -> MetricType {
        MetricType::Info
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        family
            .sample("_info")
            .rendered_labels(labels)
            .rendered_labels(&self.rendered)
            .value(1u64);
    }
}

//! The streaming view of an exposition: what [`TextParser`](crate::TextParser) and
//! [`OpenMetricsParser`](crate::OpenMetricsParser) yield, one [`Entry`] per line.
//!
//! Entries borrow from the input. Names are slices of it; label values and HELP text are
//! borrowed too unless they contain an escape sequence, in which case only that one string
//! is unescaped into an owned [`Cow`]. Labels are not even split until asked for: a
//! [`SampleRef`] holds the checked text between the braces ([`Labels`]) and walks it on
//! demand, so a scraper that only hashes the series text never allocates.

use std::borrow::Cow;

use crate::lexer::{label_name_len, unescape_label_value};
use crate::model::{Exemplar, MetricType, Sample};

/// One line of an exposition, as a parser reads it.
///
/// ```
/// use ember_expfmt::{Entry, MetricType, TextParser};
///
/// let body = b"# TYPE up gauge\nup{job=\"node\"} 1\n";
/// let entries: Vec<Entry<'_>> = TextParser::new(body).collect::<Result<_, _>>().unwrap();
/// assert_eq!(entries[0], Entry::Type { name: "up", metric_type: MetricType::Gauge });
/// let Entry::Sample(sample) = &entries[1] else { panic!("not a sample") };
/// assert_eq!((sample.name, sample.value), ("up", 1.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`, the text unescaped.
    Help {
        /// The metric name the line is about.
        name: &'a str,
        /// The HELP text (possibly empty).
        help: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric name the line is about.
        name: &'a str,
        /// The declared type (`untyped` and `unknown` are [`MetricType::Unknown`]).
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        /// The metric family name the line is about.
        name: &'a str,
        /// The unit, possibly empty.
        unit: &'a str,
    },
    /// Any other `#` line, from the `#` to the end of the line (text format only; the text
    /// format does not require comments to be UTF-8).
    Comment(&'a [u8]),
    /// A sample line.
    Sample(SampleRef<'a>),
}

/// A sample borrowed from the input.
///
/// ```
/// use ember_expfmt::{Entry, OpenMetricsParser};
///
/// let body = b"# TYPE rpc counter\nrpc_total{code=\"200\"} 7 1.5 # {trace_id=\"ab\"} 1\n# EOF\n";
/// let mut parser = OpenMetricsParser::new(body);
/// parser.next(); // the TYPE line
/// let Some(Ok(Entry::Sample(s))) = parser.next() else { panic!("no sample") };
/// assert_eq!(s.timestamp_ms, Some(1500));
/// let sample = s.to_sample();
/// assert_eq!(sample.labels, [("code".to_string(), "200".to_string())]);
/// assert_eq!(sample.exemplar.unwrap().labels[0].1, "ab");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRef<'a> {
    /// The sample name, suffix included (`rpc_total`).
    pub name: &'a str,
    /// The labels as written, in order.
    pub labels: Labels<'a>,
    /// The value; every `NaN` is read as Prometheus's normal NaN `0x7ff8000000000001`.
    pub value: f64,
    /// Milliseconds since the Unix epoch, if the line has a timestamp.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<ExemplarRef<'a>>,
}

impl SampleRef<'_> {
    /// An owned [`Sample`] with the same content.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{b=\"c\\\\d\"} 2 1000\n").next() else {
    ///     panic!("no sample")
    /// };
    /// let owned = s.to_sample();
    /// assert_eq!(owned.labels, [("b".to_string(), "c\\d".to_string())]);
    /// assert_eq!(owned.timestamp_ms, Some(1000));
    /// ```
    pub fn to_sample(&self) -> Sample {
        Sample {
            name: self.name.to_owned(),
            labels: self.labels.to_vec(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
            exemplar: self.exemplar.as_ref().map(ExemplarRef::to_exemplar),
        }
    }
}

/// An exemplar borrowed from the input.
///
/// ```
/// use ember_expfmt::{Entry, OpenMetricsParser};
/// let body = b"# TYPE a counter\na_total 1 # {id=\"x\"} 0.5 12.25\n# EOF\n";
/// let entry = OpenMetricsParser::new(body).nth(1).unwrap().unwrap();
/// let Entry::Sample(s) = entry else { panic!("no sample") };
/// let ex = s.exemplar.unwrap();
/// assert_eq!((ex.value, ex.timestamp), (0.5, Some(12.25)));
/// assert_eq!(ex.labels.get("id").as_deref(), Some("x"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarRef<'a> {
    /// The exemplar's labels.
    pub labels: Labels<'a>,
    /// The observed value.
    pub value: f64,
    /// Unix time in seconds, if given.
    pub timestamp: Option<f64>,
}

impl ExemplarRef<'_> {
    /// An owned [`Exemplar`] with the same content.
    ///
    /// ```
    /// use ember_expfmt::{Entry, OpenMetricsParser};
    /// let body = b"# TYPE a counter\na_total 1 # {} 2\n# EOF\n";
    /// let Some(Ok(Entry::Sample(s))) = OpenMetricsParser::new(body).nth(1) else { panic!() };
    /// let ex = s.exemplar.unwrap().to_exemplar();
    /// assert!(ex.labels.is_empty());
    /// assert_eq!((ex.value, ex.timestamp), (2.0, None));
    /// ```
    pub fn to_exemplar(&self) -> Exemplar {
        Exemplar {
            labels: self.labels.to_vec(),
            value: self.value,
            timestamp: self.timestamp,
        }
    }
}

/// Which parser checked the label text, so it is walked with the same rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Prometheus text format: blanks between tokens, optional commas, NUL quirks.
    Text,
    /// OpenMetrics: `name="value"` separated by single commas.
    OpenMetrics,
}

/// The label set of a sample or exemplar: the checked text between the braces, split into
/// labels on demand.
///
/// ```
/// use ember_expfmt::{Entry, TextParser};
/// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{x=\"1\", y=\"a\\\"b\",} 1").next() else {
///     panic!()
/// };
/// assert_eq!(s.labels.as_str(), "x=\"1\", y=\"a\\\"b\",");
/// let labels: Vec<_> = s.labels.iter().collect();
/// assert_eq!(labels, [("x", "1".into()), ("y", "a\"b".into())]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    raw: &'a str,
    dialect: Dialect,
}

impl<'a> Labels<'a> {
    /// Labels over text a parser of `dialect` has checked.
    pub(crate) fn new(raw: &'a str, dialect: Dialect) -> Self {
        Labels { raw, dialect }
    }

    /// No labels.
    pub(crate) fn empty(dialect: Dialect) -> Self {
        Labels { raw: "", dialect }
    }

    /// The text between the braces, as written (empty without braces).
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"up 1").next() else { panic!() };
    /// assert_eq!(s.labels.as_str(), "");
    /// ```
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The labels in order, names borrowed and values unescaped.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{b=\"1\"} 1").next() else { panic!() };
    /// assert_eq!(s.labels.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            rest: self.raw,
            dialect: self.dialect,
        }
    }

    /// Whether there are no labels.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{} 1").next() else { panic!() };
    /// assert!(s.labels.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The value of the first label called `name`.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{le=\"0.5\"} 1").next() else { panic!() };
    /// assert_eq!(s.labels.get("le").as_deref(), Some("0.5"));
    /// assert_eq!(s.labels.get("x"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The labels as owned pairs.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    /// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{b=\"c\"} 1").next() else { panic!() };
    /// assert_eq!(s.labels.to_vec(), [("b".to_string(), "c".to_string())]);
    /// ```
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| (n.to_owned(), v.into_owned()))
            .collect()
    }
}

impl<'a> IntoIterator for Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);
    type IntoIter = LabelIter<'a>;

    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);
    type IntoIter = LabelIter<'a>;

    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Labels`]: `(name, value)` with the value unescaped.
///
/// ```
/// use ember_expfmt::{Entry, TextParser};
/// let Some(Ok(Entry::Sample(s))) = TextParser::new(b"a{x=\"\\n\"} 1").next() else { panic!() };
/// let mut it = s.labels.iter();
/// assert_eq!(it.next(), Some(("x", "\n".into())));
/// assert_eq!(it.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    rest: &'a str,
    dialect: Dialect,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.dialect == Dialect::Text;
        let s = self.rest;
        let b = s.as_bytes();
        let skip = |mut i: usize, set: &[u8]| {
            while b.get(i).is_some_and(|c| set.contains(c)) {
                i += 1;
            }
            i
        };
        let name_start = skip(0, b" \t,");
        let name_end = name_start + label_name_len(&b[name_start.min(b.len())..]);
        let name = s.get(name_start..name_end).filter(|n| !n.is_empty());
        let eq = skip(name_end, b" \t");
        let open = skip(eq + 1, b" \t\0");
        if name.is_none() || b.get(eq) != Some(&b'=') || b.get(open) != Some(&b'"') {
            self.rest = "";
            return None;
        }
        let skip_nul = |i: usize| if text { skip(i, b"\0") } else { i };
        let mut i = skip_nul(open + 1);
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => break,
                b'\\' => i = skip_nul(skip_nul(i + 1) + 1),
                _ => i = skip_nul(i + 1),
            }
        }
        // Prometheus ends the value one byte before the end of the token, and its lexer
        // swallows NUL bytes after the closing quote into the token.
        let after = skip_nul(i + 1);
        let value = s.get(open + 1..after - 1);
        self.rest = s.get(after..).unwrap_or_default();
        Some((name?, unescape_label_value(value?)))
    }
}

impl std::iter::FusedIterator for LabelIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(raw: &str, dialect: Dialect) -> Vec<(String, String)> {
        Labels::new(raw, dialect).to_vec()
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.into(), v.into())
    }

    #[test]
    fn walks_openmetrics_labels() {
        assert_eq!(
            labels(r#"a="1",b="x\"y",c="""#, Dialect::OpenMetrics),
            [pair("a", "1"), pair("b", "x\"y"), pair("c", "")]
        );
        assert_eq!(labels("", Dialect::OpenMetrics), []);
        assert_eq!(labels(r#"a="}, #",b="\\""#, Dialect::OpenMetrics).len(), 2);
    }

    #[test]
    fn walks_text_labels_with_blanks_and_nuls() {
        assert_eq!(
            labels(" a = \"1\" b= \t\0\"2\",", Dialect::Text),
            [pair("a", "1"), pair("b", "2")]
        );
        assert_eq!(labels("a=\"x\0\"", Dialect::Text), [pair("a", "x\0")]);
        // The NUL quirk: bytes after the closing quote move the end of the value.
        assert_eq!(labels("a=\"x\"\0\0", Dialect::Text), [pair("a", "x\"\0")]);
    }

    #[test]
    fn stops_on_unchecked_garbage_without_panicking() {
        for raw in [
            "a",
            "a=",
            "a=\"",
            "=\"x\"",
            "a=\"x\\",
            "a=\"é",
            "\"é\"=\"x\"",
        ] {
            for d in [Dialect::Text, Dialect::OpenMetrics] {
                let _ = labels(raw, d);
            }
        }
    }
}

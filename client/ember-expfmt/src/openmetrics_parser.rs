//! Parser of OpenMetrics 1.0 text, strict.
//!
//! The syntax is the specification's ABNF, line by line: the input must be UTF-8 and end
//! with `# EOF` (optionally followed by one newline and nothing else); no blank lines and
//! no `#` lines other than `# HELP`, `# TYPE`, `# UNIT` and `# EOF`; single spaces between
//! fields; names as the ABNF spells them; label sets `{name="value",...}` without blanks
//! or a trailing comma and without repeated names; values as the `number` rule (see
//! [`crate::float`] for how they are written, and `number.rs` for what is read);
//! timestamps as `realnumber` (seconds, converted to milliseconds exactly and truncated
//! toward zero, as Prometheus truncates); exemplars ` # {labels} value [timestamp]` whose
//! label names and values together have at most 128 characters.
//!
//! Escapes: `\\`, `\"` and `\n` are replaced in label values and HELP text; a backslash
//! before any other character is kept with that character, as the ABNF allows (`\z` is a
//! backslash and a `z`). HELP text may contain an unescaped `"`, as the conformance cases
//! require, but may not end with a lone backslash.
//!
//! The conformance cases come from client_python's parser, which is looser than the
//! specification in places; where they differ this parser follows the specification. It
//! refuses `+nan`, digits other than ASCII (`١`), numbers beyond the float64 range
//! (`1e400`), `le` or `quantile` values that are not numbers as the ABNF spells them
//! (`" 1"`), a HELP ending in a lone backslash, repeated bucket thresholds, `quantile` on
//! a summary's `_sum` or `_count`, and interleaved info metrics; it accepts info metrics
//! of different label sets that differ in having a timestamp. On 1,436 inputs of the
//! fuzzing corpus the two parsers agree on every verdict.
//!
//! The semantic rules (metadata placement, name clashes, grouping, histogram points, value
//! ranges) are described in `openmetrics_rules.rs`; the parser applies them as it goes, so
//! an error about a family may surface at the line that ends it. An exposition is only
//! valid once the parser has returned `None`: OpenMetrics requires an invalid exposition to
//! be rejected as a whole, so entries already yielded must then be discarded.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::entry::{Dialect, Entry, ExemplarRef, Labels, SampleRef};
use crate::family_builder::FamilyBuilder;
use crate::format::Format;
use crate::lexer::{
    error_at, excerpt, found, is_metric_name_char, label_name_len, metric_name_len, unescape,
    unescape_label_value,
};
use crate::model::MetricType;
use crate::number::{nanos_to_millis, parse_number, parse_real, seconds_to_nanos};
use crate::openmetrics_rules::{Metadata, Rules, SampleFacts};
use crate::{Error, ParsedFamily};

/// Most characters the label names and values of an exemplar may have together.
const EXEMPLAR_LABELS_MAX_CHARS: usize = 128;

/// Label sets up to this size are checked for repeated names by a scan; larger ones with
/// a hash set, so a line with very many labels costs linear time.
const SCAN_FOR_DUPLICATES_UP_TO: usize = 16;

/// Parses OpenMetrics 1.0 text into families, in exposition order, refusing anything the
/// specification does not allow.
///
/// Family names are as declared (`foo` for a counter whose samples are `foo_total` and
/// `foo_created`). An empty HELP or UNIT is treated as absent, as the specification says.
///
/// ```
/// use ember_expfmt::{parse_openmetrics, MetricType};
///
/// let body = "# TYPE jobs counter\n# HELP jobs Jobs run.\njobs_total{queue=\"a\"} 3 # {trace=\"t\"} 1 1.5\n\
///             jobs_created{queue=\"a\"} 1700000000.25\n# EOF\n";
/// let families = parse_openmetrics(body.as_bytes()).unwrap();
/// assert_eq!(families[0].name, "jobs");
/// assert_eq!(families[0].metric_type, MetricType::Counter);
/// assert_eq!(families[0].samples[0].exemplar.as_ref().unwrap().timestamp, Some(1.5));
/// assert_eq!(families[0].samples[1].value, 1700000000.25);
///
/// let err = parse_openmetrics(b"# TYPE a counter\na_total -1\n# EOF\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 2, column 9: value of `a_total` must not be negative");
/// ```
pub fn parse_openmetrics(input: &[u8]) -> Result<Vec<ParsedFamily>, Error> {
    let mut builder = FamilyBuilder::new(Format::OpenMetrics);
    for entry in OpenMetricsParser::new(input) {
        builder.push(&entry?);
    }
    Ok(builder.finish())
}

/// Streaming parser of OpenMetrics 1.0 text: an iterator over the [`Entry`]s of a body,
/// borrowed from it, checking the whole specification as it goes.
///
/// The iterator ends after `# EOF` or after the first error. Entries yielded before an
/// error belong to an invalid exposition and must be discarded.
///
/// ```
/// use ember_expfmt::{Entry, MetricType, OpenMetricsParser};
///
/// let body = b"# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\ntemp_celsius 21.5\n# EOF\n";
/// let entries: Vec<_> = OpenMetricsParser::new(body).collect::<Result<_, _>>().unwrap();
/// assert_eq!(entries[1], Entry::Unit { name: "temp_celsius", unit: "celsius" });
/// assert!(matches!(&entries[2], Entry::Sample(s) if s.value == 21.5));
///
/// let mut bad = OpenMetricsParser::new(b"a 1\n");
/// assert!(matches!(bad.next(), Some(Ok(Entry::Sample(_)))));
/// assert_eq!(
///     bad.next().unwrap().unwrap_err().to_string(),
///     "line 2, column 1: missing `# EOF` at the end of the exposition"
/// );
/// assert_eq!(bad.next(), None);
/// ```
#[derive(Debug)]
pub struct OpenMetricsParser<'a> {
    input: &'a [u8],
    /// Start of the next line.
    pos: usize,
    done: bool,
    rules: Rules<'a>,
    labels: Vec<(&'a str, Cow<'a, str>)>,
    exemplar_labels: Vec<(&'a str, Cow<'a, str>)>,
    label_names: HashSet<&'a str>,
    /// The previous line, when it was a sample without an exemplar of a family whose
    /// samples need no cross-line state beyond their metric's timestamp (not a
    /// histogram): a line starting with the same name and labels is then read by
    /// [`Self::repeated_sample`], which skips reading and checking the labels again.
    repeat: Option<Repeat<'a>>,
    /// Whether [`Self::repeated_sample`] is used (always, but for tests comparing it with
    /// the general path).
    repeat_enabled: bool,
}

/// The name and labels of the previous sample line (see `OpenMetricsParser::repeat`).
#[derive(Debug, Clone, Copy)]
struct Repeat<'a> {
    /// The line's text up to and including the space before the value.
    prefix: &'a [u8],
    name: &'a str,
    /// The text between the braces.
    raw_labels: &'a str,
}

/// One line: its text and where it starts in the input.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `input`.
    ///
    /// ```
    /// let mut p = ember_expfmt::OpenMetricsParser::new(b"# EOF\n");
    /// assert_eq!(p.next(), None);
    /// ```
    pub fn new(input: &'a [u8]) -> Self {
        OpenMetricsParser {
            input,
            pos: 0,
            done: false,
            rules: Rules::new(input),
            labels: Vec::new(),
            exemplar_labels: Vec::new(),
            label_names: HashSet::new(),
            repeat: None,
            repeat_enabled: true,
        }
    }

    fn error(&self, at: usize, message: impl Into<String>) -> Error {
        error_at(self.input, at, message)
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, Error> {
        let input = self.input;
        if self.pos >= input.len() {
            return Err(self.error(input.len(), "missing `# EOF` at the end of the exposition"));
        }
        let at = self.pos;
        let end = memchr::memchr(b'\n', &input[at..]).map_or(input.len(), |i| at + i);
        self.pos = end + 1;
        if let Some(repeat) = self.repeat.take() {
            if self.repeat_enabled && input[at..end].starts_with(repeat.prefix) {
                return self
                    .repeated_sample(repeat, at, end)
                    .map(|s| Some(Entry::Sample(s)));
            }
        }
        let text = std::str::from_utf8(&input[at..end])
            .map_err(|e| self.error(at + e.valid_up_to(), "invalid UTF-8"))?;
        let line = Line { text, at };
        if text == "# EOF" {
            if self.pos < input.len() {
                return Err(self.error(self.pos, "unexpected data after `# EOF`"));
            }
            self.rules.finish()?;
            return Ok(None);
        }
        if text.is_empty() {
            return Err(self.error(at, "blank lines are not allowed"));
        }
        if text.starts_with('#') {
            return self.metadata(line).map(Some);
        }
        self.sample(line).map(Entry::Sample).map(Some)
    }

    /// A `# HELP`, `# TYPE` or `# UNIT` line.
    fn metadata(&mut self, line: Line<'a>) -> Result<Entry<'a>, Error> {
        let keyword = ["HELP", "TYPE", "UNIT"].into_iter().find(|kw| {
            line.text
                .strip_prefix("# ")
                .and_then(|rest| rest.strip_prefix(kw))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        });
        let Some(keyword) = keyword else {
            return Err(self.error(
                line.at,
                format!(
                    "expected `# HELP`, `# TYPE`, `# UNIT` or `# EOF`, found `{}` \
                     (OpenMetrics has no comments)",
                    excerpt(line.text.as_bytes())
                ),
            ));
        };
        // "# HELP " is 7 bytes.
        let name_at = 7;
        let rest = line.text.get(name_at..).unwrap_or_default();
        let name_len = metric_name_len(rest.as_bytes());
        if name_len == 0 {
            return Err(self.error(
                line.at + name_at.min(line.text.len()),
                format!("expected a metric name after `# {keyword}`"),
            ));
        }
        let name = &rest[..name_len];
        let value_at = name_at + name_len + 1;
        let Some(value) = rest[name_len..].strip_prefix(' ') else {
            return Err(self.error(
                line.at + name_at + name_len,
                format!(
                    "expected a space and the {} after the metric name, found {}",
                    match keyword {
                        "HELP" => "help text",
                        "TYPE" => "type",
                        _ => "unit",
                    },
                    found(line.text.as_bytes(), name_at + name_len)
                ),
            ));
        };
        let (meta, entry) = match keyword {
            "HELP" => {
                if ends_with_lone_backslash(value) {
                    return Err(self.error(
                        line.at + line.text.len() - 1,
                        "HELP text ends with a lone backslash",
                    ));
                }
                let help = unescape(value, true);
                (Metadata::Help, Entry::Help { name, help })
            }
            "TYPE" => {
                let metric_type = parse_type(value).ok_or_else(|| {
                    self.error(
                        line.at + value_at,
                        format!(
                            "invalid metric type `{}` (expected counter, gauge, histogram, \
                             gaugehistogram, summary, info, stateset or unknown)",
                            excerpt(value.as_bytes())
                        ),
                    )
                })?;
                (
                    Metadata::Type(metric_type),
                    Entry::Type { name, metric_type },
                )
            }
            _ => {
                if !value.is_empty() && !value.bytes().all(is_metric_name_char) {
                    return Err(self.error(
                        line.at + value_at,
                        format!("invalid unit `{}`", excerpt(value.as_bytes())),
                    ));
                }
                (Metadata::Unit(value), Entry::Unit { name, unit: value })
            }
        };
        self.rules.metadata(name, meta, line.at)?;
        Ok(entry)
    }

    /// A sample line.
    fn sample(&mut self, line: Line<'a>) -> Result<SampleRef<'a>, Error> {
        let text = line.text;
        let b = text.as_bytes();
        let err = |i: usize, message: String| error_at(self.input, line.at + i, message);
        let name_len = metric_name_len(b);
        if name_len == 0 {
            return Err(err(
                0,
                format!("expected a metric name, found {}", found(b, 0)),
            ));
        }
        let name = &text[..name_len];
        let mut i = name_len;
        let mut labels = Labels::empty(Dialect::OpenMetrics);
        self.labels.clear();
        if b.get(i) == Some(&b'{') {
            let (raw, after) = read_labels(text, i, &mut self.labels, &mut self.label_names)
                .map_err(|(at, message)| err(at, message))?;
            labels = Labels::new(raw, Dialect::OpenMetrics);
            i = after;
        }
        if b.get(i) != Some(&b' ') {
            return Err(err(
                i,
                format!(
                    "expected a space and the value after the metric, found {}",
                    found(b, i)
                ),
            ));
        }
        let value_at = i + 1;
        let value_token = token(text, value_at);
        let value = number(value_token, false, "value").map_err(|m| err(value_at, m))?;
        i = value_at + value_token.len();
        let mut timestamp = None;
        let mut exemplar_at = None;
        if i < b.len() {
            // b[i] is the space that ended the value token.
            i += 1;
            if b.get(i) == Some(&b'#') {
                exemplar_at = Some(i);
            } else {
                let ts_token = token(text, i);
                timestamp = Some(parse_timestamp(ts_token).map_err(|m| err(i, m))?);
                i += ts_token.len();
                if i < b.len() {
                    i += 1;
                    exemplar_at = Some(i);
                }
            }
        }
        let exemplar = match exemplar_at {
            Some(at) => Some(self.exemplar(line, at)?),
            None => None,
        };
        self.rules.sample(&SampleFacts {
            name,
            labels: &self.labels,
            value,
            timestamp,
            has_exemplar: exemplar.is_some(),
            line_at: line.at,
            value_at: line.at + value_at,
            exemplar_at: line.at + exemplar_at.unwrap_or(0),
        })?;
        if exemplar.is_none() && self.rules.repeat_allowed() {
            self.repeat = Some(Repeat {
                prefix: &b[..value_at],
                name,
                raw_labels: labels.as_str(),
            });
        }
        Ok(SampleRef {
            name,
            labels,
            value,
            timestamp_ms: timestamp.map(nanos_to_millis),
            exemplar,
        })
    }

    /// A sample line `input[at..end]` that starts with `repeat.prefix`, the name and
    /// labels of the sample line just before it, which were read and checked then: only
    /// the value and the timestamp are read, and the rules check them
    /// ([`Rules::repeated_sample`]) as they would the whole line. A line that goes on
    /// after the timestamp (an exemplar, or an error) is read by [`Self::sample`].
    fn repeated_sample(
        &mut self,
        repeat: Repeat<'a>,
        at: usize,
        end: usize,
    ) -> Result<SampleRef<'a>, Error> {
        let input = self.input;
        let value_at = at + repeat.prefix.len();
        let tail = &input[value_at..end];
        let space = memchr::memchr(b' ', tail);
        let ts_end = space.map_or(tail.len(), |i| {
            memchr::memchr(b' ', &tail[i + 1..]).map_or(tail.len(), |j| i + 1 + j)
        });
        let exemplar = space.is_some_and(|i| tail.get(i + 1) == Some(&b'#'));
        if space.is_none() || ts_end != tail.len() || exemplar {
            // No timestamp, or more after it: the general path (and its errors).
            let text = std::str::from_utf8(&input[at..end])
                .map_err(|e| self.error(at + e.valid_up_to(), "invalid UTF-8"))?;
            self.labels.clear();
            return self.sample(Line { text, at });
        }
        let text = std::str::from_utf8(tail)
            .map_err(|e| self.error(value_at + e.valid_up_to(), "invalid UTF-8"))?;
        let err = |i: usize, message: String| error_at(input, value_at + i, message);
        let value_token = token(text, 0);
        let value = number(value_token, false, "value").map_err(|m| err(0, m))?;
        let ts_at = value_token.len() + 1;
        let timestamp = parse_timestamp(token(text, ts_at)).map_err(|m| err(ts_at, m))?;
        self.rules.repeated_sample(&SampleFacts {
            name: repeat.name,
            labels: &self.labels,
            value,
            timestamp: Some(timestamp),
            has_exemplar: false,
            line_at: at,
            value_at,
            exemplar_at: at,
        })?;
        self.repeat = Some(repeat);
        Ok(SampleRef {
            name: repeat.name,
            labels: Labels::new(repeat.raw_labels, Dialect::OpenMetrics),
            value,
            timestamp_ms: Some(nanos_to_millis(timestamp)),
            exemplar: None,
        })
    }

    /// The exemplar starting with `#` at byte `at` of the line.
    fn exemplar(&mut self, line: Line<'a>, at: usize) -> Result<ExemplarRef<'a>, Error> {
        let text = line.text;
        let b = text.as_bytes();
        let err = |i: usize, message: String| error_at(self.input, line.at + i, message);
        if b.get(at) != Some(&b'#') || b.get(at + 1) != Some(&b' ') || b.get(at + 2) != Some(&b'{')
        {
            return Err(err(
                at,
                "expected an exemplar `# {labels} value` or end of line".into(),
            ));
        }
        self.exemplar_labels.clear();
        let (raw, mut i) = read_labels(
            text,
            at + 2,
            &mut self.exemplar_labels,
            &mut self.label_names,
        )
        .map_err(|(at, message)| err(at, message))?;
        let chars: usize = self
            .exemplar_labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if chars > EXEMPLAR_LABELS_MAX_CHARS {
            return Err(err(
                at + 2,
                format!(
                    "exemplar labels have {chars} characters, more than the \
                     {EXEMPLAR_LABELS_MAX_CHARS} allowed"
                ),
            ));
        }
        if b.get(i) != Some(&b' ') {
            return Err(err(
                i,
                format!(
                    "expected a space and the exemplar value, found {}",
                    found(b, i)
                ),
            ));
        }
        i += 1;
        let value_token = token(text, i);
        let value = number(value_token, false, "exemplar value").map_err(|m| err(i, m))?;
        i += value_token.len();
        let mut timestamp = None;
        if i < b.len() {
            i += 1;
            let ts_token = token(text, i);
            let seconds = number(ts_token, true, "exemplar timestamp").map_err(|m| err(i, m))?;
            timestamp = Some(seconds);
            i += ts_token.len();
            if i < b.len() {
                return Err(err(
                    i,
                    format!(
                        "expected end of line after the exemplar, found {}",
                        found(b, i)
                    ),
                ));
            }
        }
        Ok(ExemplarRef {
            labels: Labels::new(raw, Dialect::OpenMetrics),
            value,
            timestamp,
        })
    }
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let entry = self.next_entry();
        if !matches!(entry, Ok(Some(_))) {
            self.done = true;
        }
        entry.transpose()
    }
}

impl std::iter::FusedIterator for OpenMetricsParser<'_> {}

/// The text from `at` to the next space or the end of the line.
fn token(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or_default();
    rest.split(' ').next().unwrap_or_default()
}

/// A sample timestamp in nanoseconds.
fn parse_timestamp(token: &str) -> Result<i128, String> {
    if let Some(ns) = plain_seconds_to_nanos(token.as_bytes()) {
        return Ok(ns);
    }
    number(token, true, "timestamp")?;
    Ok(seconds_to_nanos(token.as_bytes()))
}

/// Nanoseconds of a timestamp written as plain decimal seconds (`1700000000`,
/// `1700000015.5`: ASCII digits, at most one `.` followed by at most 9 digits, at most 18
/// digits before it), the common case, exactly as [`seconds_to_nanos`] converts it; `None`
/// for any other spelling (signs, exponents, a leading `.`), which the general path reads.
fn plain_seconds_to_nanos(s: &[u8]) -> Option<i128> {
    let dot = memchr::memchr(b'.', s).unwrap_or(s.len());
    let (int, frac) = (&s[..dot], s.get(dot + 1..).unwrap_or_default());
    if int.is_empty() || int.len() > 18 || frac.len() > 9 {
        return None;
    }
    let mut seconds: i64 = 0;
    for &c in int {
        if !c.is_ascii_digit() {
            return None;
        }
        seconds = seconds * 10 + i64::from(c - b'0');
    }
    let mut nanos: i64 = 0;
    for &c in frac {
        if !c.is_ascii_digit() {
            return None;
        }
        nanos = nanos * 10 + i64::from(c - b'0');
    }
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    Some(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
}

/// The number in `token` (a `realnumber` if `real`), or a message naming `what` it is.
fn number(token: &str, real: bool, what: &str) -> Result<f64, String> {
    if token.is_empty() {
        let article = if what.starts_with('e') { "an" } else { "a" };
        return Err(format!("expected {article} {what} after the space"));
    }
    let parsed = if real {
        parse_real(token.as_bytes())
    } else {
        parse_number(token.as_bytes())
    };
    parsed.map_err(|e| {
        format!(
            "invalid {what} `{}`: {}",
            excerpt(token.as_bytes()),
            e.describe()
        )
    })
}

/// A metric type as OpenMetrics spells it.
fn parse_type(s: &str) -> Option<MetricType> {
    Some(match s {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::GaugeHistogram,
        "summary" => MetricType::Summary,
        "info" => MetricType::Info,
        "stateset" => MetricType::StateSet,
        "unknown" => MetricType::Unknown,
        _ => return None,
    })
}

/// Whether `s` ends with a backslash that does not escape anything.
fn ends_with_lone_backslash(s: &str) -> bool {
    s.bytes().rev().take_while(|&c| c == b'\\').count() % 2 == 1
}

/// Reads the label set whose `{` is at byte `open` of `text` into `out` (`names` is
/// scratch space); returns the text between the braces and the position after the `}`, or
/// the position and description of the first error.
fn read_labels<'a>(
    text: &'a str,
    open: usize,
    out: &mut Vec<(&'a str, Cow<'a, str>)>,
    names: &mut HashSet<&'a str>,
) -> Result<(&'a str, usize), (usize, String)> {
    names.clear();
    let b = text.as_bytes();
    let mut i = open + 1;
    if b.get(i) == Some(&b'}') {
        return Ok(("", i + 1));
    }
    loop {
        let name_len = label_name_len(b.get(i..).unwrap_or_default());
        if name_len == 0 {
            let what = if b.get(i) == Some(&b'}') && b.get(i - 1) == Some(&b',') {
                "a label name after `,` (no trailing comma)".to_string()
            } else {
                format!("a label name, found {}", found(b, i))
            };
            return Err((i, format!("expected {what}")));
        }
        let name = &text[i..i + name_len];
        i += name_len;
        if b.get(i) != Some(&b'=') {
            return Err((
                i,
                format!("expected `=` after the label name, found {}", found(b, i)),
            ));
        }
        i += 1;
        if b.get(i) != Some(&b'"') {
            return Err((
                i,
                format!("expected a quoted label value, found {}", found(b, i)),
            ));
        }
        let value_start = i + 1;
        let mut j = value_start;
        loop {
            match b.get(j) {
                None => return Err((i, "label value is not terminated".into())),
                Some(b'"') => break,
                Some(b'\\') if j + 1 >= b.len() => {
                    return Err((i, "label value is not terminated".into()));
                }
                Some(b'\\') => j += 2,
                Some(_) => j += 1,
            }
        }
        let raw_value = text.get(value_start..j).unwrap_or_default();
        let repeated = if out.len() < SCAN_FOR_DUPLICATES_UP_TO {
            out.iter().any(|(n, _)| *n == name)
        } else {
            if names.is_empty() {
                names.extend(out.iter().map(|(n, _)| *n));
            }
            !names.insert(name)
        };
        if repeated {
            return Err((i - name_len - 1, format!("duplicate label name `{name}`")));
        }
        out.push((name, unescape_label_value(raw_value)));
        i = j + 1;
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok((&text[open + 1..i], i + 1)),
            _ => {
                return Err((
                    i,
                    format!("expected `,` or `}}` after a label, found {}", found(b, i)),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry (or error) of `input`, with or without the repeated-line path.
    fn entries(input: &str, repeat: bool) -> Vec<Result<Entry<'_>, Error>> {
        let mut p = OpenMetricsParser::new(input.as_bytes());
        p.repeat_enabled = repeat;
        p.collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Lines repeating the previous line's name and labels are read by a shorter path;
        /// it must give exactly what the general path gives: entries, errors and their
        /// positions, for every type and for values, timestamps and trailers the rules
        /// accept or refuse.
        #[test]
        fn repeated_lines_parse_as_the_general_path_does(
            family in 0usize..8,
            lines in proptest::collection::vec((0usize..4, 0usize..12, 0usize..14), 1..12),
        ) {
            const FAMILIES: [(&str, &[&str]); 8] = [
                ("# TYPE a counter\n", &["a_total", "a_total{x=\"1\"}", "a_created", "a_total{x=\"2\"}"]),
                ("# TYPE a gauge\n", &["a", "a{x=\"1\"}", "a{x=\"1\",y=\"\\\"\"}", "b"]),
                ("# TYPE a summary\n", &["a{quantile=\"0.5\"}", "a_sum", "a_count", "a{quantile=\"1\"}"]),
                ("# TYPE a stateset\n", &["a{a=\"s\"}", "a{a=\"t\"}", "a", "a{a=\"s\",b=\"1\"}"]),
                ("# TYPE a info\n", &["a_info", "a_info{x=\"1\"}", "a", "a_info{x=\"2\"}"]),
                ("# TYPE a unknown\n", &["a", "a{x=\"1\"}", "a_total", "a{x=\"é\"}"]),
                ("# TYPE a histogram\n", &["a_bucket{le=\"1\"}", "a_bucket{le=\"+Inf\"}", "a_count", "a_sum"]),
                ("", &["a", "a{x=\"1\"}", "a_total", "a{y=\"1\"}"]),
            ];
            const VALUES: [&str; 12] = ["1", "0", "-1", "NaN", "1.5", "+Inf", "x", "", "2", "1e3", "0.0", "3"];
            const TAILS: [&str; 14] = [
                " 1", " 2", " 0", " 1.5", " 1e3", " -1", " x", "", " ", " # {t=\"1\"} 1",
                " 1 # {t=\"1\"} 1", " 1 2", " 1700000000.123456789", " 1.",
            ];
            let (header, names) = FAMILIES[family];
            let mut text = header.to_string();
            for (name, value, tail) in lines {
                text.push_str(names[name]);
                text.push(' ');
                text.push_str(VALUES[value]);
                text.push_str(TAILS[tail]);
                text.push('\n');
            }
            text.push_str("# EOF\n");
            // Debug text: NaN values compare equal there (the parser reads every NaN alike).
            let (fast, general) = (entries(&text, true), entries(&text, false));
            proptest::prop_assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{}", text);
        }
    }

    #[test]
    fn repeated_lines_take_the_short_path_and_agree() {
        let text = "# TYPE a counter\na_total{x=\"1\"} 1 1\na_total{x=\"1\"} 2 2.5\n\
                    a_total{x=\"1\"} 1 2\na_total{x=\"1\"} 3 1\n# EOF\n";
        let fast = entries(text, true);
        assert_eq!(fast, entries(text, false));
        assert_eq!(fast.len(), 4); // TYPE, two samples, the error
        // The short path reuses the name read from the line before.
        let names = |entries: &[Result<Entry<'_>, Error>]| match entries {
            [_, Ok(Entry::Sample(a)), Ok(Entry::Sample(b)), ..] => std::ptr::eq(a.name, b.name),
            _ => panic!("{entries:?}"),
        };
        assert!(names(&fast));
        assert!(!names(&entries(text, false)));
        assert_eq!(
            fast.last()
                .map(|r| r.as_ref().map_err(ToString::to_string).err()),
            Some(Some(
                "line 4, column 1: timestamps of a metric must not go backwards".into()
            ))
        );
    }

    fn check(input: &str) -> Result<Vec<ParsedFamily>, Error> {
        parse_openmetrics(input.as_bytes())
    }

    fn message(input: &str) -> String {
        match check(input) {
            Err(Error::Parse { message, .. }) => message,
            Ok(f) => panic!("expected an error for {input:?}, got {f:?}"),
        }
    }

    #[test]
    fn timestamps_are_exact_milliseconds() {
        let f = check("a 1 1.005\na{b=\"x\"} 1 -1.0019\na{b=\"c\"} 1 1e3\n# EOF").unwrap();
        let ts: Vec<_> = f
            .iter()
            .flat_map(|f| &f.samples)
            .map(|s| s.timestamp_ms)
            .collect();
        assert_eq!(ts, [Some(1005), Some(-1001), Some(1_000_000)]);
        assert!(message("a 1 -1\na 1 -1.0019\n# EOF").contains("backwards"));
    }

    #[test]
    fn escapes_and_help() {
        let f =
            check("# HELP a x\\ty\\\"z\\\\\n# TYPE a gauge\na{l=\"\\z\\n\"} 1\n# EOF\n").unwrap();
        assert_eq!(f[0].help.as_deref(), Some("x\\ty\"z\\"));
        assert_eq!(f[0].samples[0].labels[0].1, "\\z\n");
        assert_eq!(
            message("# HELP a x\\\n# EOF\n"),
            "HELP text ends with a lone backslash"
        );
        let f = check("# HELP a \n# UNIT a \n# EOF\n").unwrap();
        assert_eq!((f[0].help.as_ref(), f[0].unit.as_ref()), (None, None));
    }

    #[test]
    fn structural_errors_are_specific() {
        assert_eq!(
            message("a{a=\"1\",} 1\n# EOF\n"),
            "expected a label name after `,` (no trailing comma)"
        );
        assert_eq!(
            message("a{a=\"1\",a=\"2\"} 1\n# EOF\n"),
            "duplicate label name `a`"
        );
        assert_eq!(
            message("# TYPE a counter\na_total 1\n# TYPE a counter\n# EOF\n"),
            "metadata for `a` after its samples"
        );
        assert!(message("# TYPE a_created gauge\n# TYPE a counter\n# EOF\n").contains("clashes"));
        assert!(
            message("# TYPE a histogram\na_bucket{le=\"1\"} 1\n# EOF\n").contains("`+Inf` bucket")
        );
        assert!(message("# TYPE a histogram\na_count{le=\"1\"} 1\n# EOF\n").contains("reserved"));
        assert!(message("a 1\n\n# EOF\n").contains("blank"));
        assert!(message("a 1\n# EOF\n\n").contains("after `# EOF`"));
        assert_eq!(
            message("a \u{0}1\n# EOF\n"),
            "invalid value `\\01`: not a number"
        );
        assert_eq!(message("a  1\n# EOF\n"), "expected a value after the space");
        assert_eq!(
            message("a 1 Inf\n# EOF\n"),
            "invalid timestamp `Inf`: must be a real number, not NaN or an infinity"
        );
        assert_eq!(
            message("# TYPE a info\na 1\n# EOF\n"),
            "sample `a` does not belong to the info family `a` (its samples are `a_info`)"
        );
    }

    #[test]
    fn deliberate_differences_from_the_reference_parser() {
        // client_python accepts these; the specification does not.
        for body in [
            "a +nan\n# EOF\n",
            "a \u{661}\n# EOF\n",
            "a 1 \u{661}\n# EOF\n",
            "a 1e400\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\" 1\"} 0\na_bucket{le=\"+Inf\"} 0\n# EOF\n",
            "# HELP a x\\\n# EOF\n",
            "# TYPE a summary\na_sum{quantile=\"0.5\"} 1\na_count{quantile=\"0.5\"} 1\n# EOF\n",
            "# TYPE a info\na_info{x=\"1\"} 1\na_info{x=\"2\"} 1\na_info{x=\"1\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 0\n# EOF\n",
        ] {
            assert!(check(body).is_err(), "{body:?}");
        }
        // client_python refuses this (it puts all info samples in one group); metrics of
        // different label sets are separate here.
        assert!(check("# TYPE a info\na_info{x=\"1\"} 1\na_info{x=\"2\"} 1 5\n# EOF\n").is_ok());
    }

    #[test]
    fn repeated_label_names_are_found_in_large_sets() {
        let labels: Vec<String> = (0..40).map(|i| format!("l{i}=\"v\"")).collect();
        let ok = format!("a{{{}}} 1\n# EOF\n", labels.join(","));
        assert!(check(&ok).is_ok());
        let bad = format!("a{{{},l7=\"x\"}} 1\n# EOF\n", labels.join(","));
        assert_eq!(message(&bad), "duplicate label name `l7`");
        let ok_exemplar = format!(
            "# TYPE a counter\na_total{{{}}} 1 # {{a=\"1\"}} 1\n# EOF\n",
            labels.join(",")
        );
        assert!(check(&ok_exemplar).is_ok());
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = check("# TYPE a gauge\na{b=\"c\" } 1\n# EOF\n").unwrap_err();
        assert_eq!(
            err,
            Error::Parse {
                line: 2,
                column: 8,
                message: "expected `,` or `}` after a label, found ` `".into()
            }
        );
        let err = check("a 1\n\u{feff}b 1\n# EOF\n").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Parse {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = check(
            "a{b=\"\u{e9}\u{ff}\"} 1\n# EOF\n"
                .replace('\u{ff}', "")
                .as_str(),
        );
        assert!(err.is_ok());
        let bad = b"a{b=\"\xff\"} 1\n# EOF\n";
        assert_eq!(
            parse_openmetrics(bad).unwrap_err(),
            Error::Parse {
                line: 1,
                column: 6,
                message: "invalid UTF-8".into()
            }
        );
    }
}

//! The writer of both exposition formats.
//!
//! [`Encoder`] renders into an in-memory buffer through a streaming API (family header,
//! then one sample at a time, labels written straight from borrowed strings), so a
//! registry can encode without building an intermediate model or allocating per sample.
//! [`Encoder::write_family`] renders the structured [`MetricFamily`] model on top of it.
//!
//! Rules applied (Prometheus text format 0.0.4 and OpenMetrics 1.0):
//! * label values escape `\`, `"` and newline; HELP escapes `\` and newline in the text
//!   format, and `"` too in OpenMetrics;
//! * floats as Go's writers spell them (see [`crate::float`]);
//! * counters: in the text format the family is named with `_total` and `_created` is not
//!   written; in OpenMetrics the family name has no `_total`, the sample has it, and
//!   `_created` follows; info families are `gauge` named `_info` in the text format;
//! * OpenMetrics writes a (gauge) histogram's `_count` only with its `_sum`, as it requires;
//! * OpenMetrics writes `# UNIT`, timestamps as seconds, exemplars, and ends with `# EOF`.

use std::fmt::{self, Write as _};
use std::io;

use crate::float;
use crate::format::Format;
use crate::model::{Exemplar, MetricFamily, MetricType, MetricValue};

/// A sample value: integers are written exactly, floats as Go spells them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A float value.
    F64(f64),
    /// An unsigned integer value, such as a counter or a bucket count.
    U64(u64),
    /// A signed integer value, such as an integer gauge.
    I64(i64),
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number::F64(v)
    }
}
impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::U64(v)
    }
}
impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::I64(v)
    }
}

/// Renders metric families in one [`Format`].
///
/// ```
/// use ember_expfmt::{Encoder, Format, MetricType};
/// let mut enc = Encoder::new(Format::Text);
/// let mut fam = enc.family("http_requests", "Requests served.", MetricType::Counter, None);
/// fam.sample("_total").label("method", "GET").value(7u64);
/// assert_eq!(
///     String::from_utf8(enc.finish()).unwrap(),
///     "# HELP http_requests_total Requests served.\n\
///      ## TYPE http_requests_total counter\n\
///      http_requests_total{method=\"GET\"} 7\n"
/// );
/// ```
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    format: Format,
    created: bool,
}

impl Encoder {
    /// An encoder with an empty buffer.
    pub fn new(format: Format) -> Self {
        Self::with_buffer(format, Vec::new())
    }

    /// An encoder appending to `buf`, so a caller can reuse one allocation across scrapes.
    pub fn with_buffer(format: Format, buf: Vec<u8>) -> Self {
        Encoder {
            buf,
            format,
            created: true,
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether `_created` samples are written: only in OpenMetrics, and only while
    /// enabled (the default; see [`set_created_samples`](Encoder::set_created_samples)).
    pub fn writes_created(&self) -> bool {
        self.created && self.format == Format::OpenMetrics
    }

    /// Turns `_created` samples on or off. Prometheus 2.x stores each `_created` sample
    /// as a series of its own, doubling the series of counters, histograms and summaries,
    /// which is why client_golang leaves them out unless asked.
    ///
    /// ```
    /// use ember_expfmt::{Encoder, Format};
    /// let mut enc = Encoder::new(Format::OpenMetrics);
    /// assert!(enc.writes_created());
    /// enc.set_created_samples(false);
    /// assert!(!enc.writes_created());
    /// ```
    pub fn set_created_samples(&mut self, on: bool) {
        self.created = on;
    }

    /// Bytes rendered and not yet flushed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Writes the buffered bytes to `out` and empties the buffer.
    pub fn flush_to(&mut self, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Ends the exposition (`# EOF` in OpenMetrics) and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.write_eof();
        self.buf
    }

    /// Ends the exposition (`# EOF` in OpenMetrics), writes it to `out` and returns the
    /// emptied buffer for reuse.
    pub fn finish_to(mut self, out: &mut dyn io::Write) -> io::Result<Vec<u8>> {
        self.write_eof();
        self.flush_to(out)?;
        Ok(self.buf)
    }

    fn write_eof(&mut self) {
        if self.format == Format::OpenMetrics {
            self.buf.extend_from_slice(b"# EOF\n");
        }
    }

    /// Starts a family: writes its `# HELP` (unless `help` is empty), `# TYPE` and, in
    /// OpenMetrics, `# UNIT` lines. `name` is the family name without `_total` for
    /// counters and without `_info` for info; a trailing `_total` on a counter name is
    /// accepted and dropped.
    pub fn family<'e>(
        &'e mut self,
        name: &'e str,
        help: &str,
        metric_type: MetricType,
        unit: Option<&str>,
    ) -> FamilyEncoder<'e> {
        let name = match metric_type {
            MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let om = self.format == Format::OpenMetrics;
        let header_suffix = match (om, metric_type) {
            (false, MetricType::Counter) => "_total",
            (false, MetricType::Info) => "_info",
            _ => "",
        };
        let type_str = if om {
            metric_type.as_openmetrics_str()
        } else {
            metric_type.as_text_str()
        };
        let buf = &mut self.buf;
        if !help.is_empty() {
            buf.extend_from_slice(b"# HELP ");
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(header_suffix.as_bytes());
            buf.push(b' ');
            escape_into(buf, help, om);
            buf.push(b'\n');
        }
        buf.extend_from_slice(b"# TYPE ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(header_suffix.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(type_str.as_bytes());
        buf.push(b'\n');
        if om {
            if let Some(unit) = unit.filter(|u| !u.is_empty()) {
                buf.extend_from_slice(b"# UNIT ");
                buf.extend_from_slice(name.as_bytes());
                buf.push(b' ');
                buf.extend_from_slice(unit.as_bytes());
                buf.push(b'\n');
            }
        }
        FamilyEncoder {
            enc: self,
            name,
            const_labels: "",
        }
    }

    /// Writes a whole family of the structured model.
    ///
    /// ```
    /// use ember_expfmt::{Bucket, Encoder, Format, Metric, MetricFamily, MetricType, MetricValue};
    /// let fam = MetricFamily {
    ///     name: "latency_seconds".into(),
    ///     help: "Request latency.".into(),
    ///     metric_type: MetricType::Histogram,
    ///     unit: Some("seconds".into()),
    ///     metrics: vec![Metric {
    ///         labels: vec![],
    ///         value: MetricValue::Histogram {
    ///             buckets: vec![
    ///                 Bucket { upper_bound: 0.5, cumulative_count: 1.0, exemplar: None },
    ///                 Bucket { upper_bound: f64::INFINITY, cumulative_count: 2.0, exemplar: None },
    ///             ],
    ///             count: 2.0,
    ///             sum: Some(1.25),
    ///         },
    ///         timestamp_ms: None,
    ///         created: None,
    ///     }],
    /// };
    /// let mut enc = Encoder::new(Format::OpenMetrics);
    /// enc.write_family(&fam);
    /// assert_eq!(
    ///     String::from_utf8(enc.finish()).unwrap(),
    ///     "# HELP latency_seconds Request latency.\n\
    ///      ## TYPE latency_seconds histogram\n\
    ///      ## UNIT latency_seconds seconds\n\
    ///      latency_seconds_bucket{le=\"0.5\"} 1\n\
    ///      latency_seconds_bucket{le=\"+Inf\"} 2\n\
    ///      latency_seconds_count 2\n\
    ///      latency_seconds_sum 1.25\n\
    ///      ## EOF\n"
    /// );
    /// ```
    pub fn write_family(&mut self, family: &MetricFamily) {
        self.write_family_with_const_labels(family, "");
    }

    /// Writes a whole family with labels rendered by [`render_labels`] put first on
    /// every sample (a registry's constant labels).
    pub fn write_family_with_const_labels(&mut self, family: &MetricFamily, const_labels: &str) {
        let created = self.writes_created();
        let om = self.format == Format::OpenMetrics;
        let mut fam = self
            .family(
                &family.name,
                &family.help,
                family.metric_type,
                family.unit.as_deref(),
            )
            .with_const_labels(const_labels);
        for m in &family.metrics {
            let ts = m.timestamp_ms;
            let labels = &m.labels;
            let write_created = |fam: &mut FamilyEncoder<'_>| {
                if let (true, Some(c)) = (created, m.created) {
                    start_sample(fam, "_created", labels).value_full(c, ts, None);
                }
            };
            match &m.value {
                MetricValue::Counter { value, exemplar } => {
                    start_sample(&mut fam, "_total", labels).value_full(
                        *value,
                        ts,
                        exemplar.as_ref(),
                    );
                    write_created(&mut fam);
                }
                MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
                    start_sample(&mut fam, "", labels).value_full(*v, ts, None);
                }
                MetricValue::Histogram {
                    buckets,
                    count,
                    sum,
                }
                | MetricValue::GaugeHistogram {
                    buckets,
                    gcount: count,
                    gsum: sum,
                } => {
                    let gauge = matches!(m.value, MetricValue::GaugeHistogram { .. });
                    for b in buckets {
                        start_sample(&mut fam, "_bucket", labels)
                            .label_float("le", b.upper_bound)
                            .value_full(count_number(b.cumulative_count), ts, b.exemplar.as_ref());
                    }
                    let (count_sfx, sum_sfx) = if gauge {
                        ("_gcount", "_gsum")
                    } else {
                        ("_count", "_sum")
                    };
                    // OpenMetrics has `_count` if and only if it has `_sum`; the text
                    // format always has the count.
                    if sum.is_some() || !om {
                        start_sample(&mut fam, count_sfx, labels).value_full(
                            count_number(*count),
                            ts,
                            None,
                        );
                    }
                    if let Some(s) = sum {
                        start_sample(&mut fam, sum_sfx, labels).value_full(*s, ts, None);
                    }
                    if !gauge {
                        write_created(&mut fam);
                    }
                }
                MetricValue::Summary {
                    quantiles,
                    count,
                    sum,
                } => {
                    for q in quantiles {
                        start_sample(&mut fam, "", labels)
                            .label_float("quantile", q.quantile)
                            .value_full(q.value, ts, None);
                    }
                    start_sample(&mut fam, "_count", labels).value_full(
                        count_number(*count),
                        ts,
                        None,
                    );
                    start_sample(&mut fam, "_sum", labels).value_full(*sum, ts, None);
                    write_created(&mut fam);
                }
                MetricValue::Info(info) => {
                    let mut s = start_sample(&mut fam, "_info", labels);
                    for (k, v) in info {
                        s = s.label(k, v);
                    }
                    s.value_full(1u64, ts, None);
                }
                MetricValue::StateSet(states) => {
                    let state_label = fam.name;
                    for (state, on) in states {
                        start_sample(&mut fam, "", labels)
                            .label(state_label, state)
                            .value_full(u64::from(*on), ts, None);
                    }
                }
            }
        }
    }
}

fn start_sample<'f>(
    fam: &'f mut FamilyEncoder<'_>,
    suffix: &str,
    labels: &[crate::model::Label],
) -> SampleEncoder<'f> {
    let mut s = fam.sample(suffix);
    for (k, v) in labels {
        s = s.label(k, v);
    }
    s
}

/// Counts that are whole numbers are written as integers, as Go's writers do.
fn count_number(c: f64) -> Number {
    if c >= 0.0 && c.fract() == 0.0 && c < 9.007_199_254_740_992e15 {
        Number::U64(c as u64)
    } else {
        Number::F64(c)
    }
}

/// Writes the samples of one family; obtained from [`Encoder::family`].
#[derive(Debug)]
pub struct FamilyEncoder<'e> {
    enc: &'e mut Encoder,
    name: &'e str,
    const_labels: &'e str,
}

impl<'e> FamilyEncoder<'e> {
    /// Labels rendered by [`render_labels`] that every sample of the family starts with
    /// (a registry's constant labels).
    pub fn with_const_labels(mut self, rendered: &'e str) -> Self {
        self.const_labels = rendered;
        self
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.enc.format
    }

    /// Whether `_created` samples are to be written (see [`Encoder::writes_created`]).
    pub fn writes_created(&self) -> bool {
        self.enc.writes_created()
    }

    /// The family name as given to [`Encoder::family`] (without `_total`).
    pub fn name(&self) -> &'e str {
        self.name
    }

    /// Starts a sample named after the family with `suffix` (`""`, `_total`, `_bucket`,
    /// `_count`, `_sum`, `_created`, `_info`, ...).
    pub fn sample(&mut self, suffix: &str) -> SampleEncoder<'_> {
        let buf = &mut self.enc.buf;
        buf.extend_from_slice(self.name.as_bytes());
        buf.extend_from_slice(suffix.as_bytes());
        let has_labels = !self.const_labels.is_empty();
        if has_labels {
            buf.push(b'{');
            buf.extend_from_slice(self.const_labels.as_bytes());
        }
        SampleEncoder {
            buf,
            om: self.enc.format == Format::OpenMetrics,
            has_labels,
        }
    }
}

/// Writes one sample line: labels, then the value. Obtained from [`FamilyEncoder::sample`].
#[derive(Debug)]
pub struct SampleEncoder<'s> {
    buf: &'s mut Vec<u8>,
    om: bool,
    has_labels: bool,
}

impl SampleEncoder<'_> {
    fn label_start(&mut self, name: &str) {
        self.buf.push(if self.has_labels { b',' } else { b'{' });
        self.has_labels = true;
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"=\"");
    }

    /// Adds a label; the value is escaped.
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.label_start(name);
        escape_into(self.buf, value, true);
        self.buf.push(b'"');
        self
    }

    /// Adds a label whose value is a float in canonical spelling (`le`, `quantile`).
    pub fn label_float(mut self, name: &str, value: f64) -> Self {
        self.label_start(name);
        if self.om {
            float::write_openmetrics(self.buf, value);
        } else {
            float::write_text(self.buf, value);
        }
        self.buf.push(b'"');
        self
    }

    /// Adds a label whose value is rendered by `Display` (and escaped).
    pub fn label_display(mut self, name: &str, value: &dyn fmt::Display) -> Self {
        self.label_start(name);
        let mut w = EscapingWriter { buf: self.buf };
        // Writing into a Vec cannot fail; a failing Display impl leaves a partial value.
        let _ = write!(w, "{value}");
        self.buf.push(b'"');
        self
    }

    /// Adds labels already rendered by [`render_labels`].
    pub fn rendered_labels(mut self, rendered: &str) -> Self {
        if !rendered.is_empty() {
            self.buf.push(if self.has_labels { b',' } else { b'{' });
            self.has_labels = true;
            self.buf.extend_from_slice(rendered.as_bytes());
        }
        self
    }

    /// Writes the value and ends the line.
    pub fn value(self, v: impl Into<Number>) {
        self.value_full(v, None, None)
    }

    /// Writes the value, an optional timestamp (milliseconds) and, in OpenMetrics, an
    /// optional exemplar, and ends the line.
    pub fn value_full(
        self,
        v: impl Into<Number>,
        timestamp_ms: Option<i64>,
        exemplar: Option<&Exemplar>,
    ) {
        let buf = self.buf;
        if self.has_labels {
            buf.push(b'}');
        }
        buf.push(b' ');
        write_number(buf, v.into(), self.om);
        if let Some(ts) = timestamp_ms {
            buf.push(b' ');
            if self.om {
                write_seconds(buf, ts);
            } else {
                buf.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
            }
        }
        if let (true, Some(ex)) = (self.om, exemplar) {
            buf.extend_from_slice(b" # {");
            for (i, (k, v)) in ex.labels.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(k.as_bytes());
                buf.extend_from_slice(b"=\"");
                escape_into(buf, v, true);
                buf.push(b'"');
            }
            buf.extend_from_slice(b"} ");
            float::write_openmetrics(buf, ex.value);
            if let Some(t) = ex.timestamp {
                buf.push(b' ');
                float::write_openmetrics(buf, t);
            }
        }
        buf.push(b'\n');
    }
}

fn write_number(buf: &mut Vec<u8>, n: Number, om: bool) {
    match n {
        Number::U64(v) => buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Number::I64(v) => buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Number::F64(v) if om => float::write_openmetrics(buf, v),
        Number::F64(v) => float::write_text(buf, v),
    }
}

/// Milliseconds as OpenMetrics seconds, exactly: `1520879607789` is `1520879607.789`.
fn write_seconds(buf: &mut Vec<u8>, ms: i64) {
    if ms < 0 {
        buf.push(b'-');
    }
    let abs = ms.unsigned_abs();
    buf.extend_from_slice(itoa::Buffer::new().format(abs / 1000).as_bytes());
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        buf.push(b'.');
        buf.extend_from_slice(&digits[..len]);
    }
}

/// Renders labels as `name="value",...` (escaped) for [`FamilyEncoder::with_const_labels`]
/// and [`SampleEncoder::rendered_labels`].
///
/// ```
/// assert_eq!(
///     ember_expfmt::render_labels([("env", "prod"), ("path", "C:\\")]),
///     r#"env="prod",path="C:\\""#
/// );
/// ```
pub fn render_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut buf = Vec::new();
    for (i, (k, v)) in labels.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(k.as_bytes());
        buf.extend_from_slice(b"=\"");
        escape_into(&mut buf, v, true);
        buf.push(b'"');
    }
    // Built from &str pieces and ASCII escapes only.
    String::from_utf8(buf).unwrap_or_default()
}

/// Appends `s` escaped: `\` and newline always, `"` when `quote` is set.
fn escape_into(buf: &mut Vec<u8>, s: &str, quote: bool) {
    let bytes = s.as_bytes();
    let needs = |c: u8| c == b'\\' || c == b'\n' || (quote && c == b'"');
    if !bytes.iter().any(|&c| needs(c)) {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if needs(c) {
            buf.extend_from_slice(&bytes[start..i]);
            buf.extend_from_slice(match c {
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                _ => b"\\\"",
            });
            start = i + 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
}

struct EscapingWriter<'a> {
    buf: &'a mut Vec<u8>,
}

impl fmt::Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.buf, s, true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, Metric, Quantile};

    fn render(format: Format, fam: &MetricFamily) -> String {
        let mut enc = Encoder::new(format);
        enc.write_family(fam);
        String::from_utf8(enc.finish()).unwrap()
    }

    fn family(name: &str, ty: MetricType, value: MetricValue) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: String::new(),
            metric_type: ty,
            unit: None,
            metrics: vec![Metric {
                labels: vec![("a".into(), "x\"y\\z\nw".into())],
                value,
                timestamp_ms: None,
                created: Some(1_700_000_000.25),
            }],
        }
    }

    #[test]
    fn counter_names_differ_by_format() {
        let f = family(
            "reqs",
            MetricType::Counter,
            MetricValue::Counter {
                value: 1e6,
                exemplar: Some(Exemplar {
                    labels: vec![("trace_id".into(), "abc".into())],
                    value: 0.5,
                    timestamp: Some(1.5),
                }),
            },
        );
        assert_eq!(
            render(Format::Text, &f),
            "# TYPE reqs_total counter\nreqs_total{a=\"x\\\"y\\\\z\\nw\"} 1e+06\n"
        );
        assert_eq!(
            render(Format::OpenMetrics, &f),
            "# TYPE reqs counter\n\
             reqs_total{a=\"x\\\"y\\\\z\\nw\"} 1e+06 # {trace_id=\"abc\"} 0.5 1.5\n\
             reqs_created{a=\"x\\\"y\\\\z\\nw\"} 1.70000000025e+09\n\
             # EOF\n"
        );
    }

    #[test]
    fn help_escaping_differs_by_format() {
        let mut f = family("g", MetricType::Gauge, MetricValue::Gauge(0.5));
        f.help = "a \"b\" \\ c\nd".into();
        f.metrics[0].labels.clear();
        assert_eq!(
            render(Format::Text, &f),
            "# HELP g a \"b\" \\\\ c\\nd\n# TYPE g gauge\ng 0.5\n"
        );
        assert_eq!(
            render(Format::OpenMetrics, &f),
            "# HELP g a \\\"b\\\" \\\\ c\\nd\n# TYPE g gauge\ng 0.5\n# EOF\n"
        );
    }

    #[test]
    fn summary_info_stateset_and_timestamps() {
        let mut s = family(
            "rpc",
            MetricType::Summary,
            MetricValue::Summary {
                quantiles: vec![
                    Quantile {
                        quantile: 0.5,
                        value: 2.0,
                    },
                    Quantile {
                        quantile: 1.0,
                        value: 3.0,
                    },
                ],
                count: 4.0,
                sum: 9.5,
            },
        );
        s.metrics[0].labels.clear();
        s.metrics[0].timestamp_ms = Some(-1500);
        assert_eq!(
            render(Format::Text, &s),
            "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 2 -1500\nrpc{quantile=\"1\"} 3 -1500\n\
             rpc_count 4 -1500\nrpc_sum 9.5 -1500\n"
        );
        assert!(render(Format::OpenMetrics, &s).contains("rpc{quantile=\"1.0\"} 3.0 -1.5\n"));

        let mut i = family(
            "build",
            MetricType::Info,
            MetricValue::Info(vec![("version".into(), "1.2".into())]),
        );
        i.metrics[0].labels.clear();
        assert_eq!(
            render(Format::Text, &i),
            "# TYPE build_info gauge\nbuild_info{version=\"1.2\"} 1\n"
        );
        assert_eq!(
            render(Format::OpenMetrics, &i),
            "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n# EOF\n"
        );

        let mut st = family(
            "mode",
            MetricType::StateSet,
            MetricValue::StateSet(vec![("a".into(), true), ("b".into(), false)]),
        );
        st.metrics[0].labels.clear();
        assert_eq!(
            render(Format::OpenMetrics, &st),
            "# TYPE mode stateset\nmode{mode=\"a\"} 1\nmode{mode=\"b\"} 0\n# EOF\n"
        );
    }

    #[test]
    fn histogram_buckets_use_canonical_le() {
        let mut h = family(
            "lat",
            MetricType::Histogram,
            MetricValue::Histogram {
                buckets: vec![
                    Bucket {
                        upper_bound: 1e-5,
                        cumulative_count: 0.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: 1.0,
                        cumulative_count: 2.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: 1e6,
                        cumulative_count: 3.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: f64::INFINITY,
                        cumulative_count: 3.0,
                        exemplar: None,
                    },
                ],
                count: 3.0,
                sum: Some(3.5),
            },
        );
        h.metrics[0].labels.clear();
        assert_eq!(
            render(Format::Text, &h),
            "# TYPE lat histogram\nlat_bucket{le=\"1e-05\"} 0\nlat_bucket{le=\"1\"} 2\n\
             lat_bucket{le=\"1e+06\"} 3\nlat_bucket{le=\"+Inf\"} 3\nlat_count 3\nlat_sum 3.5\n"
        );
        let om = render(Format::OpenMetrics, &h);
        assert!(om.contains("lat_bucket{le=\"1.0\"} 2\n"), "{om}");
        assert!(om.contains("lat_created 1.70000000025e+09\n"), "{om}");
    }

    #[test]
    fn seconds_are_exact() {
        let mut b = Vec::new();
        for (ms, want) in [(1520879607789, "1520879607.789"), (1000, "1"), (10, "0.01")] {
            b.clear();
            write_seconds(&mut b, ms);
            assert_eq!(std::str::from_utf8(&b).unwrap(), want);
        }
    }
}

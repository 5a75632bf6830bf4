//! Parser of the Prometheus text format 0.0.4, accepting exactly what Prometheus 2.42's
//! own parser accepts (`model/textparse/promlex.l` and `promparse.go`).
//!
//! [`TextParser`] is a hand-written equivalent of that golex lexer and its parser: the same
//! tokens in the same lexer states, including the corners a scraper meets in practice:
//!
//! * blanks (spaces and tabs) are allowed between all tokens, before `#`, around `=`, and
//!   after the value or timestamp; lines that are blank or only blanks are skipped; but
//!   not before a sample's metric name: Prometheus's parser reads them into the name
//!   (`series` starts at the line start), which the scrape then refuses as invalid;
//! * `#` followed by a blank starts a comment unless the next word is `HELP` or `TYPE`
//!   followed by a blank; `#` followed by anything else is a comment;
//! * HELP and TYPE text is whatever follows the metric name up to the end of the line,
//!   minus its first byte (normally the separating blank): `# TYPE a  counter` is the
//!   invalid type ` counter` and `# TYPE a counter ` the invalid type `counter `;
//! * label sets may be empty, may end with a comma, and commas between labels may be left
//!   out (`{a="1" b="2"}`), as Prometheus's parser allows;
//! * label values may contain raw newlines, any escape is accepted and only `\\`, `\"` and
//!   `\n` are replaced (others stay as written), and a label value must be UTF-8; HELP
//!   text replaces `\\` and `\n` only and must be UTF-8; comments may be any bytes;
//! * values are floats as Go's `strconv.ParseFloat` reads them, without `p`, `P` or `_`;
//!   timestamps are decimal digits only (no sign: Prometheus 2.42 refuses negative
//!   timestamps) and must fit an `int64`;
//! * NUL bytes behave as in Prometheus: inside label values, HELP text and comments they
//!   are content, elsewhere they are an error, and a NUL where a line would start (or right
//!   after `#`) ends the input early without an error.
//!
//! The parser does not check what Prometheus leaves to later stages: repeated label names,
//! metadata order, or samples that do not match their TYPE are returned as they are.

use crate::entry::{Dialect, Entry, Labels, SampleRef};
use crate::family_builder::FamilyBuilder;
use crate::format::Format;
use crate::lexer::{
    checked_str, error_at, excerpt, found, is_label_name_start, is_metric_name_start,
    label_name_len, metric_name_len, unescape,
};
use crate::model::MetricType;
use crate::number::{NumberError, parse_number};
use crate::{Error, ParsedFamily};

/// Parses the text format 0.0.4 into families, in exposition order.
///
/// Samples before any `# HELP`/`# TYPE` line, or whose name does not belong to the family
/// of the preceding metadata, form their own family of type [`MetricType::Unknown`];
/// consecutive samples of one name share it. A histogram family `foo` takes `foo_bucket`,
/// `foo_count` and `foo_sum`, a summary `foo_count` and `foo_sum`; every family takes
/// samples named exactly like it.
///
/// ```
/// use ember_expfmt::{parse_text, MetricType};
///
/// let body = "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n\
///             rpc_seconds_bucket{le=\"0.5\"} 3\nrpc_seconds_bucket{le=\"+Inf\"} 4\n\
///             rpc_seconds_sum 1.25\nrpc_seconds_count 4\nup 1 1700000000000\n";
/// let families = parse_text(body.as_bytes()).unwrap();
/// assert_eq!(families.len(), 2);
/// assert_eq!(families[0].metric_type, MetricType::Histogram);
/// assert_eq!(families[0].samples.len(), 4);
/// assert_eq!(families[1].name, "up");
/// assert_eq!(families[1].samples[0].timestamp_ms, Some(1_700_000_000_000));
///
/// let err = parse_text(b"up{job=\"a} 1\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 1, column 8: label value is not terminated");
/// ```
pub fn parse_text(input: &[u8]) -> Result<Vec<ParsedFamily>, Error> {
    let mut builder = FamilyBuilder::new(Format::Text);
    for entry in TextParser::new(input) {
        builder.push(&entry?);
    }
    Ok(builder.finish())
}

/// Streaming parser of the text format 0.0.4: an iterator over the [`Entry`]s of a body,
/// borrowed from it.
///
/// After an error the iterator ends. Comments are yielded as [`Entry::Comment`].
///
/// ```
/// use ember_expfmt::{Entry, TextParser};
///
/// let body = b"# a comment\nhttp_requests_total{method=\"get\"} 1027 1395066363000\n";
/// let mut parser = TextParser::new(body);
/// assert_eq!(parser.next(), Some(Ok(Entry::Comment(b"# a comment"))));
/// let Some(Ok(Entry::Sample(s))) = parser.next() else { panic!("no sample") };
/// assert_eq!(s.name, "http_requests_total");
/// assert_eq!(s.labels.get("method").as_deref(), Some("get"));
/// assert_eq!((s.value, s.timestamp_ms), (1027.0, Some(1395066363000)));
/// assert_eq!(parser.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct TextParser<'a> {
    input: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TextParser<'a> {
    /// A parser over `input`.
    ///
    /// ```
    /// assert_eq!(ember_expfmt::TextParser::new(b"").count(), 0);
    /// ```
    pub fn new(input: &'a [u8]) -> Self {
        TextParser {
            input,
            pos: 0,
            done: false,
        }
    }

    /// The byte at `i`, reading the input as if a newline were appended (as Prometheus
    /// does); `None` past that newline.
    fn byte(&self, i: usize) -> Option<u8> {
        match self.input.get(i) {
            Some(&c) => Some(c),
            None if i == self.input.len() => Some(b'\n'),
            None => None,
        }
    }

    fn is_blank(&self, i: usize) -> bool {
        matches!(self.byte(i), Some(b' ' | b'\t'))
    }

    /// Skips spaces and tabs from `i`.
    fn skip_blanks(&self, mut i: usize) -> usize {
        while self.is_blank(i) {
            i += 1;
        }
        i
    }

    /// The lexer's `next()` in the states where NUL bytes are content (label values, HELP
    /// text, comments): the position after `i`, skipping NUL bytes.
    fn next_skipping_nul(&self, i: usize) -> usize {
        let mut j = i + 1;
        while self.byte(j) == Some(0) {
            j += 1;
        }
        j
    }

    /// The end of the line starting at or after `i`, skipping NUL bytes as content.
    fn line_end(&self, mut i: usize) -> usize {
        while !matches!(self.byte(i), Some(b'\n') | None) {
            i = self.next_skipping_nul(i);
        }
        i
    }

    fn error(&self, at: usize, message: impl Into<String>) -> Error {
        error_at(self.input, at, message)
    }

    fn next_entry(&mut self, hint: Option<&[u8]>) -> Result<Option<Entry<'a>>, Error> {
        loop {
            let i = self.skip_blanks(self.pos);
            match self.byte(i) {
                None | Some(0) => return Ok(None),
                Some(b'\n') => self.pos = i + 1,
                Some(b'#') => return self.comment_or_metadata(i),
                Some(c) if is_metric_name_start(c) && i > self.pos => {
                    return Err(self.error(
                        self.pos,
                        "blanks before a metric name are not allowed (Prometheus reads them \
                         into the name, which makes it invalid)",
                    ));
                }
                Some(c) if is_metric_name_start(c) => return self.sample(i, hint).map(Some),
                Some(b'{') => {
                    return Err(self.error(i, "expected a metric name before `{`"));
                }
                Some(_) => {
                    return Err(self.error(
                        i,
                        format!(
                            "expected a metric name or `#` at the start of a line, found {}",
                            found(self.input, i)
                        ),
                    ));
                }
            }
        }
    }

    /// A line starting with `#` at `hash`: HELP, TYPE or a comment.
    fn comment_or_metadata(&mut self, hash: usize) -> Result<Option<Entry<'a>>, Error> {
        let after_hash = hash + 1;
        if !self.is_blank(after_hash) {
            // `#` not followed by a blank: a comment read byte by byte, where NUL ends
            // the input.
            let mut i = after_hash;
            loop {
                match self.byte(i) {
                    None | Some(0) => return Ok(None),
                    Some(b'\n') => return Ok(Some(self.comment(hash, i))),
                    Some(_) => i += 1,
                }
            }
        }
        let word = self.skip_blanks(after_hash);
        match self.byte(word) {
            None | Some(0) => return Ok(None),
            _ => {}
        }
        let keyword = [(&b"HELP"[..], true), (&b"TYPE"[..], false)]
            .into_iter()
            .find_map(|(kw, help)| self.keyword(word, kw).map(|end| (end, help)));
        let Some((name_at, help)) = keyword else {
            let end = self.line_end(word);
            return Ok(Some(self.comment(hash, end)));
        };
        let kind = if help { "HELP" } else { "TYPE" };
        let name_len = match self.input.get(name_at..) {
            Some(rest) => metric_name_len(rest),
            None => 0,
        };
        if name_len == 0 {
            return Err(self.error(
                name_at,
                format!(
                    "expected a metric name after `# {kind}`, found {}",
                    found(self.input, name_at)
                ),
            ));
        }
        let name_end = name_at + name_len;
        let name = checked_str(&self.input[name_at..name_end]);
        let (text_at, text, line_end) = self.metadata_text(name_end);
        if self.byte(line_end) != Some(b'\n') {
            return Err(self.error(line_end, "expected end of line after the metadata"));
        }
        self.pos = line_end + 1;
        if help {
            let help = std::str::from_utf8(text)
                .map_err(|e| self.error(text_at + e.valid_up_to(), "HELP text is not UTF-8"))?;
            return Ok(Some(Entry::Help {
                name,
                help: unescape(help, false),
            }));
        }
        let metric_type = match text {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"summary" => MetricType::Summary,
            b"untyped" => MetricType::Unknown,
            _ => {
                return Err(self.error(
                    text_at,
                    format!(
                        "invalid metric type `{}` (expected counter, gauge, histogram, \
                         summary or untyped)",
                        excerpt(text)
                    ),
                ));
            }
        };
        Ok(Some(Entry::Type { name, metric_type }))
    }

    fn comment(&mut self, hash: usize, end: usize) -> Entry<'a> {
        self.pos = end + 1;
        Entry::Comment(&self.input[hash..end.min(self.input.len())])
    }

    /// Matches `keyword` followed by at least one blank at `i`, skipping NUL bytes after
    /// its first letter as Prometheus's comment state does; returns where the metric name
    /// starts.
    fn keyword(&self, i: usize, keyword: &[u8]) -> Option<usize> {
        if self.byte(i) != keyword.first().copied() {
            return None;
        }
        let mut j = i;
        for &expected in &keyword[1..] {
            j = self.next_skipping_nul(j);
            if self.byte(j) != Some(expected) {
                return None;
            }
        }
        j = self.next_skipping_nul(j);
        if !self.is_blank(j) {
            return None;
        }
        while self.is_blank(j) {
            j = self.next_skipping_nul(j);
        }
        Some(j)
    }

    /// The text after a metadata name at `i`: where it starts, the text without its first
    /// byte (as Prometheus returns it) and where the line ends.
    fn metadata_text(&self, i: usize) -> (usize, &'a [u8], usize) {
        match self.byte(i) {
            Some(b' ' | b'\t') => {
                // Blanks alone (NUL bytes included) are skipped, leaving empty text.
                let mut j = i;
                while self.is_blank(j) {
                    j = self.next_skipping_nul(j);
                }
                if self.byte(j) == Some(b'\n') {
                    return (j, b"", j);
                }
            }
            Some(b'\n' | 0) | None => return (i, b"", i),
            Some(_) => {}
        }
        let end = self.line_end(i);
        let raw = &self.input[i..end.min(self.input.len())];
        let text = if raw.len() > 1 { &raw[1..] } else { b"" };
        (i + 1, text, end)
    }

    /// A sample line whose metric name starts at `start`.
    fn sample(&mut self, start: usize, hint: Option<&[u8]>) -> Result<Entry<'a>, Error> {
        let (name, labels, i) = match self.hinted_series(start, hint) {
            Some(series) => series,
            None => {
                let name_end = start + metric_name_len(&self.input[start..]);
                let name = checked_str(&self.input[start..name_end]);
                let mut i = self.skip_blanks(name_end);
                let mut labels = Labels::empty(Dialect::Text);
                if self.byte(i) == Some(b'{') {
                    let (raw, after) = self.labels(i)?;
                    labels = Labels::new(raw, Dialect::Text);
                    i = self.skip_blanks(after);
                }
                (name, labels, i)
            }
        };
        let value_end = self.value_end(i);
        if value_end == i {
            return Err(self.error(
                i,
                format!(
                    "expected a value after the metric, found {}",
                    found(self.input, i)
                ),
            ));
        }
        let value = parse_value(&self.input[i..value_end]).map_err(|why| self.error(i, why))?;
        let ts_at = self.skip_blanks(value_end);
        let (timestamp_ms, line_end) = match self.byte(ts_at) {
            Some(b'\n') => (None, ts_at),
            Some(c) if c.is_ascii_digit() => {
                let digits = self.input[ts_at..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let ts_end = ts_at + digits;
                let ts = parse_timestamp(&self.input[ts_at..ts_end])
                    .ok_or_else(|| self.error(ts_at, "timestamp is out of the range of int64"))?;
                let end = self.skip_blanks(ts_end);
                if self.byte(end) != Some(b'\n') {
                    return Err(self.error(
                        end,
                        format!(
                            "expected end of line after the timestamp, found {}",
                            found(self.input, end)
                        ),
                    ));
                }
                (Some(ts), end)
            }
            _ => {
                return Err(self.error(
                    ts_at,
                    format!(
                        "expected a timestamp (decimal milliseconds) or end of line, found {}",
                        found(self.input, ts_at)
                    ),
                ));
            }
        };
        self.pos = line_end + 1;
        Ok(Entry::Sample(SampleRef {
            name,
            labels,
            value,
            timestamp_ms,
            exemplar: None,
        }))
    }

    /// The metric name and labels of the sample line at `start` when the line starts with
    /// `hint`, a series' text (`name{labels` or `name`) as an earlier parse returned it
    /// (see [`TextParser::next_expecting`]), and the position of the value. The lexer's
    /// state after those bytes depends on the bytes alone, so the series is the hint's
    /// without lexing it again: only the closing `}` (or, without labels, the end of the
    /// name and the absence of labels) is checked. `None` sends the line the long way.
    fn hinted_series(
        &self,
        start: usize,
        hint: Option<&[u8]>,
    ) -> Option<(&'a str, Labels<'a>, usize)> {
        let hint = hint.filter(|h| !h.is_empty())?;
        let end = start + hint.len();
        if self.input.get(start..end)? != hint {
            return None;
        }
        match hint.iter().position(|&c| c == b'{') {
            Some(brace) => {
                if self.byte(end) != Some(b'}') {
                    return None;
                }
                let name_end = start + brace;
                if metric_name_len(&self.input[start..]) != brace {
                    return None;
                }
                let name = std::str::from_utf8(&self.input[start..name_end]).ok()?;
                let raw = std::str::from_utf8(&self.input[name_end + 1..end]).ok()?;
                Some((
                    name,
                    Labels::new(raw, Dialect::Text),
                    self.skip_blanks(end + 1),
                ))
            }
            None => {
                if metric_name_len(&self.input[start..]) != hint.len() {
                    return None;
                }
                let i = self.skip_blanks(end);
                if self.byte(i) == Some(b'{') {
                    return None;
                }
                let name = std::str::from_utf8(&self.input[start..end]).ok()?;
                Some((name, Labels::empty(Dialect::Text), i))
            }
        }
    }

    /// The next entry, where the next sample is expected to be the series `key` (its
    /// metric name and label set exactly as a sample of an earlier parse gave them:
    /// `name{labels` with `labels` the raw text between the braces, or `name` alone).
    /// The result is always what [`Iterator::next`] returns; when the sample line does
    /// start with `key`, its labels are not lexed again, which is most of a sample's
    /// cost. A scraper passes the series it predicts from the last scrape.
    ///
    /// ```
    /// use ember_expfmt::{Entry, TextParser};
    ///
    /// let body = b"a{x=\"1\"} 1\na{x=\"2\"} 2\n";
    /// let mut p = TextParser::new(body);
    /// let Some(Ok(Entry::Sample(s))) = p.next_expecting(b"a{x=\"1\"") else { panic!() };
    /// assert_eq!((s.name, s.labels.as_str(), s.value), ("a", "x=\"1\"", 1.0));
    /// // A wrong guess costs only the comparison.
    /// let Some(Ok(Entry::Sample(s))) = p.next_expecting(b"a{x=\"1\"") else { panic!() };
    /// assert_eq!((s.labels.as_str(), s.value), ("x=\"2\"", 2.0));
    /// ```
    pub fn next_expecting(&mut self, key: &[u8]) -> Option<Result<Entry<'a>, Error>> {
        if self.done {
            return None;
        }
        let entry = self.next_entry(Some(key));
        if !matches!(entry, Ok(Some(_))) {
            self.done = true;
        }
        entry.transpose()
    }

    /// The end of a value token starting at `i` (`[^{ \t\n\0]*`).
    fn value_end(&self, mut i: usize) -> usize {
        while let Some(c) = self.input.get(i) {
            if matches!(c, b'{' | b' ' | b'\t' | b'\n' | 0) {
                break;
            }
            i += 1;
        }
        i
    }

    /// The label set whose `{` is at `open`: the checked text between the braces and the
    /// position after the `}`.
    fn labels(&self, open: usize) -> Result<(&'a str, usize), Error> {
        let mut i = open + 1;
        loop {
            i = self.skip_blanks(i);
            match self.byte(i) {
                Some(b'}') => {
                    let raw = checked_str(&self.input[open + 1..i]);
                    return Ok((raw, i + 1));
                }
                Some(c) if is_label_name_start(c) => {}
                _ => {
                    return Err(self.error(
                        i,
                        format!(
                            "expected a label name or `}}`, found {}",
                            found(self.input, i)
                        ),
                    ));
                }
            }
            let name_end = i + label_name_len(&self.input[i..]);
            i = self.skip_blanks(name_end);
            if self.byte(i) != Some(b'=') {
                return Err(self.error(
                    i,
                    format!(
                        "expected `=` after the label name, found {}",
                        found(self.input, i)
                    ),
                ));
            }
            i += 1;
            if self.is_blank(i) {
                while self.is_blank(i) {
                    i = self.next_skipping_nul(i);
                }
            }
            if self.byte(i) != Some(b'"') {
                return Err(self.error(
                    i,
                    format!(
                        "expected a quoted label value, found {}",
                        found(self.input, i)
                    ),
                ));
            }
            i = self.label_value(i)?;
            i = self.skip_blanks(i);
            if self.byte(i) == Some(b',') {
                i += 1;
            }
        }
    }

    /// Checks the quoted label value at `open` and returns the position after it (after
    /// any NUL bytes that follow the closing quote, which Prometheus's lexer swallows).
    fn label_value(&self, open: usize) -> Result<usize, Error> {
        let mut i = self.next_skipping_nul(open);
        loop {
            match self.byte(i) {
                None => return Err(self.error(open, "label value is not terminated")),
                Some(b'"') => break,
                Some(b'\\') => {
                    let escaped = self.next_skipping_nul(i);
                    match self.byte(escaped) {
                        None => return Err(self.error(open, "label value is not terminated")),
                        Some(b'\n') => {
                            return Err(self.error(
                                i,
                                "invalid escape sequence: backslash at the end of a line in a \
                                 label value",
                            ));
                        }
                        Some(_) => i = self.next_skipping_nul(escaped),
                    }
                }
                Some(_) => i = self.next_skipping_nul(i),
            }
        }
        let after = self.next_skipping_nul(i);
        if let Err(e) = std::str::from_utf8(&self.input[open..after]) {
            return Err(self.error(open + e.valid_up_to(), "label value is not valid UTF-8"));
        }
        Ok(after)
    }
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let entry = self.next_entry(None);
        if !matches!(entry, Ok(Some(_))) {
            self.done = true;
        }
        entry.transpose()
    }
}

impl std::iter::FusedIterator for TextParser<'_> {}

/// A sample value as Prometheus's `parseFloat` reads it.
fn parse_value(s: &[u8]) -> Result<f64, String> {
    if s.iter().any(|c| matches!(c, b'p' | b'P' | b'_')) {
        return Err(format!(
            "invalid value `{}`: unsupported character in float",
            excerpt(s)
        ));
    }
    parse_number(s)
        .map_err(|e: NumberError| format!("invalid value `{}`: {}", excerpt(s), e.describe()))
}

/// Decimal digits as an `int64`, `None` on overflow.
fn parse_timestamp(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |ts, &d| {
        ts.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(input: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
        TextParser::new(input).collect()
    }

    fn message(input: &[u8]) -> String {
        match entries(input) {
            Err(Error::Parse { message, .. }) => message,
            other => panic!("expected an error for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn metadata_text_drops_its_first_byte() {
        let e = entries(b"# HELP a  two spaces\n# HELP b\n# HELP c \n# HELP d-x\n").unwrap();
        let helps: Vec<_> = e
            .iter()
            .map(|e| match e {
                Entry::Help { help, .. } => help.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(helps, [" two spaces", "", "", "x"]);
        assert!(message(b"# TYPE a counter \n").starts_with("invalid metric type `counter `"));
        assert!(message(b"# TYPE a  gauge\n").starts_with("invalid metric type ` gauge`"));
        assert_eq!(
            entries(b"# TYPE a\tgauge\n").unwrap(),
            [Entry::Type {
                name: "a",
                metric_type: MetricType::Gauge
            }]
        );
    }

    #[test]
    fn comments_and_keywords() {
        let e = entries(b"#\n# HELP\n#HELP a b\n# HELPER\n  # TYPE a gauge\n").unwrap();
        assert_eq!(e[0], Entry::Comment(b"#"));
        assert_eq!(e[1], Entry::Comment(b"# HELP"));
        assert_eq!(e[2], Entry::Comment(b"#HELP a b"));
        assert_eq!(e[3], Entry::Comment(b"# HELPER"));
        assert!(matches!(e[4], Entry::Type { name: "a", .. }));
        // NUL bytes after the first letter of a keyword are skipped, as in Prometheus.
        let e = entries(b"# H\0ELP a b\n").unwrap();
        assert!(matches!(&e[0], Entry::Help { name: "a", help } if help == "b"));
    }

    #[test]
    fn nul_where_a_line_starts_ends_the_input() {
        assert_eq!(entries(b"a 1\n\0garbage{{{").unwrap().len(), 1);
        assert_eq!(entries(b"#x\0garbage\nb 1\n").unwrap().len(), 0);
        assert_eq!(entries(b"# \0x\nb 1\n").unwrap().len(), 0);
        assert!(message(b"# HELP a\0\n").starts_with("expected end of line"));
    }

    #[test]
    fn label_value_nul_quirk_matches_prometheus() {
        let e = entries(b"a{b=\"c\"\0\0} 1\n").unwrap();
        let Entry::Sample(s) = &e[0] else { panic!() };
        assert_eq!(s.labels.get("b").as_deref(), Some("c\"\0"));
    }

    #[test]
    fn negative_and_huge_timestamps_are_refused() {
        assert!(message(b"a 1 -1\n").starts_with("expected a timestamp"));
        assert_eq!(
            message(b"a 1 9223372036854775808\n"),
            "timestamp is out of the range of int64"
        );
        let e = entries(b"a 1 9223372036854775807\n").unwrap();
        assert!(matches!(&e[0], Entry::Sample(s) if s.timestamp_ms == Some(i64::MAX)));
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse_text(b"a 1\nb{c=\"d\",,} 1\n").unwrap_err();
        assert_eq!(
            err,
            Error::Parse {
                line: 2,
                column: 9,
                message: "expected a label name or `}`, found `,`".into()
            }
        );
        let err = parse_text(b"a 1\n\nb x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3, column 3: invalid value `x`: not a number"
        );
    }
}

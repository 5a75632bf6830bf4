//! The text format parser accepts what Prometheus 2.42's parser accepts (and reads it the
//! same way) and refuses what it refuses.
//!
//! The first cases are ported from Prometheus's `model/textparse/promparse_test.go`
//! (`TestPromParse`, `TestPromParseErrors`, `TestPromNullByteHandling`); the rest follow
//! from its lexer, `promlex.l`, and are marked with the rule they exercise. Error cases
//! also name the line and column of the offending token (1-based, in bytes).

use ember_expfmt::{Entry, Error, MetricType, TextParser, parse_text};

/// A parsed entry in a form that is easy to write down.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    Help(&'static str, &'static str),
    Type(&'static str, MetricType),
    Comment(&'static [u8]),
    Series(
        &'static str,
        &'static [(&'static str, &'static str)],
        f64,
        Option<i64>,
    ),
}

use Want::{Comment, Help, Series, Type};

/// Entries of `input`, each checked against `want` in order.
fn assert_parses(input: &[u8], want: &[Want]) {
    let got: Vec<Entry<'_>> = TextParser::new(input)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "{:?} should parse, got: {e}",
                String::from_utf8_lossy(input)
            )
        });
    assert_eq!(
        got.len(),
        want.len(),
        "entry count for {:?}: {got:#?}",
        String::from_utf8_lossy(input)
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let matches = match (g, w) {
            (Entry::Help { name, help }, Help(n, h)) => name == n && help == h,
            (Entry::Type { name, metric_type }, Type(n, t)) => name == n && metric_type == t,
            (Entry::Comment(c), Comment(w)) => c == w,
            (Entry::Sample(s), Series(n, labels, v, ts)) => {
                let got_labels: Vec<(String, String)> = s.labels.to_vec();
                let want_labels: Vec<(String, String)> = labels
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                s.name == *n
                    && got_labels == want_labels
                    && (s.value.to_bits() == v.to_bits() || (s.value.is_nan() && v.is_nan()))
                    && s.timestamp_ms == *ts
            }
            _ => false,
        };
        assert!(matches, "entry {i}: got {g:?}, want {w:?}");
    }
}

/// `input` is refused with an error at `line`, `column` whose message contains `says`.
fn assert_refused(input: &[u8], line: usize, column: usize, says: &str) {
    match parse_text(input) {
        Err(Error::Parse {
            line: l,
            column: c,
            message,
        }) => {
            assert!(
                (l, c) == (line, column) && message.contains(says),
                "{:?}: got line {l} column {c}: {message}; want line {line} column {column} \
                 containing {says:?}",
                String::from_utf8_lossy(input)
            );
        }
        Ok(f) => panic!(
            "{:?} should be refused, parsed {f:?}",
            String::from_utf8_lossy(input)
        ),
        Err(other) => panic!("unexpected error kind {other:?}"),
    }
}

#[test]
fn prom_parse() {
    // TestPromParse.
    let mut input = br#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# 	TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25",} 7.424100000000001e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
go_gc_duration_seconds{quantile="0.8", a="b"} 8.3835e-05
go_gc_duration_seconds{ quantile="0.9", a="b"} 8.3835e-05
# Hrandom comment starting with prefix of HELP
#
wind_speed{A="2",c="3"} 12345
# comment with escaped \n newline
# comment with escaped \ escape character
# HELP nohelp1
# HELP nohelp2 
go_gc_duration_seconds{ quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile= "1.0", a= "b", } 8.3835e-05
go_gc_duration_seconds { quantile = "1.0", a = "b" } 8.3835e-05
go_gc_duration_seconds { quantile = "2.0" a = "b" } 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"}	1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33  	123123
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore="foo"} 1
testmetric{label="\"bar\""} 1"#
        .to_vec();
    input.extend_from_slice(b"\n# HELP metric foo\x00bar");
    input.extend_from_slice(b"\nnull_byte_metric{a=\"abc\x00\"} 1");
    let q = |q| [("quantile", q), ("a", "b")];
    let q10: &'static [(&str, &str)] = Box::leak(Box::new(q("1.0")));
    assert_parses(
        &input,
        &[
            Help(
                "go_gc_duration_seconds",
                "A summary of the GC invocation durations.",
            ),
            Type("go_gc_duration_seconds", MetricType::Summary),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "0")],
                4.9351e-05,
                None,
            ),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "0.25")],
                7.424100000000001e-05,
                None,
            ),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "0.5"), ("a", "b")],
                8.3835e-05,
                None,
            ),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "0.8"), ("a", "b")],
                8.3835e-05,
                None,
            ),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "0.9"), ("a", "b")],
                8.3835e-05,
                None,
            ),
            Comment(b"# Hrandom comment starting with prefix of HELP"),
            Comment(b"#"),
            Series("wind_speed", &[("A", "2"), ("c", "3")], 12345.0, None),
            Comment(b"# comment with escaped \\n newline"),
            Comment(b"# comment with escaped \\ escape character"),
            Help("nohelp1", ""),
            Help("nohelp2", ""),
            Series("go_gc_duration_seconds", q10, 8.3835e-05, None),
            Series("go_gc_duration_seconds", q10, 8.3835e-05, None),
            Series("go_gc_duration_seconds", q10, 8.3835e-05, None),
            Series("go_gc_duration_seconds", q10, 8.3835e-05, None),
            Series(
                "go_gc_duration_seconds",
                &[("quantile", "2.0"), ("a", "b")],
                8.3835e-05,
                None,
            ),
            Series("go_gc_duration_seconds_count", &[], 99.0, None),
            Series("some:aggregate:rate5m", &[("a_b", "c")], 1.0, None),
            Help(
                "go_goroutines",
                "Number of goroutines that currently exist.",
            ),
            Type("go_goroutines", MetricType::Gauge),
            Series("go_goroutines", &[], 33.0, Some(123123)),
            Series("_metric_starting_with_underscore", &[], 1.0, None),
            Series(
                "testmetric",
                &[("_label_starting_with_underscore", "foo")],
                1.0,
                None,
            ),
            Series("testmetric", &[("label", "\"bar\"")], 1.0, None),
            Help("metric", "foo\0bar"),
            Series("null_byte_metric", &[("a", "abc\0")], 1.0, None),
        ],
    );
}

#[test]
fn prom_parse_errors() {
    // TestPromParseErrors, with the position of the token Prometheus complains about.
    assert_refused(b"a", 1, 2, "expected a value after the metric");
    assert_refused(b"a{b='c'} 1\n", 1, 5, "expected a quoted label value");
    assert_refused(b"a{b=\n", 1, 5, "expected a quoted label value");
    assert_refused(b"a{\xff=\"foo\"} 1\n", 1, 3, "expected a label name");
    assert_refused(b"a{b=\"\xff\"} 1\n", 1, 6, "label value is not valid UTF-8");
    assert_refused(b"a true\n", 1, 3, "invalid value `true`");
    assert_refused(
        b"something_weird{problem=\"",
        1,
        25,
        "label value is not terminated",
    );
    assert_refused(b"empty_label_name{=\"\"} 0", 1, 18, "expected a label name");
    assert_refused(b"foo 1_2\n", 1, 5, "unsupported character in float");
    assert_refused(b"foo 0x1p-3\n", 1, 5, "unsupported character in float");
    assert_refused(b"foo 0x1P-3\n", 1, 5, "unsupported character in float");
    assert_refused(
        b"foo 0 1_2\n",
        1,
        8,
        "expected end of line after the timestamp",
    );
    assert_refused(b"{a=\"ok\"} 1", 1, 1, "expected a metric name before `{`");
    assert_refused(
        b"# TYPE #\n#EOF\n",
        1,
        8,
        "expected a metric name after `# TYPE`",
    );
    assert_refused(
        b"# HELP #\n#EOF\n",
        1,
        8,
        "expected a metric name after `# HELP`",
    );
    // Quoted (UTF-8) metric names came after 2.42 and are refused.
    assert_refused(br#"{"a", "b = "c"}"#, 1, 1, "expected a metric name");
    assert_refused(b"{\"a\",b\\nc=\"d\"} 1", 1, 1, "expected a metric name");
    assert_refused(b"# HELP \"a.b\" x\n", 1, 8, "expected a metric name");
}

#[test]
fn prom_null_byte_handling() {
    // TestPromNullByteHandling.
    assert_parses(
        b"null_byte_metric{a=\"abc\x00\"} 1",
        &[Series("null_byte_metric", &[("a", "abc\0")], 1.0, None)],
    );
    assert_parses(
        b"a{b=\"\x00ss\"} 1\n",
        &[Series("a", &[("b", "\0ss")], 1.0, None)],
    );
    assert_parses(
        b"a{b=\"\x00\"} 1\n",
        &[Series("a", &[("b", "\0")], 1.0, None)],
    );
    assert_refused(
        b"a{b=\x00\"ssss\"} 1\n",
        1,
        5,
        "expected a quoted label value",
    );
    assert_refused(b"a{b=\"\x00", 1, 5, "label value is not terminated");
    assert_refused(
        b"a{b\x00=\"hiih\"}\t1",
        1,
        4,
        "expected `=` after the label name",
    );
    assert_refused(
        b"a\x00{b=\"ddd\"} 1",
        1,
        2,
        "expected a value after the metric",
    );
    assert_refused(
        b"a 0 1\x00",
        1,
        6,
        "expected end of line after the timestamp",
    );
}

#[test]
fn blanks_and_line_structure() {
    // Blank lines and lines of blanks are skipped; blanks may lead a `#` line but not a
    // sample, whose name Prometheus would then read with the blanks (and refuse).
    assert_parses(
        b"\n \t\na 1\n\t# HELP a x\n",
        &[Series("a", &[], 1.0, None), Help("a", "x")],
    );
    assert_refused(b"a 1\n  a 1\n", 2, 1, "blanks before a metric name");
    assert_refused(b"\ta{b=\"c\"} 1\n", 1, 1, "blanks before a metric name");
    // Any run of blanks separates tokens; the value may follow `}` directly.
    assert_parses(
        b"a\t1\t\t2 \t\na {} 3\na{b=\"c\"}4 5\n",
        &[
            Series("a", &[], 1.0, Some(2)),
            Series("a", &[], 3.0, None),
            Series("a", &[("b", "c")], 4.0, Some(5)),
        ],
    );
    // The last line needs no newline; an empty body has no entries.
    assert_parses(b"a 1", &[Series("a", &[], 1.0, None)]);
    assert_parses(b"", &[]);
    assert_refused(b"a 1\n1a 2\n", 2, 1, "expected a metric name or `#`");
    assert_refused(
        b"a 1 2 3\n",
        1,
        7,
        "expected end of line after the timestamp",
    );
    assert_refused(b"a 1 # trailing comment\n", 1, 5, "expected a timestamp");
    assert_refused(
        b"a{b=\"c\"}{d=\"e\"} 1\n",
        1,
        9,
        "expected a value after the metric",
    );
    assert_refused(b"a{b=\"c\"}} 1\n", 1, 9, "invalid value `}`");
    assert_refused(b"a.b 1\n", 1, 2, "invalid value `.b`");
}

#[test]
fn labels() {
    // Trailing commas, missing commas and blanks around `=` are accepted.
    assert_parses(
        b"a{x=\"1\",} 1\na{x=\"1\" y=\"2\"} 1\na{ x = \"1\" , y=\"2\" } 1\n",
        &[
            Series("a", &[("x", "1")], 1.0, None),
            Series("a", &[("x", "1"), ("y", "2")], 1.0, None),
            Series("a", &[("x", "1"), ("y", "2")], 1.0, None),
        ],
    );
    // The parser leaves repeated names to later stages, as Prometheus's does.
    assert_parses(
        b"a{x=\"1\",x=\"2\"} 1\n",
        &[Series("a", &[("x", "1"), ("x", "2")], 1.0, None)],
    );
    assert_refused(b"a{,x=\"1\"} 1\n", 1, 3, "expected a label name");
    assert_refused(b"a{x=\"1\",,} 1\n", 1, 9, "expected a label name");
    assert_refused(b"a{x:y=\"1\"} 1\n", 1, 4, "expected `=`");
    assert_refused(b"a{1x=\"1\"} 1\n", 1, 3, "expected a label name");
    assert_refused(b"a{x=1} 1\n", 1, 5, "expected a quoted label value");
    assert_refused(b"a{x=\"1\"\n", 1, 8, "expected a label name or `}`");
}

#[test]
fn label_value_escapes() {
    // Only \\, \" and \n are replaced; other escapes stay as written. A raw newline is
    // part of the value (the lexer allows it); a backslash before a newline is not.
    assert_parses(
        b"a{x=\"\\\\ \\\" \\n \\t \\z\"} 1\na{x=\"two\nlines\"} 2\n",
        &[
            Series("a", &[("x", "\\ \" \n \\t \\z")], 1.0, None),
            Series("a", &[("x", "two\nlines")], 2.0, None),
        ],
    );
    assert_refused(
        b"a{x=\"bad\\\n\"} 1\n",
        1,
        9,
        "backslash at the end of a line",
    );
    assert_refused(b"a{x=\"\xc3\x28\"} 1\n", 1, 6, "not valid UTF-8");
}

#[test]
fn help_type_and_comments() {
    // HELP replaces \\ and \n but keeps \"; its text must be UTF-8, comments need not be.
    assert_parses(
        b"# HELP a x\\\\y\\nz\\\"\n# comment \xff\n#no blank\n# TYPE a untyped\n",
        &[
            Help("a", "x\\y\nz\\\""),
            Comment(b"# comment \xff"),
            Comment(b"#no blank"),
            Type("a", MetricType::Unknown),
        ],
    );
    // `# HELP` without a blank after it is a comment; `#` alone too.
    assert_parses(
        b"# HELP\n# TYPE\n# HELPx a b\n",
        &[
            Comment(b"# HELP"),
            Comment(b"# TYPE"),
            Comment(b"# HELPx a b"),
        ],
    );
    for (t, want) in [
        ("counter", MetricType::Counter),
        ("gauge", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("summary", MetricType::Summary),
        ("untyped", MetricType::Unknown),
    ] {
        let line = format!("# TYPE a {t}\n");
        let got: Vec<_> = TextParser::new(line.as_bytes()).collect();
        assert_eq!(
            got,
            [Ok(Entry::Type {
                name: "a",
                metric_type: want
            })]
        );
    }
    assert_refused(
        b"# TYPE a unknown\n",
        1,
        10,
        "invalid metric type `unknown`",
    );
    assert_refused(b"# TYPE a gaugehistogram\n", 1, 10, "invalid metric type");
    assert_refused(
        b"# TYPE a Counter\n",
        1,
        10,
        "invalid metric type `Counter`",
    );
    assert_refused(
        b"# TYPE a counter \n",
        1,
        10,
        "invalid metric type `counter `",
    );
    assert_refused(b"# TYPE a\n", 1, 9, "invalid metric type ``");
    assert_refused(b"# HELP a \xff\n", 1, 10, "HELP text is not UTF-8");
    assert_refused(
        b"# HELP 1a x\n",
        1,
        8,
        "expected a metric name after `# HELP`",
    );
}

#[test]
fn values_as_go_parse_float_reads_them() {
    let cases: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-1.5", -1.5),
        ("+1", 1.0),
        ("01", 1.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("+infinity", f64::INFINITY),
        ("1e-400", 0.0),
        ("4.9e-324", 4.9e-324),
        ("1.7976931348623157e308", f64::MAX),
    ];
    for &(text, want) in cases {
        let body = format!("a {text}\n");
        assert_parses(body.as_bytes(), &[Series("a", &[], want, None)]);
    }
    // NaN in any case, always read as Prometheus's normal NaN.
    for nan in ["NaN", "nan", "NAN"] {
        let body = format!("a {nan}\n");
        let fams = parse_text(body.as_bytes()).unwrap();
        assert_eq!(fams[0].samples[0].value.to_bits(), 0x7ff8_0000_0000_0001);
    }
    let neg_zero = parse_text(b"a -0\n").unwrap();
    assert_eq!(neg_zero[0].samples[0].value.to_bits(), (-0.0f64).to_bits());
    for bad in ["1e400", "-1e400"] {
        let body = format!("a {bad}\n");
        assert_refused(body.as_bytes(), 1, 3, "out of the range of a 64-bit float");
    }
    for bad in ["+nan", "0x10", "1e", ".", "1,5", "one", "1..5", "infinit"] {
        let body = format!("a {bad}\n");
        assert_refused(body.as_bytes(), 1, 3, "not a number");
    }
}

#[test]
fn timestamps_are_unsigned_int64_milliseconds() {
    assert_parses(
        b"a 1 0\na 1 01\na 1 9223372036854775807\n",
        &[
            Series("a", &[], 1.0, Some(0)),
            Series("a", &[], 1.0, Some(1)),
            Series("a", &[], 1.0, Some(i64::MAX)),
        ],
    );
    // The lexer reads only digits: signs and fractions are refused.
    assert_refused(b"a 1 -1\n", 1, 5, "expected a timestamp");
    assert_refused(b"a 1 +1\n", 1, 5, "expected a timestamp");
    assert_refused(
        b"a 1 1.5\n",
        1,
        6,
        "expected end of line after the timestamp",
    );
    assert_refused(
        b"a 1 9223372036854775808\n",
        1,
        5,
        "out of the range of int64",
    );
}

#[test]
fn nul_bytes_behave_as_in_prometheus() {
    // NUL where a line (or a `#` comment) starts ends the input without an error.
    assert_parses(b"a 1\n\x00 anything {{{\n", &[Series("a", &[], 1.0, None)]);
    assert_parses(b"a 1\n  \x00\n", &[Series("a", &[], 1.0, None)]);
    assert_parses(b"#x\x00\nb 1\n", &[]);
    // In comments after `# ` and in HELP text they are content.
    assert_parses(
        b"# x\x00y\n# HELP a b\x00c\n",
        &[Comment(b"# x\x00y"), Help("a", "b\0c")],
    );
    assert_refused(b"a \x001\n", 1, 3, "expected a value after the metric");
    assert_refused(
        b"# HELP a\x00\n",
        1,
        9,
        "expected end of line after the metadata",
    );
}

#[test]
fn families_group_samples_by_metadata() {
    let fams = parse_text(
        b"# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
          h_sum 3\nh_count 2\nother 1\nother 2\n# TYPE c_total counter\nc_total 5\n",
    )
    .unwrap();
    let shape: Vec<_> = fams
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.metric_type,
                f.help.as_deref(),
                f.samples.len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("h", MetricType::Histogram, Some("Latency."), 4),
            ("other", MetricType::Unknown, None, 2),
            ("c_total", MetricType::Counter, None, 1),
        ]
    );
}

//! `TextParser::next_expecting` returns exactly what `next` returns, whatever the hint:
//! right, wrong, a prefix of the line, or a key from another line of the body.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use ember_expfmt::{Entry, TextParser};
use proptest::prelude::*;

/// Owned form of an entry (or error) for comparison.
fn owned(e: Option<Result<Entry<'_>, ember_expfmt::Error>>) -> Option<Result<String, String>> {
    e.map(|r| r.map(|e| format!("{e:?}")).map_err(|e| e.to_string()))
}

/// The series texts (`name{labels` or `name`) of a body's samples, as a scraper keeps them.
fn keys(body: &[u8]) -> Vec<Vec<u8>> {
    TextParser::new(body)
        .filter_map(|e| match e {
            // An empty label set (`a{} 1`) is keyed by the name alone, as ember-server does.
            Ok(Entry::Sample(s)) if s.labels.as_str().is_empty() => {
                Some(s.name.as_bytes().to_vec())
            }
            Ok(Entry::Sample(s)) => Some(format!("{}{{{}", s.name, s.labels.as_str()).into_bytes()),
            _ => None,
        })
        .collect()
}

fn line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["a", "ab", "a_total", "b:c"]);
    let value = prop::sample::select(vec![
        "x",
        "1",
        "}",
        "a\\\"b",
        "\\\\",
        "{",
        " ",
        "\\n",
        "é",
        "a,b=\"c\"",
    ]);
    let label = (prop::sample::select(vec!["x", "y", "le"]), value)
        .prop_map(|(n, v)| format!("{n}=\"{v}\""));
    let labels = prop::collection::vec(label, 0..3);
    let sep = prop::sample::select(vec![",", ", ", " ", ",\t"]);
    let open = prop::sample::select(vec!["{", " {", ""]);
    let tail = prop::sample::select(vec![" 1", " 2 1000", "\t3", " NaN", " 1 x", "", " +Inf "]);
    (name, open, labels, sep, prop::bool::ANY, tail).prop_map(
        |(name, open, labels, sep, trailing_comma, tail)| {
            if open.is_empty() {
                return format!("{name}{tail}\n");
            }
            let mut l = labels.join(sep);
            if trailing_comma && !l.is_empty() {
                l.push(',');
            }
            format!("{name}{open}{l}}}{tail}\n")
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hints_never_change_the_result(
        lines in prop::collection::vec(line(), 1..8),
        picks in prop::collection::vec(any::<u16>(), 8),
        junk in prop::sample::select(vec!["", "a", "a{", "a{x=\"1\"", "ab{x=\"1\"", "a{x=\"1\"} 1"]),
    ) {
        let body = lines.concat();
        let known = keys(body.as_bytes());
        let mut plain = TextParser::new(body.as_bytes());
        let mut hinted = TextParser::new(body.as_bytes());
        for i in 0..lines.len() + 2 {
            let pick = picks[i % picks.len()] as usize;
            let hint: Vec<u8> = if known.is_empty() || pick % 5 == 0 {
                junk.as_bytes().to_vec()
            } else {
                known[pick % known.len()].clone()
            };
            prop_assert_eq!(owned(hinted.next_expecting(&hint)), owned(plain.next()));
        }
    }
}

#[test]
fn right_hints_are_taken_and_odd_lines_still_parse() {
    let body = b"a{x=\"}\",y=\"\\\"\"} 1\na 2\na{} 3\nab 4\na {x=\"1\"} 5\n";
    let mut p = TextParser::new(body);
    for hint in [
        &b"a{x=\"}\",y=\"\\\"\""[..],
        b"a",
        b"a{",
        b"a",
        b"a{x=\"1\"",
    ] {
        let Some(Ok(Entry::Sample(s))) = p.next_expecting(hint) else {
            panic!("no sample for {hint:?}")
        };
        let plain = TextParser::new(body)
            .filter_map(Result::ok)
            .find(|e| matches!(e, Entry::Sample(t) if t.value == s.value));
        assert_eq!(Some(Entry::Sample(s)), plain);
    }
}

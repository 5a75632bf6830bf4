//! Every case of the OpenMetrics parser conformance suite (OpenObservability/OpenMetrics
//! `tests/testdata/parsers/`, kept in `../shared/conformance/openmetrics-parsers/`) gets
//! the verdict the suite expects from `parse_openmetrics`: 44 bodies parse, 167 are
//! refused.

use std::fs;
use std::path::{Path, PathBuf};

use ember_expfmt::{Error, parse_openmetrics};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/openmetrics-parsers"
);

struct Case {
    name: String,
    body: Vec<u8>,
    should_parse: bool,
}

/// `shouldParse` of a `test.json`, read without a JSON library.
fn should_parse(json: &str, case: &Path) -> bool {
    let key = "\"shouldParse\"";
    let at = json
        .find(key)
        .unwrap_or_else(|| panic!("{}: no shouldParse key", case.display()));
    let rest = json[at + key.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .unwrap_or_else(|| panic!("{}: malformed shouldParse", case.display()))
        .trim_start();
    if rest.starts_with("true") {
        true
    } else if rest.starts_with("false") {
        false
    } else {
        panic!("{}: shouldParse is neither true nor false", case.display())
    }
}

#[allow(clippy::unwrap_used)] // test helper: a broken suite folder should fail loudly
fn cases() -> Vec<Case> {
    let dir = PathBuf::from(SUITE);
    assert!(
        dir.is_dir(),
        "the OpenMetrics conformance suite is missing: expected the case folders in {} \
         (../shared/conformance/openmetrics-parsers relative to the workspace root)",
        dir.display()
    );
    let mut cases: Vec<Case> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let json = fs::read_to_string(p.join("test.json"))
                .unwrap_or_else(|e| panic!("{}: {e}", p.join("test.json").display()));
            Case {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                body: fs::read(p.join("metrics"))
                    .unwrap_or_else(|e| panic!("{}: {e}", p.join("metrics").display())),
                should_parse: should_parse(&json, &p),
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

#[test]
fn every_conformance_case_gets_the_expected_verdict() {
    let cases = cases();
    let accept = cases.iter().filter(|c| c.should_parse).count();
    assert_eq!(
        (cases.len(), accept, cases.len() - accept),
        (211, 44, 167),
        "the suite should hold 211 cases, 44 to accept and 167 to reject"
    );
    let mut wrong = Vec::new();
    for case in &cases {
        let got = parse_openmetrics(&case.body);
        match (case.should_parse, &got) {
            (true, Ok(_)) | (false, Err(_)) => {}
            (true, Err(e)) => wrong.push(format!("{}: should parse, got: {e}", case.name)),
            (false, Ok(f)) => wrong.push(format!(
                "{}: should be rejected, parsed {} families",
                case.name,
                f.len()
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} verdicts differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn rejections_name_a_line_inside_the_body() {
    for case in cases().iter().filter(|c| !c.should_parse) {
        let Err(Error::Parse {
            line,
            column,
            message,
        }) = parse_openmetrics(&case.body)
        else {
            continue;
        };
        let lines = case.body.split(|&c| c == b'\n').count();
        assert!(
            line >= 1 && line <= lines && column >= 1,
            "{}: line {line} column {column} is outside the body ({message})",
            case.name
        );
        assert!(
            message.chars().next().is_some_and(|c| !c.is_uppercase()),
            "{}: messages start lowercase: {message}",
            case.name
        );
    }
}

#[test]
fn accepted_cases_keep_their_content() {
    let read = |name: &str| {
        let case = cases().into_iter().find(|c| c.name == name).unwrap();
        parse_openmetrics(&case.body).unwrap()
    };
    let f = read("escaping");
    assert_eq!(f[0].help.as_deref(), Some("he\n\\l\\tp"));
    let values: Vec<_> = f[0]
        .samples
        .iter()
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(values, ["b\"a\nr", "b\\a\\z", "b\"a\nr # ", "b\\a\\z # "]);

    let f = read("null_byte");
    assert_eq!(f[0].help.as_deref(), Some("he\0lp"));

    let f = read("timestamps");
    let ts: Vec<_> = f[0].samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(
        ts,
        [
            Some(0),
            Some(0),
            Some(1100),
            Some(i64::MAX),
            Some(1_500_000)
        ]
    );

    let f = read("counter_unit");
    assert_eq!(f[0].name, "cc_seconds");
    assert_eq!(f[0].unit.as_deref(), Some("seconds"));
    assert_eq!(f[0].samples[1].name, "cc_seconds_created");

    let f = read("histogram_exemplars");
    let ex = f[0].samples[2].exemplar.as_ref().unwrap();
    assert_eq!((ex.value, ex.timestamp), (4.0, Some(123.0)));
    assert_eq!(ex.labels[0].1.chars().count(), 127);

    let f = read("roundtrip");
    let names: Vec<_> = f.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "go_gc_duration_seconds",
            "go_goroutines",
            "prometheus_local_storage_indexing_batch_duration_milliseconds",
            "process_cpu_seconds",
            "process_virtual_memory_bytes",
            "prometheus_build_info",
            "prometheus_local_storage_chunk_ops",
            "foo",
            "bar"
        ]
    );
}

//! Runs Prometheus 2.42's own PromQL test scripts (`promql/testdata/*.test`) against
//! ember-promql and prints `promqltest: P/566 passed`.
//!
//! The script format is the one Prometheus's `promql/test.go` (v2.42) reads: `load
//! <step>` blocks with expanding series notation (`1+2x3`, `_`, `_x3`, `stale`, `Inf`,
//! `NaN`), `clear`, and `eval`, `eval_ordered`, `eval_fail` commands with `instant at
//! <time>`, each followed by its expected series or scalar. One `eval*` line is one
//! case: 546 `eval` + 13 `eval_ordered` + 7 `eval_fail` = 566. As in `test.go`, each
//! case is checked as an instant query and, unless ordered or failing, again as a range
//! query from t-1m to t+1m at a 1m step, comparing the middle step; values compare with
//! the relative epsilon 1e-6 of `almostEqual`, NaN equal to NaN.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use ember_promql::promql_parser;
use promql_parser::parser::{AtModifier, Expr};

use ember_promql::{
    Engine, EngineOptions, Label, Labels, MemStorage, QueryValue, STALE_NAN, format_go_float,
};

/// Total number of `eval*` commands in the v2.42 test data.
const EXPECTED_CASES: usize = 566;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql-v2.42")
}

/// A value of a series description.
#[derive(Debug, Clone, Copy)]
enum SeqValue {
    Omitted,
    Value(f64),
}

/// Go's `ParseFloat`/`ParseInt(s, 0, 64)` as the test scripts use them.
fn parse_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        b if b.starts_with("0x") => i64::from_str_radix(&b[2..], 16).ok()? as f64,
        b => {
            if b.is_empty()
                || !b
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            {
                return None;
            }
            b.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Expands one item of a series description (`1+2x3`, `_x2`, `stale`, `7`).
fn expand_item(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad repetition {tok:?}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    if tok == "stale" {
        out.push(SeqValue::Value(STALE_NAN));
        return Ok(());
    }
    let (base, times) = match tok.rfind('x') {
        // In series notation `0x10` is ten repetitions of 0, not hex.
        Some(i) => {
            let n: usize = tok[i + 1..]
                .parse()
                .map_err(|_| format!("bad repetition {tok:?}"))?;
            (&tok[..i], Some(n))
        }
        _ => (tok, None),
    };
    // Split `a+b` / `a-b`: the first sign after position 0 not following an exponent.
    let bytes = base.as_bytes();
    let mut split = None;
    for i in 1..bytes.len() {
        if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            split = Some(i);
            break;
        }
    }
    let (start, inc) = match split {
        Some(i) => (
            parse_number(&base[..i]).ok_or_else(|| format!("bad number in {tok:?}"))?,
            parse_number(&base[i..]).ok_or_else(|| format!("bad increment in {tok:?}"))?,
        ),
        None => (
            parse_number(base).ok_or_else(|| format!("bad number {tok:?}"))?,
            0.0,
        ),
    };
    match times {
        None => out.push(SeqValue::Value(start)),
        Some(n) => {
            let mut v = start;
            out.push(SeqValue::Value(v));
            for _ in 0..n {
                v += inc;
                out.push(SeqValue::Value(v));
            }
        }
    }
    Ok(())
}

/// Reads a Go-quoted string starting at `s[0] == '"'`; returns value and rest.
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected a string")?;
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c)) => out.push(c),
                None => return Err("unterminated string".into()),
            },
            c if c == q => return Ok((out, &s[1 + i + 1..])),
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// Parses `name{a="b", ...} v1 v2 ...` into labels and the expanded values.
fn parse_series_desc(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let mut labels = Vec::new();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !name.is_empty() {
        labels.push(Label {
            name: "__name__".into(),
            value: name.into(),
        });
    }
    let mut rest = line[name_end..].trim_start();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=').ok_or("expected =")?;
            let lname = rest[..eq].trim().to_string();
            let (value, r) = parse_quoted(rest[eq + 1..].trim_start())?;
            labels.push(Label { name: lname, value });
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            }
        }
    }
    let mut vals = Vec::new();
    for tok in rest.split_whitespace() {
        expand_item(tok, &mut vals)?;
    }
    Ok((Labels::new(labels), vals))
}

/// Prometheus's `model.ParseDuration` (`1h30m`, `50m`, `8000s`, `0`), in milliseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0i64;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(format!("bad duration {s:?}"))?;
        let n: i64 = rest[..n_end]
            .parse()
            .map_err(|_| format!("bad duration {s:?}"))?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            u => return Err(format!("bad unit {u:?} in {s:?}")),
        };
        total += n * mult;
        rest = &rest[u_end..];
    }
    Ok(total)
}

/// Prometheus's `almostEqual` from `promql/test.go`.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 0.000001;
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < min_normal {
        return diff < EPSILON * min_normal;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

#[derive(Debug, Default)]
struct Expectation {
    scalar: Option<f64>,
    /// Label set -> (1-based position, value).
    series: HashMap<Labels, (usize, f64)>,
    lines: Vec<String>,
}

enum Mode {
    Plain,
    Ordered,
    Fail,
}

struct Case {
    file: String,
    line: usize,
    mode: Mode,
    time: i64,
    expr: String,
    expect: Expectation,
}

/// Compares an instant-query result with the expectation (`compareResult` in test.go).
fn compare(exp: &Expectation, got: &QueryValue, ordered: bool) -> Result<(), String> {
    match got {
        QueryValue::Vector(v) => {
            let mut seen = 0;
            for (pos, s) in v.iter().enumerate() {
                let Some((epos, ev)) = exp.series.get(&s.labels) else {
                    return Err(format!("unexpected metric {} in result", s.labels));
                };
                if ordered && *epos != pos + 1 {
                    return Err(format!(
                        "expected metric {} at position {} but was at {}",
                        s.labels,
                        epos,
                        pos + 1
                    ));
                }
                if !almost_equal(*ev, s.v) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        format_go_float(*ev),
                        s.labels,
                        format_go_float(s.v)
                    ));
                }
                seen += 1;
            }
            if seen != exp.series.len() || exp.scalar.is_some() {
                return Err("expected series not found".to_string());
            }
            Ok(())
        }
        QueryValue::Scalar { v, .. } => match exp.scalar {
            Some(e) if almost_equal(e, *v) => Ok(()),
            Some(e) => Err(format!(
                "expected scalar {} but got {}",
                format_go_float(e),
                format_go_float(*v)
            )),
            None => Err(format!("unexpected scalar {}", format_go_float(*v))),
        },
        QueryValue::Matrix(_) => Err("received range result on instant evaluation".into()),
        QueryValue::String { v, .. } => Err(format!("unexpected string result {v:?}")),
    }
}

fn render(v: &QueryValue) -> String {
    let mut s = String::new();
    match v {
        QueryValue::Vector(v) => {
            for x in v {
                let _ = writeln!(s, "    {} {}", x.labels, format_go_float(x.v));
            }
            if v.is_empty() {
                s.push_str("    (empty vector)\n");
            }
        }
        QueryValue::Scalar { v, .. } => {
            let _ = writeln!(s, "    scalar {}", format_go_float(*v));
        }
        other => {
            let _ = writeln!(s, "    {other:?}");
        }
    }
    s
}

/// Functions whose result depends on the evaluation time itself; test.go does not derive
/// `@` variants of expressions that use them (`AtModifierUnsafeFunctions`).
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

fn at_time(ms: i64) -> AtModifier {
    let d = Duration::from_millis(ms.unsigned_abs());
    AtModifier::At(if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    })
}

/// Sets `@ ts` on every selector and subquery outside subqueries that already carry one
/// (test.go's `atModifierTestCases`); returns false when an `@`-unsafe function occurs.
fn set_at(e: &mut Expr, ts: i64, inside_at_subquery: bool) -> bool {
    match e {
        Expr::VectorSelector(vs) => {
            if !inside_at_subquery && vs.at.is_none() {
                vs.at = Some(at_time(ts));
            }
            true
        }
        Expr::MatrixSelector(ms) => {
            if !inside_at_subquery && ms.vs.at.is_none() {
                ms.vs.at = Some(at_time(ts));
            }
            true
        }
        Expr::Subquery(sq) => {
            if !inside_at_subquery && sq.at.is_none() {
                sq.at = Some(at_time(ts));
            }
            set_at(&mut sq.expr, ts, true)
        }
        Expr::Call(c) => {
            let mut safe = !AT_UNSAFE.contains(&c.func.name);
            for a in c.args.args.iter_mut() {
                safe &= set_at(a, ts, inside_at_subquery);
            }
            safe
        }
        Expr::Aggregate(a) => {
            let mut safe = set_at(&mut a.expr, ts, inside_at_subquery);
            if let Some(p) = a.param.as_mut() {
                safe &= set_at(p, ts, inside_at_subquery);
            }
            safe
        }
        Expr::Binary(b) => {
            set_at(&mut b.lhs, ts, inside_at_subquery) & set_at(&mut b.rhs, ts, inside_at_subquery)
        }
        Expr::Paren(p) => set_at(&mut p.expr, ts, inside_at_subquery),
        Expr::Unary(u) => set_at(&mut u.expr, ts, inside_at_subquery),
        _ => true,
    }
}

/// The evaluations test.go runs for one case: the query itself, then (when safe) the
/// query with `@ t` set, at several other evaluation times.
fn variants(c: &Case) -> Result<Vec<(Expr, i64, String)>, String> {
    let expr = promql_parser::parser::parse(&c.expr).map_err(|e| format!("parse error: {e}"))?;
    let mut out = vec![(expr.clone(), c.time, "as given".to_string())];
    let mut with_at = expr;
    if set_at(&mut with_at, c.time, false) {
        let ts = c.time;
        let times: Vec<i64> = if ts == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
        };
        for t in times {
            out.push((
                with_at.clone(),
                t,
                format!("with @ {}s evaluated at {}ms", ts as f64 / 1000.0, t),
            ));
        }
    }
    Ok(out)
}

/// Runs one case; `Err` carries the report of a failure.
fn run_case(engine: &Engine, store: &MemStorage, c: &Case) -> Result<(), String> {
    for (expr, time, what) in variants(c)? {
        run_variant(engine, store, c, &expr, time).map_err(|e| format!("[{what}] {e}"))?;
    }
    Ok(())
}

fn run_variant(
    engine: &Engine,
    store: &MemStorage,
    c: &Case,
    expr: &Expr,
    time: i64,
) -> Result<(), String> {
    let res = engine.exec_expr(store, expr, time, time, 0, None);
    let got = match (res, &c.mode) {
        (Err(_), Mode::Fail) => return Ok(()),
        (Ok(v), Mode::Fail) => return Err(format!("expected an error, got:\n{}", render(&v))),
        (Err(e), _) => return Err(format!("error: {e} ({})", e.error_type())),
        (Ok(v), _) => v,
    };
    let ordered = matches!(c.mode, Mode::Ordered);
    compare(&c.expect, &got, ordered).map_err(|e| format!("{e}\n  got:\n{}", render(&got)))?;
    // Range mode, middle step.
    let range = engine
        .exec_expr(store, expr, time - 60_000, time + 60_000, 60_000, None)
        .map_err(|e| format!("range mode error: {e}"))?;
    if ordered {
        return Ok(());
    }
    let QueryValue::Matrix(m) = range else {
        return Err("range mode: not a matrix".into());
    };
    let mut vec = Vec::new();
    for s in m {
        if let Some(p) = s.points.iter().find(|p| p.t == time) {
            vec.push(ember_promql::InstantSample {
                labels: s.labels,
                t: p.t,
                v: p.v,
            });
        }
    }
    let as_value = if matches!(got, QueryValue::Scalar { .. }) {
        QueryValue::Scalar {
            t: time,
            v: vec.first().map_or(f64::NAN, |s| s.v),
        }
    } else {
        QueryValue::Vector(vec)
    };
    compare(&c.expect, &as_value, false)
        .map_err(|e| format!("range mode: {e}\n  got:\n{}", render(&as_value)))
}

/// What running a script gave.
#[derive(Debug, Default)]
struct Outcome {
    cases: usize,
    passed: usize,
    failures: Vec<String>,
}

/// Runs every command of one test script; `filter` keeps only cases whose `file:line`
/// contains it.
fn run_script(fname: &str, text: &str, engine: &Engine, filter: Option<&str>, o: &mut Outcome) {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut store = MemStorage::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        if l == "clear" {
            store.clear();
            i += 1;
            continue;
        }
        if let Some(step) = l.strip_prefix("load ") {
            let step = parse_duration(step.trim()).expect("load step");
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let (labels, vals) = parse_series_desc(&lines[i])
                    .unwrap_or_else(|e| panic!("{fname}:{}: {e}", i + 1));
                for (j, v) in vals.iter().enumerate() {
                    if let SeqValue::Value(v) = v {
                        store.append(&labels, j as i64 * step, *v);
                    }
                }
                i += 1;
            }
            continue;
        }
        if l.starts_with("eval") {
            let line_no = i + 1;
            let (cmd, rest) = l.split_once(char::is_whitespace).expect("eval command");
            let mode = match cmd {
                "eval" => Mode::Plain,
                "eval_ordered" => Mode::Ordered,
                "eval_fail" => Mode::Fail,
                other => panic!("{fname}:{line_no}: unknown command {other}"),
            };
            let rest = rest
                .trim_start()
                .strip_prefix("instant")
                .expect("instant")
                .trim_start();
            let rest = rest.strip_prefix("at").expect("at").trim_start();
            let (at, expr) = rest
                .split_once(char::is_whitespace)
                .expect("time and expression");
            let time = parse_duration(at).unwrap_or_else(|e| panic!("{fname}:{line_no}: {e}"));
            let mut expect = Expectation::default();
            i += 1;
            let mut pos = 1;
            while i < lines.len() && !lines[i].is_empty() {
                let el = &lines[i];
                expect.lines.push(el.clone());
                if let Some(v) = parse_number(el) {
                    expect.scalar = Some(v);
                } else {
                    let (labels, vals) =
                        parse_series_desc(el).unwrap_or_else(|e| panic!("{fname}:{}: {e}", i + 1));
                    let v = match vals.first() {
                        Some(SeqValue::Value(v)) => *v,
                        _ => f64::NAN,
                    };
                    expect.series.insert(labels, (pos, v));
                }
                pos += 1;
                i += 1;
            }
            let case = Case {
                file: fname.to_string(),
                line: line_no,
                mode,
                time,
                expr: expr.trim().to_string(),
                expect,
            };
            if filter.is_some_and(|f| !format!("{}:{}", case.file, case.line).contains(f)) {
                continue;
            }
            o.cases += 1;
            match run_case(engine, &store, &case) {
                Ok(()) => o.passed += 1,
                Err(e) => o.failures.push(format!(
                    "{}:{}: {}\n  expected:\n{}  {}",
                    case.file,
                    case.line,
                    case.expr,
                    case.expect
                        .lines
                        .iter()
                        .map(|l| format!("    {l}\n"))
                        .collect::<String>(),
                    e
                )),
            }
            continue;
        }
        panic!("{fname}:{}: unknown line {l:?}", i + 1);
    }
}

/// The engine as test.go sets Prometheus's up: at most 10,000 samples in memory.
fn engine() -> Engine {
    Engine::new(EngineOptions {
        timeout: None,
        max_samples: 10000,
        ..EngineOptions::default()
    })
}

#[test]
fn promql_v2_42_conformance() {
    let dir = conformance_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "reading {}: {e} (the repo is expected next to shared/)",
                dir.display()
            )
        })
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let engine = engine();
    let filter = std::env::var("PROMQLTEST_FILTER").ok();
    let mut o = Outcome::default();
    for path in &files {
        let fname = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("read test file");
        run_script(&fname, &text, &engine, filter.as_deref(), &mut o);
    }
    for f in &o.failures {
        eprintln!("FAIL {f}");
    }
    let denominator = if filter.is_some() {
        o.cases
    } else {
        EXPECTED_CASES
    };
    println!("promqltest: {}/{denominator} passed", o.passed);
    eprintln!(
        "promqltest: {}/{denominator} passed ({} failed)",
        o.passed,
        o.failures.len()
    );
    if filter.is_none() {
        assert_eq!(
            o.cases, EXPECTED_CASES,
            "the v2.42 test data holds {EXPECTED_CASES} eval commands"
        );
    }
    assert!(
        o.failures.is_empty(),
        "{} of {} PromQL conformance cases failed",
        o.failures.len(),
        o.cases
    );
}

#[test]
fn runner_reports_wrong_expectations() {
    let script = "load 1m\n  m{a=\"x\"} 1+1x10\n  m{a=\"y\"} 5\n\n\
        eval instant at 2m m{a=\"x\"}\n  m{a=\"x\"} 3\n\n\
        eval instant at 2m m{a=\"x\"}\n  m{a=\"x\"} 4\n\n\
        eval instant at 2m m\n  m{a=\"x\"} 3\n\n\
        eval_ordered instant at 2m sort_desc(m)\n  m{a=\"x\"} 3\n  m{a=\"y\"} 5\n\n\
        eval_fail instant at 2m m\n\n\
        eval instant at 2m time()\n  120\n\n\
        eval instant at 2m time()\n  121\n";
    let mut o = Outcome::default();
    run_script("self.test", script, &engine(), None, &mut o);
    assert_eq!(o.cases, 7);
    assert_eq!(o.passed, 2, "{:#?}", o.failures);
    let lines: Vec<&str> = o
        .failures
        .iter()
        .map(|f| f.split(':').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(lines, ["8", "11", "14", "18", "23"]);
    assert!(
        o.failures[0].contains("expected 4 for m{a=\"x\"} but got 3"),
        "{}",
        o.failures[0]
    );
    assert!(
        o.failures[1].contains("expected series not found")
            || o.failures[1].contains("unexpected metric")
    );
}

#[test]
fn series_notation_expands_like_prometheus() {
    let (l, v) = parse_series_desc(r#"m{a="b"} 1+2x2 _ _x2 stale -1-1x1"#).unwrap();
    assert_eq!(l.to_string(), r#"m{a="b"}"#);
    let vals: Vec<String> = v
        .iter()
        .map(|x| match x {
            SeqValue::Omitted => "_".to_string(),
            SeqValue::Value(v) if ember_promql::is_stale_nan(*v) => "stale".to_string(),
            SeqValue::Value(v) => v.to_string(),
        })
        .collect();
    assert_eq!(vals, ["1", "3", "5", "_", "_", "_", "stale", "-1", "-2"]);
    assert!(almost_equal(1.0, 1.0000001));
    assert!(!almost_equal(1.0, 1.001));
    assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
}

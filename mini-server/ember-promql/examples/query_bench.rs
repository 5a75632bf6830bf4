//! Times PromQL range queries in-process over ember-tsdb blocks (our side of
//! `bench/compare.sh`).
//!
//! usage: `query_bench BLOCKS_DIR START_S END_S STEP_S RUNS < QUERIES`
//!
//! `QUERIES` has one `name<TAB>query` per line. For each query this prints one line of
//! JSON: `{"name":…,"ms":[…each run…],"data":<the result as Prometheus's API writes it>}`.
//! The blocks are opened once up front (as a server holds them, untimed); each run is a
//! full `Engine::range_query` (selects, chunk reads, decoding and evaluation; no JSON).
//! Run with `--release --features tsdb`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use ember_promql::{Engine, result_json};
use ember_tsdb::{MergeQuerier, Querier, open_blocks};

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, start, end, step, runs] = &args[..] else {
        return Err("usage: query_bench BLOCKS_DIR START_S END_S STEP_S RUNS < QUERIES".into());
    };
    let ms = |s: &str| -> Result<i64, std::num::ParseFloatError> {
        Ok((s.parse::<f64>()? * 1000.0).round() as i64)
    };
    let (start, end, step) = (ms(start)?, ms(end)?, ms(step)?);
    let runs: usize = runs.parse()?;
    let blocks = open_blocks(Path::new(dir))?;
    let merged = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
    let engine = Engine::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some((name, query)) = line.split_once('\t') else {
            continue;
        };
        let mut times = Vec::with_capacity(runs);
        let mut data = String::new();
        for _ in 0..runs.max(1) {
            let t0 = Instant::now();
            let v = engine.range_query(&merged, query, start, end, step)?;
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            if data.is_empty() {
                data = result_json(&v);
            }
        }
        let times: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
        writeln!(
            out,
            "{{\"name\":{},\"ms\":[{}],\"data\":{data}}}",
            json_string(name),
            times.join(",")
        )?;
        out.flush()?;
    }
    Ok(())
}

//! `ember-tsdb`: the analogue of `promtool tsdb` for ember-tsdb block directories.
//!
//! ```text
//! ember-tsdb import openmetrics FILE DIR [--max-block-duration DUR]
//! ember-tsdb analyze DIR [--limit N]
//! ember-tsdb dump DIR [--match SELECTOR] [--min-time MS] [--max-time MS]
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ember_tsdb::{
    Block, ImportOptions, Labels, Matcher, MergeQuerier, Querier, import_openmetrics_from,
    open_blocks, parse_selector,
};

const USAGE: &str = "usage:
  ember-tsdb import openmetrics FILE DIR [--max-block-duration DUR]   (DUR: 2h default, e.g. 24h, 1d, 90m)
  ember-tsdb analyze DIR [--limit N]
  ember-tsdb dump DIR [--match SELECTOR] [--min-time MS] [--max-time MS]";

/// The binary's error: a message for stderr, or an output error.
#[derive(Debug)]
enum CliError {
    Msg(String),
    Io(std::io::Error),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Msg(m) => f.write_str(m),
            CliError::Io(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl From<ember_tsdb::Error> for CliError {
    fn from(e: ember_tsdb::Error) -> Self {
        Self::Msg(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

fn usage(msg: &str) -> CliError {
    CliError::Msg(format!("{msg}\n{USAGE}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let res = run(&args, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not an error.
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ember-tsdb: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `--flag value` / `--flag=value` options from positional arguments.
fn split_args<'a>(
    args: &'a [String],
    known: &[&str],
) -> Result<(Vec<&'a str>, HashMap<String, &'a str>), CliError> {
    let mut pos = Vec::new();
    let mut flags = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(flag) = a.strip_prefix("--") {
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, v),
                None => (
                    flag,
                    it.next()
                        .map(String::as_str)
                        .ok_or_else(|| usage(&format!("--{flag} needs a value")))?,
                ),
            };
            if !known.contains(&name) {
                return Err(usage(&format!("unknown flag --{name}")));
            }
            flags.insert(name.to_string(), value);
        } else {
            pos.push(a.as_str());
        }
    }
    Ok((pos, flags))
}

fn run(args: &[String], out: &mut dyn Write) -> Result<(), CliError> {
    match args.first().map(String::as_str) {
        Some("import") => {
            let (pos, flags) = split_args(&args[1..], &["max-block-duration"])?;
            let [format, file, dir] = pos[..] else {
                return Err(usage("import takes a format, a file and a directory"));
            };
            if format != "openmetrics" {
                return Err(usage(&format!("unknown import format `{format}`")));
            }
            let mut options = ImportOptions::default();
            if let Some(d) = flags.get("max-block-duration") {
                options.block_duration = parse_duration(d)?;
            }
            import(file, Path::new(dir), &options, out)
        }
        Some("analyze") => {
            let (pos, flags) = split_args(&args[1..], &["limit"])?;
            let [dir] = pos[..] else {
                return Err(usage("analyze takes a directory"));
            };
            let limit = match flags.get("limit") {
                Some(n) => n.parse().map_err(|_| usage("--limit takes a number"))?,
                None => 20,
            };
            analyze(Path::new(dir), limit, out)
        }
        Some("dump") => {
            let (pos, flags) = split_args(&args[1..], &["match", "min-time", "max-time"])?;
            let [dir] = pos[..] else {
                return Err(usage("dump takes a directory"));
            };
            let matchers = match flags.get("match") {
                Some(s) => parse_selector(s)?,
                None => Vec::new(),
            };
            let time = |name: &str, default: i64| match flags.get(name) {
                Some(t) => t
                    .parse::<i64>()
                    .map_err(|_| usage(&format!("--{name} takes milliseconds since the epoch"))),
                None => Ok(default),
            };
            let (mint, maxt) = (time("min-time", i64::MIN)?, time("max-time", i64::MAX)?);
            dump(Path::new(dir), &matchers, mint, maxt, out)
        }
        Some("-h" | "--help" | "help") => {
            writeln!(out, "{USAGE}")?;
            Ok(())
        }
        _ => Err(usage("expected a command: import, analyze or dump")),
    }
}

/// Prometheus-style durations: `1d`, `2h`, `90m`, `1h30m`, `45s`, `500ms`.
fn parse_duration(s: &str) -> Result<i64, CliError> {
    let bad = || usage(&format!("invalid duration `{s}`"));
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total <= 0 {
        return Err(bad());
    }
    Ok(total)
}

fn import(
    file: &str,
    dir: &Path,
    options: &ImportOptions,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let start = Instant::now();
    // Streamed: memory holds a few pieces of the file, not the whole of it.
    let input = std::fs::File::open(file).map_err(|e| CliError::Msg(format!("{file}: {e}")))?;
    let report = import_openmetrics_from(input, dir, options)?;
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = report
        .blocks
        .iter()
        .map(|m| Block::open(dir.join(m.id.to_string())).map(|b| b.size_bytes()))
        .sum::<Result<u64, _>>()?;
    writeln!(
        out,
        "imported {} samples of {} series into {} blocks in {:.3} s ({:.0} samples/s); {} bytes on disk, {:.3} bytes per sample; {} duplicate samples dropped",
        report.samples,
        report.series,
        report.blocks.len(),
        secs,
        report.samples as f64 / secs.max(1e-9),
        bytes,
        bytes as f64 / (report.samples.max(1)) as f64,
        report.duplicates
    )?;
    for m in &report.blocks {
        writeln!(
            out,
            "  block {} {}..{} series {} samples {} chunks {}",
            m.id,
            m.min_time,
            m.max_time,
            m.stats.num_series,
            m.stats.num_samples,
            m.stats.num_chunks
        )?;
    }
    Ok(())
}

fn analyze(dir: &Path, limit: usize, out: &mut dyn Write) -> Result<(), CliError> {
    let blocks = open_blocks(dir)?;
    let mut series: HashSet<&Labels> = HashSet::new();
    let (mut samples, mut bytes, mut index_bytes, mut chunks) = (0u64, 0u64, 0u64, 0u64);
    writeln!(out, "blocks:")?;
    for b in &blocks {
        let m = b.meta();
        writeln!(
            out,
            "  {} min_time {} max_time {} level {} series {} samples {} chunks {} bytes {}",
            m.id,
            m.min_time,
            m.max_time,
            m.level,
            m.stats.num_series,
            m.stats.num_samples,
            m.stats.num_chunks,
            b.size_bytes()
        )?;
        samples += m.stats.num_samples;
        chunks += m.stats.num_chunks;
        bytes += b.size_bytes();
        index_bytes += b.index_bytes();
        for i in 0..b.num_series() {
            if let Some((l, _)) = b.series(i) {
                series.insert(l);
            }
        }
    }
    writeln!(out, "blocks: {}", blocks.len())?;
    writeln!(out, "series: {}", series.len())?;
    writeln!(out, "samples: {samples}")?;
    writeln!(out, "chunks: {chunks}")?;
    writeln!(out, "bytes on disk: {bytes} (index {index_bytes})")?;
    writeln!(
        out,
        "bytes per sample: {:.3}",
        bytes as f64 / samples.max(1) as f64
    )?;
    let mut names: HashMap<&str, u64> = HashMap::new();
    let mut metrics: HashMap<&str, u64> = HashMap::new();
    for l in &series {
        for (n, v) in l.pairs() {
            *names.entry(n).or_default() += 1;
            if n == "__name__" {
                *metrics.entry(v).or_default() += 1;
            }
        }
    }
    for (title, table) in [
        ("label names by series count", names),
        ("metric names by series count", metrics),
    ] {
        writeln!(out, "top {title}:")?;
        let mut rows: Vec<(&str, u64)> = table.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (name, n) in rows.into_iter().take(limit) {
            writeln!(out, "  {n} {name}")?;
        }
    }
    Ok(())
}

fn dump(
    dir: &Path,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let blocks = open_blocks(dir)?;
    let sources: Vec<&dyn Querier> = blocks.iter().map(|b| b as &dyn Querier).collect();
    let querier = MergeQuerier::new(sources);
    for s in querier.select(matchers, mint, maxt)? {
        let name = s.labels().get("__name__").unwrap_or("");
        let rest = s.labels().pairs().iter().filter(|(n, _)| n != "__name__");
        let rendered = ember_expfmt::render_labels(rest.map(|(n, v)| (n.as_str(), v.as_str())));
        let prefix = if rendered.is_empty() {
            name.to_string()
        } else {
            format!("{name}{{{rendered}}}")
        };
        for (t, v) in s.iter() {
            writeln!(out, "{prefix} {} {t}", spell(v))?;
        }
    }
    Ok(())
}

/// A value as the text format spells it, except that `-0` keeps its sign (dump shows
/// every stored value exactly; staleness markers and other NaNs print as `NaN`).
fn spell(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        "-0".to_string()
    } else {
        ember_expfmt::float::text(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration("1d").unwrap(), 86_400_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500);
        for bad in ["", "h", "2", "2x", "0s", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

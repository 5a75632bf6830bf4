//! What the fixture tests share: a fixture's extra arguments and a collector's output on
//! it in the text format.
#![allow(dead_code)]

use std::path::Path;

use ember_expfmt::{Encoder, Format};
use node_exporter_rs::Paths;
use node_exporter_rs::collectors::build_one;

/// The fixture's `args` file, one command-line argument per line, with `{fixture}`
/// replaced by the fixture directory; none if there is no such file.
pub(crate) fn fixture_args(dir: &Path) -> Vec<String> {
    match std::fs::read_to_string(dir.join("args")) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.replace("{fixture}", &dir.display().to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Collector `name` run once with every root under `dir` and `args`, rendered in the
/// text format. Panics naming the collector if it cannot be built or fails.
pub(crate) fn render_collector(name: &str, dir: &Path, args: &[String]) -> String {
    let collector = build_one(name, &Paths::fixture(dir), args)
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    let mut families = Vec::new();
    collector
        .update(&mut families)
        .unwrap_or_else(|e| panic!("collector {name} failed on its fixture: {e}"));
    let mut encoder = Encoder::new(Format::Text);
    for family in &families {
        encoder.write_family(family);
    }
    String::from_utf8(encoder.finish()).expect("text format is UTF-8")
}

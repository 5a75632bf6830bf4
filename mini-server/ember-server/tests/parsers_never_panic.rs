//! Property tests: durations print and parse back; the configuration reader, the
//! relabel step reader and the target group reader refuse garbage with an error, never
//! a panic.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;

use ember_server::{Config, Labels, PromDuration, RelabelConfig, process};
use proptest::prelude::*;

proptest! {
    #[test]
    fn durations_round_trip(ms in 0u64..(200 * 365 * 24 * 3_600_000)) {
        let d = PromDuration::from_millis(ms);
        let back: PromDuration = d.to_string().parse().unwrap();
        prop_assert_eq!(back, d);
    }

    #[test]
    fn config_reader_never_panics(text in "[ -~\n]{0,300}") {
        let _ = Config::parse(&text, Path::new("fuzz.yml"));
    }

    #[test]
    fn config_reader_never_panics_on_near_configs(
        key in prop::sample::select(vec!["scrape_interval", "scrape_timeout", "body_size_limit", "sample_limit", "metrics_path", "honor_labels", "relabel_configs", "params"]),
        value in "[ -~]{0,20}",
    ) {
        let text = format!("scrape_configs:\n- job_name: j\n  {key}: {value}\n");
        let _ = Config::parse(&text, Path::new("fuzz.yml"));
    }

    #[test]
    fn relabeling_never_panics(
        regex in "[a-z.*()|$1{}\\\\-]{0,12}",
        replacement in "[a-z$1{}_]{0,10}",
        target in "[a-z$1{}_]{0,8}",
        action in prop::sample::select(vec!["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"]),
        value in "[ -~]{0,16}",
    ) {
        let yaml = format!(
            "source_labels: [a]\nregex: {regex:?}\nreplacement: {replacement:?}\ntarget_label: {target:?}\naction: {action}\nmodulus: 7\n"
        );
        if let Ok(c) = RelabelConfig::from_yaml(&yaml) {
            let _ = process(&Labels::from_pairs([("a", value.as_str()), ("b", "x")]), &[c]);
        }
    }
}

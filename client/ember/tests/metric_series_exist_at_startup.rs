//! Every `#[metric]` function has all its series at zero on the first scrape, before any
//! call and without the program naming it anywhere: the default registry's first use
//! finds the call sites in the executable. Run in release too
//! (`cargo test --release -p ember --test metric_series_exist_at_startup`): the records
//! must survive optimisation and linking.
//!
//! One test only: the first scrape of the process is what is checked.

use ember::expfmt::{Format, MetricType};

const M: &str = "metric_series_exist_at_startup";

/// Reads the configuration.
///
/// Second paragraph: not part of the HELP text.
#[ember::metric]
fn load(path: &str) -> Result<usize, std::io::Error> {
    std::fs::read(path).map(|b| b.len())
}

#[ember::metric(labels(team = "storage", tier = "a \"quoted\" \\ value"))]
fn flush() {}

#[ember::metric(help = "Sends a request.", buckets = [0.001, 0.1])]
async fn send() -> u8 {
    7
}

struct Cache;

#[ember::metric(labels(team = "cache"))]
impl Cache {
    fn get(&self, k: u8) -> Option<u8> {
        Some(k)
    }

    #[metric(labels(op = "put"))]
    fn put(&self) {}
}

#[test]
fn first_scrape_shows_every_site_at_zero() {
    let text = ember::default_registry().encode_to_string(Format::Text);
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        )
    };
    for result in ["ok", "error", "cancelled"] {
        has(&format!(
            "function_calls_total{{function=\"load\",module=\"{M}\",result=\"{result}\"}} 0"
        ));
    }
    has(&format!(
        "function_calls_duration_seconds_bucket{{function=\"load\",module=\"{M}\",le=\"0.005\"}} 0"
    ));
    has(&format!(
        "function_calls_duration_seconds_count{{function=\"load\",module=\"{M}\"}} 0"
    ));
    has(&format!(
        "function_calls_duration_seconds_sum{{function=\"load\",module=\"{M}\"}} 0"
    ));
    has(&format!(
        "function_calls_concurrent{{function=\"load\",module=\"{M}\"}} 0"
    ));
    // Constant labels, escaped as the text format wants.
    has(&format!(
        "function_calls_total{{function=\"flush\",module=\"{M}\",team=\"storage\",tier=\"a \\\"quoted\\\" \\\\ value\",result=\"ok\"}} 0"
    ));
    // Own buckets.
    has(&format!(
        "function_calls_duration_seconds_bucket{{function=\"send\",module=\"{M}\",le=\"0.001\"}} 0"
    ));
    // Labels of the impl block, and of the method added to them.
    has(&format!(
        "function_calls_total{{function=\"Cache::get\",module=\"{M}\",team=\"cache\",result=\"ok\"}} 0"
    ));
    has(&format!(
        "function_calls_concurrent{{function=\"Cache::put\",module=\"{M}\",team=\"cache\",op=\"put\"}} 0"
    ));
    // build_info is set at start-up too.
    assert!(
        text.lines()
            .any(|l| l.starts_with("build_info{version=\"0.1.0\"")),
        "{text}"
    );
    // HELP: the shared families carry autometrics' sentence and the descriptions.
    has(&format!(
        "# HELP function_calls_total Autometrics counter for tracking function calls. \
         Functions: load ({M}): Reads the configuration.; send ({M}): Sends a request."
    ));
    has(&format!(
        "# HELP function_calls_duration_seconds Autometrics histogram for tracking function \
         call duration. Functions: load ({M}): Reads the configuration.; send ({M}): Sends a \
         request."
    ));

    // Both formats parse, `_created` samples included, and hold every site's series.
    ember::default_registry().set_created_samples(true);
    for format in [Format::Text, Format::OpenMetrics] {
        let out = ember::default_registry().encode_to_vec(format);
        let families = ember::expfmt::parse(&out, format)
            .unwrap_or_else(|e| panic!("{format:?}: {e}\n{}", String::from_utf8_lossy(&out)));
        let calls = families
            .iter()
            .find(|f| f.name.starts_with("function_calls") && f.metric_type == MetricType::Counter)
            .unwrap_or_else(|| panic!("{format:?}: no function_calls"));
        // Five sites (load, flush, send, Cache::get, Cache::put) times three results,
        // each with its `_created` in OpenMetrics.
        let totals = calls
            .samples
            .iter()
            .filter(|s| s.name == "function_calls_total" && s.value == 0.0)
            .count();
        let created = calls
            .samples
            .iter()
            .filter(|s| s.name == "function_calls_created")
            .count();
        let want_created = if format == Format::OpenMetrics { 15 } else { 0 };
        assert_eq!((totals, created), (15, want_created), "{format:?}");
        let text = String::from_utf8_lossy(&out);
        if format == Format::OpenMetrics {
            assert!(
                text.contains("# UNIT function_calls_duration_seconds seconds\n"),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "function_calls_created{{function=\"load\",module=\"{M}\",result=\"ok\"}} "
                )),
                "{text}"
            );
        }
    }
    ember::default_registry().set_created_samples(false);

    // The functions are in the program (reachable), just not called before the scrape.
    if std::hint::black_box(text.is_empty()) {
        let _ = load("/nonexistent");
        flush();
        drop(send());
        let _ = Cache.get(1);
        Cache.put();
    }
}

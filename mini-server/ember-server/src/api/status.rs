//! `/targets`, `/targets/metadata`, `/metadata`, `/status/*`, `/rules`, `/alerts`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use super::params::{self, Form, format_rfc3339_ms};
use super::{Answer, ApiError, ApiResult, ServerView, TargetMetadata, json};
use crate::labels::Labels;

/// How many entries each `/status/tsdb` list keeps, as Prometheus.
const TSDB_TOP: usize = 10;

fn labels_json(out: &mut String, l: &Labels) {
    json::string_map(out, l.iter());
}

/// Go's zero `time.Time` as JSON (a target never scraped).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `/api/v1/targets`.
pub(crate) fn targets(view: &dyn ServerView, raw_query: &str) -> ApiResult {
    // Prometheus reads `state` from the URL only.
    let q = Form::parse(raw_query, b"");
    let state = q.value("state").to_ascii_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let mut out = String::from("{\"activeTargets\":[");
    if show_active {
        let mut active = view.active_targets();
        active.sort_by(|a, b| {
            (a.job.as_str(), a.target.labels()).cmp(&(b.job.as_str(), b.target.labels()))
        });
        for (i, t) in active.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"discoveredLabels\":");
            labels_json(&mut out, t.target.discovered_labels());
            out.push_str(",\"labels\":");
            labels_json(&mut out, &t.target.labels());
            out.push_str(",\"scrapePool\":");
            json::string(&mut out, &t.job);
            let url = t.target.url();
            out.push_str(",\"scrapeUrl\":");
            json::string(&mut out, &url);
            out.push_str(",\"globalUrl\":");
            json::string(&mut out, &url);
            let (last_error, last_scrape, duration, health) = match &t.last_report {
                None => (String::new(), ZERO_TIME.to_owned(), 0.0, "unknown"),
                Some(r) => (
                    r.error.clone().unwrap_or_default(),
                    format_rfc3339_ms(r.timestamp_ms),
                    r.duration.as_secs_f64(),
                    if r.error.is_some() { "down" } else { "up" },
                ),
            };
            out.push_str(",\"lastError\":");
            json::string(&mut out, &last_error);
            out.push_str(",\"lastScrape\":");
            json::string(&mut out, &last_scrape);
            out.push_str(",\"lastScrapeDuration\":");
            json::float(&mut out, duration);
            out.push_str(",\"health\":");
            json::string(&mut out, health);
            let full = t.target.full_labels();
            out.push_str(",\"scrapeInterval\":");
            json::string(&mut out, full.get(crate::SCRAPE_INTERVAL_LABEL));
            out.push_str(",\"scrapeTimeout\":");
            json::string(&mut out, full.get(crate::SCRAPE_TIMEOUT_LABEL));
            out.push('}');
        }
    }
    out.push_str("],\"droppedTargets\":[");
    if show_dropped {
        let mut dropped = view.dropped_targets();
        // Prometheus flattens by scrape pool name, keeping each pool's order.
        dropped.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (_, labels)) in dropped.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"discoveredLabels\":");
            labels_json(&mut out, labels);
            out.push('}');
        }
    }
    out.push_str("]}");
    Ok(Answer::data(out))
}

/// The `limit` parameter: -1 when absent.
fn limit(form: &Form) -> Result<i64, ApiError> {
    match form.value("limit") {
        "" => Ok(-1),
        s => s
            .parse()
            .map_err(|_| ApiError::bad_data("limit must be a number")),
    }
}

fn metadata_fields(out: &mut String, m: &TargetMetadata) {
    out.push_str("\"type\":");
    json::string(out, &m.metric_type);
    out.push_str(",\"help\":");
    json::string(out, &m.help);
    out.push_str(",\"unit\":");
    json::string(out, &m.unit);
}

/// `/api/v1/metadata`: per metric name, the distinct (type, help, unit) of the active
/// targets' latest scrapes.
pub(crate) fn metadata(view: &dyn ServerView, form: &Form) -> ApiResult {
    let limit = limit(form)?;
    let metric = form.value("metric");
    let mut by_name: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for m in view.target_metadata() {
        if !metric.is_empty() && m.metric != metric {
            continue;
        }
        by_name
            .entry(m.metric)
            .or_default()
            .insert((m.metric_type, m.help, m.unit));
    }
    let mut out = String::from("{");
    for (i, (name, set)) in by_name.iter().enumerate() {
        if limit >= 0 && i as i64 >= limit {
            break;
        }
        if i > 0 {
            out.push(',');
        }
        json::string(&mut out, name);
        out.push_str(":[");
        for (j, (t, h, u)) in set.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('{');
            metadata_fields(
                &mut out,
                &TargetMetadata {
                    target: Labels::new(),
                    metric: String::new(),
                    metric_type: t.clone(),
                    help: h.clone(),
                    unit: u.clone(),
                },
            );
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Ok(Answer::data(out))
}

/// `/api/v1/targets/metadata`.
pub(crate) fn targets_metadata(view: &dyn ServerView, form: &Form) -> ApiResult {
    let limit = limit(form)?;
    let match_target = form.value("match_target");
    let matchers = if match_target.is_empty() {
        Vec::new()
    } else {
        ember_promql::parse_metric_selector(match_target).map_err(|e| {
            ApiError::invalid_param(
                "match_target",
                params::go_parse_error(match_target, e.to_string()),
            )
        })?
    };
    let metric = form.value("metric");
    // Group by target, in the view's order.
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<TargetMetadata>> = HashMap::new();
    for m in view.target_metadata() {
        if !groups.contains_key(&m.target) {
            order.push(m.target.clone());
        }
        groups.entry(m.target.clone()).or_default().push(m);
    }
    let mut out = String::from("[");
    let mut n: i64 = 0;
    for target in &order {
        if limit >= 0 && n >= limit {
            break;
        }
        if !matchers.iter().all(|m| m.matches(target.get(&m.name))) {
            continue;
        }
        for m in groups.get(target).into_iter().flatten() {
            if !metric.is_empty() && m.metric != metric {
                continue;
            }
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"target\":");
            labels_json(&mut out, &m.target);
            if metric.is_empty() {
                out.push_str(",\"metric\":");
                json::string(&mut out, &m.metric);
            }
            out.push(',');
            metadata_fields(&mut out, m);
            out.push('}');
            n += 1;
        }
    }
    out.push(']');
    Ok(Answer::data(out))
}

/// `/api/v1/status/buildinfo` (no `features` field, as 2.42).
pub(crate) fn build_info() -> String {
    let mut out = String::from("{\"version\":");
    json::string(&mut out, env!("CARGO_PKG_VERSION"));
    out.push_str(",\"revision\":");
    json::string(
        &mut out,
        option_env!("EMBER_GIT_REVISION").unwrap_or("unknown"),
    );
    out.push_str(",\"branch\":");
    json::string(
        &mut out,
        option_env!("EMBER_GIT_BRANCH").unwrap_or("unknown"),
    );
    out.push_str(",\"buildUser\":");
    json::string(
        &mut out,
        option_env!("EMBER_BUILD_USER").unwrap_or("unknown"),
    );
    out.push_str(",\"buildDate\":");
    json::string(
        &mut out,
        option_env!("EMBER_BUILD_DATE").unwrap_or("unknown"),
    );
    out.push_str(",\"goVersion\":");
    json::string(&mut out, &format!("rust{}", env!("CARGO_PKG_RUST_VERSION")));
    out.push('}');
    out
}

/// `/api/v1/status/config`.
pub(crate) fn config(view: &dyn ServerView) -> String {
    let mut out = String::from("{\"yaml\":");
    json::string(&mut out, &view.config_yaml());
    out.push('}');
    out
}

/// `/api/v1/status/flags`: an object, keys sorted as Go marshals a map.
pub(crate) fn flags(view: &dyn ServerView) -> String {
    let flags: BTreeMap<String, String> = view.flags().into_iter().collect();
    let mut out = String::new();
    json::string_map(
        &mut out,
        flags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    out
}

/// `/api/v1/status/runtimeinfo`.
pub(crate) fn runtime_info(view: &dyn ServerView) -> String {
    let r = view.runtime_info();
    let procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = String::from("{\"startTime\":");
    json::string(&mut out, &format_rfc3339_ms(r.start_time_ms));
    out.push_str(",\"CWD\":");
    json::string(&mut out, &r.cwd);
    let _ = write!(out, ",\"reloadConfigSuccess\":{}", r.reload_config_success);
    out.push_str(",\"lastConfigTime\":");
    json::string(&mut out, &format_rfc3339_ms(r.last_config_time_ms));
    let _ = write!(
        out,
        ",\"corruptionCount\":0,\"goroutineCount\":{},\"GOMAXPROCS\":{procs},\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":",
        r.threads
    );
    json::string(&mut out, &r.storage_retention);
    out.push('}');
    out
}

/// `/api/v1/status/tsdb`: cardinality of the head, as Prometheus's head statistics.
pub(crate) fn tsdb(db: &ember_tsdb::Db) -> String {
    let head = db.head();
    let mut series_by_pair: HashMap<(&str, &str), u64> = HashMap::new();
    for id in head.series_ids() {
        for (n, v) in head.label_pairs(id).into_iter().flatten() {
            *series_by_pair.entry((n, v)).or_default() += 1;
        }
    }
    let mut values_by_name: HashMap<&str, u64> = HashMap::new();
    let mut bytes_by_name: HashMap<&str, u64> = HashMap::new();
    let mut by_metric: Vec<(String, u64)> = Vec::new();
    let mut by_pair: Vec<(String, u64)> = Vec::with_capacity(series_by_pair.len());
    for (&(n, v), &count) in &series_by_pair {
        *values_by_name.entry(n).or_default() += 1;
        *bytes_by_name.entry(n).or_default() += v.len() as u64;
        if n == "__name__" {
            by_metric.push((v.to_owned(), count));
        }
        by_pair.push((format!("{n}={v}"), count));
    }
    let top = |mut v: Vec<(String, u64)>| {
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(TSDB_TOP);
        v
    };
    let owned = |m: HashMap<&str, u64>| m.into_iter().map(|(k, c)| (k.to_owned(), c)).collect();
    // An empty head reports its lower bound (the newest block's end) as both, as
    // Prometheus's head does after opening blocks; a fresh empty one MaxInt64/MinInt64.
    let (min_t, max_t) = head.time_range().unwrap_or(match head.min_valid_time() {
        i64::MIN => (i64::MAX, i64::MIN),
        t => (t, t),
    });
    let mut out = format!(
        "{{\"headStats\":{{\"numSeries\":{},\"numLabelPairs\":{},\"chunkCount\":{},\"minTime\":{min_t},\"maxTime\":{max_t}}}",
        head.num_series(),
        series_by_pair.len(),
        head.num_chunks()
    );
    let lists = [
        ("seriesCountByMetricName", top(by_metric)),
        ("labelValueCountByLabelName", top(owned(values_by_name))),
        ("memoryInBytesByLabelName", top(owned(bytes_by_name))),
        ("seriesCountByLabelValuePair", top(by_pair)),
    ];
    for (key, list) in lists {
        let _ = write!(out, ",\"{key}\":[");
        for (i, (name, count)) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json::string(&mut out, name);
            let _ = write!(out, ",\"value\":{count}}}");
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `/api/v1/rules`: no rule groups yet; `type` checked as Prometheus does.
pub(crate) fn rules(raw_query: &str) -> ApiResult {
    let q = Form::parse(raw_query, b"");
    let typ = q.value("type").to_ascii_lowercase();
    if !matches!(typ.as_str(), "" | "alert" | "record") {
        return Err(ApiError::invalid_param(
            "type",
            format!("not supported value {}", params::go_quote(&typ)),
        ));
    }
    Ok(Answer::data("{\"groups\":[]}".to_owned()))
}

//! The scrape loop for one target, as Prometheus 2.42's `scrapeLoop`: parse by
//! Content-Type, target labels and `honor_labels`, metric relabeling, sample and label
//! limits, staleness markers, and the synthetic report series.
//!
//! The body is read with ember-expfmt's streaming parsers, so a malformed line fails the
//! scrape after counting the samples before it, as Prometheus's parsers do.
//!
//! A scrape is all or nothing: samples go to the [`Appender`] only when the whole body
//! parsed and passed the limits; otherwise only staleness markers for the previous
//! scrape's series and the report series (`up` 0) are written, as Prometheus does after
//! rolling back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ember_expfmt::{Entry, Format, MetricType, OpenMetricsParser, TextParser};
use ember_tsdb::Metadata;
use parking_lot::Mutex;

use crate::appender::{AppendError, Appender, stale_nan};
use crate::config::ScrapeConfig;
use crate::labels::{Labels, is_valid_label_name, is_valid_metric_name};
use crate::relabel::{RelabelConfig, process};
use crate::scrape_cache::{DROPPED, FastState, Handles, Lookup, Order, labels_from_key, name_of};
use crate::scraper::Client;
use crate::storage::release_large;
use crate::target::Target;

/// Prefix given to scraped labels that clash with target labels (without `honor_labels`).
pub const EXPORTED_LABEL_PREFIX: &str = "exported_";

/// The synthetic series written after every scrape, in Prometheus's order.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// What one scrape did, as the targets API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeReport {
    /// When the scrape started, ms since the epoch (the samples' default timestamp).
    pub timestamp_ms: i64,
    /// How long it took.
    pub duration: Duration,
    /// Samples in the body.
    pub scraped: u64,
    /// Samples left after metric relabeling.
    pub post_relabel: u64,
    /// Series not seen in the previous scrape.
    pub series_added: u64,
    /// Why the scrape failed; `None` means `up` is 1.
    pub error: Option<String>,
}

/// Per-target limits from the scrape config.
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    sample: u64,
    label: u64,
    label_name_length: u64,
    label_value_length: u64,
    body_size: u64,
}

/// Scrapes one target into an [`Appender`].
#[derive(Debug)]
pub struct ScrapeLoop<A: Appender> {
    target: Target,
    target_labels: Labels,
    honor_labels: bool,
    honor_timestamps: bool,
    metric_relabel: Vec<RelabelConfig>,
    limits: Limits,
    http: crate::config::HttpClientConfig,
    appender: A,
    /// The HTTP client and its body buffer.
    client: Client,
    /// The raw texts of the last successful parse in order, with their handles.
    order: Order,
    /// Hash state for [`Lookup`].
    hasher: FastState,
    /// Counts parses; handles remember the last one that saw them.
    iteration: u32,
    /// Reused to build the raw texts that are not a slice of the body.
    key: Vec<u8>,
    /// The loop's series, by handle.
    handles: Handles,
    /// Handles no raw text refers to any more, freed after the next write (which may
    /// still mark them stale).
    orphans: Vec<u32>,
    /// Counts writes; handles remember the last one that appended them.
    generation: u32,
    /// The format of the last successful parse.
    last_format: Option<Format>,
    /// Samples in the last successful parse.
    success_len: usize,
    /// Handles written by the last scrape (for staleness markers).
    previous: Vec<u32>,
    /// The handles being written by this scrape (kept to reuse its buffer).
    current: Vec<u32>,
    /// This scrape's samples (kept to reuse its buffer).
    samples: Vec<(u32, i64, f64)>,
    last_report: Arc<Mutex<Option<ScrapeReport>>>,
    /// Metric families (TYPE, HELP, UNIT) of the last successful scrape, by family name.
    metadata: Arc<Mutex<Arc<BTreeMap<String, Metadata>>>>,
    /// Set by the manager (e.g. `target_limit exceeded`): scrapes fail with it unfetched.
    forced_error: Arc<Mutex<Option<String>>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Prometheus's `mutateSampleLabels`: target labels added, clashes renamed `exported_*`
/// (or the scraped value kept with `honor_labels`), then metric relabeling.
fn mutate(scraped: Labels, target: &Labels, honor: bool, rc: &[RelabelConfig]) -> Option<Labels> {
    let mut lb = scraped.clone();
    if honor {
        for (n, v) in target.iter() {
            if !scraped.contains(n) {
                lb.set(n, v);
            }
        }
    } else {
        let mut conflicts: Vec<(String, String)> = Vec::new();
        for (n, v) in target.iter() {
            let existing = scraped.get(n);
            if !existing.is_empty() {
                conflicts.push((n.to_owned(), existing.to_owned()));
            }
            lb.set(n, v);
        }
        // Shorter names first, each given as many prefixes as needed to be free.
        conflicts.sort_by_key(|(n, _)| n.len());
        for i in 0..conflicts.len() {
            let mut name = conflicts[i].0.clone();
            loop {
                name = format!("{EXPORTED_LABEL_PREFIX}{name}");
                let taken = scraped.contains(&name)
                    || target.contains(&name)
                    || conflicts[..i].iter().any(|(n, _)| *n == name);
                if !taken {
                    break;
                }
            }
            conflicts[i].0 = name;
        }
        for (n, v) in conflicts {
            lb.set(n, v);
        }
    }
    let res = process(&lb, rc)?;
    (!res.is_empty()).then_some(res)
}

/// A series must have a valid metric name and label names, and fit the label limits.
fn validate_series(l: &Labels, limits: &Limits) -> Result<(), String> {
    let name = l.get("__name__");
    if name.is_empty() {
        return Err("__name__ label is missing".to_owned());
    }
    if !is_valid_metric_name(name) || !l.iter().all(|(n, _)| is_valid_label_name(n)) {
        return Err(format!("invalid metric name or label names: {l}"));
    }
    verify_label_limits(l, limits)
}

/// Prometheus's `verifyLabelLimits`, same messages.
fn verify_label_limits(l: &Labels, limits: &Limits) -> Result<(), String> {
    let met: String = l.get("__name__").chars().take(50).collect();
    if limits.label > 0 && l.len() as u64 > limits.label {
        return Err(format!(
            "label_limit exceeded (metric: {met}, number of labels: {}, limit: {})",
            l.len(),
            limits.label
        ));
    }
    for (n, v) in l.iter() {
        let short: String = n.chars().take(50).collect();
        if limits.label_name_length > 0 && n.len() as u64 > limits.label_name_length {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {met}, label name: {short}, length: {}, limit: {})",
                n.len(),
                limits.label_name_length
            ));
        }
        let chars = v.chars().count() as u64;
        if limits.label_value_length > 0 && chars > limits.label_value_length {
            let value: String = v.chars().take(50).collect();
            return Err(format!(
                "label_value_length_limit exceeded (metric: {met}, label name: {short}, value: {value:?}, length: {chars}, limit: {})",
                limits.label_value_length
            ));
        }
    }
    Ok(())
}

/// The outcome of turning a body into samples (the samples are in the loop's buffer).
struct Parsed {
    /// Indexes into the new order of series new to the loop (their metadata is written).
    new_series: Vec<usize>,
    /// TYPE, HELP and UNIT lines of the body, by family name.
    families: HashMap<String, Metadata>,
    scraped: u64,
    post_relabel: u64,
    series_added: u64,
}

impl<A: Appender> ScrapeLoop<A> {
    /// A loop for `target` (from [`crate::populate_labels`]) of the job `cfg`.
    pub fn new(target: Target, cfg: &ScrapeConfig, appender: A) -> Self {
        let target_labels = target.labels();
        Self {
            target,
            target_labels,
            honor_labels: cfg.honor_labels,
            honor_timestamps: cfg.honor_timestamps,
            metric_relabel: cfg.metric_relabel_configs.clone(),
            limits: Limits {
                sample: cfg.sample_limit,
                label: cfg.label_limit,
                label_name_length: cfg.label_name_length_limit,
                label_value_length: cfg.label_value_length_limit,
                body_size: cfg.body_size_limit,
            },
            http: cfg.http.clone(),
            appender,
            client: Client::default(),
            order: Order::default(),
            hasher: FastState::default(),
            iteration: 0,
            key: Vec::new(),
            handles: Handles::default(),
            orphans: Vec::new(),
            last_format: None,
            success_len: 0,
            generation: 0,
            previous: Vec::new(),
            current: Vec::new(),
            samples: Vec::new(),
            last_report: Arc::default(),
            metadata: Arc::default(),
            forced_error: Arc::default(),
        }
    }

    /// The target scraped.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The outcome of the latest scrape, if any.
    pub fn last_report(&self) -> Option<ScrapeReport> {
        self.last_report.lock().clone()
    }

    /// A handle through which another thread makes every scrape fail with a given error
    /// without contacting the target (Prometheus's forced error, for `target_limit`).
    pub fn forced_error_handle(&self) -> Arc<Mutex<Option<String>>> {
        self.forced_error.clone()
    }

    /// A handle that sees each new report, for readers on other threads (the targets API)
    /// while [`ScrapeLoop::run`] owns the loop.
    pub fn report_handle(&self) -> Arc<Mutex<Option<ScrapeReport>>> {
        self.last_report.clone()
    }

    /// A handle that sees the metric families (TYPE, HELP, UNIT) of the latest successful
    /// scrape, by family name, for the target metadata API.
    pub fn metadata_handle(&self) -> Arc<Mutex<Arc<BTreeMap<String, Metadata>>>> {
        self.metadata.clone()
    }

    /// The appender, e.g. to read an in-memory store.
    pub fn appender(&self) -> &A {
        &self.appender
    }

    /// Scrapes once now and writes the samples, staleness markers and report series.
    pub fn scrape_once(&mut self) -> ScrapeReport {
        self.scrape_at(now_ms())
    }

    /// [`ScrapeLoop::scrape_once`] with samples stamped `ts` (ms since the epoch).
    fn scrape_at(&mut self, ts: i64) -> ScrapeReport {
        let start = Instant::now();
        let forced = self.forced_error.lock().clone();
        let fetched = match forced {
            Some(e) => Err(e),
            None => self
                .client
                .fetch(
                    &self.target.url(),
                    self.target.timeout().as_std(),
                    &self.http,
                    self.limits.body_size,
                )
                .map_err(|e| e.to_string()),
        };
        let (parsed, mut error) = match fetched {
            Ok(content_type) => {
                let body = std::mem::take(&mut self.client.body);
                let parsed = self.parse(&body, &content_type, ts);
                self.client.body = body;
                self.client.release();
                match parsed {
                    Ok(p) => (Some(p), None),
                    Err(failed) => (Some(failed.0), Some(failed.1)),
                }
            }
            Err(e) => (None, Some(e)),
        };
        // A failed fetch may have read part of a body.
        self.client.release();
        let (scraped, post_relabel, series_added) = parsed
            .as_ref()
            .map_or((0, 0, 0), |p| (p.scraped, p.post_relabel, p.series_added));
        let metadata = match (&error, parsed) {
            (None, Some(p)) => self.metadata_updates(&p),
            _ => {
                self.samples.clear();
                Vec::new()
            }
        };
        if let Err(e) = self.write(metadata, ts) {
            error.get_or_insert(e);
        }
        if let Some(e) = &error {
            tracing::debug!(target_url = %self.target.url(), error = %e, "scrape failed");
        }
        let report = ScrapeReport {
            timestamp_ms: ts,
            duration: start.elapsed(),
            scraped,
            post_relabel,
            series_added,
            error,
        };
        let values = [
            if report.error.is_none() { 1.0 } else { 0.0 },
            report.duration.as_secs_f64(),
            scraped as f64,
            post_relabel as f64,
            series_added as f64,
        ];
        for (name, v) in REPORT_SERIES.iter().zip(values) {
            let _ = self.appender.append(&self.report_labels(name), ts, v);
        }
        let _ = self.appender.commit();
        let lost = self.appender.take_lost();
        if !lost.is_empty() {
            self.rebind(&lost);
        }
        self.samples.clear();
        release_large(&mut self.samples);
        *self.last_report.lock() = Some(report.clone());
        report
    }

    /// Binds handles the store lost to their labels again, derived from their raw texts,
    /// and appends this scrape's samples of them once more.
    fn rebind(&mut self, lost: &[u32]) {
        let lost: HashSet<u32> = lost.iter().copied().collect();
        let mut bound = HashSet::new();
        let mut derived = Vec::new();
        self.order.for_each(|_, key, h| {
            if !lost.contains(&h) || bound.contains(&h) {
                return;
            }
            let labels = labels_from_key(key).and_then(|raw| {
                mutate(
                    raw,
                    &self.target_labels,
                    self.honor_labels,
                    &self.metric_relabel,
                )
            });
            if let Some(l) = labels {
                derived.push((h, l));
                bound.insert(h);
            }
        });
        for (h, l) in derived {
            self.appender.bind(h, &l);
        }
        if bound.is_empty() {
            return;
        }
        tracing::debug!(target_url = %self.target.url(), series = bound.len(), "series bound again");
        for &(h, t, v) in &self.samples {
            if bound.contains(&h) {
                let _ = self.appender.append_handle(h, t, v);
            }
        }
        let _ = self.appender.commit();
    }

    fn report_labels(&self, name: &str) -> Labels {
        let mut l = self.target_labels.clone();
        l.set("__name__", name);
        l
    }

    /// The metadata to hand to storage after a successful parse: for series new to the
    /// cache, and for every series of a family whose TYPE, HELP or UNIT changed. Publishes
    /// the families for the target metadata API when they changed.
    fn metadata_updates(&self, p: &Parsed) -> Vec<(u32, Metadata)> {
        let previous = self.metadata.lock().clone();
        let changed: HashSet<&str> = p
            .families
            .iter()
            .filter(|(name, m)| previous.get(*name) != Some(*m))
            .map(|(name, _)| name.as_str())
            .collect();
        if !changed.is_empty() || previous.len() != p.families.len() {
            let families: BTreeMap<String, Metadata> = p
                .families
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            *self.metadata.lock() = Arc::new(families);
        }
        if p.families.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if changed.is_empty() && p.new_series.is_empty() {
            // The steady state: nothing new to tell the store.
            return out;
        }
        // Positions of the new series, ascending (pushed in order).
        let mut new = p.new_series.iter().peekable();
        self.order.for_each(|i, key, h| {
            let is_new = new.next_if(|&&n| n == i).is_some();
            if h == DROPPED {
                return;
            }
            if changed.is_empty() && !is_new {
                return;
            }
            let wanted = |f: &str| {
                if changed.is_empty() {
                    is_new
                } else {
                    changed.contains(f) || !self.in_previous(h)
                }
            };
            if let Some((f, m)) = family_of(&p.families, name_of(key)) {
                if wanted(f) {
                    out.push((h, m.clone()));
                }
            }
        });
        out
    }

    /// Whether the last write appended series `h`.
    fn in_previous(&self, h: u32) -> bool {
        self.generation > 0
            && self
                .handles
                .get(h)
                .is_some_and(|s| s.written == self.generation)
    }

    /// Appends this scrape's samples (the loop's buffer), their `metadata`, and staleness
    /// markers for series of the previous scrape that are not among them.
    fn write(&mut self, metadata: Vec<(u32, Metadata)>, ts: i64) -> Result<(), String> {
        self.generation = self.generation.wrapping_add(1).max(1);
        let generation = self.generation;
        let mut failure = None;
        self.current.clear();
        for &(h, t, v) in &self.samples {
            let Some(slot) = self.handles.get_mut(h) else {
                continue;
            };
            // A series repeated at the same timestamp within one scrape keeps its first
            // value: Prometheus's TSDB refuses the others.
            let again = slot.written == generation;
            if again && slot.t == t {
                continue;
            }
            match self.appender.append_handle(h, t, v) {
                Ok(()) | Err(AppendError::OutOfOrder | AppendError::Duplicate) => {}
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
            slot.t = t;
            if !again {
                slot.written = generation;
                self.current.push(h);
            }
        }
        for &h in &self.previous {
            if self.handles.get(h).is_some_and(|s| s.written != generation) {
                let _ = self.appender.append_handle(h, ts, stale_nan());
            }
        }
        if failure.is_none() {
            for (h, m) in &metadata {
                self.appender.update_metadata_handle(*h, m);
            }
        }
        std::mem::swap(&mut self.previous, &mut self.current);
        self.current.clear();
        release_large(&mut self.current);
        // Handles no raw text uses any more have had their staleness markers: free.
        for h in std::mem::take(&mut self.orphans) {
            if self.handles.get(h).is_some_and(|s| s.written != generation) {
                self.handles.free(h);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Parses the body by Content-Type and applies labels and limits. On failure the
    /// counts so far are returned with the reason, and the loop's order is unchanged.
    #[allow(clippy::type_complexity)]
    fn parse(
        &mut self,
        body: &[u8],
        content_type: &str,
        ts: i64,
    ) -> Result<Parsed, Box<(Parsed, String)>> {
        let format = Format::from_content_type(content_type);
        let mut parser = match format {
            Format::OpenMetrics => Parser::OpenMetrics(Box::new(OpenMetricsParser::new(body))),
            Format::Text => Parser::Text(TextParser::new(body)),
        };
        // The predicted series' text may spare the parser its label lexing when the
        // last successful parse read it with the same parser (so it is valid there).
        let hinted = self.last_format == Some(format);
        self.samples.clear();
        // Sized as the last scrape (the buffer is released between scrapes).
        self.samples.reserve(self.order.len());
        let mut p = Parsed {
            new_series: Vec::new(),
            families: HashMap::new(),
            scraped: 0,
            post_relabel: 0,
            series_added: 0,
        };
        self.iteration = self.iteration.wrapping_add(1).max(1);
        let iteration = self.iteration;
        let mut keybuf = std::mem::take(&mut self.key);
        // Position in the order of the predicted next sample; `next` once the body left
        // that order (from then on it holds the order read).
        let mut cursor = 0usize;
        // The whole text of the order's entry `cursor - 1` (the base of the next entry's
        // front-coded text).
        let mut context: Vec<u8> = Vec::new();
        let mut hint_text: Vec<u8> = Vec::new();
        let mut next: Option<Order> = None;
        // The order by text, built at the first sample that leaves it.
        let mut lookup: Option<Lookup> = None;
        let mut error = None;
        loop {
            let hint = (hinted && cursor < self.order.len()).then(|| {
                self.order.text_into(cursor, &context, &mut hint_text);
                &hint_text[..]
            });
            let Some(entry) = parser.next(hint) else {
                break;
            };
            let s = match entry {
                Ok(Entry::Sample(s)) => s,
                Ok(Entry::Help { name, help }) => {
                    family(&mut p.families, name).help = help.into_owned();
                    continue;
                }
                Ok(Entry::Type { name, metric_type }) => {
                    family(&mut p.families, name).metric_type = tsdb_type(metric_type);
                    continue;
                }
                Ok(Entry::Unit { name, unit }) => {
                    family(&mut p.families, name).unit = unit.to_owned();
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            p.scraped += 1;
            let t = match s.timestamp_ms {
                Some(t) if self.honor_timestamps => t,
                _ => ts,
            };
            let key = match raw_key(body, s.name, s.labels.as_str()) {
                Some(k) => k,
                None => {
                    keybuf.clear();
                    keybuf.extend_from_slice(s.name.as_bytes());
                    keybuf.push(b'{');
                    keybuf.extend_from_slice(s.labels.as_str().as_bytes());
                    &keybuf
                }
            };
            let predicted = (cursor < self.order.len() && self.order.is(cursor, &context, key))
                .then(|| self.order.handle(cursor));
            let known = match predicted {
                Some(h) => {
                    cursor += 1;
                    context.clear();
                    context.extend_from_slice(key);
                    Some(h)
                }
                None => {
                    if next.is_none() {
                        next = Some(self.order.prefix(cursor, self.order.len()));
                    }
                    let (order, hasher) = (&self.order, &self.hasher);
                    let found = lookup
                        .get_or_insert_with(|| Lookup::new(order, hasher))
                        .find(hasher, key);
                    found.map(|i| {
                        cursor = i + 1;
                        context.clear();
                        context.extend_from_slice(key);
                        self.order.handle(i)
                    })
                }
            };
            let handle = match known {
                Some(h) => h,
                None => {
                    let raw = Labels::from_pairs(
                        s.labels
                            .to_vec()
                            .into_iter()
                            .chain([("__name__".to_owned(), s.name.to_owned())]),
                    );
                    let m = mutate(
                        raw,
                        &self.target_labels,
                        self.honor_labels,
                        &self.metric_relabel,
                    );
                    // Checked once, when the series enters the loop, as Prometheus does; a
                    // series that fails is not kept, so it fails every scrape.
                    if let Some(l) = &m {
                        if let Err(e) = validate_series(l, &self.limits) {
                            error = Some(e);
                            break;
                        }
                    }
                    match m {
                        Some(l) => {
                            let h = self.handles.create();
                            self.appender.bind(h, &l);
                            h
                        }
                        None => DROPPED,
                    }
                }
            };
            if let Some(n) = next.as_mut() {
                if known.is_none() && handle != DROPPED {
                    p.new_series.push(n.len());
                }
                if n.push(key, handle).is_err() {
                    error = Some("series text of one scrape over 4 GiB".to_owned());
                    break;
                }
            }
            if handle == DROPPED {
                continue;
            }
            if let Some(slot) = self.handles.get_mut(handle) {
                slot.seen = iteration;
            }
            p.post_relabel += 1;
            if known.is_none() {
                p.series_added += 1;
            }
            self.samples.push((handle, t, s.value));
        }
        self.key = keybuf;
        if error.is_none() && self.limits.sample > 0 && p.post_relabel > self.limits.sample {
            error = Some("sample limit exceeded".to_owned());
        }
        if let Some(e) = error {
            // The samples are rolled back, but the series read are kept with the ones of
            // the last order (as Prometheus's scrape cache keeps its entries after a failed
            // scrape), so they are not new again next time.
            if let Some(mut read) = next {
                // Unless that doubles the cache (plus 1,000) since the last successful
                // scrape: then only the series of this scrape are kept, as Prometheus
                // forces a flush.
                let flush = read.len() + self.order.len() > 2 * self.success_len + 1000;
                let seen = Lookup::new(&read, &self.hasher);
                let mut orphans = Vec::new();
                self.order.for_each(|_, key, h| {
                    if seen.find(&self.hasher, key).is_some() {
                        return;
                    }
                    if (flush || read.push(key, h).is_err()) && h != DROPPED {
                        orphans.push(h);
                    }
                });
                self.orphans.extend(orphans);
                read.shrink();
                self.order = read;
            }
            return Err(Box::new((p, e)));
        }
        self.last_format = Some(format);
        self.success_len = p.scraped as usize;
        if next.is_none() && cursor == self.order.len() {
            // The same series in the same order: nothing to forget.
            return Ok(p);
        }
        // A prefix of the last order (the rest is gone), or the order read.
        let mut next = next.unwrap_or_else(|| self.order.prefix(cursor, cursor));
        next.shrink();
        // Series the target no longer exposes are forgotten (after their staleness
        // markers), so the loop holds what the last scrape held.
        for h in self.order.handles() {
            if let Some(slot) = self.handles.get_mut(h) {
                if slot.seen != iteration {
                    // Marked so that a handle listed twice is freed once.
                    slot.seen = iteration;
                    self.orphans.push(h);
                }
            }
        }
        self.order = next;
        Ok(p)
    }

    /// Scrapes every `interval` after an offset derived from the target's labels (spreading
    /// targets over the interval) until `stop` receives or hangs up; then writes staleness
    /// markers for every series of the last scrape and the report series.
    pub fn run(mut self, stop: Receiver<()>) -> Self {
        let interval = self
            .target
            .interval()
            .as_std()
            .max(Duration::from_millis(1));
        let offset = Duration::from_millis(offset_ms(&self.target_labels, interval));
        if wait(&stop, offset) {
            let mut next = Instant::now();
            let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            let mut aligned = now_ms();
            loop {
                let ts = align_timestamp(now_ms(), &mut aligned, interval_ms);
                self.scrape_at(ts);
                next += interval;
                let now = Instant::now();
                while next <= now {
                    next += interval;
                }
                if !wait(&stop, next - now) {
                    break;
                }
            }
        }
        self.stop();
        self
    }

    /// Marks every series of the last scrape and the report series stale, as Prometheus
    /// does when a target goes away.
    pub fn stop(&mut self) {
        let ts = now_ms();
        for h in std::mem::take(&mut self.previous) {
            let _ = self.appender.append_handle(h, ts, stale_nan());
        }
        if self.last_report.lock().is_some() {
            for n in REPORT_SERIES {
                let _ = self
                    .appender
                    .append(&self.report_labels(n), ts, stale_nan());
            }
        }
        let _ = self.appender.commit();
    }
}

/// The body's parser, by Content-Type.
enum Parser<'b> {
    Text(TextParser<'b>),
    OpenMetrics(Box<OpenMetricsParser<'b>>),
}

impl<'b> Parser<'b> {
    /// The next entry; `hint`, the series the next sample is predicted to be, spares the
    /// text parser the lexing of its labels when right.
    fn next(&mut self, hint: Option<&[u8]>) -> Option<Result<Entry<'b>, ember_expfmt::Error>> {
        match (self, hint) {
            (Parser::Text(p), Some(h)) => p.next_expecting(h),
            (Parser::Text(p), None) => p.next(),
            (Parser::OpenMetrics(p), _) => p.next(),
        }
    }
}

/// The cache key of a sample, `name{labels` (or `name` without labels), as a slice of
/// the body when the parser's name and labels are both in it, written contiguously as
/// they almost always are (saving a copy per sample); `None` otherwise. A slice starting
/// where `name` starts is `name`'s own bytes, so the key names the series exactly as the
/// built one does.
fn raw_key<'b>(body: &'b [u8], name: &str, labels: &str) -> Option<&'b [u8]> {
    let base = body.as_ptr() as usize;
    let start = (name.as_ptr() as usize).checked_sub(base)?;
    let name_end = start.checked_add(name.len())?;
    if labels.is_empty() {
        return body.get(start..name_end);
    }
    let labels_start = (labels.as_ptr() as usize).checked_sub(base)?;
    if labels_start != name_end + 1 || body.get(name_end) != Some(&b'{') {
        return None;
    }
    body.get(start..labels_start.checked_add(labels.len())?)
}

/// The entry of family `name`, created empty.
fn family<'m>(families: &'m mut HashMap<String, Metadata>, name: &str) -> &'m mut Metadata {
    families.entry(name.to_owned()).or_default()
}

/// The family a sample named `name` belongs to: its own name, or the name without a
/// suffix Prometheus's formats add (`_total`, `_bucket`, ...).
fn family_of<'f>(
    families: &'f HashMap<String, Metadata>,
    name: &str,
) -> Option<(&'f str, &'f Metadata)> {
    if let Some((k, m)) = families.get_key_value(name) {
        return Some((k.as_str(), m));
    }
    const SUFFIXES: [&str; 8] = [
        "_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum",
    ];
    SUFFIXES.iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        families.get_key_value(base).map(|(k, m)| (k.as_str(), m))
    })
}

/// The storage's name for a parsed TYPE.
fn tsdb_type(t: MetricType) -> ember_tsdb::MetricType {
    match t {
        MetricType::Counter => ember_tsdb::MetricType::Counter,
        MetricType::Gauge => ember_tsdb::MetricType::Gauge,
        MetricType::Histogram => ember_tsdb::MetricType::Histogram,
        MetricType::GaugeHistogram => ember_tsdb::MetricType::GaugeHistogram,
        MetricType::Summary => ember_tsdb::MetricType::Summary,
        MetricType::Info => ember_tsdb::MetricType::Info,
        MetricType::StateSet => ember_tsdb::MetricType::StateSet,
        MetricType::Unknown => ember_tsdb::MetricType::Unknown,
    }
}

/// Prometheus's `--scrape.timestamp-tolerance` (hidden flag, default 2 ms).
const TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// Prometheus's scrape timestamp alignment (`--scrape.adjust-timestamps`, on by default
/// since 2.31): a scrape that starts within [`TIMESTAMP_TOLERANCE_MS`] of its slot on the
/// schedule (`aligned`, advanced by whole intervals) is stamped with the slot's time, so
/// timer jitter does not cost the delta-of-delta timestamp coding bits. Intervals of
/// 200 ms or less are never aligned.
fn align_timestamp(now: i64, aligned: &mut i64, interval_ms: i64) -> i64 {
    if interval_ms <= 100 * TIMESTAMP_TOLERANCE_MS {
        return now;
    }
    while now - *aligned >= interval_ms {
        *aligned += interval_ms;
    }
    if now - *aligned <= TIMESTAMP_TOLERANCE_MS {
        *aligned
    } else {
        now
    }
}

/// `true` when the full `d` passed without a stop signal.
fn wait(stop: &Receiver<()>, d: Duration) -> bool {
    matches!(stop.recv_timeout(d), Err(RecvTimeoutError::Timeout))
}

/// A stable offset in `[0, interval)` from the target's labels (FNV-1a).
fn offset_ms(labels: &Labels, interval: Duration) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in labels.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let ms = interval.as_millis().max(1) as u64;
    h % ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied())
    }

    #[test]
    fn conflicting_labels_are_exported() {
        let target = l(&[("job", "j"), ("instance", "i:1")]);
        let scraped = l(&[("__name__", "m"), ("job", "theirs"), ("exported_job", "x")]);
        let m = mutate(scraped.clone(), &target, false, &[]).unwrap();
        assert_eq!(
            m.to_string(),
            r#"{__name__="m", exported_exported_job="theirs", exported_job="x", instance="i:1", job="j"}"#
        );
        let m = mutate(scraped, &target, true, &[]).unwrap();
        assert_eq!(
            m.to_string(),
            r#"{__name__="m", exported_job="x", instance="i:1", job="theirs"}"#
        );
    }

    #[test]
    fn label_limits_read_as_prometheus() {
        let lim = Limits {
            label: 2,
            ..Limits::default()
        };
        let s = l(&[("__name__", "m"), ("a", "1"), ("b", "2")]);
        assert_eq!(
            verify_label_limits(&s, &lim).unwrap_err(),
            "label_limit exceeded (metric: m, number of labels: 3, limit: 2)"
        );
        let lim = Limits {
            label_value_length: 3,
            ..Limits::default()
        };
        let s = l(&[("__name__", "m"), ("a", "long")]);
        assert_eq!(
            verify_label_limits(&s, &lim).unwrap_err(),
            r#"label_value_length_limit exceeded (metric: m, label name: a, value: "long", length: 4, limit: 3)"#
        );
        let lim = Limits {
            label_name_length: 3,
            ..Limits::default()
        };
        assert!(verify_label_limits(&s, &lim).unwrap_err().starts_with(
            "label_name_length_limit exceeded (metric: m, label name: __name__, length: 8"
        ));
    }

    #[test]
    fn timestamps_align_to_the_schedule_within_the_tolerance() {
        let mut aligned = 1_000;
        // On time, late within the tolerance: the slot's time.
        assert_eq!(align_timestamp(1_000, &mut aligned, 15_000), 1_000);
        assert_eq!(align_timestamp(16_002, &mut aligned, 15_000), 16_000);
        // Early for the next slot (as Prometheus: only lateness is forgiven).
        assert_eq!(align_timestamp(30_999, &mut aligned, 15_000), 30_999);
        assert_eq!(aligned, 16_000);
        // Late beyond the tolerance: the real time.
        assert_eq!(align_timestamp(31_003, &mut aligned, 15_000), 31_003);
        // Skipped slots are stepped over.
        assert_eq!(align_timestamp(76_001, &mut aligned, 15_000), 76_000);
        // Short intervals are never aligned.
        let mut a = 0;
        assert_eq!(align_timestamp(201, &mut a, 200), 201);
    }

    #[test]
    fn offsets_fall_inside_the_interval() {
        let i = Duration::from_secs(15);
        for n in 0..50 {
            let o = offset_ms(&l(&[("instance", &format!("h{n}:80"))]), i);
            assert!(o < 15_000);
        }
    }

    #[test]
    fn cache_keys_are_body_slices_when_contiguous() {
        let body = b"a{x=\"1\"} 1\nb 2\n".as_slice();
        let text = std::str::from_utf8(body).unwrap();
        let (name, labels) = (&text[0..1], &text[2..7]);
        assert_eq!(raw_key(body, name, labels), Some(&b"a{x=\"1\""[..]));
        assert_eq!(raw_key(body, &text[11..12], ""), Some(&b"b"[..]));
        // Not in the body, or not contiguous: built instead.
        assert_eq!(raw_key(body, "a", labels), None);
        assert_eq!(raw_key(body, name, &text[3..7]), None);
    }
}

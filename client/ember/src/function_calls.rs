//! Runtime of `#[ember::metric]`: the function-call families autometrics defines, one
//! [`CallSite`] per instrumented function and the guards that record one call.
//!
//! The families live in [`default_registry`](crate::default_registry):
//!
//! | family | type | labels |
//! |---|---|---|
//! | `function_calls_total` | counter | `function`, `module`, [extra], `result` (`ok`, `error`, `cancelled`) |
//! | `function_calls_duration_seconds` | histogram | `function`, `module`, [extra] |
//! | `function_calls_concurrent` | gauge | `function`, `module`, [extra] |
//! | `build_info` | gauge (= 1) | `version`, `commit`, `branch` |
//!
//! Extra labels are those of `#[metric(labels(...))]`. The families are shared by every
//! instrumented function, as autometrics' are, so their HELP is one text per family:
//! autometrics' sentence, followed by `Functions: f (module): description; ...` for the
//! functions that have a description (`help = "..."` or their doc comment).
//!
//! When series exist: every call site in the executable is found at the first use of
//! the default registry (see `discovery`) and all its series (`ok`, `error`, `cancelled`,
//! histogram, gauge) are created at zero then, so the first scrape shows them all. A
//! call site also resolves its series itself on its first call (a `static` in the
//! function plus a `OnceLock`), which finds the same series.
//!
//! Hot path: each site owns one range of thread-owned cells (`started`, `ok`, `error`,
//! `cancelled`, the duration sum in nanoseconds, one count per bucket), so a call makes
//! no atomic read-modify-write: it writes its thread's cells with plain loads and
//! stores. Durations come from the TSC (`quanta`, calibrated against the monotonic clock
//! once per process; the monotonic clock where no invariant TSC exists) and are bucketed
//! in integer nanoseconds. `function_calls_concurrent` is written at scrape time as
//! started minus finished calls.

use std::sync::{LazyLock, OnceLock};

use ember_expfmt::{FamilyEncoder, Format, MetricType, float, render_labels};
use parking_lot::Mutex;

use crate::cells::{Range, Slots, Writer};
use crate::counter::encode_created;
use crate::discovery::{self, Record};
use crate::metric::{EncodeMetric, now_seconds};
use crate::{Family, Gauge};

/// Buckets of `function_calls_duration_seconds`, as autometrics sets them.
pub const FUNCTION_CALLS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Cells of a site: calls started, finished by outcome, duration sum (ns), buckets.
const STARTED: usize = 0;
const OK: usize = 1;
const ERROR: usize = 2;
const CANCELLED: usize = 3;
const SUM_NS: usize = 4;
const BUCKETS: usize = 5;

const CALLS: &str = "function_calls";
const CALLS_HELP: &str = "Autometrics counter for tracking function calls";
/// As registered: `function_calls_duration` with unit `seconds`.
const DURATION: &str = "function_calls_duration_seconds";
const DURATION_HELP: &str = "Autometrics histogram for tracking function call duration";
const CONCURRENT: &str = "function_calls_concurrent";
const CONCURRENT_HELP: &str = "Autometrics gauge for tracking function calls concurrency";

/// The clock of every call: read twice per call.
static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// One function's series.
#[derive(Debug)]
struct Site {
    function: String,
    module: String,
    /// `function="f",module="m"` and the extra labels, rendered.
    labels: String,
    help: String,
    cells: Range,
    /// Owns `cells`; sites live for the whole process.
    _slots: Slots,
    clock: &'static quanta::Clock,
    /// Number of negative bounds: buckets no duration falls in.
    below_zero: usize,
    /// The other finite bounds in nanoseconds (a duration `d` is in the bucket when
    /// `d <= bound`, and durations are whole nanoseconds).
    bounds_ns: Box<[u64]>,
    /// `le="..."` of every bucket, `+Inf` last, in text and OpenMetrics spelling.
    le_text: Box<[Box<str>]>,
    le_openmetrics: Box<[Box<str>]>,
    created: f64,
}

impl Site {
    fn new(rec: &Record<'_>, labels: String) -> Site {
        let bounds = rec
            .bucket_bounds()
            .filter(|b| b.iter().all(|v| v.is_finite()) && b.is_sorted_by(|a, b| a < b))
            .unwrap_or_else(|| FUNCTION_CALLS_BUCKETS.to_vec());
        let below_zero = bounds.iter().filter(|b| **b < 0.0).count();
        let bounds_ns = bounds
            .iter()
            .filter(|b| **b >= 0.0)
            .map(|b| {
                let ns = b * 1e9;
                // 0.005 * 1e9 may come out a hair under 5e6: such bounds are whole ns.
                let whole = ns.round();
                // Saturating float to int conversion: bounds past 584 years are "all".
                if (ns - whole).abs() < 1e-3 {
                    whole as u64
                } else {
                    ns.floor() as u64
                }
            })
            .collect();
        let render = |spell: fn(f64) -> String| -> Box<[Box<str>]> {
            bounds
                .iter()
                .chain([&f64::INFINITY])
                .map(|b| render_labels([("le", spell(*b).as_str())]).into())
                .collect()
        };
        let slots = Slots::new(BUCKETS + bounds.len() + 1);
        Site {
            function: rec.function.to_string(),
            module: rec.module.to_string(),
            labels,
            help: rec.help.to_string(),
            cells: slots.range(),
            _slots: slots,
            clock: &CLOCK,
            below_zero,
            bounds_ns,
            le_text: render(float::text),
            le_openmetrics: render(float::openmetrics),
            created: now_seconds(),
        }
    }

    /// Index of the bucket of a duration of `ns` nanoseconds (the last is `+Inf`).
    /// A linear scan from the smallest bound: most calls are short, so it stops at
    /// once, and a long call can afford the few compares more.
    #[inline]
    fn bucket(&self, ns: u64) -> usize {
        let i = self
            .bounds_ns
            .iter()
            .position(|b| ns <= *b)
            .unwrap_or(self.bounds_ns.len());
        self.below_zero + i
    }

    /// Records the end of a call that started at clock reading `start`.
    #[inline]
    fn finish(&self, w: Writer<'_>, start: u64, outcome: usize) {
        let ns = self.clock.delta_as_nanos(start, self.clock.raw());
        w.add(BUCKETS + self.bucket(ns), 1);
        w.add(SUM_NS, ns);
        w.add(outcome, 1);
    }

    fn full_labels(&self, outer: &str) -> String {
        if outer.is_empty() {
            self.labels.clone()
        } else {
            format!("{outer},{}", self.labels)
        }
    }
}

/// Every site resolved so far, in resolution order. Locked by scrapes and by the first
/// call of each site, never on the hot path.
static SITES: Mutex<Vec<&'static Site>> = Mutex::new(Vec::new());

/// Serialises HELP updates (taken before `SITES`, never under the registry's lock).
static HELP_UPDATE: Mutex<()> = Mutex::new(());

/// `function_calls_total`: each site's `ok`, `error` and `cancelled` cells.
#[derive(Debug)]
struct Calls;

impl EncodeMetric for Calls {
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        for site in SITES.lock().iter() {
            for (cell, result) in [(OK, "ok"), (ERROR, "error"), (CANCELLED, "cancelled")] {
                family
                    .sample("_total")
                    .rendered_labels(labels)
                    .rendered_labels(&site.labels)
                    .label("result", result)
                    .value(site.cells.sum(cell));
                if family.writes_created() {
                    let l = render_labels([("result", result)]);
                    encode_created(family, &format!("{},{l}", site.full_labels(labels)), {
                        site.created
                    });
                }
            }
        }
    }
}

/// `function_calls_duration_seconds`: each site's own histogram.
#[derive(Debug)]
struct Durations;

impl EncodeMetric for Durations {
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        for site in SITES.lock().iter() {
            let les = if family.format() == Format::OpenMetrics {
                &site.le_openmetrics
            } else {
                &site.le_text
            };
            let mut acc: u64 = 0;
            for (i, le) in les.iter().enumerate() {
                acc = acc.wrapping_add(site.cells.sum(BUCKETS + i));
                family
                    .sample("_bucket")
                    .rendered_labels(labels)
                    .rendered_labels(&site.labels)
                    .rendered_labels(le)
                    .value(acc);
            }
            family
                .sample("_count")
                .rendered_labels(labels)
                .rendered_labels(&site.labels)
                .value(acc);
            let sum = site.cells.sum(SUM_NS) as f64 / 1e9;
            family
                .sample("_sum")
                .rendered_labels(labels)
                .rendered_labels(&site.labels)
                .value(sum);
            if family.writes_created() {
                encode_created(family, &site.full_labels(labels), site.created);
            }
        }
    }
}

/// `function_calls_concurrent`, derived from the call counters.
#[derive(Debug)]
struct Concurrent;

impl EncodeMetric for Concurrent {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        for site in SITES.lock().iter() {
            let c = site.cells;
            // Finished first: a call counts as started before it counts as finished, so
            // this order never reads more finished than started calls.
            let finished = c.sum(OK) + c.sum(ERROR) + c.sum(CANCELLED);
            let in_flight = c.sum(STARTED).saturating_sub(finished);
            family
                .sample("")
                .rendered_labels(labels)
                .rendered_labels(&site.labels)
                .value(in_flight);
        }
    }
}

struct Families {
    build_info: Family<[String; 3], Gauge>,
    /// Whether each of `function_calls`, its duration and concurrency families is ours
    /// (an application may have registered the name first; then its HELP stays).
    owned: [bool; 3],
}

fn families() -> &'static Families {
    // The label names are constants checked by the tests, so `expect` cannot fire.
    static FAMILIES: LazyLock<Families> = LazyLock::new(|| {
        let build_info = Family::with_label_names(["version", "commit", "branch"])
            .expect("valid constant label names");
        let r = crate::registry::default_registry_base();
        // A name the application registered itself wins; the sites still count, they
        // are just not exposed twice.
        let owned = [
            r.register(CALLS, CALLS_HELP, Calls).is_ok(),
            r.register_with_unit(
                "function_calls_duration",
                DURATION_HELP,
                "seconds",
                Durations,
            )
            .is_ok(),
            r.register(CONCURRENT, CONCURRENT_HELP, Concurrent).is_ok(),
        ];
        let _ = r.register(
            "build_info",
            "Autometrics info metric for tracking software version and build details",
            build_info.clone(),
        );
        Families { build_info, owned }
    });
    &FAMILIES
}

/// `base`, then `Functions: f (m): text; ...` for the described sites, sorted.
fn help_text(base: &str, sites: &[&Site]) -> String {
    let mut described: Vec<String> = sites
        .iter()
        .filter(|s| !s.help.is_empty())
        .map(|s| format!("{} ({}): {}", s.function, s.module, s.help))
        .collect();
    described.sort();
    described.dedup();
    if described.is_empty() {
        base.to_string()
    } else {
        format!("{base}. Functions: {}", described.join("; "))
    }
}

/// The site labelled like `rec`, created with all its series at zero if new.
fn resolve(rec: &Record<'_>) -> &'static Site {
    let f = families();
    let mut labels = render_labels([("function", rec.function), ("module", rec.module)]);
    if !rec.labels.is_empty() {
        labels.push(',');
        labels.push_str(rec.labels);
    }
    let _help = HELP_UPDATE.lock();
    let (site, helps) = {
        let mut sites = SITES.lock();
        // A site seen at discovery (or named to `init_function_call`) resolves again on
        // its first call: same series.
        if let Some(site) = sites.iter().find(|s| s.labels == labels) {
            return site;
        }
        let site: &'static Site = Box::leak(Box::new(Site::new(rec, labels)));
        sites.push(site);
        let helps = (!site.help.is_empty())
            .then(|| [CALLS_HELP, DURATION_HELP, CONCURRENT_HELP].map(|b| help_text(b, &sites)));
        (site, helps)
    };
    // Outside `SITES`: a scrape holds the registry's lock and then takes `SITES`.
    if let Some(helps) = helps {
        let r = crate::registry::default_registry_base();
        for ((name, help), owned) in [CALLS, DURATION, CONCURRENT].iter().zip(helps).zip(f.owned) {
            if owned {
                r.set_help(name, &help);
            }
        }
    }
    site
}

/// Resolves every call site recorded in the running executable: called once, at the
/// first use of the default registry.
pub(crate) fn discover_call_sites() {
    // An unreadable executable leaves each site to its first call.
    let Ok(found) = discovery::scan_own_executable() else {
        return;
    };
    for r in &found {
        let rec = r.get();
        set_build_info(rec.version, rec.commit, rec.branch);
        resolve(&rec);
    }
}

/// Creates the series of function `function` in module `module` at zero now. Call sites
/// of `#[metric]` in the executable get theirs at the first use of the default registry
/// without this; it is for sites the executable does not hold (in a library loaded at
/// run time) or when the executable file cannot be read. `module` is what
/// `module_path!()` gives where the function is defined; `function` is `Type::method`
/// for methods of an `impl` block carrying `#[metric]`.
///
/// ```
/// ember::init_function_call("checkout", "shop::cart");
/// let text = ember::default_registry().encode_to_string(ember::expfmt::Format::Text);
/// assert!(text.contains(
///     "function_calls_total{function=\"checkout\",module=\"shop::cart\",result=\"ok\"} 0\n"
/// ));
/// ```
pub fn init_function_call(function: &str, module: &str) {
    let _ = resolve(&Record {
        function,
        module,
        version: "",
        commit: "",
        branch: "",
        buckets: "",
        labels: "",
        help: "",
    });
}

/// Sets `build_info{version, commit, branch}` to 1. `#[metric]` calls it once per call
/// site with the instrumented crate's `CARGO_PKG_VERSION` and the `GIT_COMMIT` and
/// `GIT_BRANCH` variables seen at build time (empty when unset).
pub fn set_build_info(version: &str, commit: &str, branch: &str) {
    families()
        .build_info
        .with_label_values(&[version, commit, branch])
        .set(1);
}

/// One instrumented function: a `static` the macro puts in the function's body, with
/// its record (see `ember::__private::record`).
#[derive(Debug)]
pub struct CallSite {
    record: &'static [u8],
    site: OnceLock<&'static Site>,
}

impl CallSite {
    /// A call site described by `record`; resolved at discovery or its first call.
    pub const fn new(record: &'static [u8]) -> Self {
        Self {
            record,
            site: OnceLock::new(),
        }
    }

    #[inline]
    fn site(&'static self) -> &'static Site {
        match self.site.get() {
            Some(s) => s,
            None => self.resolve(),
        }
    }

    #[cold]
    fn resolve(&'static self) -> &'static Site {
        self.site.get_or_init(|| {
            let rec = discovery::parse(self.record).unwrap_or(Record {
                // `record` is built by `#[metric]` at compile time and always parses.
                function: "unparsable_call_site",
                module: "",
                version: "",
                commit: "",
                branch: "",
                buckets: "",
                labels: "",
                help: "",
            });
            set_build_info(rec.version, rec.commit, rec.branch);
            resolve(&rec)
        })
    }

    /// Starts recording one call: in flight until the guard is finished or dropped.
    #[inline]
    pub fn start(&'static self) -> CallGuard {
        let site = self.site();
        site.cells.writer().add(STARTED, 1);
        CallGuard {
            site,
            start: site.clock.raw(),
            done: false,
        }
    }

    /// Runs a synchronous body that returns anything; counts `ok`, or `error` on panic.
    #[inline]
    pub fn call<R>(&'static self, body: impl FnOnce() -> R) -> R {
        let guard = self.start_here();
        let r = body();
        guard.finish(OK);
        r
    }

    /// Runs a synchronous body that returns a `Result`; counts `ok` or `error`.
    #[inline]
    pub fn call_result<R: IsErr>(&'static self, body: impl FnOnce() -> R) -> R {
        let guard = self.start_here();
        let r = body();
        guard.finish(if r.is_err() { ERROR } else { OK });
        r
    }

    /// A call that ends on this thread: keeps the thread's cells for the end. Always
    /// inlined (into `call`, itself inlined into the instrumented function): the guard
    /// then lives in registers instead of being returned through memory.
    #[inline(always)]
    fn start_here(&'static self) -> LocalGuard {
        let site = self.site();
        let cells = site.cells.writer();
        cells.add(STARTED, 1);
        LocalGuard {
            site,
            cells,
            start: site.clock.raw(),
        }
    }

    /// Wraps an already boxed future (what `#[async_trait]` produces) so that its
    /// polls are one call; the output is not inspected.
    pub fn instrument<F: Future + Unpin>(&'static self, fut: F) -> Instrumented<F> {
        Instrumented {
            site: self,
            fut,
            guard: None,
            is_err: |_| false,
        }
    }

    /// Like [`instrument`](Self::instrument) for a future whose output is a `Result`.
    pub fn instrument_result<F>(&'static self, fut: F) -> Instrumented<F>
    where
        F: Future + Unpin,
        F::Output: IsErr,
    {
        Instrumented {
            site: self,
            fut,
            guard: None,
            is_err: |r| r.is_err(),
        }
    }
}

/// A synchronous call in flight, ended on the thread that started it (so the cells it
/// holds are still that thread's).
struct LocalGuard {
    site: &'static Site,
    cells: Writer<'static>,
    start: u64,
}

impl LocalGuard {
    #[inline]
    fn finish(self, outcome: usize) {
        let LocalGuard { site, cells, start } = self;
        // Finished: no `Drop` to run.
        std::mem::forget(self);
        site.finish(cells, start, outcome);
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        // Only a panic leaves a synchronous body without finishing.
        self.site.finish(self.cells, self.start, ERROR);
    }
}

/// One call in flight, possibly moving between threads (an async call). Dropped without
/// [`finish`](Self::finish): counted as `error` while panicking, as `cancelled`
/// otherwise (a future dropped before completion).
#[derive(Debug)]
#[must_use = "the call is recorded when the guard is finished or dropped"]
pub struct CallGuard {
    site: &'static Site,
    start: u64,
    done: bool,
}

impl CallGuard {
    /// Records the end of the call, `error` if `is_err`.
    #[inline]
    pub fn finish(mut self, is_err: bool) {
        self.done = true;
        let outcome = if is_err { ERROR } else { OK };
        self.site
            .finish(self.site.cells.writer(), self.start, outcome);
    }

    /// Records the end of a call that returned `r`.
    #[inline]
    pub fn finish_result<R: IsErr>(self, r: &R) {
        self.finish(r.is_err());
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            let outcome = if std::thread::panicking() {
                ERROR
            } else {
                CANCELLED
            };
            self.site
                .finish(self.site.cells.writer(), self.start, outcome);
        }
    }
}

/// What `#[metric]` asks of the value of a function whose return type is named
/// `Result`.
pub trait IsErr {
    /// Whether the call failed.
    fn is_err(&self) -> bool;
}

impl<T, E> IsErr for Result<T, E> {
    #[inline]
    fn is_err(&self) -> bool {
        Result::is_err(self)
    }
}

/// A future recorded as one call, from its first poll to its completion or drop.
pub struct Instrumented<F: Future> {
    site: &'static CallSite,
    fut: F,
    guard: Option<CallGuard>,
    is_err: fn(&F::Output) -> bool,
}

impl<F> Future for Instrumented<F>
where
    F: Future + Unpin,
{
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = &mut *self;
        if this.guard.is_none() {
            this.guard = Some(this.site.start());
        }
        let out = std::pin::Pin::new(&mut this.fut).poll(cx);
        if let std::task::Poll::Ready(v) = &out {
            if let Some(g) = this.guard.take() {
                g.finish((this.is_err)(v));
            }
        }
        out
    }
}

impl<F: Future> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(buckets: &str) -> Record<'_> {
        Record {
            function: "f",
            module: "m",
            version: "",
            commit: "",
            branch: "",
            buckets,
            labels: "",
            help: "",
        }
    }

    #[test]
    fn durations_fall_in_inclusive_buckets_in_whole_nanoseconds() {
        let site = Site::new(&record("-1.0,0.005,1.0"), String::new());
        // `-1` holds nothing; `0.005` is 5,000,000 ns exactly, inclusive; then `1`, `+Inf`.
        assert_eq!(site.bucket(0), 1);
        assert_eq!(site.bucket(5_000_000), 1);
        assert_eq!(site.bucket(5_000_001), 2);
        assert_eq!(site.bucket(1_000_000_000), 2);
        assert_eq!(site.bucket(u64::MAX), 3);
        assert_eq!(site.le_text.len(), 4);
        // Bounds that are not whole nanoseconds round down: 1.5 ns holds 1 ns, not 2.
        let odd = Site::new(&record("0.0000000015"), String::new());
        assert_eq!((odd.bucket(1), odd.bucket(2)), (0, 1));
    }

    #[test]
    fn unusable_buckets_fall_back_to_autometrics_ones() {
        for b in ["", "x", "1.0,0.5", "inf"] {
            let site = Site::new(&record(b), String::new());
            assert_eq!(site.le_text.len(), FUNCTION_CALLS_BUCKETS.len() + 1, "{b}");
        }
    }

    #[test]
    fn help_lists_described_functions_sorted() {
        let mut a = Site::new(&record(""), String::new());
        a.help = "Does f.".into();
        let b = Site::new(&record(""), String::new());
        let mut c = Site::new(&record(""), String::new());
        c.function = "a".into();
        c.help = "Does a.".into();
        assert_eq!(help_text("Base", &[&b]), "Base");
        assert_eq!(
            help_text("Base", &[&a, &b, &c]),
            "Base. Functions: a (m): Does a.; f (m): Does f."
        );
    }
}

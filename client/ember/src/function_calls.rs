//! Runtime of `#[ember::metric]`: the function-call families autometrics defines, one
//! [`CallSite`] per instrumented function and the [`CallGuard`] that records one call.
//!
//! The families live in [`default_registry`](crate::default_registry), registered once,
//! the first time any call site or [`init_function_call`] touches them:
//!
//! | family | type | labels |
//! |---|---|---|
//! | `function_calls_total` | counter | `function`, `module`, `result` (`ok`, `error`, `cancelled`) |
//! | `function_calls_duration_seconds` | histogram | `function`, `module` |
//! | `function_calls_concurrent` | gauge | `function`, `module` |
//! | `build_info` | gauge (= 1) | `version`, `commit`, `branch` |
//!
//! `function_calls_concurrent` is not a stored gauge: each call increments a hidden
//! per-site "started" counter and the gauge is written at scrape time as started minus
//! finished (`ok + error + cancelled`), which keeps atomic read-modify-writes off the
//! hot path.
//!
//! A call site resolves its series once, on its first call, and creates all of them
//! (`ok`, `error` and `cancelled` counters, histogram, gauge) at zero then. Nothing runs
//! before `main` (that needs link-section tricks that `unsafe_code = "forbid"` rules
//! out), so a function that has never been called has no series unless it was named to
//! [`init_function_call`] at start-up.

use std::sync::{LazyLock, OnceLock};
use std::time::Instant;

use ember_expfmt::{FamilyEncoder, MetricType};
use parking_lot::Mutex;

use crate::{Counter, EncodeMetric, Family, Gauge, Histogram, default_registry};

/// Buckets of `function_calls_duration_seconds`, as autometrics sets them.
pub const FUNCTION_CALLS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

struct Families {
    calls: Family<[String; 3], Counter>,
    /// Calls started per site; not exposed. In flight = started - (ok + error +
    /// cancelled), worked out at scrape time by [`Concurrent`]: one cheap counter
    /// increment on the hot path instead of two contended atomic read-modify-writes.
    started: Family<[String; 2], Counter>,
    build_info: Family<[String; 3], Gauge>,
}

/// One resolved call site as `function_calls_concurrent` and
/// `function_calls_duration_seconds` report it.
struct InFlight {
    labels: String,
    handles: Handles,
}

/// Every site resolved so far, in resolution order.
static SITES: Mutex<Vec<InFlight>> = Mutex::new(Vec::new());

/// The `function_calls_duration_seconds` family: each site's own histogram.
#[derive(Debug)]
struct Durations;

impl EncodeMetric for Durations {
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        for site in SITES.lock().iter() {
            if labels.is_empty() {
                site.handles.duration.encode(family, &site.labels);
            } else {
                site.handles
                    .duration
                    .encode(family, &format!("{labels},{}", site.labels));
            }
        }
    }
}

/// The `function_calls_concurrent` gauge family, derived from the call counters.
#[derive(Debug)]
struct Concurrent;

impl EncodeMetric for Concurrent {
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        for site in SITES.lock().iter() {
            let h = &site.handles;
            // Finished first: a call counts as started before it counts as finished, so
            // this order never reads more finished than started calls.
            let finished = h.ok.get() + h.error.get() + h.cancelled.get();
            let in_flight = h.started.get().saturating_sub(finished);
            family
                .sample("")
                .rendered_labels(labels)
                .rendered_labels(&site.labels)
                .value(in_flight);
        }
    }
}

fn families() -> &'static Families {
    // The label names are constants checked by the tests, so `expect` cannot fire.
    static FAMILIES: LazyLock<Families> = LazyLock::new(|| {
        let f = Families {
            calls: Family::with_label_names(["function", "module", "result"])
                .expect("valid constant label names"),
            started: Family::with_label_names(["function", "module"])
                .expect("valid constant label names"),
            build_info: Family::with_label_names(["version", "commit", "branch"])
                .expect("valid constant label names"),
        };
        let r = default_registry();
        // A name the application registered itself wins; the handles still count, they
        // are just not exposed twice.
        let _ = r.register(
            "function_calls",
            "Autometrics counter for tracking function calls",
            f.calls.clone(),
        );
        let _ = r.register_with_unit(
            "function_calls_duration",
            "Autometrics histogram for tracking function call duration",
            "seconds",
            Durations,
        );
        let _ = r.register(
            "function_calls_concurrent",
            "Autometrics gauge for tracking function calls concurrency",
            Concurrent,
        );
        let _ = r.register(
            "build_info",
            "Autometrics info metric for tracking software version and build details",
            f.build_info.clone(),
        );
        f
    });
    &FAMILIES
}

/// The series of one call site, resolved once.
#[derive(Debug, Clone)]
struct Handles {
    ok: &'static Counter,
    error: &'static Counter,
    cancelled: &'static Counter,
    /// Each site owns its histogram, so sites may have their own buckets.
    duration: Histogram,
    started: &'static Counter,
}

fn resolve(function: &str, module: &str, buckets: Option<&[f64]>) -> Handles {
    let f = families();
    let labels = ember_expfmt::render_labels([("function", function), ("module", module)]);
    let mut sites = SITES.lock();
    // A site named to `init_function_call` resolves again on its first call: same series.
    if let Some(site) = sites.iter().find(|s| s.labels == labels) {
        return site.handles.clone();
    }
    let duration = buckets
        .and_then(|b| Histogram::new(b.iter().copied()).ok())
        .unwrap_or_else(|| Histogram::new(FUNCTION_CALLS_BUCKETS).unwrap_or_default());
    let handles = Handles {
        ok: f.calls.with_label_values(&[function, module, "ok"]),
        error: f.calls.with_label_values(&[function, module, "error"]),
        cancelled: f.calls.with_label_values(&[function, module, "cancelled"]),
        duration,
        started: f.started.with_label_values(&[function, module]),
    };
    sites.push(InFlight {
        labels,
        handles: handles.clone(),
    });
    handles
}

/// Creates the series of function `function` in module `module` at zero now, so that
/// `rate()` and absence alerts see them before the first call. `module` is what
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
    let _ = resolve(function, module, None);
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

/// One instrumented function: a `static` the macro puts in the function's body.
#[derive(Debug)]
pub struct CallSite {
    function: &'static str,
    module: &'static str,
    version: &'static str,
    commit: &'static str,
    branch: &'static str,
    buckets: Option<&'static [f64]>,
    handles: OnceLock<Handles>,
}

impl CallSite {
    /// A call site; nothing is registered until the first call.
    pub const fn new(
        function: &'static str,
        module: &'static str,
        version: &'static str,
        commit: Option<&'static str>,
        branch: Option<&'static str>,
        buckets: Option<&'static [f64]>,
    ) -> Self {
        Self {
            function,
            module,
            version,
            commit: match commit {
                Some(c) => c,
                None => "",
            },
            branch: match branch {
                Some(b) => b,
                None => "",
            },
            buckets,
            handles: OnceLock::new(),
        }
    }

    #[inline]
    fn handles(&'static self) -> &'static Handles {
        self.handles.get_or_init(|| {
            set_build_info(self.version, self.commit, self.branch);
            resolve(self.function, self.module, self.buckets)
        })
    }

    /// Starts recording one call: in flight until the guard is finished or dropped.
    #[inline]
    pub fn start(&'static self) -> CallGuard {
        let handles = self.handles();
        handles.started.inc();
        CallGuard {
            handles,
            start: Instant::now(),
            done: false,
        }
    }

    /// Runs a synchronous body that returns anything; counts `ok`, or `error` on panic.
    #[inline]
    pub fn call<R>(&'static self, body: impl FnOnce() -> R) -> R {
        let guard = self.start();
        let r = body();
        guard.finish(false);
        r
    }

    /// Runs a synchronous body that returns a `Result`; counts `ok` or `error`.
    #[inline]
    pub fn call_result<R: IsErr>(&'static self, body: impl FnOnce() -> R) -> R {
        let guard = self.start();
        let r = body();
        guard.finish(r.is_err());
        r
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

/// One call in flight. Dropped without [`finish`](Self::finish): counted as `error`
/// while panicking, as `cancelled` otherwise (a future dropped before completion).
#[derive(Debug)]
#[must_use = "the call is recorded when the guard is finished or dropped"]
pub struct CallGuard {
    handles: &'static Handles,
    start: Instant,
    done: bool,
}

impl CallGuard {
    /// Records the end of the call, `error` if `is_err`.
    #[inline]
    pub fn finish(mut self, is_err: bool) {
        self.done = true;
        self.record(if is_err {
            self.handles.error
        } else {
            self.handles.ok
        });
    }

    /// Records the end of a call that returned `r`.
    #[inline]
    pub fn finish_result<R: IsErr>(self, r: &R) {
        self.finish(r.is_err());
    }

    #[inline]
    fn record(&self, outcome: &Counter) {
        self.handles
            .duration
            .observe(self.start.elapsed().as_secs_f64());
        outcome.inc();
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            let outcome = if std::thread::panicking() {
                self.handles.error
            } else {
                self.handles.cancelled
            };
            self.record(outcome);
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

//! Runs the enabled collectors concurrently under a deadline and reports each one's
//! duration and success, as node_exporter's `NodeCollector` does.
//!
//! Each collector's [`update`](Collector::update) runs on a small pool of threads.
//! Concurrent calls of [`Scheduler::scrape`] each run every collector; the
//! [`Server`](crate::Server) lets concurrent HTTP scrapes share collections instead. A collector with an update still running past its scrape's
//! deadline (stuck on a dead NFS mount, say) is *overdue*: it is not started again
//! until that update returns, and is reported as failed at once, so one stuck
//! collector holds at most one thread per overdue update however many scrapes come; the
//! pool gets one more thread per overdue update so that the others keep the threads
//! they were given. A result that arrives after the deadline is dropped; a job still
//! queued at the deadline is withdrawn.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};

use parking_lot::{Condvar, Mutex};

use crate::pool::{Job, Pool};
use crate::{Collector, CollectorError, Error};

/// How one collector fared in a scrape.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// `update` returned `Ok` before the deadline.
    Success,
    /// `update` returned an error.
    Failed(CollectorError),
    /// `update` panicked; the panic was caught and the thread kept.
    Panicked,
    /// The deadline passed first (running, or still queued for a free thread).
    TimedOut,
    /// An earlier scrape's `update` was still running past its deadline, so it was not
    /// started.
    StillRunning,
}

impl Outcome {
    /// Whether this counts as `<ns>_scrape_collector_success 1`.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// One collector's report in a [`Scrape`].
#[derive(Debug)]
pub struct CollectorReport {
    /// The collector's name.
    pub name: String,
    /// Time from the start of the scrape until the result (or the deadline).
    pub duration: Duration,
    /// How it went.
    pub outcome: Outcome,
}

/// The result of [`Scheduler::scrape`].
#[derive(Debug)]
pub struct Scrape {
    /// The families of the collectors that succeeded in time, then
    /// `<ns>_scrape_collector_duration_seconds` and `<ns>_scrape_collector_success`.
    pub families: Vec<MetricFamily>,
    /// One report per enabled collector, in registration order.
    pub reports: Vec<CollectorReport>,
}

struct Slot {
    collector: Arc<dyn Collector>,
    /// Updates of this collector still running past their scrape's deadline.
    overdue: Arc<AtomicUsize>,
    /// Nanoseconds its last update took: the longest are queued first, so that the
    /// scrape ends as early as the pool allows.
    last_nanos: Arc<AtomicU64>,
}

/// The life of one job; moves only forward, by compare-and-swap, so that the job and
/// the scrape that gives up on it agree on who accounts for it.
mod job {
    pub(super) const QUEUED: u8 = 0;
    pub(super) const RUNNING: u8 = 1;
    pub(super) const DONE: u8 = 2;
    /// The scrape gave up on it before it started.
    pub(super) const WITHDRAWN: u8 = 3;
    /// The scrape gave up on it while it ran: counted in its slot's `overdue`.
    pub(super) const OVERDUE: u8 = 4;
}

fn cas(state: &AtomicU8, from: u8, to: u8) -> bool {
    state
        .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Runs collectors concurrently on a bounded thread pool under a deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ember_exporter::{Collector, CollectorError, Scheduler};
/// use ember_expfmt::MetricFamily;
///
/// #[derive(Debug)]
/// struct Broken;
/// impl Collector for Broken {
///     fn name(&self) -> &str { "broken" }
///     fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
///         Err(CollectorError::NoData)
///     }
/// }
/// let scheduler = Scheduler::new("node", "node_exporter", vec![Box::new(Broken)], 2).unwrap();
/// let scrape = scheduler.scrape(Instant::now() + Duration::from_secs(5));
/// assert!(!scrape.reports[0].outcome.is_success());
/// let names: Vec<_> = scrape.families.iter().map(|f| f.name.as_str()).collect();
/// assert_eq!(names, ["node_scrape_collector_duration_seconds", "node_scrape_collector_success"]);
/// assert_eq!(scrape.families[1].help, "node_exporter: Whether a collector succeeded.");
/// ```
pub struct Scheduler {
    slots: Vec<Slot>,
    pool: Pool,
    /// Threads for collectors that are not stuck.
    threads: usize,
    duration_name: String,
    duration_help: String,
    success_name: String,
    success_help: String,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.slots.iter().map(|s| s.collector.name()).collect();
        f.debug_struct("Scheduler")
            .field("collectors", &names)
            .field("pool", &self.pool)
            .field("duration_name", &self.duration_name)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler for `collectors` (the enabled ones) with `threads` pool threads.
    /// `namespace` prefixes the `scrape_collector_*` metrics (`node`); `exporter`
    /// starts their HELP texts (`node_exporter`), as upstream's do.
    pub fn new(
        namespace: &str,
        exporter: &str,
        collectors: Vec<Box<dyn Collector>>,
        threads: usize,
    ) -> Result<Scheduler, Error> {
        let slots = collectors
            .into_iter()
            .map(|c| Slot {
                collector: Arc::from(c),
                overdue: Arc::new(AtomicUsize::new(0)),
                last_nanos: Arc::new(AtomicU64::new(0)),
            })
            .collect();
        let ns = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}_")
        };
        Ok(Scheduler {
            slots,
            pool: Pool::new(threads)?,
            threads: threads.max(1),
            duration_name: format!("{ns}scrape_collector_duration_seconds"),
            duration_help: format!("{exporter}: Duration of a collector scrape."),
            success_name: format!("{ns}scrape_collector_success"),
            success_help: format!("{exporter}: Whether a collector succeeded."),
        })
    }

    /// The names of the scheduled collectors, in registration order.
    pub fn collector_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.collector.name()).collect()
    }

    /// Runs every collector and waits for them until `deadline`; blocks the caller.
    pub fn scrape(&self, deadline: Instant) -> Scrape {
        let dispatched = self.dispatch();
        let finished = dispatched.batch.wait(deadline);
        self.complete(dispatched, finished)
    }

    /// [`scrape`](Scheduler::scrape) for async callers: the collectors are queued on
    /// the pool at once, when this is called (not when the future is first polled), so
    /// the caller can do other work meanwhile; awaiting waits without holding a thread.
    pub fn scrape_async(&self, deadline: Instant) -> impl Future<Output = Scrape> + '_ {
        let dispatched = self.dispatch();
        async move {
            let finished = dispatched.batch.wait_async(deadline).await;
            self.complete(dispatched, finished)
        }
    }

    /// Queues a job per collector that is not overdue.
    fn dispatch(&self) -> Dispatched {
        let start = Instant::now();
        let batch = Arc::new(Batch {
            state: Mutex::new(BatchState::default()),
            done: Condvar::new(),
            done_async: tokio::sync::Notify::new(),
        });
        let mut reports: Vec<Option<CollectorReport>> = Vec::with_capacity(self.slots.len());
        let mut jobs: Vec<(u64, Job)> = Vec::with_capacity(self.slots.len());
        let mut states: Vec<(usize, Arc<AtomicU8>)> = Vec::with_capacity(self.slots.len());
        let mut overdue_total = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            let name = slot.collector.name().to_owned();
            let overdue = slot.overdue.load(Ordering::Acquire);
            if overdue > 0 {
                overdue_total += overdue;
                reports.push(Some(CollectorReport {
                    name,
                    duration: Duration::ZERO,
                    outcome: Outcome::StillRunning,
                }));
                continue;
            }
            reports.push(None);
            let collector = Arc::clone(&slot.collector);
            let overdue = Arc::clone(&slot.overdue);
            let last_nanos = Arc::clone(&slot.last_nanos);
            let batch = Arc::clone(&batch);
            let state = Arc::new(AtomicU8::new(job::QUEUED));
            states.push((i, Arc::clone(&state)));
            let last = slot.last_nanos.load(Ordering::Relaxed);
            jobs.push((
                last,
                Box::new(move || {
                    if !cas(&state, job::QUEUED, job::RUNNING) {
                        return; // withdrawn
                    }
                    // The collector's own time, as node_exporter measures it in the
                    // collector's goroutine: time spent queued for a pool thread is not its.
                    let began = Instant::now();
                    let mut out = Vec::new();
                    let result = catch_unwind(AssertUnwindSafe(|| collector.update(&mut out)));
                    if !cas(&state, job::RUNNING, job::DONE) {
                        // The scrape counted this update as overdue; it has returned now.
                        overdue.fetch_sub(1, Ordering::AcqRel);
                    }
                    let outcome = match result {
                        Ok(Ok(())) => Outcome::Success,
                        Ok(Err(e)) => Outcome::Failed(e),
                        Err(_) => Outcome::Panicked,
                    };
                    let took = began.elapsed();
                    last_nanos.store(
                        u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    batch.finish(i, took, outcome, out);
                }),
            ));
        }
        batch.state.lock().pending = jobs.len();
        // Each overdue update holds a pool thread: replace it.
        if let Err(e) = self.pool.grow_to(self.threads + overdue_total) {
            // The scrape still runs on the threads there are.
            tracing::error!(err = %e, "cannot add a collector thread for a stuck collector");
        }
        // Longest first (stable: registration order among equals, as on the first scrape).
        jobs.sort_by_key(|(last, _)| std::cmp::Reverse(*last));
        self.pool
            .execute_all(jobs.into_iter().map(|(_, job)| job).collect());
        Dispatched {
            start,
            batch,
            reports,
            states,
        }
    }

    /// Withdraws the jobs that did not start, marks the ones still running as overdue,
    /// and builds the scrape from what finished.
    fn complete(&self, dispatched: Dispatched, finished: Vec<Finished>) -> Scrape {
        let Dispatched {
            start,
            mut reports,
            states,
            ..
        } = dispatched;
        for (i, state) in &states {
            if cas(state, job::QUEUED, job::WITHDRAWN) {
                continue;
            }
            // Counted before the swap, so that the job, which subtracts only after
            // seeing OVERDUE, never takes the count below zero.
            let overdue = &self.slots[*i].overdue;
            overdue.fetch_add(1, Ordering::AcqRel);
            if !cas(state, job::RUNNING, job::OVERDUE) {
                overdue.fetch_sub(1, Ordering::AcqRel); // it finished meanwhile
            }
        }
        let mut collected: Vec<Vec<MetricFamily>> = vec![Vec::new(); self.slots.len()];
        for (i, duration, outcome, out) in finished {
            if outcome.is_success() {
                collected[i] = out;
            }
            reports[i] = Some(CollectorReport {
                name: self.slots[i].collector.name().to_owned(),
                duration,
                outcome,
            });
        }
        let elapsed = start.elapsed();
        let reports: Vec<CollectorReport> = reports
            .into_iter()
            .zip(&self.slots)
            .map(|(r, slot)| {
                r.unwrap_or_else(|| CollectorReport {
                    name: slot.collector.name().to_owned(),
                    duration: elapsed,
                    outcome: Outcome::TimedOut,
                })
            })
            .collect();
        for r in &reports {
            log_report(r);
        }
        let mut families: Vec<MetricFamily> = collected.into_iter().flatten().collect();
        families.push(
            self.family(&self.duration_name, &self.duration_help, &reports, |r| {
                r.duration.as_secs_f64()
            }),
        );
        families.push(
            self.family(&self.success_name, &self.success_help, &reports, |r| {
                if r.outcome.is_success() { 1.0 } else { 0.0 }
            }),
        );
        Scrape { families, reports }
    }

    fn family(
        &self,
        name: &str,
        help: &str,
        reports: &[CollectorReport],
        value: impl Fn(&CollectorReport) -> f64,
    ) -> MetricFamily {
        MetricFamily {
            name: name.to_owned(),
            help: help.to_owned(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: reports
                .iter()
                .map(|r| Metric {
                    labels: vec![("collector".to_owned(), r.name.clone())],
                    value: MetricValue::Gauge(value(r)),
                    timestamp_ms: None,
                    created: None,
                })
                .collect(),
        }
    }
}

/// A scrape between [`Scheduler::dispatch`] and [`Scheduler::complete`].
struct Dispatched {
    start: Instant,
    batch: Arc<Batch>,
    reports: Vec<Option<CollectorReport>>,
    states: Vec<(usize, Arc<AtomicU8>)>,
}

/// One collector's result: its index, its own duration, its outcome and its families.
type Finished = (usize, Duration, Outcome, Vec<MetricFamily>);

/// The results of one scrape's jobs. The scraping thread sleeps until the last job
/// finishes or the deadline passes, and is woken once, not once per collector.
struct Batch {
    state: Mutex<BatchState>,
    done: Condvar,
    /// The same wake-up for an async waiter (it keeps a permit if nobody waits yet).
    done_async: tokio::sync::Notify,
}

#[derive(Default)]
struct BatchState {
    pending: usize,
    finished: Vec<Finished>,
    /// The scrape has stopped waiting; later results are dropped.
    closed: bool,
}

impl Batch {
    fn finish(&self, i: usize, duration: Duration, outcome: Outcome, out: Vec<MetricFamily>) {
        let mut state = self.state.lock();
        if state.closed {
            return;
        }
        state.finished.push((i, duration, outcome, out));
        state.pending = state.pending.saturating_sub(1);
        if state.pending == 0 {
            self.done.notify_one();
            self.done_async.notify_one();
        }
    }

    /// Waits until every job finished or `deadline` passed; returns what finished.
    fn wait(&self, deadline: Instant) -> Vec<Finished> {
        let mut state = self.state.lock();
        while state.pending > 0 {
            if self.done.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
        state.closed = true;
        std::mem::take(&mut state.finished)
    }

    /// [`wait`](Batch::wait) without blocking a thread.
    async fn wait_async(&self, deadline: Instant) -> Vec<Finished> {
        loop {
            if self.state.lock().pending == 0 {
                break;
            }
            let woken = self.done_async.notified();
            let deadline = tokio::time::Instant::from_std(deadline);
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                break;
            }
        }
        let mut state = self.state.lock();
        state.closed = true;
        std::mem::take(&mut state.finished)
    }
}

/// Logs a collector that did not succeed, with node_exporter's messages and levels:
/// "collector returned no data" at debug, "collector failed" at error.
fn log_report(r: &CollectorReport) {
    let secs = r.duration.as_secs_f64();
    match &r.outcome {
        Outcome::Success => {}
        Outcome::Failed(CollectorError::NoData) => {
            tracing::debug!(name = %r.name, duration_seconds = secs, "collector returned no data");
        }
        Outcome::Failed(e) => {
            tracing::error!(name = %r.name, duration_seconds = secs, err = %e, "collector failed");
        }
        Outcome::Panicked => {
            tracing::error!(name = %r.name, duration_seconds = secs, err = "panicked", "collector failed");
        }
        Outcome::TimedOut => tracing::warn!(
            name = %r.name,
            duration_seconds = secs,
            "collector missed the scrape deadline"
        ),
        Outcome::StillRunning => tracing::warn!(
            name = %r.name,
            "collector skipped: an earlier update is still running past its deadline"
        ),
    }
}

#[cfg(test)]
mod tests;

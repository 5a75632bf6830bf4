//! Summaries: a count, a sum and quantiles over a sliding time window.
//!
//! The semantics are client_golang's `prometheus.Summary`:
//!
//! * `_count` and `_sum` cover every observation since creation (or [`Summary::reset`]); they
//!   are lock-free atomics, kept consistent with each other by the hot/cold pair of
//!   client_golang's `noObjectivesSummary`.
//! * Quantiles cover the last [`max_age`](SummaryBuilder::max_age) only. As in
//!   client_golang, the window is split into [`age_buckets`](SummaryBuilder::age_buckets)
//!   streams of the CKMS targeted-quantiles sketch (beorn7/perks, ported below). Every
//!   observation goes into every stream; every `max_age / age_buckets` the oldest stream is
//!   emptied and the next one becomes the head, which answers queries. The head therefore
//!   holds between `max_age - max_age / age_buckets` and `max_age` of observations.
//! * Observations are first appended to a small hot buffer (500 values) behind a
//!   `parking_lot` mutex and moved into the streams when it fills, when its age bucket
//!   expires, or at scrape time. A summary without quantiles (the default, as in
//!   client_golang since v1.0) takes no lock at all.
//! * Quantiles 0 and 1 are the exact minimum and maximum of the window. Here this port
//!   departs from perks, whose targeted invariant leaves the ranks next to them unbounded
//!   (client_golang reports up to the maximum for quantile 0).
//! * A NaN observation counts towards `_count` and makes `_sum` NaN, as in client_golang.
//!   In the sketch NaN ranks above `+Inf`, so it can only surface in the highest quantiles
//!   (client_golang leaves its rank to the sort order of Go's `sort.Sort`).
//!
//! The sketch lives in this file as a private module rather than a file of its own because
//! nothing else uses it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ember_expfmt::{FamilyEncoder, MetricType};
use parking_lot::Mutex;

use crate::metric::{EncodeMetric, now_seconds};

use self::ckms::{Stream, Target};

/// Observations buffered before they are moved into the streams (client_golang's
/// `DefBufCap`).
const BUF_CAP: usize = 500;

/// Why a [`SummaryBuilder`] refused its settings.
///
/// ```
/// use ember::{Summary, SummaryError};
/// let err = Summary::builder().quantiles(&[(1.5, 0.01)]).build().unwrap_err();
/// assert_eq!(err, SummaryError::QuantileOutOfRange(1.5));
/// assert_eq!(err.to_string(), "summary quantile 1.5 is outside [0, 1]");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// A quantile is not in `[0, 1]` (or is NaN).
    #[error("summary quantile {0} is outside [0, 1]")]
    QuantileOutOfRange(f64),
    /// The allowed absolute error of a quantile is not in `[0, 1]` (or is NaN).
    #[error("allowed error {error} of summary quantile {quantile} is outside [0, 1]")]
    ErrorOutOfRange {
        /// The quantile the error was given for.
        quantile: f64,
        /// The refused error.
        error: f64,
    },
    /// The same quantile was given twice.
    #[error("summary quantile {0} is given twice")]
    DuplicateQuantile(f64),
    /// Zero age buckets were asked for.
    #[error("a summary needs at least one age bucket")]
    ZeroAgeBuckets,
    /// The window divided by the number of age buckets is zero.
    #[error("summary max age {max_age:?} split into {age_buckets} age buckets leaves no time")]
    MaxAgeTooShort {
        /// The refused window.
        max_age: Duration,
        /// The number of age buckets it was to be split into.
        age_buckets: u32,
    },
}

/// A summary: count and sum of observations, and quantiles over a sliding time window.
///
/// A cheap handle: clones share the same summary.
///
/// ```
/// use ember::{EncodeMetric, Summary};
/// use ember_expfmt::{Encoder, Format};
///
/// let latency = Summary::builder().quantiles(&[(0.5, 0.05), (0.99, 0.001)]).build()?;
/// for ms in 1..=100 {
///     latency.observe(f64::from(ms));
/// }
/// let mut enc = Encoder::new(Format::Text);
/// let mut fam = enc.family("rpc_duration_ms", "RPC latency.", latency.metric_type(), None);
/// latency.encode(&mut fam, "method=\"GET\"");
/// assert_eq!(
///     String::from_utf8(enc.finish())?,
///     "# HELP rpc_duration_ms RPC latency.\n\
///      ## TYPE rpc_duration_ms summary\n\
///      rpc_duration_ms{method=\"GET\",quantile=\"0.5\"} 50\n\
///      rpc_duration_ms{method=\"GET\",quantile=\"0.99\"} 99\n\
///      rpc_duration_ms_count{method=\"GET\"} 100\n\
///      rpc_duration_ms_sum{method=\"GET\"} 5050\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Summary {
    inner: Arc<Inner>,
}

struct Inner {
    counts: Counts,
    /// Bits of the `_created` timestamp (Unix seconds).
    created: AtomicU64,
    /// `None` when no quantiles are configured: `observe` then takes no lock.
    window: Option<Window>,
}

impl Summary {
    /// How long an observation counts towards the quantiles unless
    /// [`SummaryBuilder::max_age`] says otherwise: 10 minutes, as client_golang.
    ///
    /// ```
    /// assert_eq!(ember::Summary::DEFAULT_MAX_AGE.as_secs(), 600);
    /// ```
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

    /// Into how many age buckets the window is split unless
    /// [`SummaryBuilder::age_buckets`] says otherwise: 5, as client_golang.
    ///
    /// ```
    /// assert_eq!(ember::Summary::DEFAULT_AGE_BUCKETS, 5);
    /// ```
    pub const DEFAULT_AGE_BUCKETS: u32 = 5;

    /// A summary without quantiles: only `_count` and `_sum` (and `_created`).
    ///
    /// ```
    /// let s = ember::Summary::new();
    /// s.observe(2.5);
    /// let snap = s.snapshot();
    /// assert!(snap.quantiles.is_empty());
    /// assert_eq!((snap.count, snap.sum), (1, 2.5));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts configuring a summary with quantiles.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = ember::Summary::builder()
    ///     .quantiles(&[(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)])
    ///     .max_age(Duration::from_secs(300))
    ///     .age_buckets(3)
    ///     .build()?;
    /// assert_eq!(s.snapshot().quantiles.len(), 3);
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn builder() -> SummaryBuilder {
        SummaryBuilder::default()
    }

    /// Records one observation.
    ///
    /// ```
    /// let s = ember::Summary::builder().quantiles(&[(0.5, 0.05)]).build()?;
    /// s.observe(1.0);
    /// s.observe(3.0);
    /// s.observe(2.0);
    /// let snap = s.snapshot();
    /// assert_eq!(snap.quantiles, [(0.5, 2.0)]);
    /// assert_eq!((snap.count, snap.sum), (3, 6.0));
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn observe(&self, v: f64) {
        self.inner.counts.observe(v);
        if let Some(window) = &self.inner.window {
            window.observe(v);
        }
    }

    /// Starts a timer that observes the seconds elapsed when it is dropped or stopped.
    ///
    /// ```
    /// let s = ember::Summary::new();
    /// {
    ///     let _timer = s.start_timer();
    ///     // ... the work being timed ...
    /// }
    /// assert_eq!(s.snapshot().count, 1);
    /// ```
    pub fn start_timer(&self) -> SummaryTimer {
        SummaryTimer {
            summary: self.clone(),
            start: Instant::now(),
            done: false,
        }
    }

    /// Runs `f` and observes how many seconds it took, also when `f` panics.
    ///
    /// ```
    /// let s = ember::Summary::new();
    /// let answer = s.time(|| 6 * 7);
    /// assert_eq!(answer, 42);
    /// assert_eq!(s.snapshot().count, 1);
    /// ```
    pub fn time<F: FnOnce() -> R, R>(&self, f: F) -> R {
        let _timer = self.start_timer();
        f()
    }

    /// The current values. Quantiles are NaN when no observation is in the window, as in
    /// client_golang, and are sorted by quantile.
    ///
    /// ```
    /// let s = ember::Summary::builder().quantiles(&[(0.9, 0.01), (0.5, 0.05)]).build()?;
    /// let snap = s.snapshot();
    /// assert_eq!(snap.count, 0);
    /// assert_eq!(snap.quantiles[0].0, 0.5);
    /// assert!(snap.quantiles[0].1.is_nan());
    /// assert!(snap.created > 1.6e9);
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn snapshot(&self) -> SummarySnapshot {
        let quantiles = match &self.inner.window {
            Some(window) => window.quantiles(),
            None => Vec::new(),
        };
        let (count, sum) = self.inner.counts.get();
        SummarySnapshot {
            quantiles,
            count,
            sum,
            created: f64::from_bits(self.inner.created.load(Ordering::Acquire)),
        }
    }

    /// Forgets all observations and sets `_created` to now. Observations made while the
    /// reset runs may or may not be kept.
    ///
    /// ```
    /// let s = ember::Summary::builder().quantiles(&[(0.5, 0.05)]).build()?;
    /// s.observe(4.0);
    /// let before = s.snapshot().created;
    /// s.reset();
    /// let snap = s.snapshot();
    /// assert_eq!((snap.count, snap.sum), (0, 0.0));
    /// assert!(snap.quantiles[0].1.is_nan());
    /// assert!(snap.created >= before);
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn reset(&self) {
        if let Some(window) = &self.inner.window {
            window.reset();
        }
        self.inner.counts.reset();
        self.inner
            .created
            .store(now_seconds().to_bits(), Ordering::Release);
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            inner: Arc::new(Inner {
                counts: Counts::default(),
                created: AtomicU64::new(now_seconds().to_bits()),
                window: None,
            }),
        }
    }
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Summary");
        if let Some(w) = &self.inner.window {
            let qs: Vec<(f64, f64)> = w.targets.iter().map(|t| (t.quantile, t.error)).collect();
            d.field("quantiles", &qs)
                .field("max_age", &w.max_age)
                .field("age_buckets", &w.age_buckets);
        }
        d.field("count", &self.inner.counts.started()).finish()
    }
}

impl EncodeMetric for Summary {
    fn metric_type(&self) -> MetricType {
        MetricType::Summary
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &str) {
        let snap = self.snapshot();
        for &(q, v) in &snap.quantiles {
            family
                .sample("")
                .rendered_labels(labels)
                .label_float("quantile", q)
                .value(v);
        }
        family
            .sample("_count")
            .rendered_labels(labels)
            .value(snap.count);
        family
            .sample("_sum")
            .rendered_labels(labels)
            .value(snap.sum);
        if family.writes_created() {
            family
                .sample("_created")
                .rendered_labels(labels)
                .value(snap.created);
        }
    }
}

/// Settings of a [`Summary`]; obtained from [`Summary::builder`].
///
/// ```
/// use std::time::Duration;
/// let s = ember::Summary::builder()
///     .quantiles(&[(0.99, 0.001)])
///     .max_age(Duration::from_secs(60))
///     .build()?;
/// s.observe(0.25);
/// assert_eq!(s.snapshot().quantiles, [(0.99, 0.25)]);
/// # Ok::<(), ember::SummaryError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SummaryBuilder {
    quantiles: Vec<(f64, f64)>,
    max_age: Duration,
    age_buckets: u32,
    now: fn() -> Instant,
}

impl Default for SummaryBuilder {
    fn default() -> Self {
        SummaryBuilder {
            quantiles: Vec::new(),
            max_age: Summary::DEFAULT_MAX_AGE,
            age_buckets: Summary::DEFAULT_AGE_BUCKETS,
            now: Instant::now,
        }
    }
}

impl SummaryBuilder {
    /// The quantiles to estimate, each with its allowed absolute error: for `(q, e)` the
    /// value reported is the φ-quantile for some φ in `[q - e, q + e]`. Replaces any
    /// quantiles given before; none (the default) means only `_count` and `_sum`.
    ///
    /// ```
    /// let s = ember::Summary::builder().quantiles(&[(0.5, 0.05), (0.9, 0.01)]).build()?;
    /// let qs: Vec<f64> = s.snapshot().quantiles.iter().map(|q| q.0).collect();
    /// assert_eq!(qs, [0.5, 0.9]);
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn quantiles(mut self, quantiles: &[(f64, f64)]) -> Self {
        self.quantiles = quantiles.to_vec();
        self
    }

    /// How long an observation counts towards the quantiles (default 10 minutes). `_count`
    /// and `_sum` are not windowed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = ember::Summary::builder()
    ///     .quantiles(&[(0.5, 0.05)])
    ///     .max_age(Duration::from_secs(30))
    ///     .build()?;
    /// # let _ = s;
    /// # Ok::<(), ember::SummaryError>(())
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Into how many buckets the window is split (default 5): observations leave the
    /// quantiles one bucket at a time. With one bucket the quantiles start afresh every
    /// `max_age`.
    ///
    /// ```
    /// let err = ember::Summary::builder().age_buckets(0).build().unwrap_err();
    /// assert_eq!(err, ember::SummaryError::ZeroAgeBuckets);
    /// ```
    pub fn age_buckets(mut self, age_buckets: u32) -> Self {
        self.age_buckets = age_buckets;
        self
    }

    /// The clock the window runs on, so tests can move time.
    #[cfg(test)]
    fn clock(mut self, now: fn() -> Instant) -> Self {
        self.now = now;
        self
    }

    /// Checks the settings and creates the summary.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ember::{Summary, SummaryError};
    /// assert!(Summary::builder().quantiles(&[(0.5, 0.05)]).build().is_ok());
    /// assert_eq!(
    ///     Summary::builder().quantiles(&[(0.5, 0.05), (0.5, 0.01)]).build().unwrap_err(),
    ///     SummaryError::DuplicateQuantile(0.5)
    /// );
    /// assert_eq!(
    ///     Summary::builder().quantiles(&[(0.5, -0.1)]).build().unwrap_err().to_string(),
    ///     "allowed error -0.1 of summary quantile 0.5 is outside [0, 1]"
    /// );
    /// assert!(matches!(
    ///     Summary::builder().max_age(Duration::ZERO).build(),
    ///     Err(SummaryError::MaxAgeTooShort { .. })
    /// ));
    /// ```
    pub fn build(self) -> Result<Summary, SummaryError> {
        let mut targets = Vec::with_capacity(self.quantiles.len());
        for &(quantile, error) in &self.quantiles {
            if !(0.0..=1.0).contains(&quantile) {
                return Err(SummaryError::QuantileOutOfRange(quantile));
            }
            if !(0.0..=1.0).contains(&error) {
                return Err(SummaryError::ErrorOutOfRange { quantile, error });
            }
            if targets.iter().any(|t: &Target| t.quantile == quantile) {
                return Err(SummaryError::DuplicateQuantile(quantile));
            }
            targets.push(Target { quantile, error });
        }
        if self.age_buckets == 0 {
            return Err(SummaryError::ZeroAgeBuckets);
        }
        let stream_duration = self.max_age / self.age_buckets;
        if stream_duration.is_zero() {
            return Err(SummaryError::MaxAgeTooShort {
                max_age: self.max_age,
                age_buckets: self.age_buckets,
            });
        }
        targets.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
        let window = (!targets.is_empty()).then(|| {
            Window::new(
                targets.into(),
                self.max_age,
                self.age_buckets,
                stream_duration,
                self.now,
            )
        });
        Ok(Summary {
            inner: Arc::new(Inner {
                counts: Counts::default(),
                created: AtomicU64::new(now_seconds().to_bits()),
                window,
            }),
        })
    }
}

/// The values of a [`Summary`] at one moment; from [`Summary::snapshot`].
///
/// ```
/// let s = ember::Summary::new();
/// s.observe(1.5);
/// let ember::SummarySnapshot { quantiles, count, sum, created } = s.snapshot();
/// assert!(quantiles.is_empty());
/// assert_eq!((count, sum), (1, 1.5));
/// assert!(created > 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySnapshot {
    /// `(quantile, value)` pairs sorted by quantile; values are NaN when the window is
    /// empty.
    pub quantiles: Vec<(f64, f64)>,
    /// Number of observations since creation or reset.
    pub count: u64,
    /// Sum of observations since creation or reset.
    pub sum: f64,
    /// Unix time in seconds of creation or the last reset.
    pub created: f64,
}

/// Observes the seconds elapsed since [`Summary::start_timer`] when dropped, unless stopped
/// first.
///
/// ```
/// let s = ember::Summary::new();
/// let timer = s.start_timer();
/// let secs = timer.stop_and_record();
/// assert!(secs >= 0.0);
/// assert_eq!(s.snapshot().sum, secs);
/// ```
#[derive(Debug)]
#[must_use = "the timer observes when dropped; binding it to `_` drops it at once"]
pub struct SummaryTimer {
    summary: Summary,
    start: Instant,
    done: bool,
}

impl SummaryTimer {
    /// Observes the elapsed seconds now and returns them.
    ///
    /// ```
    /// let s = ember::Summary::new();
    /// let secs = s.start_timer().stop_and_record();
    /// assert_eq!((s.snapshot().count, s.snapshot().sum), (1, secs));
    /// ```
    pub fn stop_and_record(mut self) -> f64 {
        self.done = true;
        let secs = self.start.elapsed().as_secs_f64();
        self.summary.observe(secs);
        secs
    }

    /// Stops the timer without observing anything.
    ///
    /// ```
    /// let s = ember::Summary::new();
    /// s.start_timer().stop_and_discard();
    /// assert_eq!(s.snapshot().count, 0);
    /// ```
    pub fn stop_and_discard(mut self) {
        self.done = true;
    }
}

impl Drop for SummaryTimer {
    fn drop(&mut self) {
        if !self.done {
            self.summary.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

/// The most significant bit of [`Counts::count_and_hot`]: which half is hot.
const HOT_BIT: u64 = 1 << 63;

/// `_count` and `_sum`, lock-free on the observe path, as client_golang's
/// `noObjectivesSummary`: observers update the hot half; a reader flips the hot bit, waits
/// until every observation that started on the now cold half has finished, reads it and
/// folds it into the new hot half. Reads therefore see a count and a sum that agree.
#[derive(Debug, Default)]
struct Counts {
    /// Hot half index in the top bit; observations started, in the other 63.
    count_and_hot: AtomicU64,
    halves: [Half; 2],
    /// Serialises readers and resets, which flip the halves.
    flip: Mutex<()>,
}

#[derive(Debug, Default)]
struct Half {
    /// Observations finished on this half; incremented last, so it signals completion.
    count: AtomicU64,
    sum_bits: AtomicU64,
}

/// Index of the hot half encoded in `count_and_hot`: 0 or 1.
fn hot_index(count_and_hot: u64) -> usize {
    usize::from(count_and_hot & HOT_BIT != 0)
}

fn add_f64(bits: &AtomicU64, v: f64) {
    // The closure always returns Some, so the update cannot fail.
    let _ = bits.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
        Some((f64::from_bits(old) + v).to_bits())
    });
}

impl Counts {
    fn observe(&self, v: f64) {
        let n = self.count_and_hot.fetch_add(1, Ordering::AcqRel);
        let half = &self.halves[hot_index(n)];
        add_f64(&half.sum_bits, v);
        half.count.fetch_add(1, Ordering::Release);
    }

    /// Observations started so far (some may still be running).
    fn started(&self) -> u64 {
        self.count_and_hot.load(Ordering::Acquire) & !HOT_BIT
    }

    /// Flips the halves and waits for the now cold one to settle. Returns the number of
    /// observations it holds and its index. Call with `flip` locked.
    fn flip_and_settle(&self) -> (u64, usize) {
        let n = self.count_and_hot.fetch_add(HOT_BIT, Ordering::AcqRel);
        let count = n & !HOT_BIT;
        let cold = hot_index(n);
        while self.halves[cold].count.load(Ordering::Acquire) != count {
            std::thread::yield_now();
        }
        (count, cold)
    }

    fn get(&self) -> (u64, f64) {
        let _flip = self.flip.lock();
        let (count, cold_index) = self.flip_and_settle();
        let cold = &self.halves[cold_index];
        let hot = &self.halves[cold_index ^ 1];
        let sum = f64::from_bits(cold.sum_bits.load(Ordering::Acquire));
        hot.count.fetch_add(count, Ordering::AcqRel);
        cold.count.store(0, Ordering::Release);
        add_f64(&hot.sum_bits, sum);
        cold.sum_bits.store(0, Ordering::Release);
        (count, sum)
    }

    fn reset(&self) {
        let _flip = self.flip.lock();
        let (count, cold_index) = self.flip_and_settle();
        let cold = &self.halves[cold_index];
        cold.count.store(0, Ordering::Release);
        cold.sum_bits.store(0, Ordering::Release);
        // The started count must again equal what the hot half will hold once running
        // observations finish; the low bits are at least `count`, so the hot bit is kept.
        self.count_and_hot.fetch_sub(count, Ordering::AcqRel);
    }
}

/// The quantile part of a summary: hot buffer, age-bucket streams and their rotation.
///
/// Lock order: `hot` before `cold`, as client_golang's `bufMtx` before `mtx`.
#[derive(Debug)]
struct Window {
    targets: Arc<[Target]>,
    max_age: Duration,
    age_buckets: u32,
    stream_duration: Duration,
    now: fn() -> Instant,
    hot: Mutex<HotBuf>,
    cold: Mutex<Cold>,
}

#[derive(Debug)]
struct HotBuf {
    values: Vec<f64>,
    /// End of the age bucket the buffered values belong to.
    expires: Instant,
}

#[derive(Debug)]
struct Cold {
    /// Values taken from the hot buffer, not yet in the streams.
    values: Vec<f64>,
    /// The hot buffer's expiry when the values were taken: the streams rotate up to it.
    expires: Instant,
    streams: Vec<Stream>,
    head: usize,
    head_expires: Instant,
}

/// `expires` moved forward in whole steps until it is not before `now`.
fn advance(expires: Instant, now: Instant, step: Duration) -> Instant {
    if now <= expires {
        return expires;
    }
    // The first whole step at or after `now`, as client_golang's `for now.After(exp)` loop.
    let step_ns = step.as_nanos().max(1);
    let steps = (now - expires).as_nanos().div_ceil(step_ns);
    let ahead =
        u64::try_from(steps.saturating_mul(step_ns)).map_or(Duration::MAX, Duration::from_nanos);
    expires.checked_add(ahead).unwrap_or(now)
}

impl Window {
    fn new(
        targets: Arc<[Target]>,
        max_age: Duration,
        age_buckets: u32,
        stream_duration: Duration,
        now: fn() -> Instant,
    ) -> Self {
        let start = now();
        let expires = start.checked_add(stream_duration).unwrap_or(start);
        let streams = (0..age_buckets)
            .map(|_| Stream::new(targets.clone()))
            .collect();
        Window {
            targets,
            max_age,
            age_buckets,
            stream_duration,
            now,
            hot: Mutex::new(HotBuf {
                values: Vec::with_capacity(BUF_CAP),
                expires,
            }),
            cold: Mutex::new(Cold {
                values: Vec::with_capacity(BUF_CAP),
                expires,
                streams,
                head: 0,
                head_expires: expires,
            }),
        }
    }

    fn observe(&self, v: f64) {
        let mut hot = self.hot.lock();
        let now = (self.now)();
        let expired = now > hot.expires;
        if !expired {
            hot.values.push(v);
            if hot.values.len() < BUF_CAP {
                return;
            }
        }
        let mut cold = self.cold.lock();
        cold.take(&mut hot, now, self.stream_duration);
        if expired {
            // The value belongs to the new age bucket, not to the values just taken.
            hot.values.push(v);
        }
        // Like client_golang's asyncFlush: other observers may fill the hot buffer again
        // while this one moves the taken values into the streams.
        drop(hot);
        cold.flush(self.stream_duration);
    }

    fn quantiles(&self) -> Vec<(f64, f64)> {
        let mut hot = self.hot.lock();
        let mut cold = self.cold.lock();
        // Taken even when empty, to move the expiry forward and so rotate the streams.
        cold.take(&mut hot, (self.now)(), self.stream_duration);
        drop(hot);
        cold.flush(self.stream_duration);
        let head = cold.head;
        match cold.streams.get_mut(head) {
            Some(stream) if stream.count() > 0 => self
                .targets
                .iter()
                .map(|t| (t.quantile, stream.query(t.quantile)))
                .collect(),
            _ => self
                .targets
                .iter()
                .map(|t| (t.quantile, f64::NAN))
                .collect(),
        }
    }

    fn reset(&self) {
        let mut hot = self.hot.lock();
        let mut cold = self.cold.lock();
        let now = (self.now)();
        let expires = now.checked_add(self.stream_duration).unwrap_or(now);
        hot.values.clear();
        hot.expires = expires;
        cold.values.clear();
        cold.streams.iter_mut().for_each(Stream::reset);
        cold.head = 0;
        cold.expires = expires;
        cold.head_expires = expires;
    }
}

impl Cold {
    /// Takes the hot buffer's values and starts a new one covering `now`. Call with both
    /// locks held.
    fn take(&mut self, hot: &mut HotBuf, now: Instant, step: Duration) {
        // `values` is empty here (every take is followed by a flush under the same lock);
        // appending rather than swapping keeps values even if that ever changed.
        self.values.append(&mut hot.values);
        hot.expires = advance(hot.expires, now, step);
        self.expires = hot.expires;
    }

    /// Moves the taken values into every stream, then rotates the streams up to the
    /// expiry recorded by [`take`](Self::take).
    fn flush(&mut self, step: Duration) {
        for &v in &self.values {
            for stream in &mut self.streams {
                stream.insert(v);
            }
        }
        self.values.clear();
        self.rotate(step);
    }

    /// Empties the head stream and moves on, once per elapsed age bucket (at most once
    /// around: after that every stream is empty anyway).
    fn rotate(&mut self, step: Duration) {
        let n = self.streams.len();
        if n == 0 || self.head_expires >= self.expires {
            return;
        }
        let steps = (self.expires - self.head_expires)
            .as_nanos()
            .div_ceil(step.as_nanos().max(1));
        let resets = usize::try_from(steps).map_or(n, |s| s.min(n));
        for k in 0..resets {
            if let Some(stream) = self.streams.get_mut((self.head + k) % n) {
                stream.reset();
            }
        }
        // `steps % n` is below `n`, so it fits a usize.
        let shift = (steps % n as u128) as usize;
        self.head = (self.head + shift) % n;
        self.head_expires = self.expires;
    }
}

mod ckms;

#[cfg(test)]
mod tests;

//! The engine: query entry points and the step-wise evaluator.
//!
//! Evaluation follows Prometheus 2.42's `promql/engine.go`: every node is evaluated over
//! all steps of the query at once (an instant query is a range of one step); instant
//! vectors are series with a point at each step where they have a value, and functions,
//! operators and aggregations run per step over the vectors of their arguments.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{
    self, AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector, value::ValueType,
};

use crate::error::{Error, Result};
use crate::labels::{LabelMap, LabelMatcher, LabelSet, Labels, METRIC_NAME, MatchOp};
use crate::storage::{Queryable, is_stale_nan};
use crate::value::{InstantSample, Point, QueryValue, Series, StepSample, Value};

/// Where Prometheus's errors say a limit was hit.
pub(crate) const ENV: &str = "query execution";

/// Engine settings, defaults as Prometheus's flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5m;
    /// zero means the default, as in Prometheus).
    pub lookback_delta: Duration,
    /// Most samples a query may hold at once (`--query.max-samples`, 50,000,000).
    pub max_samples: usize,
    /// Longest a query may run (`--query.timeout`, 2m); `None` for no limit.
    pub timeout: Option<Duration>,
    /// Step of a subquery without one (Prometheus: the global evaluation interval, 1m).
    pub default_subquery_step: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// A flag that cancels running queries it was given to.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A new, unset token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the queries holding this token; they fail with `canceled`.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The PromQL engine.
///
/// ```
/// use ember_promql::{Engine, Labels, MemStorage, QueryValue};
/// let mut s = MemStorage::new();
/// let up = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
/// s.append(&up, 0, 1.0);
/// let v = Engine::default().instant_query(&s, "sum(up) * 2", 60_000).unwrap();
/// let QueryValue::Vector(v) = v else { panic!() };
/// assert_eq!(v[0].v, 2.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(opts: EngineOptions) -> Self {
        Self { opts }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `t` (milliseconds), as `/api/v1/query`.
    pub fn instant_query(&self, q: &dyn Queryable, query: &str, t: i64) -> Result<QueryValue> {
        self.exec(q, query, t, t, 0, None)
    }

    /// Evaluates `query` from `start` to `end` every `step` (milliseconds), as
    /// `/api/v1/query_range`.
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryValue> {
        if step <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        self.exec(q, query, start, end, step, None)
    }

    /// Evaluates an instant (`step == 0`, `start == end`) or range query that `cancel`
    /// can abort.
    pub fn exec(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        cancel: Option<&CancelToken>,
    ) -> Result<QueryValue> {
        let (text, literals) = crate::strings::protect_strings(query);
        let mut expr = parser::parse(&text).map_err(Error::BadData)?;
        crate::strings::restore_strings(&mut expr, &literals);
        self.exec_expr(q, &expr, start, end, step, cancel)
    }

    /// Evaluates an already parsed expression, as [`Engine::exec`] does.
    pub fn exec_expr(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: Option<&CancelToken>,
    ) -> Result<QueryValue> {
        let instant = step == 0 && start == end;
        if !instant && step <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if !instant {
            let vt = expr.value_type();
            if vt != ValueType::Vector && vt != ValueType::Scalar {
                let name = match vt {
                    ValueType::Matrix => "range vector",
                    ValueType::String => "string",
                    ValueType::Scalar => "scalar",
                    ValueType::Vector => "instant vector",
                };
                return Err(Error::BadData(format!(
                    "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
                )));
            }
        }
        let mut ev = Evaluator {
            q,
            start,
            end,
            interval: if instant { 1 } else { step },
            lookback: match self.opts.lookback_delta.as_millis() as i64 {
                // Prometheus falls back to the default for a zero lookback.
                0 => 300_000,
                ms => ms,
            },
            max_samples: self.opts.max_samples,
            current_samples: 0,
            deadline: self
                .opts
                .timeout
                .and_then(|d| Instant::now().checked_add(d)),
            cancel,
            query_start: start,
            query_end: end,
            subquery_step: (self.opts.default_subquery_step.as_millis() as i64).max(1),
        };
        let val = ev.eval(expr)?;
        Ok(match (instant, val) {
            (true, Value::Vector(series)) => QueryValue::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        s.points.first().map(|p| InstantSample {
                            labels: s.labels,
                            t: start,
                            v: p.v,
                        })
                    })
                    .collect(),
            ),
            (true, Value::Scalar(v)) => QueryValue::Scalar {
                t: start,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            (_, Value::String(s)) => QueryValue::String { t: start, v: s },
            (_, Value::Range(m)) => QueryValue::Matrix(m),
            (false, Value::Vector(mut series)) => {
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                QueryValue::Matrix(series)
            }
            (false, Value::Scalar(v)) => {
                let points = ev
                    .step_times()
                    .zip(v)
                    .map(|(t, v)| Point { t, v })
                    .collect();
                QueryValue::Matrix(vec![Series {
                    labels: Labels::empty(),
                    points,
                }])
            }
        })
    }
}

/// A step's view of an argument (string arguments are read from the syntax tree).
#[derive(Debug, Clone, Copy)]
pub(crate) enum StepArg<'a> {
    Vector(&'a [StepSample]),
    Scalar(f64),
}

impl StepArg<'_> {
    pub(crate) fn scalar(&self) -> f64 {
        match self {
            StepArg::Scalar(v) => *v,
            _ => f64::NAN,
        }
    }

    pub(crate) fn vector(&self) -> &[StepSample] {
        match self {
            StepArg::Vector(v) => v,
            _ => &[],
        }
    }
}

/// The samples of a series as a range function sees them.
pub(crate) struct RangeSeries {
    pub(crate) labels: Labels,
    pub(crate) points: Vec<Point>,
}

/// Where a range function's windows come from.
pub(crate) struct RangeSource {
    pub(crate) series: Vec<RangeSeries>,
    pub(crate) range: i64,
    pub(crate) offset: i64,
    pub(crate) at: Option<i64>,
}

pub(crate) struct Evaluator<'a> {
    pub(crate) q: &'a dyn Queryable,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    pub(crate) lookback: i64,
    pub(crate) max_samples: usize,
    pub(crate) current_samples: usize,
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<&'a CancelToken>,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    pub(crate) subquery_step: i64,
}

pub(crate) fn duration_ms(d: &Duration) -> i64 {
    d.as_millis() as i64
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Removes redundant parentheses.
pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

pub(crate) fn matchers_of(vs: &VectorSelector) -> Result<Vec<LabelMatcher>> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(LabelMatcher::new(MatchOp::Equal, METRIC_NAME, name)?);
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::BadData(
            "`or` in label matchers is not supported by PromQL 2.42".into(),
        ));
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(LabelMatcher::new(
            op,
            &m.name,
            &crate::strings::unescape(&m.value),
        )?);
    }
    Ok(out)
}

impl Evaluator<'_> {
    pub(crate) fn step_times(&self) -> impl Iterator<Item = i64> + use<> {
        let (start, end, interval) = (self.start, self.end, self.interval);
        (0..)
            .map(move |i: i64| start + i * interval)
            .take_while(move |t| *t <= end)
    }

    pub(crate) fn num_steps(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.interval + 1) as usize
        }
    }

    pub(crate) fn check_cancel(&self) -> Result<()> {
        if let Some(c) = self.cancel {
            if c.is_canceled() {
                return Err(Error::Canceled(ENV));
            }
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(Error::Timeout(ENV));
            }
        }
        Ok(())
    }

    pub(crate) fn add_samples(&mut self, n: usize) -> Result<()> {
        self.current_samples += n;
        if self.current_samples > self.max_samples {
            return Err(Error::TooManySamples(ENV));
        }
        Ok(())
    }

    pub(crate) fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        }
    }

    /// Evaluates `e` over all steps.
    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Value> {
        self.check_cancel()?;
        let before = self.current_samples;
        let v = self.eval_inner(e)?;
        let held = match &v {
            Value::Vector(s) | Value::Range(s) => s.iter().map(|s| s.points.len()).sum(),
            Value::Scalar(v) => v.len(),
            Value::String(_) => 0,
        };
        self.current_samples = before;
        self.add_samples(held)?;
        Ok(v)
    }

    fn eval_inner(&mut self, e: &Expr) -> Result<Value> {
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(vec![n.val; self.num_steps()])),
            Expr::StringLiteral(s) => {
                Ok(Value::String(crate::strings::unescape(&s.val).into_owned()))
            }
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Value::Scalar(v) => Ok(Value::Scalar(v.into_iter().map(|x| -x).collect())),
                Value::Vector(mut series) => {
                    for s in &mut series {
                        s.labels = s.labels.without_name();
                        for p in &mut s.points {
                            p.v = -p.v;
                        }
                    }
                    Ok(Value::Vector(self.merge_same_labelsets(series)?))
                }
                _ => Err(Error::BadData(
                    "unary expression only allowed on expressions of type scalar or instant vector"
                        .into(),
                )),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.eval_vector_selector(vs, false)?)),
            Expr::MatrixSelector(ms) => {
                let src = self.load_matrix_selector(ms)?;
                Ok(Value::Range(self.top_level_range(src)))
            }
            Expr::Subquery(sq) => {
                let src = self.eval_subquery(sq)?;
                Ok(Value::Range(self.top_level_range(src)))
            }
            Expr::Call(c) => self.eval_call(c),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Extension(_) => Err(Error::BadData(
                "extension expressions are not supported".into(),
            )),
        }
    }

    /// A range vector at the top of an instant query: the points of each window.
    fn top_level_range(&self, src: RangeSource) -> Vec<Series> {
        let r = src.at.unwrap_or(self.start) - src.offset;
        src.series
            .into_iter()
            .filter_map(|s| {
                let points: Vec<Point> = s
                    .points
                    .into_iter()
                    .filter(|p| p.t >= r - src.range && p.t <= r)
                    .collect();
                (!points.is_empty()).then_some(Series {
                    labels: s.labels,
                    points,
                })
            })
            .collect()
    }

    /// Evaluates an instant vector selector; with `timestamps`, the values are the
    /// timestamps (seconds) of the samples found, as `timestamp()` wants them.
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        timestamps: bool,
    ) -> Result<Vec<Series>> {
        let matchers = matchers_of(vs)?;
        let off = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let (lo, hi) = match at {
            Some(a) => (a - off, a - off),
            None => (self.start - off, self.end - off),
        };
        let selected = self.q.select(&matchers, lo - self.lookback, hi)?;
        let n = self.num_steps();
        let mut out = Vec::with_capacity(selected.len());
        let mut buf = Vec::new();
        for s in selected {
            self.check_cancel()?;
            buf.clear();
            buf.extend(s.samples);
            let mut points = Vec::with_capacity(n.min(buf.len() * 2 + 1));
            let mut p = 0usize;
            for ts in self.step_times() {
                let r = at.unwrap_or(ts) - off;
                while p < buf.len() && buf[p].t <= r {
                    p += 1;
                }
                if p == 0 {
                    continue;
                }
                let smp = buf[p - 1];
                if smp.t < r - self.lookback || is_stale_nan(smp.v) {
                    continue;
                }
                let v = if timestamps {
                    smp.t as f64 / 1000.0
                } else {
                    smp.v
                };
                points.push(Point { t: ts, v });
            }
            if !points.is_empty() {
                self.add_samples(points.len())?;
                out.push(Series {
                    labels: s.labels,
                    points,
                });
            }
        }
        Ok(out)
    }

    /// Loads the samples a matrix selector's windows need, stale markers dropped.
    pub(crate) fn load_matrix_selector(&mut self, ms: &MatrixSelector) -> Result<RangeSource> {
        let vs = &ms.vs;
        let matchers = matchers_of(vs)?;
        let off = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let range = duration_ms(&ms.range);
        let (lo, hi) = match at {
            Some(a) => (a - off, a - off),
            None => (self.start - off, self.end - off),
        };
        let selected = self.q.select(&matchers, lo - range, hi)?;
        let mut series = Vec::with_capacity(selected.len());
        for s in selected {
            self.check_cancel()?;
            let (lo_hint, hi_hint) = s.samples.size_hint();
            // Trust the hint, within reason.
            let mut points: Vec<Point> =
                Vec::with_capacity(hi_hint.unwrap_or(lo_hint).min(1 << 22));
            points.extend(
                s.samples
                    .filter(|x| !is_stale_nan(x.v))
                    .map(|x| Point { t: x.t, v: x.v }),
            );
            series.push(RangeSeries {
                labels: s.labels,
                points,
            });
        }
        Ok(RangeSource {
            series,
            range,
            offset: off,
            at,
        })
    }

    /// Evaluates a subquery's inner expression on its own aligned steps.
    pub(crate) fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeSource> {
        let off = offset_ms(&sq.offset);
        let range = duration_ms(&sq.range);
        let step = match &sq.step {
            Some(d) if duration_ms(d) > 0 => duration_ms(d),
            _ => self.subquery_step,
        };
        let at = self.at_ms(&sq.at);
        let (outer_start, outer_end) = match at {
            Some(a) => (a, a),
            None => (self.start, self.end),
        };
        let raw_start = outer_start - off - range;
        // Go's integer division truncates toward zero, as Rust's does.
        let mut inner_start = step * (raw_start / step);
        if inner_start < raw_start {
            inner_start += step;
        }
        let mut sub = Evaluator {
            q: self.q,
            start: inner_start,
            end: outer_end - off,
            interval: step,
            lookback: self.lookback,
            max_samples: self.max_samples,
            current_samples: self.current_samples,
            deadline: self.deadline,
            cancel: self.cancel,
            query_start: self.query_start,
            query_end: self.query_end,
            subquery_step: self.subquery_step,
        };
        let v = sub.eval(&sq.expr)?;
        self.current_samples = sub.current_samples;
        let series = match v {
            Value::Vector(s) => s
                .into_iter()
                .map(|s| RangeSeries {
                    labels: s.labels,
                    points: s.points,
                })
                .collect(),
            Value::Scalar(vals) => {
                let points = sub
                    .step_times()
                    .zip(vals)
                    .map(|(t, v)| Point { t, v })
                    .collect();
                vec![RangeSeries {
                    labels: Labels::empty(),
                    points,
                }]
            }
            _ => {
                return Err(Error::BadData(
                    "subquery is only allowed on instant vector".into(),
                ));
            }
        };
        Ok(RangeSource {
            series,
            range,
            offset: off,
            at,
        })
    }

    /// Runs `f` at every step over the step views of `args`, assembling the output
    /// vectors into series (Prometheus's `rangeEval`).
    pub(crate) fn range_eval(
        &mut self,
        args: &[Value],
        mut f: impl FnMut(&[StepArg<'_>], i64, &mut Vec<StepSample>) -> Result<()>,
    ) -> Result<Vec<Series>> {
        let n = self.num_steps();
        // Each vector argument transposed to steps: its samples step by step, in series
        // order, so a step reads one contiguous run instead of probing every series.
        let by_step: Vec<Option<StepIndex>> = args
            .iter()
            .map(|a| match a {
                Value::Vector(s) => Some(self.transpose(s)),
                _ => None,
            })
            .collect();
        let mut bufs: Vec<Vec<StepSample>> = args.iter().map(|_| Vec::new()).collect();
        let mut out_series: Vec<Series> = Vec::new();
        let mut last_step: Vec<usize> = Vec::new();
        let mut index: LabelMap<usize> = LabelMap::default();
        let mut seen: LabelSet = LabelSet::default();
        let mut out: Vec<StepSample> = Vec::new();
        for (step, ts) in self.step_times().enumerate() {
            if step % 64 == 0 {
                self.check_cancel()?;
            }
            for (i, a) in args.iter().enumerate() {
                if let (Value::Vector(series), Some(idx)) = (a, &by_step[i]) {
                    let buf = &mut bufs[i];
                    buf.clear();
                    for &(j, v) in idx.step(step) {
                        buf.push(StepSample {
                            labels: series[j as usize].labels.clone(),
                            v,
                        });
                    }
                }
            }
            let step_args: Vec<StepArg<'_>> = args
                .iter()
                .zip(&bufs)
                .map(|(a, b)| match a {
                    Value::Vector(_) => StepArg::Vector(b),
                    Value::Scalar(v) => StepArg::Scalar(v.get(step).copied().unwrap_or(f64::NAN)),
                    // String arguments are read from the syntax tree, never per step.
                    Value::String(_) | Value::Range(_) => StepArg::Vector(&[]),
                })
                .collect();
            out.clear();
            f(&step_args, ts, &mut out)?;
            if n == 1 {
                if out.len() > 1 {
                    seen.clear();
                    for s in &out {
                        if !seen.insert(s.labels.clone()) {
                            return Err(same_labelset());
                        }
                    }
                }
                for s in out.drain(..) {
                    out_series.push(Series {
                        labels: s.labels,
                        points: vec![Point { t: ts, v: s.v }],
                    });
                }
            } else {
                for s in out.drain(..) {
                    let next = out_series.len();
                    let idx = *index.entry(s.labels.clone()).or_insert(next);
                    if idx == next {
                        out_series.push(Series {
                            labels: s.labels,
                            points: Vec::new(),
                        });
                        last_step.push(usize::MAX);
                    } else if last_step[idx] == step {
                        return Err(same_labelset());
                    }
                    last_step[idx] = step;
                    out_series[idx].points.push(Point { t: ts, v: s.v });
                }
            }
        }
        Ok(out_series)
    }
}

impl Evaluator<'_> {
    /// Series whose labels became equal (e.g. after dropping the name) are merged, and
    /// fail when two have a point at the same step, as Prometheus's per-step check does.
    pub(crate) fn merge_same_labelsets(&mut self, series: Vec<Series>) -> Result<Vec<Series>> {
        if check_same_labelsets(&series).is_ok() {
            return Ok(series);
        }
        self.range_eval(&[Value::Vector(series)], |a, _ts, out| {
            out.extend_from_slice(a[0].vector());
            Ok(())
        })
    }
}

/// The samples of a vector value grouped by step (compressed rows): for step `i`,
/// `entries[offsets[i]..offsets[i + 1]]` holds `(series index, value)` in series order.
pub(crate) struct StepIndex {
    offsets: Vec<usize>,
    entries: Vec<(u32, f64)>,
}

impl StepIndex {
    pub(crate) fn step(&self, i: usize) -> &[(u32, f64)] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.entries[a..b],
            _ => &[],
        }
    }
}

impl Evaluator<'_> {
    /// Groups the points of `series` (at step timestamps) by step.
    pub(crate) fn transpose(&self, series: &[Series]) -> StepIndex {
        let n = self.num_steps();
        let step_of = |t: i64| ((t - self.start) / self.interval) as usize;
        let mut offsets = vec![0usize; n + 1];
        for s in series {
            for p in &s.points {
                let i = step_of(p.t);
                if i < n {
                    offsets[i + 1] += 1;
                }
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0.0f64); offsets[n]];
        for (j, s) in series.iter().enumerate() {
            for p in &s.points {
                let i = step_of(p.t);
                if i < n {
                    entries[fill[i]] = (j as u32, p.v);
                    fill[i] += 1;
                }
            }
        }
        StepIndex { offsets, entries }
    }
}

pub(crate) fn same_labelset() -> Error {
    Error::exec("vector cannot contain metrics with the same labelset")
}

/// Fails when two series share a label set (Prometheus's `ContainsSameLabelset`).
pub(crate) fn check_same_labelsets(series: &[Series]) -> Result<()> {
    if series.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(series.len());
    for s in series {
        if !seen.insert(&s.labels) {
            return Err(same_labelset());
        }
    }
    Ok(())
}

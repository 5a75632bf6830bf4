//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `count_values`, ...).

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use crate::engine::{Evaluator, unwrap_parens};
use crate::error::{Error, Result};
use crate::format::format_go_float;
use crate::labels::{LabelMap, Labels, METRIC_NAME};
use crate::quantile::{nan_first_less, quantile};
use crate::value::{Point, Series, StepSample, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
}

impl AggOp {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "count_values" => AggOp::CountValues,
            "quantile" => AggOp::Quantile,
            other => return Err(Error::BadData(format!("unknown aggregation {other:?}"))),
        })
    }
}

struct Grouping {
    without: bool,
    labels: Vec<String>,
}

impl Grouping {
    fn key_and_labels(&self, l: &Labels) -> (Labels, Labels) {
        if self.without {
            let g = l.filter(|n| {
                n != METRIC_NAME && self.labels.binary_search_by(|x| x.as_str().cmp(n)).is_err()
            });
            (g.clone(), g)
        } else if self.labels.is_empty() {
            (Labels::empty(), Labels::empty())
        } else {
            let g = l.filter(|n| self.labels.binary_search_by(|x| x.as_str().cmp(n)).is_ok());
            (g.clone(), g)
        }
    }
}

struct Group {
    labels: Labels,
    acc: Acc,
    heap: Vec<StepSample>,
}

/// The running state of the simple aggregations (all but topk, bottomk, quantile).
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    value: f64,
    mean: f64,
    count: usize,
}

/// The state after a group's first sample.
fn acc_init(op: AggOp, v: f64) -> Acc {
    let value = match op {
        AggOp::Stddev | AggOp::Stdvar => 0.0,
        AggOp::Group => 1.0,
        _ => v,
    };
    Acc {
        value,
        mean: v,
        count: 1,
    }
}

/// Adds a further sample (the body of Prometheus's `aggregation` loop).
fn acc_add(op: AggOp, g: &mut Acc, v: f64) {
    match op {
        AggOp::Sum => g.value += v,
        AggOp::Avg => {
            g.count += 1;
            if g.mean.is_infinite() {
                if v.is_infinite() && (g.mean > 0.0) == (v > 0.0) {
                    return;
                }
                if !v.is_infinite() && !v.is_nan() {
                    return;
                }
            }
            let c = g.count as f64;
            g.mean += v / c - g.mean / c;
        }
        AggOp::Max => {
            if g.value < v || g.value.is_nan() {
                g.value = v;
            }
        }
        AggOp::Min => {
            if g.value > v || g.value.is_nan() {
                g.value = v;
            }
        }
        AggOp::Count | AggOp::CountValues => g.count += 1,
        AggOp::Stddev | AggOp::Stdvar => {
            g.count += 1;
            let delta = v - g.mean;
            g.mean += delta / g.count as f64;
            g.value += delta * (v - g.mean);
        }
        AggOp::Group | AggOp::Topk | AggOp::Bottomk | AggOp::Quantile => {}
    }
}

/// The result of a simple aggregation.
fn acc_value(op: AggOp, g: &Acc) -> f64 {
    match op {
        AggOp::Avg => g.mean,
        AggOp::Count | AggOp::CountValues => g.count as f64,
        AggOp::Stdvar => g.value / g.count as f64,
        AggOp::Stddev => (g.value / g.count as f64).sqrt(),
        _ => g.value,
    }
}

/// A min-heap (by `less`) with the moves of Go's `container/heap`, so the same elements
/// survive ties as in Prometheus.
fn heap_up(h: &mut [StepSample], mut j: usize, less: fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if i == j || !less(h[j].v, h[i].v) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [StepSample], i0: usize, n: usize, less: fn(f64, f64) -> bool) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(h[j2].v, h[j1].v) {
            j = j2;
        }
        if !less(h[j].v, h[i].v) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

fn heap_push(h: &mut Vec<StepSample>, s: StepSample, less: fn(f64, f64) -> bool) {
    h.push(s);
    let n = h.len() - 1;
    heap_up(h, n, less);
}

fn heap_pop(h: &mut Vec<StepSample>, less: fn(f64, f64) -> bool) {
    let n = h.len() - 1;
    h.swap(0, n);
    heap_down(h, 0, n, less);
    h.pop();
}

/// Largest float convertible to an int64 without overflow (Go's `maxInt64` in the engine).
const MAX_INT64: f64 = 9_223_372_036_854_774_784_i64 as f64;
/// Smallest float convertible to an int64.
const MIN_INT64: f64 = i64::MIN as f64;

fn nan_first_greater(a: f64, b: f64) -> bool {
    (a.is_nan() && !b.is_nan()) || a > b
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<Value> {
        let op = AggOp::parse(&a.op.to_string())?;
        let (without, mut labels) = match &a.modifier {
            Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
            None => (false, Vec::new()),
        };
        labels.sort();
        labels.dedup();
        let param_expr = a.param.as_deref().map(unwrap_parens);
        let mut string_param = None;
        let mut args = Vec::with_capacity(2);
        match param_expr {
            Some(Expr::StringLiteral(s)) => {
                string_param = Some(crate::strings::unescape(&s.val).into_owned())
            }
            Some(e) => args.push(self.eval(e)?),
            None => {}
        }
        let has_param = !args.is_empty();
        args.push(self.eval(&a.expr)?);
        if op == AggOp::CountValues {
            let vl = string_param.clone().unwrap_or_default();
            if !crate::functions::valid_label_name(&vl) {
                return Err(Error::exec(format!("invalid label name {vl:?}")));
            }
            if !without {
                labels.push(vl);
                labels.sort();
                labels.dedup();
            }
        }
        let grouping = Grouping { without, labels };
        if op != AggOp::CountValues {
            let input = match args.pop() {
                Some(Value::Vector(s)) => s,
                _ => return Err(Error::BadData("aggregation over a non-vector".into())),
            };
            let param = match args.pop() {
                Some(Value::Scalar(v)) => Some(v),
                _ => None,
            };
            return Ok(Value::Vector(
                self.aggregate_series(op, &grouping, param, input)?,
            ));
        }
        let mut cache: LabelMap<(Labels, Labels)> = LabelMap::default();
        let series = self.range_eval(&args, |a, _ts, out| {
            let param = if has_param { a[0].scalar() } else { 0.0 };
            let vec = a[if has_param { 1 } else { 0 }].vector();
            aggregate_step(
                op,
                &grouping,
                param,
                string_param.as_deref(),
                vec,
                &mut cache,
                out,
            )
        })?;
        Ok(Value::Vector(series))
    }

    /// Aggregation with the groups of each input series worked out once, not per step.
    fn aggregate_series(
        &mut self,
        op: AggOp,
        grouping: &Grouping,
        param: Option<Vec<f64>>,
        input: Vec<Series>,
    ) -> Result<Vec<Series>> {
        let ns = input.len();
        let mut gid_of: Vec<usize> = Vec::with_capacity(ns);
        let mut glabels: Vec<Labels> = Vec::new();
        let mut ids: LabelMap<usize> = LabelMap::default();
        for s in &input {
            let (key, gl) = grouping.key_and_labels(&s.labels);
            let id = *ids.entry(key).or_insert_with(|| {
                glabels.push(gl);
                glabels.len() - 1
            });
            gid_of.push(id);
        }
        let n = self.num_steps();
        let simple = !matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Quantile);
        if simple && n > 1 && n.saturating_mul(glabels.len()) <= SERIES_MAJOR_LIMIT {
            return self.aggregate_series_major(op, &gid_of, glabels, &input);
        }
        let topk_like = matches!(op, AggOp::Topk | AggOp::Bottomk);
        let input_index: LabelMap<usize> = if topk_like {
            input
                .iter()
                .enumerate()
                .map(|(i, s)| (s.labels.clone(), i))
                .collect()
        } else {
            LabelMap::default()
        };
        let mut out_series: Vec<Series> = if topk_like {
            input
                .iter()
                .map(|s| Series {
                    labels: s.labels.clone(),
                    points: Vec::new(),
                })
                .collect()
        } else {
            glabels
                .iter()
                .map(|l| Series {
                    labels: l.clone(),
                    points: Vec::new(),
                })
                .collect()
        };
        let mut groups: Vec<Option<Group>> = (0..glabels.len()).map(|_| None).collect();
        let mut touched: Vec<usize> = Vec::new();
        let by_step = self.transpose(&input);
        let mut out: Vec<StepSample> = Vec::new();
        let mut instant: Vec<Series> = Vec::new();
        for (step, ts) in self.step_times().enumerate() {
            if step % 64 == 0 {
                self.check_cancel()?;
            }
            let p = param
                .as_ref()
                .and_then(|v| v.get(step))
                .copied()
                .unwrap_or(0.0);
            let mut k = 0;
            if topk_like {
                match topk_k(p)? {
                    Some(kk) => k = kk,
                    None => continue,
                }
            }
            touched.clear();
            for &(j, v) in by_step.step(step) {
                let j = j as usize;
                let smp = SampleRef {
                    labels: &input[j].labels,
                    v,
                };
                let g = gid_of[j];
                match &mut groups[g] {
                    Some(grp) => group_add(op, grp, smp, k),
                    slot => {
                        *slot = Some(group_init(op, glabels[g].clone(), smp));
                        touched.push(g);
                    }
                }
            }
            for &g in &touched {
                let Some(grp) = groups[g].take() else {
                    continue;
                };
                out.clear();
                group_finish(op, grp, p, &mut out);
                for smp in out.drain(..) {
                    if n == 1 {
                        instant.push(Series {
                            labels: smp.labels,
                            points: vec![Point { t: ts, v: smp.v }],
                        });
                    } else {
                        let idx = if topk_like {
                            input_index.get(&smp.labels).copied().unwrap_or(0)
                        } else {
                            g
                        };
                        out_series[idx].points.push(Point { t: ts, v: smp.v });
                    }
                }
            }
        }
        if n == 1 {
            return Ok(instant);
        }
        out_series.retain(|s| !s.points.is_empty());
        Ok(out_series)
    }
}

impl Evaluator<'_> {
    /// A simple aggregation over a range, walking each input series once in time order
    /// into a steps x groups table of accumulators. For each step and group the samples
    /// arrive in input order, as in the step-by-step walk, so the floats are identical.
    fn aggregate_series_major(
        &self,
        op: AggOp,
        gid_of: &[usize],
        glabels: Vec<Labels>,
        input: &[Series],
    ) -> Result<Vec<Series>> {
        let n = self.num_steps();
        let ng = glabels.len();
        let mut table: Vec<Acc> = vec![Acc::default(); n * ng];
        for (i, (s, &g)) in input.iter().zip(gid_of).enumerate() {
            if i % 64 == 0 {
                self.check_cancel()?;
            }
            for p in &s.points {
                let step = ((p.t - self.start) / self.interval) as usize;
                let Some(a) = table.get_mut(step * ng + g) else {
                    continue;
                };
                if a.count == 0 {
                    *a = acc_init(op, p.v);
                } else {
                    acc_add(op, a, p.v);
                }
            }
        }
        let mut out = Vec::with_capacity(ng);
        for (g, labels) in glabels.into_iter().enumerate() {
            let points: Vec<Point> = self
                .step_times()
                .enumerate()
                .filter_map(|(step, t)| {
                    let a = &table[step * ng + g];
                    (a.count > 0).then(|| Point {
                        t,
                        v: acc_value(op, a),
                    })
                })
                .collect();
            if !points.is_empty() {
                out.push(Series { labels, points });
            }
        }
        Ok(out)
    }
}

/// Most steps x groups cells the series-major aggregation allocates.
const SERIES_MAJOR_LIMIT: usize = 4 << 20;

/// Topk's `k` for a step, or `None` when no element is to be kept; fails as Prometheus
/// does when the parameter does not fit an int64.
fn topk_k(param: f64) -> Result<Option<usize>> {
    if !(MIN_INT64..=MAX_INT64).contains(&param) {
        return Err(Error::exec(format!(
            "Scalar value {} overflows int64",
            crate::format::format_go_g(param)
        )));
    }
    let k = param as i64;
    Ok((k >= 1).then_some(k as usize))
}

/// A sample seen by an aggregation, its labels borrowed until a heap keeps it.
#[derive(Clone, Copy)]
struct SampleRef<'a> {
    labels: &'a Labels,
    v: f64,
}

impl<'a> SampleRef<'a> {
    fn of(s: &'a StepSample) -> Self {
        SampleRef {
            labels: &s.labels,
            v: s.v,
        }
    }

    fn owned(self) -> StepSample {
        StepSample {
            labels: self.labels.clone(),
            v: self.v,
        }
    }
}

/// A new group from its first sample.
fn group_init(op: AggOp, labels: Labels, s: SampleRef<'_>) -> Group {
    let heap = match op {
        AggOp::Topk | AggOp::Bottomk | AggOp::Quantile => vec![s.owned()],
        _ => Vec::new(),
    };
    Group {
        labels,
        acc: acc_init(op, s.v),
        heap,
    }
}

/// Adds a further sample to a group (the body of Prometheus's `aggregation` loop).
fn group_add(op: AggOp, g: &mut Group, s: SampleRef<'_>, k: usize) {
    match op {
        AggOp::Topk | AggOp::Bottomk => {
            let less: fn(f64, f64) -> bool = if op == AggOp::Topk {
                nan_first_less
            } else {
                nan_first_greater
            };
            // Topk keeps the largest: replace the heap top when it is smaller (or NaN).
            let top = g.heap[0].v;
            let better = if op == AggOp::Topk {
                top < s.v
            } else {
                top > s.v
            };
            if g.heap.len() < k || better || top.is_nan() {
                if g.heap.len() == k {
                    if k == 1 {
                        g.heap[0] = s.owned();
                        return;
                    }
                    heap_pop(&mut g.heap, less);
                }
                heap_push(&mut g.heap, s.owned(), less);
            }
        }
        AggOp::Quantile => g.heap.push(s.owned()),
        _ => acc_add(op, &mut g.acc, s.v),
    }
}

/// Emits a group's result (several elements for topk/bottomk).
fn group_finish(op: AggOp, mut g: Group, q: f64, out: &mut Vec<StepSample>) {
    let v = match op {
        AggOp::Topk | AggOp::Bottomk => {
            let less: fn(f64, f64) -> bool = if op == AggOp::Topk {
                nan_first_less
            } else {
                nan_first_greater
            };
            // sort.Sort(sort.Reverse(heap)): insertion sort for small inputs, stable.
            g.heap.sort_by(|a, b| {
                if less(b.v, a.v) {
                    std::cmp::Ordering::Less
                } else if less(a.v, b.v) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            out.append(&mut g.heap);
            return;
        }
        AggOp::Quantile => {
            let mut vals: Vec<f64> = g.heap.iter().map(|s| s.v).collect();
            quantile(q, &mut vals)
        }
        _ => acc_value(op, &g.acc),
    };
    out.push(StepSample {
        labels: g.labels,
        v,
    });
}

fn aggregate_step(
    op: AggOp,
    grouping: &Grouping,
    param: f64,
    value_label: Option<&str>,
    vec: &[StepSample],
    cache: &mut LabelMap<(Labels, Labels)>,
    out: &mut Vec<StepSample>,
) -> Result<()> {
    let mut k = 0usize;
    if matches!(op, AggOp::Topk | AggOp::Bottomk) {
        match topk_k(param)? {
            Some(kk) => k = kk,
            None => return Ok(()),
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut index: LabelMap<usize> = LabelMap::default();
    for s in vec {
        let mut metric = s.labels.clone();
        if op == AggOp::CountValues {
            metric = metric.with(value_label.unwrap_or(""), &format_go_float(s.v));
        }
        let (key, glabels) = match cache.get(&metric) {
            Some(v) => v.clone(),
            None => {
                let v = grouping.key_and_labels(&metric);
                cache.insert(metric.clone(), v.clone());
                v
            }
        };
        match index.get(&key) {
            Some(i) => group_add(op, &mut groups[*i], SampleRef::of(s), k),
            None => {
                index.insert(key, groups.len());
                groups.push(group_init(op, glabels, SampleRef::of(s)));
            }
        }
    }
    for g in groups {
        group_finish(op, g, param, out);
    }
    Ok(())
}

//! Functions over range vectors: `rate` and friends, `*_over_time`, `deriv`,
//! `predict_linear`, `holt_winters`, `absent_over_time`.

use std::collections::HashSet;

use promql_parser::parser::Expr;

use crate::engine::{Evaluator, RangeSource, check_same_labelsets};
use crate::error::{Error, Result};
use crate::functions::absent_labels;
use crate::quantile::quantile;
use crate::value::{Point, Series, Value};

/// Prometheus's `extrapolatedRate` for `rate`, `increase` and `delta`.
fn extrapolated_rate(
    p: &[Point],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
    may_reset: bool,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let first = p[0];
    let last = p[p.len() - 1];
    let mut result = last.v - first.v;
    // Without a decrease in the window the correction loop adds nothing.
    if is_counter && may_reset {
        let mut prev = first.v;
        for x in &p[1..] {
            if x.v < prev {
                result += prev;
            }
            prev = x.v;
        }
    }
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = sampled / (p.len() - 1) as f64;
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < duration_to_start {
            duration_to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if duration_to_start < threshold {
        duration_to_start
    } else {
        avg / 2.0
    };
    interval += if duration_to_end < threshold {
        duration_to_end
    } else {
        avg / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus's `instantValue` for `irate` and `idelta`.
fn instant_value(p: &[Point], is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let last = p[p.len() - 1];
    let prev = p[p.len() - 2];
    let mut v = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let dt = last.t - prev.t;
    if dt == 0 {
        return None;
    }
    if is_rate {
        v /= dt as f64 / 1000.0;
    }
    Some(v)
}

/// Go's `kahanSumInc`: Kahan summation with Neumaier's improvement. Prometheus 2.42
/// uses it in `sum_over_time`, `avg_over_time`, `stddev_over_time`, `stdvar_over_time`
/// and the regression of `deriv`/`predict_linear` (not in aggregations); checked against
/// the 2.42 binary bit for bit.
fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Least-squares fit of the points against time (seconds after `intercept_time`),
/// Prometheus's `linearRegression`.
fn linear_regression(p: &[Point], intercept_time: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p[0].v;
    let mut const_y = true;
    for (i, s) in p.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_sum_inc(x, sx, cx);
        (sy, cy) = kahan_sum_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_sum_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_sum_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn holt_winters(p: &[Point], sf: f64, tf: f64) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, p[0].v);
    let mut b = p[1].v - p[0].v;
    for (i, x) in p.iter().enumerate().skip(1) {
        let xs = sf * x.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = xs + y;
    }
    Some(s1)
}

fn avg_over_time(p: &[Point]) -> f64 {
    let (mut mean, mut c, mut count) = (0.0f64, 0.0f64, 0.0);
    for x in p {
        count += 1.0;
        if mean.is_infinite() {
            if x.v.is_infinite() && (mean > 0.0) == (x.v > 0.0) {
                continue;
            }
            if !x.v.is_infinite() && !x.v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(x.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

fn sum_over_time(p: &[Point]) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for x in p {
        (sum, c) = kahan_sum_inc(x.v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

fn variance_over_time(p: &[Point]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in p {
        count += 1.0;
        let delta = x.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (x.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// A function over range vectors, resolved once per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Changes,
    Resets,
    Deriv,
    PredictLinear,
    HoltWinters,
    Avg,
    Sum,
    Count,
    Last,
    Present,
    Max,
    Min,
    Stddev,
    Stdvar,
    Quantile,
}

impl RangeFn {
    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "changes" => RangeFn::Changes,
            "resets" => RangeFn::Resets,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "holt_winters" => RangeFn::HoltWinters,
            "avg_over_time" => RangeFn::Avg,
            "sum_over_time" => RangeFn::Sum,
            "count_over_time" => RangeFn::Count,
            "last_over_time" => RangeFn::Last,
            "present_over_time" | "absent_over_time" => RangeFn::Present,
            "max_over_time" => RangeFn::Max,
            "min_over_time" => RangeFn::Min,
            "stddev_over_time" => RangeFn::Stddev,
            "stdvar_over_time" => RangeFn::Stdvar,
            "quantile_over_time" => RangeFn::Quantile,
            other => {
                return Err(Error::BadData(format!(
                    "function {other}() does not take a range vector"
                )));
            }
        })
    }
}

/// Whether the step from `a` to `b` is a reset (`rate`, `increase`, `resets`) or a
/// change (`changes`, NaN to NaN is none).
fn is_event(f: RangeFn, a: f64, b: f64) -> bool {
    if f == RangeFn::Changes {
        b != a && !(a.is_nan() && b.is_nan())
    } else {
        b < a
    }
}

/// Resets or changes within a window.
fn count_events(f: RangeFn, w: &[Point]) -> usize {
    w.windows(2).filter(|p| is_event(f, p[0].v, p[1].v)).count()
}

/// The value of `f` over one non-empty window `w` of `[start, end]`; `a0`, `a1` are the
/// scalar arguments at this step.
/// `events` is the number of resets (`rate`, `increase`, `resets`) or changes
/// (`changes`) in the window when known.
#[allow(clippy::too_many_arguments)]
fn window_value(
    f: RangeFn,
    w: &[Point],
    start: i64,
    end: i64,
    range: i64,
    ts: i64,
    a0: f64,
    a1: f64,
    events: Option<u32>,
    qbuf: &mut Vec<f64>,
) -> Result<Option<f64>> {
    let may_reset = events.is_none_or(|n| n > 0);
    Ok(match f {
        RangeFn::Rate => extrapolated_rate(w, start, end, range, true, true, may_reset),
        RangeFn::Increase => extrapolated_rate(w, start, end, range, true, false, may_reset),
        RangeFn::Delta => extrapolated_rate(w, start, end, range, false, false, true),
        RangeFn::Irate => instant_value(w, true),
        RangeFn::Idelta => instant_value(w, false),
        RangeFn::Changes | RangeFn::Resets => match events {
            Some(n) => Some(f64::from(n)),
            None => Some(count_events(f, w) as f64),
        },
        RangeFn::Deriv => (w.len() >= 2).then(|| linear_regression(w, w[0].t).0),
        RangeFn::PredictLinear => (w.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(w, ts);
            slope * a0 + intercept
        }),
        RangeFn::HoltWinters => {
            let (sf, tf) = (a0, a1);
            if sf <= 0.0 || sf >= 1.0 {
                return Err(Error::exec(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return Err(Error::exec(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
            holt_winters(w, sf, tf)
        }
        RangeFn::Avg => Some(avg_over_time(w)),
        RangeFn::Sum => Some(sum_over_time(w)),
        RangeFn::Count => Some(w.len() as f64),
        RangeFn::Last => Some(w[w.len() - 1].v),
        RangeFn::Present => Some(1.0),
        RangeFn::Max => Some(
            w.iter()
                .skip(1)
                .fold(w[0].v, |m, p| if p.v > m || m.is_nan() { p.v } else { m }),
        ),
        RangeFn::Min => Some(
            w.iter()
                .skip(1)
                .fold(w[0].v, |m, p| if p.v < m || m.is_nan() { p.v } else { m }),
        ),
        RangeFn::Stddev => Some(variance_over_time(w).sqrt()),
        RangeFn::Stdvar => Some(variance_over_time(w)),
        RangeFn::Quantile => {
            qbuf.clear();
            qbuf.extend(w.iter().map(|p| p.v));
            Some(quantile(a0, qbuf))
        }
    })
}

impl Evaluator<'_> {
    /// Evaluates a function whose argument `mi` is a range vector: per series, per step.
    pub(crate) fn eval_range_function(
        &mut self,
        name: &str,
        args: &[&Expr],
        mi: usize,
        src: RangeSource,
    ) -> Result<Value> {
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i != mi {
                match self.eval(a)? {
                    Value::Scalar(v) => scalars.push(v),
                    _ => {
                        return Err(Error::BadData(format!(
                            "expected a scalar argument to {name}()"
                        )));
                    }
                }
            }
        }
        let func = RangeFn::parse(name)?;
        let keep_name = name == "last_over_time";
        let counts_events = matches!(
            func,
            RangeFn::Rate | RangeFn::Increase | RangeFn::Resets | RangeFn::Changes
        );
        let mut prefix: Vec<u32> = Vec::new();
        let n = self.num_steps();
        let mut mat: Vec<Series> = Vec::with_capacity(src.series.len());
        let mut qbuf: Vec<f64> = Vec::new();
        // Prometheus 2.42 quirk, checked against the binary: `predict_linear` is not
        // step-invariant, so an `@` range selector in its argument gets an offset
        // relative to the query start and its window moves with the step, over the
        // samples selected for the `@` time only.
        let shift_at = name == "predict_linear" && matches!(args[mi], Expr::MatrixSelector(_));
        // With `@` the window is the same at every step (Prometheus evaluates such a
        // step-invariant call once): compute it once when the other arguments are constant.
        let invariant = src.at.is_some()
            && name != "predict_linear"
            && scalars
                .iter()
                .all(|v| v.windows(2).all(|w| w[0].to_bits() == w[1].to_bits()));
        for s in src.series {
            self.check_cancel()?;
            let labels = if keep_name {
                s.labels.clone()
            } else {
                s.labels.without_name()
            };
            let pts = &s.points;
            // Prefix counts of resets/changes: a window's count is a difference.
            prefix.clear();
            if counts_events {
                let mut n = 0u32;
                prefix.push(0);
                for p in pts.windows(2) {
                    n += u32::from(is_event(func, p[0].v, p[1].v));
                    prefix.push(n);
                }
            }
            let mut out: Vec<Point> = Vec::new();
            let (mut lo, mut hi) = (0usize, 0usize);
            let mut peak = 0usize;
            for (step, ts) in self.step_times().enumerate() {
                let end = match src.at {
                    Some(at) if shift_at => at - src.offset + (ts - self.start),
                    Some(at) => at - src.offset,
                    None => ts - src.offset,
                };
                let start = end - src.range;
                while hi < pts.len() && pts[hi].t <= end {
                    hi += 1;
                }
                while lo < hi && pts[lo].t < start {
                    lo += 1;
                }
                if lo >= hi {
                    continue;
                }
                let w = &pts[lo..hi];
                peak = peak.max(w.len());
                let arg = |k: usize| {
                    scalars
                        .get(k)
                        .and_then(|v| v.get(step))
                        .copied()
                        .unwrap_or(f64::NAN)
                };
                let v = window_value(
                    func,
                    w,
                    start,
                    end,
                    src.range,
                    ts,
                    arg(0),
                    arg(1),
                    counts_events.then(|| prefix[hi - 1] - prefix[lo]),
                    &mut qbuf,
                )?;
                if let Some(v) = v {
                    out.push(Point { t: ts, v });
                }
                if invariant {
                    if let Some(first) = out.first().copied() {
                        out.extend(self.step_times().skip(1).map(|t| Point { t, v: first.v }));
                    }
                    break;
                }
            }
            self.add_samples(peak)?;
            self.current_samples -= peak;
            if !out.is_empty() {
                self.add_samples(out.len())?;
                mat.push(Series {
                    labels,
                    points: out,
                });
            }
        }
        if name == "absent_over_time" {
            if mat.iter().any(|s| s.points.len() == n) {
                return Ok(Value::Vector(Vec::new()));
            }
            let found: HashSet<i64> = mat
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.t))
                .collect();
            let points: Vec<Point> = self
                .step_times()
                .filter(|t| !found.contains(t))
                .map(|t| Point { t, v: 1.0 })
                .collect();
            if points.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            return Ok(Value::Vector(vec![Series {
                labels: absent_labels(args[mi]),
                points,
            }]));
        }
        check_same_labelsets(&mat)?;
        Ok(Value::Vector(mat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_time_sums_are_compensated_as_in_prometheus_2_42() {
        let p: Vec<Point> = [1e16, 1.0, -1e16]
            .iter()
            .enumerate()
            .map(|(i, v)| Point { t: i as i64, v: *v })
            .collect();
        // Plain summation would lose the 1.
        assert_eq!(sum_over_time(&p), 1.0);
        // Values where the compensated incremental mean (49.568) and the plain one
        // (49.56799999999999) part.
        let p: Vec<Point> = [83.58, 43.28, 76.23, 0.21, 44.54]
            .iter()
            .enumerate()
            .map(|(i, v)| Point { t: i as i64, v: *v })
            .collect();
        assert_eq!(avg_over_time(&p), 49.568);
        let inf = [
            Point {
                t: 0,
                v: f64::INFINITY,
            },
            Point { t: 1, v: 1.0 },
        ];
        assert_eq!(avg_over_time(&inf), f64::INFINITY);
    }

    #[test]
    fn rate_extrapolates_to_range_boundaries() {
        let p: Vec<Point> = (0..=6)
            .map(|i| Point {
                t: i * 10_000,
                v: i as f64 * 10.0,
            })
            .collect();
        // Samples cover the whole 60 s range: exactly 1/s.
        let r = extrapolated_rate(&p, 0, 60_000, 60_000, true, true, true).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
    }
}

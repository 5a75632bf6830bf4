//! Functions over instant vectors and scalars (Prometheus 2.42's `functions.go`).

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use crate::binary::drop_name_cached;
use crate::engine::{Evaluator, unwrap_parens};
use crate::error::{Error, Result};
use crate::labels::{Label, LabelMap, Labels, METRIC_NAME};
use crate::quantile::{Bucket, bucket_quantile};
use crate::value::{Point, Series, StepSample, Value};

/// Whether `s` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins, -0 beats +0.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

fn simple_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Civil date of a Unix time in seconds (UTC): (year, month 1-12, day 1-31, hour,
/// minute, weekday 0=Sunday, day of year 1-366).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (hour, minute) = ((rem / 3600) as u32, ((rem % 3600) / 60) as u32);
    let weekday = (days + 4).rem_euclid(7) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_mar + 2) / 153;
    let d = (doy_mar - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(m - 1) as usize] + d + u32::from(leap && m > 2);
    (y, m, d, hour, minute, weekday, yday)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `int64(f)` on amd64: out-of-range and NaN give the minimum.
fn go_int64(v: f64) -> i64 {
    if v.is_nan() || !(i64::MIN as f64..(1u64 << 63) as f64).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

fn date_fn(name: &str, secs: i64) -> f64 {
    let (y, m, d, h, min, wd, yd) = civil(secs);
    f64::from(match name {
        "day_of_month" => d,
        "day_of_week" => wd,
        "day_of_year" => yd,
        "days_in_month" => days_in_month(y, m),
        "hour" => h,
        "minute" => min,
        "month" => m,
        _ => return y as f64,
    })
}

fn string_arg(args: &[&Expr], i: usize) -> Result<String> {
    match args.get(i) {
        Some(Expr::StringLiteral(s)) => Ok(crate::strings::unescape(&s.val).into_owned()),
        _ => Err(Error::BadData(format!(
            "expected a string literal as argument {}",
            i + 1
        ))),
    }
}

/// The labels `absent()` gives: the equality matchers of its selector.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut out: Vec<Label> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && !has.contains(&m.name.as_str()) {
            out.retain(|l| l.name != m.name);
            out.push(Label {
                name: m.name.clone(),
                value: crate::strings::unescape(&m.value).into_owned(),
            });
            has.push(&m.name);
        } else {
            out.retain(|l| l.name != m.name);
        }
    }
    Labels::new(out)
}

impl Evaluator<'_> {
    pub(crate) fn eval_call(&mut self, c: &Call) -> Result<Value> {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| unwrap_parens(a)).collect();
        for (i, a) in args.iter().enumerate() {
            match a {
                Expr::MatrixSelector(ms) => {
                    let src = self.load_matrix_selector(ms)?;
                    return self.eval_range_function(name, &args, i, src);
                }
                Expr::Subquery(sq) => {
                    let src = self.eval_subquery(sq)?;
                    return self.eval_range_function(name, &args, i, src);
                }
                _ => {}
            }
        }
        match name {
            "time" => Ok(Value::Scalar(
                self.step_times().map(|t| t as f64 / 1000.0).collect(),
            )),
            "pi" => Ok(Value::Scalar(vec![std::f64::consts::PI; self.num_steps()])),
            "vector" => {
                let v = self.eval(args[0])?;
                let Value::Scalar(vals) = v else {
                    return Err(Error::BadData("vector() expects a scalar".into()));
                };
                let points = self
                    .step_times()
                    .zip(vals)
                    .map(|(t, v)| Point { t, v })
                    .collect();
                Ok(Value::Vector(vec![Series {
                    labels: Labels::empty(),
                    points,
                }]))
            }
            "scalar" => self.eval_scalar(&args),
            "timestamp" => self.eval_timestamp(&args),
            "absent" => {
                let arg = self.eval(args[0])?;
                let labels = absent_labels(args[0]);
                let series = self.range_eval(&[arg], |a, _ts, out| {
                    if a[0].vector().is_empty() {
                        out.push(StepSample {
                            labels: labels.clone(),
                            v: 1.0,
                        });
                    }
                    Ok(())
                })?;
                Ok(Value::Vector(series))
            }
            "label_replace" => self.eval_label_replace(&args),
            "label_join" => self.eval_label_join(&args),
            "histogram_quantile" => self.eval_histogram_quantile(&args),
            "sort" | "sort_desc" => {
                let v = self.eval(args[0])?;
                let desc = name == "sort_desc";
                let series = self.range_eval(&[v], |a, _ts, out| {
                    out.extend_from_slice(a[0].vector());
                    // NaN sorts last either way (Prometheus reverses a NaN-first order).
                    out.sort_by(|x, y| {
                        let (a, b) = (x.v, y.v);
                        match (a.is_nan(), b.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
                            _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                    Ok(())
                })?;
                Ok(Value::Vector(series))
            }
            "histogram_count" | "histogram_sum" | "histogram_fraction" => {
                // Only native histograms have these; float samples give nothing.
                for a in &args {
                    self.eval(a)?;
                }
                Ok(Value::Vector(Vec::new()))
            }
            "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour"
            | "minute" | "month" | "year" => {
                if args.is_empty() {
                    let points = self
                        .step_times()
                        .map(|t| Point {
                            t,
                            v: date_fn(name, t.div_euclid(1000)),
                        })
                        .collect();
                    return Ok(Value::Vector(vec![Series {
                        labels: Labels::empty(),
                        points,
                    }]));
                }
                let v = self.eval(args[0])?;
                self.map_vector(v, |x| date_fn(name, go_int64(x)))
            }
            "round" => self.eval_round(&args),
            "clamp" | "clamp_min" | "clamp_max" => self.eval_clamp(name, &args),
            _ => {
                let Some(f) = simple_fn(name) else {
                    return Err(Error::BadData(format!(
                        "unknown function with name {name:?}"
                    )));
                };
                let v = self.eval(args[0])?;
                self.map_vector(v, f)
            }
        }
    }

    /// `scalar()`: the value of a one-element vector, else NaN.
    fn eval_scalar(&mut self, args: &[&Expr]) -> Result<Value> {
        let v = self.eval(args[0])?;
        let Value::Vector(series) = v else {
            return Err(Error::BadData("scalar() expects an instant vector".into()));
        };
        let n = self.num_steps();
        let mut count = vec![0u32; n];
        let mut val = vec![f64::NAN; n];
        for s in &series {
            for p in &s.points {
                let i = ((p.t - self.start) / self.interval) as usize;
                if i < n {
                    count[i] += 1;
                    val[i] = p.v;
                }
            }
        }
        Ok(Value::Scalar(
            count
                .iter()
                .zip(val)
                .map(|(c, v)| if *c == 1 { v } else { f64::NAN })
                .collect(),
        ))
    }

    /// `timestamp()`: sample times for a selector, else the evaluation time.
    fn eval_timestamp(&mut self, args: &[&Expr]) -> Result<Value> {
        let (arg, from_selector) = match args[0] {
            Expr::VectorSelector(vs) => (Value::Vector(self.eval_vector_selector(vs, true)?), true),
            e => (self.eval(e)?, false),
        };
        let mut cache = LabelMap::default();
        let series = self.range_eval(&[arg], |a, ts, out| {
            for s in a[0].vector() {
                out.push(StepSample {
                    labels: drop_name_cached(&mut cache, &s.labels),
                    v: if from_selector {
                        s.v
                    } else {
                        ts as f64 / 1000.0
                    },
                });
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// `round(v, to_nearest=1)`.
    fn eval_round(&mut self, args: &[&Expr]) -> Result<Value> {
        let v = self.eval(args[0])?;
        let to = match args.get(1) {
            Some(e) => Some(self.eval(e)?),
            None => None,
        };
        let mut cache = LabelMap::default();
        let mut all = vec![v];
        all.extend(to);
        let series = self.range_eval(&all, |a, _ts, out| {
            let to_nearest = if a.len() > 1 { a[1].scalar() } else { 1.0 };
            let inv = 1.0 / to_nearest;
            for s in a[0].vector() {
                out.push(StepSample {
                    labels: drop_name_cached(&mut cache, &s.labels),
                    v: (s.v * inv + 0.5).floor() / inv,
                });
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// `clamp`, `clamp_min`, `clamp_max` (Go's NaN-propagating min/max).
    fn eval_clamp(&mut self, name: &str, args: &[&Expr]) -> Result<Value> {
        let mut all = Vec::with_capacity(args.len());
        for a in args {
            all.push(self.eval(a)?);
        }
        let mut cache = LabelMap::default();
        let series = self.range_eval(&all, |a, _ts, out| {
            let (lo, hi) = match name {
                "clamp" => (a[1].scalar(), a[2].scalar()),
                "clamp_min" => (a[1].scalar(), f64::NAN),
                _ => (f64::NAN, a[1].scalar()),
            };
            if name == "clamp" && hi < lo {
                return Ok(());
            }
            for s in a[0].vector() {
                let v = match name {
                    "clamp" => go_max(lo, go_min(hi, s.v)),
                    "clamp_min" => go_max(lo, s.v),
                    _ => go_min(hi, s.v),
                };
                out.push(StepSample {
                    labels: drop_name_cached(&mut cache, &s.labels),
                    v,
                });
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// `label_replace()`.
    fn eval_label_replace(&mut self, args: &[&Expr]) -> Result<Value> {
        let dst = string_arg(args, 1)?;
        let repl = string_arg(args, 2)?;
        let src = string_arg(args, 3)?;
        let re_src = string_arg(args, 4)?;
        let re = Regex::new(&format!("^(?:{re_src})$")).map_err(|_| {
            Error::exec(format!(
                "invalid regular expression in label_replace(): {re_src}"
            ))
        })?;
        if !valid_label_name(&dst) {
            return Err(Error::exec(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let arg = self.eval(args[0])?;
        let mut cache: LabelMap<Labels> = LabelMap::default();
        let series = self.range_eval(&[arg], |a, _ts, out| {
            for s in a[0].vector() {
                let labels = match cache.get(&s.labels) {
                    Some(l) => l.clone(),
                    None => {
                        let v = s.labels.get_or_empty(&src);
                        let l = match re.captures(v) {
                            Some(caps) => {
                                let mut res = String::new();
                                caps.expand(&repl, &mut res);
                                s.labels.with(&dst, &res)
                            }
                            None => s.labels.clone(),
                        };
                        cache.insert(s.labels.clone(), l.clone());
                        l
                    }
                };
                out.push(StepSample { labels, v: s.v });
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// `label_join()`.
    fn eval_label_join(&mut self, args: &[&Expr]) -> Result<Value> {
        let dst = string_arg(args, 1)?;
        let sep = string_arg(args, 2)?;
        let mut srcs = Vec::new();
        for i in 3..args.len() {
            let s = string_arg(args, i)?;
            if !valid_label_name(&s) {
                return Err(Error::exec(format!(
                    "invalid source label name in label_join(): {s}"
                )));
            }
            srcs.push(s);
        }
        if !valid_label_name(&dst) {
            return Err(Error::exec(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        let arg = self.eval(args[0])?;
        let mut cache: LabelMap<Labels> = LabelMap::default();
        let series = self.range_eval(&[arg], |a, _ts, out| {
            for s in a[0].vector() {
                let labels = match cache.get(&s.labels) {
                    Some(l) => l.clone(),
                    None => {
                        let vals: Vec<&str> =
                            srcs.iter().map(|n| s.labels.get_or_empty(n)).collect();
                        let l = s.labels.with(&dst, &vals.join(&sep));
                        cache.insert(s.labels.clone(), l.clone());
                        l
                    }
                };
                out.push(StepSample { labels, v: s.v });
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// `histogram_quantile()`.
    fn eval_histogram_quantile(&mut self, args: &[&Expr]) -> Result<Value> {
        let q = self.eval(args[0])?;
        let v = self.eval(args[1])?;
        // Group key: all labels but `le` (the name included); output drops both.
        let mut cache: LabelMap<Option<(Labels, Labels, f64)>> = LabelMap::default();
        let series = self.range_eval(&[q, v], |a, _ts, out| {
            let q = a[0].scalar();
            let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
            let mut index: LabelMap<usize> = LabelMap::default();
            for s in a[1].vector() {
                let entry = cache.entry(s.labels.clone()).or_insert_with(|| {
                    let le = s.labels.get("le")?;
                    let upper = parse_go_float(le)?;
                    let key = s.labels.filter(|n| n != "le");
                    let out = key.without_name();
                    Some((key, out, upper))
                });
                let Some((key, outl, upper)) = entry else {
                    continue;
                };
                let gi = *index.entry(key.clone()).or_insert_with(|| {
                    groups.push((outl.clone(), Vec::new()));
                    groups.len() - 1
                });
                groups[gi].1.push(Bucket {
                    upper: *upper,
                    count: s.v,
                });
            }
            for (labels, mut buckets) in groups {
                if !buckets.is_empty() {
                    out.push(StepSample {
                        labels,
                        v: bucket_quantile(q, &mut buckets),
                    });
                }
            }
            Ok(())
        })?;
        Ok(Value::Vector(series))
    }

    /// Applies `f` to every value and drops the metric name (Prometheus's `simpleFunc`).
    fn map_vector(&mut self, v: Value, f: impl Fn(f64) -> f64) -> Result<Value> {
        let Value::Vector(mut series) = v else {
            return Err(Error::BadData("expected an instant vector argument".into()));
        };
        for s in &mut series {
            s.labels = s.labels.without_name();
            for p in &mut s.points {
                p.v = f(p.v);
            }
        }
        Ok(Value::Vector(self.merge_same_labelsets(series)?))
    }
}

/// Go's `strconv.ParseFloat` for bucket bounds: decimal, `Inf`, `NaN` in any case.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return s.to_ascii_lowercase().parse().ok();
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        // 2016-02-29 12:34:56 UTC, a Monday.
        let (y, m, d, h, min, wd, yd) = civil(1_456_749_296);
        assert_eq!((y, m, d, h, min, wd, yd), (2016, 2, 29, 12, 34, 1, 60));
        assert_eq!(civil(-1).0, 1969);
    }
}

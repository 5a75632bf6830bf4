//! Binary operators: arithmetic, comparison, set operators and vector matching.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::labels::{Label, LabelMap, Labels, METRIC_NAME, PassThroughHasher};
use crate::value::{StepSample, Value};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "^" => BinOp::Pow,
            "atan2" => BinOp::Atan2,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            ">" => BinOp::Gt,
            "<" => BinOp::Lt,
            ">=" => BinOp::Ge,
            "<=" => BinOp::Le,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            other => return Err(Error::BadData(format!("unknown binary operator {other:?}"))),
        })
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    /// Prometheus's `shouldDropMetricName`.
    fn drops_name(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        )
    }
}

/// Prometheus's `vectorElemBinop`: the value and whether to keep the element.
fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Mod => (l % r, true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (f64::NAN, false),
    }
}

/// Prometheus's `scalarBinop`: comparisons give 1 or 0.
fn scalar_binop(op: BinOp, l: f64, r: f64) -> f64 {
    let (v, keep) = elem(op, l, r);
    if op.is_comparison() {
        if keep { 1.0 } else { 0.0 }
    } else {
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

#[derive(Debug)]
struct Matching {
    card: Card,
    on: bool,
    labels: Vec<String>,
    include: Vec<String>,
}

impl Matching {
    fn from_expr(b: &BinaryExpr, set_op: bool) -> Self {
        let mut m = Matching {
            card: if set_op {
                Card::ManyToMany
            } else {
                Card::OneToOne
            },
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
        };
        if let Some(modifier) = &b.modifier {
            match &modifier.card {
                VectorMatchCardinality::OneToOne => {}
                VectorMatchCardinality::ManyToOne(l) => {
                    m.card = Card::ManyToOne;
                    m.include = l.labels.clone();
                }
                VectorMatchCardinality::OneToMany(l) => {
                    m.card = Card::OneToMany;
                    m.include = l.labels.clone();
                }
                VectorMatchCardinality::ManyToMany => m.card = Card::ManyToMany,
            }
            if set_op {
                m.card = Card::ManyToMany;
            }
            match &modifier.matching {
                Some(LabelModifier::Include(l)) => {
                    m.on = true;
                    m.labels = l.labels.clone();
                }
                Some(LabelModifier::Exclude(l)) => m.labels = l.labels.clone(),
                None => {}
            }
        }
        m.labels.sort();
        m.labels.dedup();
        m
    }

    /// The match signature of a series (Prometheus's `signatureFunc`).
    fn signature(&self, l: &Labels) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        for lb in l.as_slice() {
            let take = if self.on {
                self.labels.binary_search(&lb.name).is_ok()
            } else {
                lb.name != METRIC_NAME && self.labels.binary_search(&lb.name).is_err()
            };
            if take {
                h.write(lb.name.as_bytes());
                h.write_u8(0xff);
                h.write(lb.value.as_bytes());
                h.write_u8(0xff);
            }
        }
        h.finish()
    }

    /// The labels a signature is made of, for error messages.
    fn match_labels(&self, l: &Labels) -> Labels {
        if self.on {
            l.filter(|n| self.labels.binary_search_by(|x| x.as_str().cmp(n)).is_ok())
        } else {
            l.filter(|n| {
                n != METRIC_NAME && self.labels.binary_search_by(|x| x.as_str().cmp(n)).is_err()
            })
        }
    }
}

type U64Map<V> = HashMap<u64, V, BuildHasherDefault<PassThroughHasher>>;
type U64Set = HashSet<u64, BuildHasherDefault<PassThroughHasher>>;

/// Per-node caches and scratch maps that spare recomputing label work, and allocating,
/// at every step.
#[derive(Default)]
struct Caches {
    sigs: LabelMap<u64>,
    /// Result labels by the combined hash of (lhs, rhs), verified on hit.
    results: U64Map<(Labels, Labels, Labels)>,
    sig_set: U64Set,
    right: U64Map<usize>,
    matched_one: U64Set,
    /// (match signature, result labels) pairs already produced this step.
    matched_many: HashSet<(u64, Labels), BuildHasherDefault<PassThroughHasher>>,
}

impl Caches {
    fn sig(&mut self, m: &Matching, l: &Labels) -> u64 {
        if let Some(s) = self.sigs.get(l) {
            return *s;
        }
        let s = m.signature(l);
        self.sigs.insert(l.clone(), s);
        s
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr) -> Result<Value> {
        let op = BinOp::parse(&b.op.to_string())?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let lt = b.lhs.value_type();
        let rt = b.rhs.value_type();
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => {
                let (Value::Scalar(l), Value::Scalar(r)) = (lhs, rhs) else {
                    return Err(Error::BadData("binary operands are not scalars".into()));
                };
                Ok(Value::Scalar(
                    l.iter()
                        .zip(&r)
                        .map(|(a, b)| scalar_binop(op, *a, *b))
                        .collect(),
                ))
            }
            (ValueType::Vector, ValueType::Scalar) | (ValueType::Scalar, ValueType::Vector) => {
                let swap = lt == ValueType::Scalar;
                let args = if swap { [rhs, lhs] } else { [lhs, rhs] };
                let mut name_cache: LabelMap<Labels> = LabelMap::default();
                let series = self.range_eval(&args, |a, _ts, out| {
                    let s = a[1].scalar();
                    for smp in a[0].vector() {
                        let (mut lv, mut rv) = (smp.v, s);
                        if swap {
                            std::mem::swap(&mut lv, &mut rv);
                        }
                        let (mut value, mut keep) = elem(op, lv, rv);
                        if op.is_comparison() && swap {
                            value = rv;
                        }
                        if return_bool {
                            value = if keep { 1.0 } else { 0.0 };
                            keep = true;
                        }
                        if keep {
                            let labels = if op.drops_name() || return_bool {
                                drop_name_cached(&mut name_cache, &smp.labels)
                            } else {
                                smp.labels.clone()
                            };
                            out.push(StepSample { labels, v: value });
                        }
                    }
                    Ok(())
                })?;
                Ok(Value::Vector(series))
            }
            (ValueType::Vector, ValueType::Vector) => {
                let set_op = matches!(op, BinOp::And | BinOp::Or | BinOp::Unless);
                let m = Matching::from_expr(b, set_op);
                let mut caches = Caches::default();
                let args = [lhs, rhs];
                let series = self.range_eval(&args, |a, _ts, out| {
                    let (l, r) = (a[0].vector(), a[1].vector());
                    match op {
                        BinOp::And => vector_and(l, r, &m, &mut caches, out),
                        BinOp::Or => vector_or(l, r, &m, &mut caches, out),
                        BinOp::Unless => vector_unless(l, r, &m, &mut caches, out),
                        _ => vector_binop(op, l, r, &m, return_bool, &mut caches, out)?,
                    }
                    Ok(())
                })?;
                Ok(Value::Vector(series))
            }
            _ => Err(Error::BadData(format!(
                "binary expression must contain only scalar and instant vector types, got {lt:?} and {rt:?}"
            ))),
        }
    }
}

pub(crate) fn drop_name_cached(cache: &mut LabelMap<Labels>, l: &Labels) -> Labels {
    if !l.has_name() {
        return l.clone();
    }
    if let Some(v) = cache.get(l) {
        return v.clone();
    }
    let v = l.without_name();
    cache.insert(l.clone(), v.clone());
    v
}

fn vector_and(
    l: &[StepSample],
    r: &[StepSample],
    m: &Matching,
    c: &mut Caches,
    out: &mut Vec<StepSample>,
) {
    if l.is_empty() || r.is_empty() {
        return;
    }
    let mut right = std::mem::take(&mut c.sig_set);
    right.clear();
    for s in r {
        right.insert(c.sig(m, &s.labels));
    }
    for s in l {
        if right.contains(&c.sig(m, &s.labels)) {
            out.push(s.clone());
        }
    }
    c.sig_set = right;
}

fn vector_or(
    l: &[StepSample],
    r: &[StepSample],
    m: &Matching,
    c: &mut Caches,
    out: &mut Vec<StepSample>,
) {
    if l.is_empty() {
        out.extend_from_slice(r);
        return;
    }
    if r.is_empty() {
        out.extend_from_slice(l);
        return;
    }
    let mut left = std::mem::take(&mut c.sig_set);
    left.clear();
    for s in l {
        left.insert(c.sig(m, &s.labels));
        out.push(s.clone());
    }
    for s in r {
        if !left.contains(&c.sig(m, &s.labels)) {
            out.push(s.clone());
        }
    }
    c.sig_set = left;
}

fn vector_unless(
    l: &[StepSample],
    r: &[StepSample],
    m: &Matching,
    c: &mut Caches,
    out: &mut Vec<StepSample>,
) {
    let mut right = std::mem::take(&mut c.sig_set);
    right.clear();
    for s in r {
        right.insert(c.sig(m, &s.labels));
    }
    for s in l {
        if !right.contains(&c.sig(m, &s.labels)) {
            out.push(s.clone());
        }
    }
    c.sig_set = right;
}

/// Prometheus's `VectorBinop` for one step.
fn vector_binop(
    op: BinOp,
    lhs: &[StepSample],
    rhs: &[StepSample],
    m: &Matching,
    return_bool: bool,
    c: &mut Caches,
    out: &mut Vec<StepSample>,
) -> Result<()> {
    if m.card == Card::ManyToMany {
        return Err(Error::exec("many-to-many only allowed for set operators"));
    }
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(());
    }
    let (lhs, rhs) = if m.card == Card::OneToMany {
        (rhs, lhs)
    } else {
        (lhs, rhs)
    };
    let mut right = std::mem::take(&mut c.right);
    right.clear();
    for (i, rs) in rhs.iter().enumerate() {
        let sig = c.sig(m, &rs.labels);
        if let Some(&dup) = right.get(&sig) {
            let dup: &StepSample = &rhs[dup];
            let side = if m.card == Card::OneToMany {
                "left"
            } else {
                "right"
            };
            return Err(Error::exec(format!(
                "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                prom_string(&m.match_labels(&rs.labels)),
                side,
                prom_string(&rs.labels),
                prom_string(&dup.labels)
            )));
        }
        right.insert(sig, i);
    }
    let mut matched_one = std::mem::take(&mut c.matched_one);
    matched_one.clear();
    let mut matched_many = std::mem::take(&mut c.matched_many);
    matched_many.clear();
    let result = (|| {
        for ls in lhs {
            let sig = c.sig(m, &ls.labels);
            let Some(&ri) = right.get(&sig) else { continue };
            let rs = &rhs[ri];
            let (vl, vr) = if m.card == Card::OneToMany {
                (rs.v, ls.v)
            } else {
                (ls.v, rs.v)
            };
            let (mut value, keep) = elem(op, vl, vr);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let mut metric = result_metric(&ls.labels, &rs.labels, op, m, c);
            if return_bool {
                metric = metric.without_name();
            }
            if m.card == Card::OneToOne {
                if !matched_one.insert(sig) {
                    return Err(Error::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
            } else if !matched_many.insert((sig, metric.clone())) {
                return Err(Error::exec(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            out.push(StepSample {
                labels: metric,
                v: value,
            });
        }
        Ok(())
    })();
    c.right = right;
    c.matched_one = matched_one;
    c.matched_many = matched_many;
    result
}

/// Prometheus's `resultMetric`: the labels of a vector-vector result element.
fn result_metric(l: &Labels, r: &Labels, op: BinOp, m: &Matching, c: &mut Caches) -> Labels {
    let key = l.hash_u64() ^ r.hash_u64().rotate_left(29);
    if let Some((kl, kr, v)) = c.results.get(&key) {
        if kl == l && kr == r {
            return v.clone();
        }
    }
    let mut out: Vec<Label> = l.as_slice().to_vec();
    if op.drops_name() {
        out.retain(|x| x.name != METRIC_NAME);
    }
    if m.card == Card::OneToOne {
        if m.on {
            out.retain(|x| m.labels.binary_search(&x.name).is_ok());
        } else {
            out.retain(|x| m.labels.binary_search(&x.name).is_err());
        }
    }
    for name in &m.include {
        out.retain(|x| &x.name != name);
        if let Some(v) = r.get(name) {
            out.push(Label {
                name: name.clone(),
                value: v.to_string(),
            });
        }
    }
    let res = Labels::new(out);
    c.results.insert(key, (l.clone(), r.clone(), res.clone()));
    res
}

/// Prometheus's `Labels.String()`: `{a="b", c="d"}`, `__name__` included.
pub(crate) fn prom_string(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, lb) in l.as_slice().iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&lb.name);
        s.push('=');
        s.push_str(&format!("{:?}", lb.value));
    }
    s.push('}');
    s
}

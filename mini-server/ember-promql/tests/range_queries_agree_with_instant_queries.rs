//! Every step of a range query equals an instant query at that time (as Prometheus's
//! engine guarantees), over generated counters, gauges, histograms with resets, gaps and
//! staleness markers.

use ember_promql::{Engine, Labels, MemStorage, QueryValue, STALE_NAN};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn float(&mut self) -> f64 {
        (self.next() % 10_000) as f64 / 100.0
    }
}

fn dataset() -> MemStorage {
    let mut s = MemStorage::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for job in ["api", "web"] {
        for inst in ["0", "1", "2"] {
            let counter =
                Labels::from_pairs(&[("__name__", "req_total"), ("job", job), ("instance", inst)]);
            let gauge =
                Labels::from_pairs(&[("__name__", "temp"), ("job", job), ("instance", inst)]);
            let mut c = 0.0;
            for i in 0..240i64 {
                let t = i * 15_000 + (rng.next() % 3) as i64 * 1000;
                if rng.next() % 17 == 0 {
                    continue; // gap
                }
                c += rng.float();
                if rng.next() % 50 == 0 {
                    c = 0.0; // reset
                }
                s.append(&counter, t, c);
                if inst == "2" && i == 150 {
                    s.append(&gauge, t, STALE_NAN);
                    continue;
                }
                if !(inst == "2" && i > 150) {
                    s.append(&gauge, t, rng.float() - 20.0);
                }
            }
            for le in ["0.1", "0.5", "1", "+Inf"] {
                let b = Labels::from_pairs(&[
                    ("__name__", "lat_bucket"),
                    ("job", job),
                    ("instance", inst),
                    ("le", le),
                ]);
                let w: f64 = match le {
                    "0.1" => 1.0,
                    "0.5" => 3.0,
                    "1" => 5.0,
                    _ => 6.0,
                };
                for i in 0..240i64 {
                    s.append(&b, i * 15_000, (i as f64) * w);
                }
            }
        }
    }
    s
}

const QUERIES: &[&str] = &[
    "req_total",
    "temp offset 1m",
    "temp @ 1800",
    "rate(req_total[2m])",
    "increase(req_total[5m] offset -1m)",
    "delta(temp[3m])",
    "irate(req_total[1m])",
    "idelta(temp[1m])",
    "resets(req_total[10m])",
    "changes(temp[10m])",
    "deriv(temp[5m])",
    "predict_linear(temp[5m], 600)",
    "holt_winters(temp[10m], 0.5, 0.5)",
    "avg_over_time(temp[5m])",
    "min_over_time(temp[5m])",
    "max_over_time(temp[5m])",
    "sum_over_time(temp[5m])",
    "count_over_time(temp[5m])",
    "last_over_time(temp[5m])",
    "present_over_time(temp[5m])",
    "quantile_over_time(0.9, temp[5m])",
    "stddev_over_time(temp[5m])",
    "stdvar_over_time(temp[5m])",
    "absent_over_time(temp{instance=\"2\"}[1m])",
    "absent(temp{instance=\"2\", job=\"api\"})",
    "sum by (job) (rate(req_total[2m]))",
    "avg without (instance) (temp)",
    "count(temp) by (job)",
    "min(temp)",
    "max by (instance) (temp)",
    "group by (job) (temp)",
    "stddev(temp)",
    "stdvar by (job) (temp)",
    "topk(2, temp)",
    "bottomk(1, temp) by (job)",
    "quantile(0.3, temp)",
    "count_values(\"v\", round(temp / 10))",
    "histogram_quantile(0.9, sum by (le, job) (rate(lat_bucket[5m])))",
    "histogram_quantile(0.5, lat_bucket)",
    "temp > 10",
    "temp > bool 10",
    "10 < temp",
    "temp + on(job, instance) rate(req_total[1m])",
    "temp * on(job) group_left sum by (job) (temp)",
    "sum by (job) (temp) / on(job) group_right temp",
    "temp and on(instance) (temp > 20)",
    "temp or rate(req_total[1m])",
    "temp unless temp{job=\"api\"}",
    "-temp",
    "abs(temp) ^ 0.5 % 3",
    "clamp(temp, 0, 30)",
    "clamp_min(temp, 5)",
    "clamp_max(temp, 5)",
    "round(temp, 0.5)",
    "ceil(temp) - floor(temp)",
    "sqrt(abs(temp)) + exp(temp / 100) + ln(abs(temp) + 1)",
    "timestamp(temp)",
    "timestamp(sum(temp))",
    "label_replace(temp, \"x\", \"$1-y\", \"job\", \"(.*)\")",
    "label_join(temp, \"x\", \",\", \"job\", \"instance\")",
    "scalar(sum(temp)) * 2",
    "vector(time())",
    "time() - 100",
    "hour(temp) + minute() + day_of_week()",
    "max_over_time(rate(req_total[1m])[5m:30s])",
    "avg_over_time(temp[10m:1m] offset 2m)",
    "sum_over_time(temp[5m:] @ 1200)",
    "rate(sum(req_total)[5m:15s])",
    "sort(temp)",
    "temp atan2 3",
    "sgn(temp) * deg(temp) * rad(temp) * pi()",
];

fn sorted(v: QueryValue) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = match v {
        QueryValue::Vector(v) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        QueryValue::Scalar { v, .. } => vec![("scalar".into(), v)],
        other => panic!("unexpected {other:?}"),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn every_step_equals_the_instant_query() {
    let s = dataset();
    let e = Engine::default();
    let (start, end, step) = (300_000, 3_300_000, 45_000);
    let mut compared = 0;
    for q in QUERIES {
        let r = e
            .range_query(&s, q, start, end, step)
            .unwrap_or_else(|err| panic!("{q}: {err}"));
        let QueryValue::Matrix(m) = r else {
            panic!("{q}: not a matrix")
        };
        let mut labels: Vec<_> = m.iter().map(|s| s.labels.clone()).collect();
        let n = labels.len();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), n, "{q}: range result has duplicate series");
        assert!(
            m.windows(2).all(|w| w[0].labels < w[1].labels),
            "{q}: range result not sorted"
        );
        let mut t = start;
        while t <= end {
            let inst = sorted(
                e.instant_query(&s, q, t)
                    .unwrap_or_else(|err| panic!("{q} at {t}: {err}")),
            );
            let mut from_range: Vec<(String, f64)> = m
                .iter()
                .filter_map(|s| {
                    s.points
                        .iter()
                        .find(|p| p.t == t)
                        .map(|p| (s.labels.to_string(), p.v))
                })
                .collect();
            from_range.sort_by(|a, b| a.0.cmp(&b.0));
            if inst.len() == 1 && inst[0].0 == "scalar" {
                assert!(same(inst[0].1, from_range[0].1), "{q} at {t}");
            } else {
                assert_eq!(
                    inst.len(),
                    from_range.len(),
                    "{q} at {t}: {inst:?} vs {from_range:?}"
                );
                for (a, b) in inst.iter().zip(&from_range) {
                    assert_eq!(a.0, b.0, "{q} at {t}");
                    assert!(same(a.1, b.1), "{q} at {t}: {} vs {}", a.1, b.1);
                }
            }
            compared += 1;
            t += step;
        }
    }
    assert_eq!(compared, QUERIES.len() * 67);
}

#[test]
fn staleness_markers_end_series_but_plain_nan_is_a_value() {
    let mut s = MemStorage::new();
    let a = Labels::from_pairs(&[("__name__", "a")]);
    s.append(&a, 0, 1.0);
    s.append(&a, 15_000, STALE_NAN);
    s.append(&a, 30_000, f64::NAN);
    let e = Engine::default();
    let QueryValue::Vector(v) = e.instant_query(&s, "a", 20_000).unwrap() else {
        panic!()
    };
    assert!(v.is_empty(), "stale at 15s");
    let QueryValue::Vector(v) = e.instant_query(&s, "a", 40_000).unwrap() else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert!(v[0].v.is_nan());
    let QueryValue::Vector(v) = e
        .instant_query(&s, "count_over_time(a[1m])", 40_000)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(v[0].v, 2.0, "the marker is not a sample of the range");
}

//! Ember against prometheus-client 0.25 and prometheus 0.14, same scenarios, one run.
//!
//! Run with: `cargo bench -p ember --bench client`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

mod typed {
    use ember::{LabelSet, LabelValue};
    use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

    #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue, EncodeLabelValue)]
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum Method {
        GET,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet, EncodeLabelSet)]
    pub(crate) struct Labels {
        pub(crate) method: Method,
        pub(crate) status: u16,
    }
}

/// Runs `op` `iters` times split over two threads; time per op is the wall time over
/// `iters`.
fn two_threads(iters: u64, op: impl Fn() + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..iters / 2 {
                    op();
                }
            });
        }
    });
    start.elapsed()
}

fn counter_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");
    let ours = ember::Counter::default();
    g.bench_function("ember", |b| b.iter(|| black_box(&ours).inc()));
    let pc: prometheus_client::metrics::counter::Counter = Default::default();
    g.bench_function("prometheus-client", |b| b.iter(|| black_box(&pc).inc()));
    let p = prometheus::IntCounter::new("c", "c").unwrap();
    g.bench_function("prometheus", |b| b.iter(|| black_box(&p).inc()));
    g.finish();

    let mut g = c.benchmark_group("counter_inc_2_threads");
    g.bench_function("ember", |b| {
        b.iter_custom(|n| two_threads(n, || ours.inc()))
    });
    g.bench_function("prometheus-client", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                pc.inc();
            })
        })
    });
    g.bench_function("prometheus", |b| {
        b.iter_custom(|n| two_threads(n, || p.inc()))
    });
    g.finish();
}

fn labelled_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("labelled_lookup_inc");
    let ours_str =
        ember::Family::<[String; 2], ember::Counter>::with_label_names(["method", "status"])
            .unwrap();
    ours_str.with_label_values(&["GET", "200"]).inc();
    g.bench_function("ember_str_array", |b| {
        b.iter(|| ours_str.with_label_values(black_box(&["GET", "200"])).inc())
    });
    let ours_typed: ember::Family<typed::Labels, ember::Counter> = ember::Family::new();
    let key = typed::Labels {
        method: typed::Method::GET,
        status: 200,
    };
    ours_typed.get_or_create(&key).inc();
    g.bench_function("ember_typed", |b| {
        b.iter(|| ours_typed.get_or_create(black_box(&key)).inc())
    });
    let pc: prometheus_client::metrics::family::Family<
        typed::Labels,
        prometheus_client::metrics::counter::Counter,
    > = Default::default();
    g.bench_function("prometheus-client_typed", |b| {
        b.iter(|| pc.get_or_create(black_box(&key)).inc())
    });
    let pc_vec: prometheus_client::metrics::family::Family<
        Vec<(String, String)>,
        prometheus_client::metrics::counter::Counter,
    > = Default::default();
    let vec_key = vec![
        ("method".to_string(), "GET".to_string()),
        ("status".to_string(), "200".to_string()),
    ];
    g.bench_function("prometheus-client_vec", |b| {
        b.iter(|| pc_vec.get_or_create(black_box(&vec_key)).inc())
    });
    let p = prometheus::IntCounterVec::new(prometheus::Opts::new("c", "c"), &["method", "status"])
        .unwrap();
    g.bench_function("prometheus", |b| {
        b.iter(|| p.with_label_values(black_box(&["GET", "200"])).inc())
    });
    g.finish();

    let mut g = c.benchmark_group("labelled_lookup_inc_2_threads");
    g.bench_function("ember_str_array", |b| {
        b.iter_custom(|n| two_threads(n, || ours_str.with_label_values(&["GET", "200"]).inc()))
    });
    g.bench_function("ember_typed", |b| {
        b.iter_custom(|n| two_threads(n, || ours_typed.get_or_create(&key).inc()))
    });
    g.bench_function("prometheus-client_typed", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                pc.get_or_create(&key).inc();
            })
        })
    });
    g.bench_function("prometheus", |b| {
        b.iter_custom(|n| two_threads(n, || p.with_label_values(&["GET", "200"]).inc()))
    });
    g.finish();
}

fn histogram_observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe");
    let ours = ember::Histogram::new(BUCKETS).unwrap();
    let mut v = 0.0f64;
    let mut next = || {
        v = if v > 12.0 { 0.0 } else { v + 0.37 };
        v
    };
    g.bench_function("ember", |b| b.iter(|| ours.observe(black_box(next()))));
    let pc = prometheus_client::metrics::histogram::Histogram::new(BUCKETS);
    g.bench_function("prometheus-client", |b| {
        b.iter(|| pc.observe(black_box(next())))
    });
    let p = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("h", "h").buckets(BUCKETS.to_vec()),
    )
    .unwrap();
    g.bench_function("prometheus", |b| b.iter(|| p.observe(black_box(next()))));
    g.finish();
}

struct Setup {
    ours: ember::Registry,
    pc: prometheus_client::registry::Registry,
    p: prometheus::Registry,
}

/// 100 counter families of 100 series each, and optionally as many histogram series.
fn setup(histograms: bool) -> Setup {
    let ours = ember::Registry::new();
    let mut pc = prometheus_client::registry::Registry::default();
    let p = prometheus::Registry::new();
    for f in 0..100 {
        let name = format!("family_{f:03}");
        let of = ember::Family::<[String; 2], ember::Counter>::with_label_names(["method", "id"])
            .unwrap();
        let pf = prometheus_client::metrics::family::Family::<
            Vec<(String, String)>,
            prometheus_client::metrics::counter::Counter,
        >::default();
        let tf = prometheus::IntCounterVec::new(
            prometheus::Opts::new(format!("{name}_total"), "Requests."),
            &["method", "id"],
        )
        .unwrap();
        for s in 0..100 {
            let id = s.to_string();
            of.with_label_values(&["GET", &id]).inc_by(s);
            pf.get_or_create(&vec![
                ("method".to_string(), "GET".to_string()),
                ("id".to_string(), id.clone()),
            ])
            .inc_by(s);
            tf.with_label_values(&["GET", &id]).inc_by(s);
        }
        ours.register(&name, "Requests.", of).unwrap();
        pc.register(&name, "Requests.", pf);
        p.register(Box::new(tf)).unwrap();

        if histograms {
            let hname = format!("latency_{f:03}");
            let oh =
                ember::Family::<[String; 2], ember::Histogram>::with_label_names_and_constructor(
                    ["method", "id"],
                    || ember::Histogram::new(BUCKETS).unwrap(),
                )
                .unwrap();
            let ph = prometheus_client::metrics::family::Family::<
                Vec<(String, String)>,
                prometheus_client::metrics::histogram::Histogram,
            >::new_with_constructor(|| {
                prometheus_client::metrics::histogram::Histogram::new(BUCKETS)
            });
            let th = prometheus::HistogramVec::new(
                prometheus::HistogramOpts::new(hname.clone(), "Latency.").buckets(BUCKETS.to_vec()),
                &["method", "id"],
            )
            .unwrap();
            for s in 0..100u32 {
                let id = s.to_string();
                let v = f64::from(s) * 0.013;
                of_observe(oh.with_label_values(&["GET", &id]), v);
                ph.get_or_create(&vec![
                    ("method".to_string(), "GET".to_string()),
                    ("id".to_string(), id.clone()),
                ])
                .observe(v);
                th.with_label_values(&["GET", &id]).observe(v);
            }
            ours.register(&hname, "Latency.", oh).unwrap();
            pc.register(&hname, "Latency.", ph);
            p.register(Box::new(th)).unwrap();
        }
    }
    Setup { ours, pc, p }
}

fn of_observe(h: &ember::Histogram, v: f64) {
    h.observe(v);
}

fn encode(c: &mut Criterion) {
    for (label, histograms) in [
        ("10k_counters", false),
        ("10k_counters_10k_histograms", true),
    ] {
        let s = setup(histograms);
        let mut g = c.benchmark_group(format!("encode_{label}"));
        g.sample_size(30);
        let mut buf = Vec::with_capacity(4 << 20);
        g.bench_function(BenchmarkId::new("ember", "text"), |b| {
            b.iter(|| {
                buf.clear();
                s.ours.encode(&mut buf, ember_expfmt::Format::Text).unwrap();
                black_box(buf.len())
            })
        });
        g.bench_function(BenchmarkId::new("ember", "openmetrics"), |b| {
            b.iter(|| {
                buf.clear();
                s.ours
                    .encode(&mut buf, ember_expfmt::Format::OpenMetrics)
                    .unwrap();
                black_box(buf.len())
            })
        });
        // With the opt-in `_created` samples, which prometheus-client does not write.
        s.ours.set_created_samples(true);
        g.bench_function(BenchmarkId::new("ember", "openmetrics_with_created"), |b| {
            b.iter(|| {
                buf.clear();
                s.ours
                    .encode(&mut buf, ember_expfmt::Format::OpenMetrics)
                    .unwrap();
                black_box(buf.len())
            })
        });
        s.ours.set_created_samples(false);
        let mut out = String::with_capacity(4 << 20);
        g.bench_function(BenchmarkId::new("prometheus-client", "openmetrics"), |b| {
            b.iter(|| {
                out.clear();
                prometheus_client::encoding::text::encode(&mut out, &s.pc).unwrap();
                black_box(out.len())
            })
        });
        let reg = Arc::new(s.p);
        g.bench_function(BenchmarkId::new("prometheus", "text"), |b| {
            b.iter(|| {
                buf.clear();
                let enc = prometheus::TextEncoder::new();
                prometheus::Encoder::encode(&enc, &reg.gather(), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    counter_inc,
    labelled_inc,
    histogram_observe,
    encode
);
criterion_main!(benches);

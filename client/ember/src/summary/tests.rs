//! Tests of the summary: accuracy, window expiry, exposition, concurrency.

use super::*;
use ember_expfmt::Format;
use std::cell::Cell;
use std::sync::LazyLock;

use ember_expfmt::Encoder;

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

thread_local! {
    static OFFSET: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// A clock that only moves when the test thread says so.
fn test_clock() -> Instant {
    *EPOCH + OFFSET.with(Cell::get)
}

fn set_time(secs: f64) {
    OFFSET.with(|o| o.set(Duration::from_secs_f64(secs)));
}

/// splitmix64, so the tests need no random-number crate.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const OBJECTIVES: [(f64, f64); 5] = [
    (0.01, 0.001),
    (0.5, 0.05),
    (0.9, 0.01),
    (0.99, 0.001),
    (0.999, 0.0001),
];

/// Checks each estimate is the value of some rank within `q ± e` of the sorted data.
fn assert_within_error(sorted: &[f64], estimates: &[(f64, f64)]) {
    let n = sorted.len() as f64;
    for &(q, got) in estimates {
        let e = OBJECTIVES.iter().find(|o| o.0 == q).map(|o| o.1).unwrap();
        let lo = ((q - e) * n).floor().max(0.0) as usize;
        let hi = (((q + e) * n).ceil() as usize).min(sorted.len() - 1);
        assert!(
            sorted[lo] <= got && got <= sorted[hi],
            "q={q} e={e}: {got} not in [{}, {}] (ranks {lo}..={hi} of {n})",
            sorted[lo],
            sorted[hi]
        );
    }
}

#[test]
fn quantiles_are_within_the_allowed_error() {
    let s = Summary::builder()
        .quantiles(&OBJECTIVES)
        .clock(test_clock)
        .build()
        .unwrap();
    let mut rng = Rng(7);
    let mut data: Vec<f64> = (0..100_000).map(|_| rng.normal() * 10.0 + 50.0).collect();
    for &v in &data {
        s.observe(v);
    }
    data.sort_by(f64::total_cmp);
    let snap = s.snapshot();
    assert_eq!(snap.count, 100_000);
    assert_eq!(snap.quantiles.len(), OBJECTIVES.len());
    assert_within_error(&data, &snap.quantiles);
    // A second scrape without new observations answers the same.
    assert_eq!(s.snapshot().quantiles, snap.quantiles);
}

#[test]
fn sketch_is_accurate_on_several_distributions() {
    let targets: Arc<[Target]> = OBJECTIVES
        .iter()
        .map(|&(quantile, error)| Target { quantile, error })
        .collect();
    let mut rng = Rng(42);
    type Draw = fn(&mut Rng, usize) -> f64;
    let distributions: [(&str, Draw); 4] = [
        ("uniform", |r, _| r.unit()),
        ("exponential", |r, _| -(1.0 - r.unit()).ln()),
        ("ascending", |_, i| i as f64),
        ("descending", |_, i| -(i as f64)),
    ];
    for (name, dist) in &distributions {
        for n in [10, 499, 500, 501, 12_345, 200_000] {
            let mut stream = Stream::new(targets.clone());
            let mut data: Vec<f64> = (0..n).map(|i| dist(&mut rng, i)).collect();
            for &v in &data {
                stream.insert(v);
            }
            data.sort_by(f64::total_cmp);
            let est: Vec<(f64, f64)> = OBJECTIVES
                .iter()
                .map(|&(q, _)| (q, stream.query(q)))
                .collect();
            assert_eq!(stream.count(), n, "{name}");
            assert_within_error(&data, &est);
        }
    }
}

#[test]
fn small_windows_are_exact() {
    let s = Summary::builder()
        .quantiles(&[(0.0, 0.01), (0.5, 0.05), (1.0, 0.01)])
        .build()
        .unwrap();
    for v in [5.0, 1.0, 4.0, 2.0, 3.0] {
        s.observe(v);
    }
    assert_eq!(s.snapshot().quantiles, [(0.0, 1.0), (0.5, 3.0), (1.0, 5.0)]);
}

#[test]
fn quantiles_zero_and_one_are_the_window_extremes() {
    let s = Summary::builder()
        .quantiles(&[(0.0, 0.01), (0.5, 0.05), (1.0, 0.01)])
        .clock(test_clock)
        .build()
        .unwrap();
    for i in 0..100_000u32 {
        s.observe(f64::from(i.wrapping_mul(2_654_435_761) % 100_000) - 50_000.0);
    }
    let q = s.snapshot().quantiles;
    assert_eq!((q[0], q[2]), ((0.0, -50_000.0), (1.0, 49_999.0)));
    assert!(q[1].1.abs() <= 5_000.0, "{q:?}");
}

#[test]
fn observations_leave_the_window_after_max_age() {
    set_time(0.0);
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05)])
        .max_age(Duration::from_secs(10))
        .age_buckets(5)
        .clock(test_clock)
        .build()
        .unwrap();
    for v in 1..=100 {
        s.observe(f64::from(v));
    }
    assert_eq!(s.snapshot().quantiles, [(0.5, 50.0)]);

    // Four age buckets later the first bucket's values are still in the head stream.
    set_time(9.0);
    assert_eq!(s.snapshot().quantiles, [(0.5, 50.0)]);
    for _ in 0..5 {
        s.observe(1000.0);
    }
    // At exactly max_age they are still in (client_golang compares with After): the
    // median of 1..=100 and five times 1000 is the 53rd value.
    set_time(10.0);
    assert_eq!(s.snapshot().quantiles, [(0.5, 53.0)]);

    // Past max_age only the values of the later bucket remain.
    set_time(10.5);
    let snap = s.snapshot();
    assert_eq!(snap.quantiles, [(0.5, 1000.0)]);
    assert_eq!(snap.count, 105, "_count is not windowed");

    // Observed at t=9, in the bucket (8, 10], these leave when the head stream starts
    // at 10, that is once t passes 18: an observation stays between
    // max_age - max_age/age_buckets and max_age.
    set_time(18.0);
    assert_eq!(s.snapshot().quantiles, [(0.5, 1000.0)]);
    set_time(18.001);
    assert!(s.snapshot().quantiles[0].1.is_nan());

    // A long idle time rotates at most once around, and new values count again.
    set_time(86_400.0 * 365.0);
    assert!(s.snapshot().quantiles[0].1.is_nan());
    s.observe(7.0);
    assert_eq!(s.snapshot().quantiles, [(0.5, 7.0)]);
    let snap = s.snapshot();
    assert_eq!((snap.count, snap.sum), (106, 5050.0 + 5000.0 + 7.0));
}

#[test]
fn hot_buffer_expiry_puts_the_new_value_in_the_new_bucket() {
    set_time(0.0);
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05)])
        .max_age(Duration::from_secs(2))
        .age_buckets(2)
        .clock(test_clock)
        .build()
        .unwrap();
    s.observe(1.0);
    // The buffer of bucket [0, 1] is taken by this observation, which starts [1, 2].
    set_time(1.5);
    s.observe(2.0);
    set_time(2.5);
    assert_eq!(s.snapshot().quantiles, [(0.5, 2.0)]);
}

#[test]
fn full_buffers_are_flushed_into_the_streams() {
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05)])
        .clock(test_clock)
        .build()
        .unwrap();
    for v in 0..(BUF_CAP * 3 + 7) {
        s.observe(v as f64);
    }
    {
        let hot = s.inner.window.as_ref().unwrap().hot.lock();
        assert_eq!(hot.values.len(), 7);
    }
    let snap = s.snapshot();
    assert_eq!(snap.count, 1507);
    let median = snap.quantiles[0].1;
    assert!((median - 753.0).abs() <= 0.05 * 1507.0, "{median}");
}

fn render(s: &Summary, format: Format, labels: &str) -> String {
    let mut enc = Encoder::new(format);
    let mut fam = enc.family("rpc_seconds", "RPC latency.", s.metric_type(), None);
    s.encode(&mut fam, labels);
    String::from_utf8(enc.finish()).unwrap()
}

#[test]
fn exposition_in_both_formats() {
    let s = Summary::builder()
        .quantiles(&[(0.99, 0.001), (0.5, 0.05)])
        .build()
        .unwrap();
    s.inner
        .created
        .store(1_700_000_000.5f64.to_bits(), Ordering::Release);
    assert_eq!(
        render(&s, Format::Text, ""),
        "# HELP rpc_seconds RPC latency.\n\
         # TYPE rpc_seconds summary\n\
         rpc_seconds{quantile=\"0.5\"} NaN\n\
         rpc_seconds{quantile=\"0.99\"} NaN\n\
         rpc_seconds_count 0\n\
         rpc_seconds_sum 0\n"
    );
    for v in [0.25, 0.5, 1.0, 2.0] {
        s.observe(v);
    }
    assert_eq!(
        render(&s, Format::Text, "method=\"GET\""),
        "# HELP rpc_seconds RPC latency.\n\
         # TYPE rpc_seconds summary\n\
         rpc_seconds{method=\"GET\",quantile=\"0.5\"} 0.5\n\
         rpc_seconds{method=\"GET\",quantile=\"0.99\"} 2\n\
         rpc_seconds_count{method=\"GET\"} 4\n\
         rpc_seconds_sum{method=\"GET\"} 3.75\n"
    );
    assert_eq!(
        render(&s, Format::OpenMetrics, "method=\"GET\""),
        "# HELP rpc_seconds RPC latency.\n\
         # TYPE rpc_seconds summary\n\
         rpc_seconds{method=\"GET\",quantile=\"0.5\"} 0.5\n\
         rpc_seconds{method=\"GET\",quantile=\"0.99\"} 2.0\n\
         rpc_seconds_count{method=\"GET\"} 4\n\
         rpc_seconds_sum{method=\"GET\"} 3.75\n\
         rpc_seconds_created{method=\"GET\"} 1.7000000005e+09\n\
         # EOF\n"
    );
}

#[test]
fn default_summary_has_only_count_sum_and_created() {
    let s = Summary::default();
    s.inner.created.store(1.5f64.to_bits(), Ordering::Release);
    s.observe(1.0);
    s.observe(2.0);
    assert!(s.inner.window.is_none());
    assert_eq!(
        render(&s, Format::Text, ""),
        "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n\
         rpc_seconds_count 2\nrpc_seconds_sum 3\n"
    );
    assert_eq!(
        render(&s, Format::OpenMetrics, ""),
        "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n\
         rpc_seconds_count 2\nrpc_seconds_sum 3.0\nrpc_seconds_created 1.5\n# EOF\n"
    );
}

#[test]
fn nan_counts_and_poisons_the_sum_as_in_client_golang() {
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05), (1.0, 0.001)])
        .build()
        .unwrap();
    for v in [1.0, f64::NAN, 2.0, 3.0] {
        s.observe(v);
    }
    let snap = s.snapshot();
    assert_eq!(snap.count, 4);
    assert!(snap.sum.is_nan());
    assert_eq!(snap.quantiles[0], (0.5, 2.0));
    assert!(snap.quantiles[1].1.is_nan(), "NaN ranks highest");
}

#[test]
fn reset_clears_values_and_moves_created() {
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05)])
        .build()
        .unwrap();
    s.inner.created.store(1.0f64.to_bits(), Ordering::Release);
    for v in 0..2000 {
        s.observe(f64::from(v));
    }
    s.reset();
    let snap = s.snapshot();
    assert_eq!((snap.count, snap.sum), (0, 0.0));
    assert!(snap.quantiles[0].1.is_nan());
    assert!(snap.created > 1.6e9);
    s.observe(3.0);
    let snap = s.snapshot();
    assert_eq!((snap.count, snap.sum, snap.quantiles[0].1), (1, 3.0, 3.0));
    // Counts stay consistent over further flips after a reset.
    s.reset();
    s.observe(1.0);
    s.snapshot();
    s.observe(1.0);
    assert_eq!((s.snapshot().count, s.snapshot().sum), (2, 2.0));
}

#[test]
fn concurrent_observations_keep_count_and_sum_exact() {
    for quantiles in [&[][..], &[(0.5, 0.05), (0.99, 0.001)][..]] {
        let s = Summary::builder().quantiles(quantiles).build().unwrap();
        let threads = 4;
        let per_thread = 25_000u32;
        std::thread::scope(|scope| {
            for t in 0..threads {
                let s = s.clone();
                scope.spawn(move || {
                    for i in 0..per_thread {
                        s.observe(f64::from(i % 4 + t));
                    }
                });
            }
            // Scrapes racing with the observers must see a count and sum that agree
            // with each other as far as integers allow: the sum is at least the count
            // times the smallest value (0) and at most count times the largest (6).
            let reader = s.clone();
            scope.spawn(move || {
                for _ in 0..200 {
                    let snap = reader.snapshot();
                    assert!(snap.sum <= 6.0 * snap.count as f64);
                }
            });
        });
        let snap = s.snapshot();
        let n = u64::from(per_thread) * u64::from(threads);
        assert_eq!(snap.count, n);
        // Per thread t: per_thread/4 rounds of (0+1+2+3) + 4t each.
        let expected: f64 = (0..threads)
            .map(|t| f64::from(per_thread / 4) * f64::from(6 + 4 * t))
            .sum();
        assert_eq!(snap.sum, expected);
        if !quantiles.is_empty() {
            let median = snap.quantiles[0].1;
            assert!((1.0..=5.0).contains(&median), "{median}");
        }
    }
}

#[test]
fn timers_observe_elapsed_seconds() {
    let s = Summary::new();
    let t = s.start_timer();
    std::thread::sleep(Duration::from_millis(5));
    let secs = t.stop_and_record();
    assert!(secs >= 0.005);
    drop(s.start_timer());
    s.start_timer().stop_and_discard();
    let r = s.time(|| "done");
    assert_eq!(r, "done");
    let snap = s.snapshot();
    assert_eq!(snap.count, 3);
    assert!(snap.sum >= secs);
}

#[test]
fn builder_rejects_bad_settings() {
    let b = || Summary::builder();
    assert!(matches!(
        b().quantiles(&[(f64::NAN, 0.1)]).build(),
        Err(SummaryError::QuantileOutOfRange(q)) if q.is_nan()
    ));
    assert_eq!(
        b().quantiles(&[(-0.1, 0.1)]).build().unwrap_err(),
        SummaryError::QuantileOutOfRange(-0.1)
    );
    assert_eq!(
        b().quantiles(&[(0.5, 1.5)]).build().unwrap_err(),
        SummaryError::ErrorOutOfRange {
            quantile: 0.5,
            error: 1.5
        }
    );
    assert_eq!(
        b().max_age(Duration::from_nanos(4))
            .build()
            .unwrap_err()
            .to_string(),
        "summary max age 4ns split into 5 age buckets leaves no time"
    );
    assert_eq!(
        b().age_buckets(0).build().unwrap_err().to_string(),
        "a summary needs at least one age bucket"
    );
    assert!(b().quantiles(&[(0.0, 0.0), (1.0, 1.0)]).build().is_ok());
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + fmt::Debug>() {}
    assert_send_sync::<Summary>();
    fn assert_send<T: Send + fmt::Debug>() {}
    assert_send::<SummaryTimer>();
}

#[test]
fn debug_shows_configuration() {
    let s = Summary::builder()
        .quantiles(&[(0.5, 0.05)])
        .build()
        .unwrap();
    s.observe(1.0);
    assert_eq!(
        format!("{s:?}"),
        "Summary { quantiles: [(0.5, 0.05)], max_age: 600s, age_buckets: 5, count: 1 }"
    );
    assert_eq!(format!("{:?}", Summary::new()), "Summary { count: 0 }");
}

//! `@` inside range queries, where Prometheus 2.42 is subtle. The expected values were
//! taken from the `prometheus` 2.42.0 Debian binary on the same data (backfilled with
//! `promtool tsdb create-blocks-from openmetrics`), querying `/api/v1/query_range` from
//! 1700000600 to 1700000780 at 60 s.

use ember_promql::{Engine, Labels, MemStorage, QueryValue};

fn data() -> MemStorage {
    let mut s = MemStorage::new();
    let l = Labels::from_pairs(&[("__name__", "m"), ("a", "x")]);
    for i in 0..200i64 {
        s.append(&l, (1_700_000_000 + i * 15) * 1000, (i * i) as f64);
    }
    s
}

fn range(q: &str) -> Vec<f64> {
    let r = Engine::default()
        .range_query(&data(), q, 1_700_000_600_000, 1_700_000_780_000, 60_000)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let QueryValue::Matrix(m) = r else {
        panic!("{q}: not a matrix")
    };
    assert_eq!(m.len(), 1, "{q}");
    assert_eq!(m[0].labels.to_string(), r#"{a="x"}"#);
    m[0].points.iter().map(|p| p.v).collect()
}

fn assert_close(q: &str, want: &[f64]) {
    let got = range(q);
    assert_eq!(got.len(), want.len(), "{q}: {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs(),
            "{q}: got {got:?}, Prometheus {want:?}"
        );
    }
}

#[test]
fn timestamp_of_an_at_selector_is_constant() {
    assert_close("timestamp(m @ 1700000300)", &[1_700_000_300.0; 4]);
    assert_close("timestamp(m @ 1700000300 offset 1m)", &[1_700_000_240.0; 4]);
    assert_close(
        "timestamp(m offset 1m)",
        &[
            1_700_000_540.0,
            1_700_000_600.0,
            1_700_000_660.0,
            1_700_000_720.0,
        ],
    );
}

#[test]
fn predict_linear_window_moves_with_the_step_over_the_at_samples() {
    assert_close(
        "predict_linear(m[5m] @ 1700000600, 60)",
        &[1776.6666666666665, 2072.0, 2394.0, 2742.666666666667],
    );
    assert_close(
        "predict_linear(m[5m] @ 1700000600 offset 1m, 60)",
        &[1648.6666666666665, 1928.0, 2234.0, 2566.666666666667],
    );
    // Without `@`, the ordinary sliding window.
    assert_close(
        "predict_linear(m[5m], 60)",
        &[
            1776.6666666666665,
            2144.666666666667,
            2544.666666666667,
            2976.666666666667,
        ],
    );
    assert_close(
        "predict_linear(m[5m:30s], 60)",
        &[
            1705.3333333333333,
            2068.0,
            2462.666666666667,
            2889.3333333333335,
        ],
    );
}

//! Every series of a small `gen_dataset.py`-shaped dataset round-trips bit for bit
//! through `Chunk::encode`, choosing the decimal encodings: counter mode for counters.

use ember_tsdb::{Chunk, Encoding};

#[path = "../benches/support/dataset.rs"]
mod dataset;

#[test]
fn dataset_shaped_series_round_trip_and_pick_decimal() {
    let data = dataset::generate(7, 2.0, 15);
    assert_eq!(data.len(), 7 * 29);
    for s in &data {
        for part in s.samples.chunks(120) {
            let c = Chunk::encode(part).unwrap();
            let got: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
            let want: Vec<(i64, u64)> = part.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            assert_eq!(got, want, "{}", s.name);
            let want_scale = match s.family {
                "node_cpu_seconds_total" => 2,
                "http_request_duration_seconds_sum" => 4,
                _ => 0,
            };
            // The first chunk of a _sum series may start at small values with fewer decimals.
            // Counters (everything but the memory gauge) choose the counter mode.
            match (s.family, c.encoding()) {
                ("node_memory_MemAvailable_bytes", Encoding::Decimal { scale }) => {
                    assert_eq!(scale, 0)
                }
                (f, Encoding::DecimalCounter { scale }) if !f.starts_with("node_memory") => {
                    assert!(scale <= want_scale, "{}: {scale}", s.name)
                }
                (_, other) => panic!("{} chose {other:?}", s.name),
            }
        }
    }
}

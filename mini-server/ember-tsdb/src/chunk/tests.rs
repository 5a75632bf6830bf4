use super::*;
use proptest::prelude::*;

const STALE: u64 = 0x7ff0_0000_0000_0002;

fn all_encodings() -> Vec<Encoding> {
    let mut v = vec![Encoding::Xor];
    v.extend((0..=MAX_DECIMAL_SCALE).map(|scale| Encoding::Decimal { scale }));
    v.extend((0..=MAX_DECIMAL_SCALE).map(|scale| Encoding::DecimalCounter { scale }));
    v
}

/// Round-trips `samples` through every encoding and through [`Chunk::encode`], comparing
/// timestamps exactly and values bit for bit.
fn assert_round_trip(samples: &[(i64, f64)]) {
    let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    let mut chunks: Vec<Chunk> = all_encodings()
        .into_iter()
        .map(|e| Chunk::encode_with(e, samples).unwrap())
        .collect();
    chunks.push(Chunk::encode(samples).unwrap());
    chunks.push(Chunk::encode_quick(samples).unwrap());
    for chunk in chunks {
        let chunk = Chunk::from_bytes(chunk.as_bytes().to_vec()).unwrap();
        assert_eq!(chunk.len(), samples.len());
        let mut it = chunk.iter();
        let got: Vec<(i64, u64)> = it.by_ref().map(|(t, v)| (t, v.to_bits())).collect();
        assert!(!it.is_truncated());
        assert_eq!(got, want, "encoding {:?}", chunk.encoding());
    }
}

#[test]
fn empty_chunk() {
    assert_round_trip(&[]);
    assert!(Chunk::encode(&[]).unwrap().is_empty());
}

#[test]
fn single_sample() {
    assert_round_trip(&[(1_700_000_000_000, 3.25)]);
    assert_round_trip(&[(i64::MIN, f64::from_bits(STALE))]);
    assert_round_trip(&[(i64::MAX, -0.0)]);
}

#[test]
fn extreme_and_negative_timestamps() {
    assert_round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
    assert_round_trip(&[
        (i64::MIN, 1.0),
        (-1, 2.0),
        (0, 3.0),
        (1, 4.0),
        (i64::MAX, 5.0),
    ]);
    assert_round_trip(&[(-5_000_000, 1.0), (-4_985_000, 1.0), (-4_970_000, 2.0)]);
}

#[test]
fn large_gaps_and_jitter() {
    let mut t = 0i64;
    let mut s = vec![];
    for i in 0..200i64 {
        t += match i % 5 {
            0 => 15_000,
            1 => 15_001,
            2 => 86_400_000 * 365,
            3 => 1,
            _ => 1 << 40,
        };
        s.push((t, i as f64));
    }
    assert_round_trip(&s);
}

#[test]
fn constant_series_is_tiny() {
    let s: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 42.0)).collect();
    assert_round_trip(&s);
    let c = Chunk::encode(&s).unwrap();
    // Header, first timestamp, first value and first delta (5 bytes), 2 bits per sample.
    assert_eq!(c.as_bytes().len(), CHUNK_HEADER_LEN + 8 + 35);
}

#[test]
fn counter_reset_and_staleness() {
    let mut s: Vec<(i64, f64)> = (0..60).map(|i| (i * 15_000, (i * 7) as f64)).collect();
    s.extend((60..120).map(|i| (i * 15_000, ((i - 60) * 3) as f64)));
    s.push((120 * 15_000, f64::from_bits(STALE)));
    s.push((121 * 15_000, 5.0));
    assert_round_trip(&s);
    let c = Chunk::encode(&s).unwrap();
    assert_eq!(c.encoding(), Encoding::DecimalCounter { scale: 0 });
}

#[test]
fn special_floats_bit_for_bit() {
    let vals = [
        f64::from_bits(STALE),
        f64::NAN,
        f64::from_bits(0xfff8_0000_dead_beef),
        f64::from_bits(1), // smallest subnormal
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        0.1 + 0.2,
        9_007_199_254_740_993.0,
    ];
    let s: Vec<(i64, f64)> = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, v))
        .collect();
    assert_round_trip(&s);
}

#[test]
fn decimal_picks_smallest_scale_and_beats_xor_on_decimals() {
    let s: Vec<(i64, f64)> = (0..120)
        .map(|i| (i * 15_000, (i * 37 % 1000) as f64 / 100.0 + 1000.0))
        .collect();
    let best = Chunk::encode(&s).unwrap();
    assert!(
        matches!(
            best.encoding(),
            Encoding::Decimal { scale: 2 } | Encoding::DecimalCounter { scale: 2 }
        ),
        "{:?}",
        best.encoding()
    );
    let xor = Chunk::encode_with(Encoding::Xor, &s).unwrap();
    assert!(best.as_bytes().len() < xor.as_bytes().len());
}

#[test]
fn gauges_pick_signed_decimal_and_counters_the_counter_mode() {
    let gauge: Vec<(i64, f64)> = (0..120)
        .map(|i| {
            (
                i * 15_000,
                50.0 + if i % 2 == 0 { 0.1 } else { -0.3 } * (i % 7) as f64,
            )
        })
        .collect();
    let counter: Vec<(i64, f64)> = (0..120)
        .map(|i| (i * 15_000, (i * i % 97 + i * 100) as f64))
        .collect();
    let g = Chunk::encode(&gauge).unwrap();
    let c = Chunk::encode(&counter).unwrap();
    assert!(
        matches!(g.encoding(), Encoding::Decimal { .. }),
        "{:?}",
        g.encoding()
    );
    assert_eq!(c.encoding(), Encoding::DecimalCounter { scale: 0 });
    let signed = Chunk::encode_with(Encoding::Decimal { scale: 0 }, &counter).unwrap();
    assert!(c.as_bytes().len() < signed.as_bytes().len());
}

#[test]
fn appender_rejects_out_of_order_and_duplicates() {
    let mut app = ChunkAppender::new(Encoding::Xor).unwrap();
    app.append(10, 1.0).unwrap();
    assert!(matches!(
        app.append(10, 2.0),
        Err(Error::OutOfOrder { t: 10, last: 10 })
    ));
    assert!(matches!(app.append(9, 2.0), Err(Error::OutOfOrder { .. })));
    app.append(11, 2.0).unwrap();
    assert_eq!(app.iter().collect::<Vec<_>>(), [(10, 1.0), (11, 2.0)]);
    assert_eq!(app.last_timestamp(), Some(11));
}

#[test]
fn appender_is_full_at_the_header_limit() {
    let mut app = ChunkAppender::new(Encoding::Decimal { scale: 0 }).unwrap();
    for i in 0..MAX_CHUNK_SAMPLES as i64 {
        app.append(i, 1.0).unwrap();
    }
    assert!(matches!(
        app.append(i64::MAX, 1.0),
        Err(Error::ChunkFull { .. })
    ));
    assert_eq!(app.finish().iter().count(), MAX_CHUNK_SAMPLES);
}

#[test]
fn invalid_headers_are_refused() {
    assert!(Chunk::from_bytes(vec![]).is_err());
    assert!(Chunk::from_bytes(vec![TAG_XOR, 0, 0]).is_err());
    assert!(Chunk::from_bytes(vec![TAG_XOR, 1, 0, 0]).is_err());
    assert!(matches!(
        Chunk::from_bytes(vec![TAG_DECIMAL, 10, 0, 0]),
        Err(Error::InvalidScale(10))
    ));
    assert!(ChunkAppender::new(Encoding::Decimal { scale: 10 }).is_err());
}

#[test]
fn truncated_chunk_stops_and_says_so() {
    let s: Vec<(i64, f64)> = (0..50).map(|i| (i * 15_000, i as f64 * 1.5)).collect();
    let c = Chunk::encode(&s).unwrap();
    for cut in CHUNK_HEADER_LEN..c.as_bytes().len() - 1 {
        let short = Chunk::from_bytes(c.as_bytes()[..cut].to_vec()).unwrap();
        let mut it = short.iter();
        let got: Vec<_> = it.by_ref().collect();
        assert!(it.is_truncated(), "cut at {cut}");
        assert_eq!(got[..], s[..got.len()]);
    }
}

/// Strictly increasing timestamps from a start and positive gaps (wrapping is avoided by
/// stopping at `i64::MAX`).
fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    (any::<i64>(), prop::collection::vec(1u64..=u64::MAX, 0..200)).prop_map(|(start, gaps)| {
        let mut t = start;
        let mut out = vec![t];
        for g in gaps {
            match t.checked_add_unsigned(g % (1 << (g % 64).max(1))) {
                Some(n) if n > t => t = n,
                _ => break,
            }
            out.push(t);
        }
        out
    })
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(m, k)| m as f64 / 10f64.powi(k as i32)),
        Just(f64::from_bits(STALE)),
        Just(0.0),
    ]
}

proptest! {
    #[test]
    fn arbitrary_samples_round_trip(ts in timestamps(), vals in prop::collection::vec(value(), 200)) {
        let s: Vec<(i64, f64)> = ts.into_iter().zip(vals).collect();
        assert_round_trip(&s);
    }

    #[test]
    fn counters_round_trip(start in 0u64..1 << 40, incs in prop::collection::vec(0u64..1000, 1..300), scale in 0u32..4) {
        let mut c = start;
        let s: Vec<(i64, f64)> = incs.iter().enumerate().map(|(i, inc)| {
            c += inc;
            (1_700_000_000_000 + i as i64 * 15_000, c as f64 / 10f64.powi(scale as i32))
        }).collect();
        assert_round_trip(&s);
    }

    /// `encode` stops XOR early once it cannot win; the choice must be the one full
    /// trials of all three make (the smallest; decimal over decimal-counter over XOR on a
    /// tie), byte for byte.
    #[test]
    fn encode_chooses_as_full_trials_do(
        ts in timestamps(),
        vals in prop::collection::vec(value(), 200),
        decimals in prop::collection::vec((-1_000_000i64..1_000_000, 0u32..4), 200),
        mix in 0usize..3,
    ) {
        let s: Vec<(i64, f64)> = match mix {
            0 => ts.into_iter().zip(vals).collect(),
            1 => ts.into_iter().zip(decimals.iter().map(|&(m, k)| m as f64 / 10f64.powi(k as i32))).collect(),
            _ => ts.into_iter().zip(vals).zip(decimals).map(|((t, v), (m, _))| (t, if m % 3 == 0 { v } else { m as f64 / 100.0 })).collect(),
        };
        let mut want = Chunk::encode_with(Encoding::Xor, &s).unwrap();
        if let Some(scale) = s.iter().filter_map(|&(_, v)| min_scale(v)).max() {
            for enc in [Encoding::DecimalCounter { scale }, Encoding::Decimal { scale }] {
                let c = Chunk::encode_with(enc, &s).unwrap();
                if c.as_bytes().len() <= want.as_bytes().len() {
                    want = c;
                }
            }
        }
        prop_assert_eq!(Chunk::encode(&s).unwrap(), want);
    }

    #[test]
    fn garbage_bytes_never_panic(tag in 1u8..=3, scale in 0u8..=9, count: u16, body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![tag, if tag == TAG_XOR { 0 } else { scale }];
        bytes.extend(count.to_be_bytes());
        bytes.extend(body);
        let c = Chunk::from_bytes(bytes).unwrap();
        prop_assert!(c.iter().count() <= usize::from(count));
    }
}

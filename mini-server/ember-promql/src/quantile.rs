//! Quantiles: `quantile`, `quantile_over_time` and `histogram_quantile` over classic
//! buckets, as Prometheus 2.42's `quantile.go`.

/// The ordering of Prometheus's `vectorByValueHeap`: NaN sorts first.
pub(crate) fn nan_first_less(a: f64, b: f64) -> bool {
    (a.is_nan() && !b.is_nan()) || a < b
}

fn sort_nan_first(values: &mut [f64]) {
    values.sort_by(|a, b| {
        if nan_first_less(*a, *b) {
            std::cmp::Ordering::Less
        } else if nan_first_less(*b, *a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

/// The φ-quantile of `values` with linear interpolation (Prometheus's `quantile`).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_nan_first(values);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// A classic histogram bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) upper: f64,
    pub(crate) count: f64,
}

/// The φ-quantile from cumulative buckets (Prometheus's `bucketQuantile`), with the
/// coalescing of equal bounds and the monotonicity fix.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    coalesce(buckets);
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|x| x.count < rank);
    if b == n {
        return buckets[n - 1].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut last = buckets[0];
    let mut i = 0;
    for j in 1..buckets.len() {
        let b = buckets[j];
        if b.upper == last.upper {
            last.count += b.count;
        } else {
            buckets[i] = last;
            last = b;
            i += 1;
        }
    }
    buckets[i] = last;
    buckets.truncate(i + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, &mut [1.0, 3.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }

    #[test]
    fn bucket_quantile_needs_inf_bucket() {
        let mut b = vec![Bucket {
            upper: 1.0,
            count: 1.0,
        }];
        assert!(bucket_quantile(0.5, &mut b).is_nan());
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 2.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 4.0,
            },
        ];
        assert_eq!(bucket_quantile(0.25, &mut b), 0.5);
    }
}

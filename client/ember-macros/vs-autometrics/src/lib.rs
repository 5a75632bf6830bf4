//! The same tiny function three times: plain, under `#[ember::metric]`, under
//! `#[autometrics]`.

use std::hint::black_box;

/// Uninstrumented.
#[inline(never)]
pub fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

/// Under `#[ember::metric]`.
#[ember::metric]
#[inline(never)]
pub fn ember_metric(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

/// Under `#[ember::metric]`, returning a `Result`.
#[ember::metric]
#[inline(never)]
pub fn ember_metric_result(x: u64) -> Result<u64, ()> {
    Ok(black_box(x).wrapping_mul(31))
}

/// Under `#[autometrics]`.
#[autometrics::autometrics]
#[inline(never)]
pub fn autometrics(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

/// Under `#[autometrics]`, returning a `Result`.
#[autometrics::autometrics]
#[inline(never)]
pub fn autometrics_result(x: u64) -> Result<u64, ()> {
    Ok(black_box(x).wrapping_mul(31))
}

//! Fixed-count runner for instruction counts under callgrind (repeatable, unlike wall
//! time on a shared machine):
//!
//! ```text
//! cargo bench -p ember-macros --bench metric_calls --no-run
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='metric_calls::measured*' \
//!     target/release/deps/metric_calls-HASH instrumented 1000000
//! ```
//!
//! `measured` makes the calls, after one warm-up call that resolves the call site; its
//! inclusive instruction count divided by the count is the cost of one call, loop
//! included (compare with `plain`).

use std::hint::black_box;

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[ember::metric]
#[inline(never)]
fn instrumented(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[ember::metric]
#[inline(never)]
fn instrumented_result(x: u64) -> Result<u64, ()> {
    Ok(black_box(x).wrapping_mul(31))
}

#[inline(never)]
fn measured(f: fn(u64) -> u64, n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    acc
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("instrumented", String::as_str);
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let f: fn(u64) -> u64 = match which {
        "plain" => plain,
        // The clock reads alone, for comparison: what `#[metric]` reads, and `Instant`.
        "two_tsc_reads" => |x| {
            static CLOCK: std::sync::LazyLock<quanta::Clock> =
                std::sync::LazyLock::new(quanta::Clock::new);
            let start = CLOCK.raw();
            let y = plain(x);
            y ^ CLOCK.delta_as_nanos(start, CLOCK.raw())
        },
        "two_instant_reads" => |x| {
            let start = std::time::Instant::now();
            let y = plain(x);
            y ^ start.elapsed().as_nanos() as u64
        },
        "instrumented_result" => |x| instrumented_result(x).unwrap_or(0),
        _ => instrumented,
    };
    black_box(f(1));
    println!("{which} x {n}: {}", measured(f, n));
}

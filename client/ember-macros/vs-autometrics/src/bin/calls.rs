//! `calls WHICH N`: N calls of one of the functions, for CPU time per call measured from
//! outside (`perf stat -e task-clock`), which a busy machine disturbs less than wall
//! time. WHICH: `plain`, `ember_metric`, `autometrics`.

use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("plain", String::as_str);
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let f: fn(u64) -> u64 = match which {
        "ember_metric" => vs_autometrics::ember_metric,
        "autometrics" => vs_autometrics::autometrics,
        _ => vs_autometrics::plain,
    };
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    println!("{which} x {n}: {acc}");
}

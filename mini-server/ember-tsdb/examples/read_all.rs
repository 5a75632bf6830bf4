//! Reads every sample of every series in a directory of blocks, through the same path as
//! queries (`open_blocks`, `MergeQuerier::select` with no matcher, `Series::iter`), and
//! prints the rate. Used by `bench/run.sh`.
//!
//! ```text
//! cargo run --release -p ember-tsdb --example read_all -- DIR [ROUNDS]
//! ```

use std::time::Instant;

use ember_tsdb::{MergeQuerier, Querier, open_blocks};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: read_all DIR [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let blocks = open_blocks(std::path::Path::new(&dir))?;
    let q = MergeQuerier::new(blocks.iter().map(|b| b as &dyn Querier).collect());
    for round in 0..rounds {
        let start = Instant::now();
        let mut n = 0u64;
        let mut check = 0u64;
        for s in q.select(&[], i64::MIN, i64::MAX)? {
            for (t, v) in s.iter() {
                n += 1;
                check = check.wrapping_add(t as u64 ^ v.to_bits());
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {n} samples in {secs:.3} s: {:.1} M samples/s (checksum {check:x})",
            n as f64 / secs / 1e6
        );
    }
    Ok(())
}

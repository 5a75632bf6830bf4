//! A nightly-style batch job: processes records, then pushes how it went to a
//! Pushgateway, where Prometheus picks it up after the job has exited.
//!
//! Run with: `cargo run -p examples --bin batch_job -- --gateway http://127.0.0.1:9091 [--records 1000]`

use std::process::ExitCode;
use std::time::Instant;

use ember::push::Pusher;
use ember::{Counter, Family, FloatGauge, Histogram, Registry};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let gateway =
        examples::flag(&args, "gateway").unwrap_or_else(|| "http://127.0.0.1:9091".into());
    let records: u64 = examples::flag(&args, "records")
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    match run(&gateway, records) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batch_job: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(gateway: &str, records: u64) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let processed = Family::<[String; 1], Counter>::with_label_names(["outcome"])?;
    registry.register(
        "batch_records_processed",
        "Records processed, by outcome.",
        processed.clone(),
    )?;
    let record_time = Histogram::new(ember::exponential_buckets(1e-6, 4.0, 8))?;
    registry.register_with_unit(
        "batch_record_duration",
        "Time to process one record.",
        "seconds",
        record_time.clone(),
    )?;
    let last_success = FloatGauge::default();
    registry.register_with_unit(
        "batch_last_success_timestamp",
        "When the job last finished successfully.",
        "seconds",
        last_success.clone(),
    )?;
    let duration = FloatGauge::default();
    registry.register_with_unit(
        "batch_duration",
        "How long the whole run took.",
        "seconds",
        duration.clone(),
    )?;

    let started = Instant::now();
    let mut checksum: u64 = 0;
    for id in 0..records {
        let timer = record_time.start_timer();
        // The "work": a record is bad when its id is a multiple of 97.
        checksum = checksum.wrapping_mul(31).wrapping_add(id);
        let outcome = if id % 97 == 0 { "failed" } else { "ok" };
        processed.with_label_values(&[outcome]).inc();
        drop(timer);
    }
    duration.set(started.elapsed().as_secs_f64());
    last_success.set_to_current_time();

    Pusher::new(gateway, "batch_job")
        .grouping("instance", "examples")
        .push(&registry)?;
    println!("processed {records} records (checksum {checksum}), pushed to {gateway}");
    Ok(())
}

//! Any bytes given as `prometheus.yml` either parse or are refused with an error; when
//! they parse, every job's targets can be computed without panicking.
#![no_main]

use ember_server::{Config, targets_from_group};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = Config::parse(text, std::path::Path::new("fuzz.yml")) else { return };
    for job in &cfg.scrape_configs {
        assert!(job.scrape_timeout <= job.scrape_interval);
        for g in &job.static_configs {
            let _ = targets_from_group(g, job);
        }
    }
});

//! `parse_openmetrics` and the streaming `OpenMetricsParser` never panic, whatever the
//! input; every sample and exemplar they yield can be walked and copied.
#![no_main]

use ember_expfmt::{Entry, OpenMetricsParser, parse_openmetrics};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let collected = parse_openmetrics(data);
    let mut samples = 0;
    let mut streamed_ok = true;
    for entry in OpenMetricsParser::new(data) {
        match entry {
            Ok(Entry::Sample(s)) => {
                samples += 1;
                for (name, _) in s.labels.iter() {
                    assert!(!name.is_empty());
                }
                if let Some(ex) = &s.exemplar {
                    let _ = ex.labels.iter().count();
                }
                let _ = s.to_sample();
            }
            Ok(_) => {}
            Err(_) => streamed_ok = false,
        }
    }
    match collected {
        Ok(families) => {
            assert!(streamed_ok);
            assert_eq!(
                families.iter().map(|f| f.samples.len()).sum::<usize>(),
                samples
            );
            // A valid exposition's samples use labels that were checked for duplicates.
            for f in &families {
                for s in &f.samples {
                    for (i, (n, _)) in s.labels.iter().enumerate() {
                        assert!(s.labels[..i].iter().all(|(m, _)| m != n));
                    }
                }
            }
        }
        Err(_) => assert!(!streamed_ok),
    }
});

//! `parse_text` and the streaming `TextParser` never panic, whatever the input; every
//! sample they yield can be walked and copied.
#![no_main]

use ember_expfmt::{Entry, TextParser, parse_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let collected = parse_text(data);
    let mut samples = 0;
    let mut streamed_ok = true;
    for entry in TextParser::new(data) {
        match entry {
            Ok(Entry::Sample(s)) => {
                samples += 1;
                for (name, value) in s.labels.iter() {
                    assert!(!name.is_empty());
                    let _ = value.len();
                }
                let _ = s.to_sample();
            }
            Ok(_) => {}
            Err(_) => streamed_ok = false,
        }
    }
    // The collecting function and the stream agree on the verdict and the samples.
    match collected {
        Ok(families) => {
            assert!(streamed_ok);
            assert_eq!(
                families.iter().map(|f| f.samples.len()).sum::<usize>(),
                samples
            );
        }
        Err(_) => assert!(!streamed_ok),
    }
});

//! Any bytes with a valid chunk header iterate without panicking and yield at most the
//! header's count of samples; re-encoding what was read reproduces it.
#![no_main]

use ember_tsdb::Chunk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(chunk) = Chunk::from_bytes(data.to_vec()) else { return };
    let samples: Vec<(i64, f64)> = chunk.iter().collect();
    assert!(samples.len() <= chunk.len());
    // A corrupt stream may decode to non-increasing timestamps; only increasing ones
    // are valid chunk input.
    if samples.windows(2).all(|w| w[0].0 < w[1].0) {
        let again = Chunk::encode_with(chunk.encoding(), &samples).expect("increasing");
        let got: Vec<(i64, u64)> = again.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want);
    }
});

//! Decoding any bytes as a WAL segment never panics; the reported end is a frame
//! boundary within the input, and the good prefix decodes to the same records again.
#![no_main]

use ember_tsdb::decode_segment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut first = vec![];
    let (end, why) = decode_segment(data, |r| first.push(r));
    assert!(end <= data.len());
    assert_eq!(why.is_none(), end == data.len());
    let mut again = vec![];
    let (end2, why2) = decode_segment(&data[..end], |r| again.push(r));
    assert_eq!((end2, why2), (end, None));
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});

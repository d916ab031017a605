//! A merchant's reply to a notice: only `8888` (white space around it aside) acknowledges;
//! nothing else does, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_protocol::notice::is_acknowledgement;

fuzz_target!(|data: &[u8]| {
    let acknowledged = is_acknowledgement(data);
    let trimmed = data.trim_ascii();
    assert_eq!(acknowledged, trimmed == b"8888", "{data:?}");
});

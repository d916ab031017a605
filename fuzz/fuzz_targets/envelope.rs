//! The merchant API's front door: a body of any content type read as the outer request,
//! its `service` and `encry_data` opened with the sample merchant's key, `service` read.
//! Nothing may panic, hang or grow without bound, whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::outer::OuterRequest;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    Some("application/x-www-form-urlencoded; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let Ok(outer) = OuterRequest::from_body(content_type, body) else {
        return;
    };
    let Ok(key) = MerchantKey::parse("KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx") else {
        return;
    };
    for sealed in [&outer.service, &outer.encry_data].into_iter().flatten() {
        if let Ok(raw) = envelope::decode_base64(sealed)
            && let Ok(plain) = envelope::open_bytes(&key, &raw)
        {
            let _ = serde_json::from_slice::<mypay_protocol::Service>(&plain);
        }
    }
    // What is read is written back the same way.
    let _ = outer.to_form();
});

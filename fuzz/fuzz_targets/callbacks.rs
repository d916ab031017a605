//! An upstream's callback: its signature headers and body checked (a forged one never
//! passes), then its JSON read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_upstream::signature::Secret;

fuzz_target!(|data: &[u8]| {
    let Ok(secret) = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") else {
        return;
    };
    // The first three lines are the headers; the rest is the body.
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let (Some(id), Some(ts), Some(sig), Some(body)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(id), Ok(ts), Ok(sig)) = (
        std::str::from_utf8(id),
        std::str::from_utf8(ts),
        std::str::from_utf8(sig),
    ) else {
        return;
    };
    let now = 1_767_225_600;
    if secret.verify(id, ts, sig, body, now).is_ok() {
        // Only the secret's own signature passes: one made here must match.
        let made = secret.sign(id, ts.parse().unwrap_or(0), body);
        assert!(
            sig.split_whitespace().any(|s| s == made),
            "a forged signature passed"
        );
    }
    let _ = serde_json::from_slice::<mypay_upstream::messages::Callback>(body);
});

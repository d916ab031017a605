//! Signing and checking a message as Standard Webhooks does: the signature is
//! `v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, sent in
//! `webhook-signature` beside `webhook-id` and `webhook-timestamp` (Unix seconds); the
//! shared secret is written `whsec_<base64>`. A header may carry several signatures,
//! space-separated (a secret being rotated): one that matches is enough.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header names, as the specification spells them.
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// How far a message's timestamp may stand from the receiver's clock, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A shared secret.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

/// Why a message is refused. The receiver answers all of them alike (401), so a sender
/// learns nothing of which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the secret is not whsec_ followed by base64")]
    Secret,
    #[error("a signature header is missing or malformed")]
    Malformed,
    #[error("the timestamp is more than 5 minutes from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

impl Secret {
    /// `whsec_<base64>` (the prefix may be left out); at least 16 bytes.
    pub fn parse(text: &str) -> Result<Secret, SignatureError> {
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::Secret)?;
        if bytes.len() < 16 {
            return Err(SignatureError::Secret);
        }
        Ok(Secret(bytes))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value of message `id` sent at `timestamp` with `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Check a received message's headers against its body, at `now` (Unix seconds).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        if id.is_empty() || id.len() > 256 {
            return Err(SignatureError::Malformed);
        }
        let at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Malformed)?;
        if (now - at).abs() > TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        let matches = signatures.split(' ').any(|one| {
            let Some(encoded) = one.strip_prefix("v1,") else {
                return false;
            };
            let Ok(tag) = STANDARD.decode(encoded) else {
                return false;
            };
            // Compared in constant time.
            self.mac(id, at, body).verify_slice(&tag).is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The three headers of one signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
}

impl Headers {
    /// As `(name, value)` pairs, to set on a request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (ID_HEADER, &self.id),
            (TIMESTAMP_HEADER, &self.timestamp),
            (SIGNATURE_HEADER, &self.signature),
        ]
    }
}

impl Secret {
    /// Sign `body` as a new message (a fresh random id) sent at `now` (Unix seconds).
    pub fn headers(&self, body: &[u8], now: i64) -> Headers {
        let mut random = [0u8; 16];
        // Without the OS's random source nothing of the gateway works; an id is still
        // unique enough from the clock and the body's MAC.
        if getrandom::getrandom(&mut random).is_err() {
            let tag = self.mac("", now, body).finalize().into_bytes();
            random.copy_from_slice(&tag[..16]);
        }
        let id = format!("msg_{}", URL_SAFE_NO_PAD.encode(random));
        Headers {
            signature: self.sign(&id, now, body),
            timestamp: now.to_string(),
            id,
        }
    }

    /// Verify a received message whose headers `header` reads; answers its id.
    pub fn verify_headers<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: i64,
    ) -> Result<&'h str, SignatureError> {
        let (Some(id), Some(timestamp), Some(signatures)) = (
            header(ID_HEADER),
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
        ) else {
            return Err(SignatureError::Malformed);
        };
        self.verify(id, timestamp, signatures, body, now)?;
        Ok(id)
    }
}

/// Unix seconds now, as messages are stamped.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries (checked against Python's
    // hmac module).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> Secret {
        Secret::parse(SECRET).expect("secret")
    }

    #[test]
    fn signs_as_the_reference_libraries_do() {
        assert_eq!(secret().sign(ID, AT, BODY), SIGNATURE);
    }

    #[test]
    fn a_signed_message_is_accepted_within_five_minutes_either_way() {
        for now in [AT, AT + TOLERANCE_SECS, AT - TOLERANCE_SECS] {
            assert_eq!(
                secret().verify(ID, &AT.to_string(), SIGNATURE, BODY, now),
                Ok(())
            );
        }
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let header = format!("v1,bm90IHRoaXMgb25l {SIGNATURE} v2,other");
        assert_eq!(
            secret().verify(ID, &AT.to_string(), &header, BODY, AT),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_id_or_timestamp_is_refused() {
        let s = secret();
        let at = AT.to_string();
        let wrong = |r: Result<(), SignatureError>| assert_eq!(r, Err(SignatureError::Mismatch));
        wrong(s.verify(ID, &at, SIGNATURE, br#"{"test": 2432232315}"#, AT));
        wrong(s.verify("msg_other", &at, SIGNATURE, BODY, AT));
        wrong(s.verify(ID, &(AT + 1).to_string(), SIGNATURE, BODY, AT));
        let other = Secret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("secret");
        wrong(other.verify(ID, &at, SIGNATURE, BODY, AT));
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        let at = AT.to_string();
        for now in [AT + TOLERANCE_SECS + 1, AT - TOLERANCE_SECS - 1, AT + 600] {
            assert_eq!(
                secret().verify(ID, &at, SIGNATURE, BODY, now),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn malformed_headers_and_secrets_are_refused() {
        let s = secret();
        assert_eq!(
            s.verify(ID, "soon", SIGNATURE, BODY, AT),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            s.verify("", &AT.to_string(), SIGNATURE, BODY, AT),
            Err(SignatureError::Malformed)
        );
        for header in [
            "",
            "v1,",
            "v1,!!!",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                s.verify(ID, &AT.to_string(), header, BODY, AT),
                Err(SignatureError::Mismatch),
                "{header:?}"
            );
        }
        for bad in ["whsec_", "whsec_!!!", "whsec_c2hvcnQ="] {
            assert!(Secret::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_secret_is_never_printed() {
        assert_eq!(format!("{:?}", secret()), "Secret(…)");
    }
}

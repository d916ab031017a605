//! The encrypted envelope of 附錄四.
//!
//! Byte format of one sealed field:
//!
//! ```text
//! base64( IV[16] || AES-256-CBC(key, IV, PKCS7(plaintext)) )
//! ```
//!
//! The key is the UTF-8 bytes of the merchant's 32-character key. The IV should be random;
//! the C# sample reuses one IV for `service` and `encry_data`, which [`open`] accepts since
//! the IV travels with each field.
//!
//! Transport damage the sample clients cause is repaired by [`normalize_base64`] before
//! decoding: a value URL-encoded once more by hand (C#, Java), a `+` that became a space.

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use std::fmt;

const IV_LEN: usize = 16;

/// A merchant's (or dealer's, or client-mode) 32-byte AES key.
#[derive(Clone, PartialEq, Eq)]
pub struct MerchantKey([u8; 32]);

impl MerchantKey {
    /// The key as the document hands it out: 32 characters, used as their UTF-8 bytes.
    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        let bytes: [u8; 32] = text
            .as_bytes()
            .try_into()
            .map_err(|_| EnvelopeError::KeyLength(text.len()))?;
        Ok(Self(bytes))
    }

    /// The key as text, for display to its owner (the admin CLI, the startup banner).
    pub fn as_str(&self) -> &str {
        // Built only from a `&str` of exactly 32 bytes, so always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MerchantKey(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("is not valid base64")]
    Base64,
    #[error("is too short to hold an IV and one AES block")]
    TooShort,
    #[error("is not a whole number of AES blocks")]
    Misaligned,
    #[error("does not decrypt with the merchant's key (bad padding)")]
    Padding,
}

/// Seal `plaintext` with a fresh random IV.
pub fn seal(key: &MerchantKey, plaintext: &[u8]) -> String {
    let mut iv = [0u8; IV_LEN];
    // An OS without a random source cannot run the gateway at all; fall back to a
    // zero IV would leak equality of plaintexts, so this is the one place we abort.
    getrandom::getrandom(&mut iv).expect("the operating system's random source failed");
    seal_with_iv(key, &iv, plaintext)
}

/// Seal with a caller-chosen IV: for test vectors and for clients that reuse one IV.
pub fn seal_with_iv(key: &MerchantKey, iv: &[u8; IV_LEN], plaintext: &[u8]) -> String {
    let cipher = cbc::Encryptor::<Aes256>::new(&key.0.into(), iv.into());
    let body = cipher.encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut out = Vec::with_capacity(IV_LEN + body.len());
    out.extend_from_slice(iv);
    out.extend_from_slice(&body);
    STANDARD.encode(out)
}

/// Open one sealed field. `sealed` may carry the transport damage described in the
/// module documentation.
pub fn open(key: &MerchantKey, sealed: &str) -> Result<Vec<u8>, EnvelopeError> {
    let raw = decode_base64(sealed)?;
    open_bytes(key, &raw)
}

/// Open an already base64-decoded field; lets a caller decode once and try several keys.
pub fn open_bytes(key: &MerchantKey, raw: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if raw.len() < IV_LEN * 2 {
        return Err(EnvelopeError::TooShort);
    }
    let (iv, body) = raw.split_at(IV_LEN);
    if body.len() % 16 != 0 {
        return Err(EnvelopeError::Misaligned);
    }
    let mut iv_block = [0u8; IV_LEN];
    iv_block.copy_from_slice(iv);
    let cipher = cbc::Decryptor::<Aes256>::new(&key.0.into(), &iv_block.into());
    cipher
        .decrypt_padded_vec_mut::<Pkcs7>(body)
        .map_err(|_| EnvelopeError::Padding)
}

/// Decode a sealed field's base64 after repairing transport damage.
pub fn decode_base64(sealed: &str) -> Result<Vec<u8>, EnvelopeError> {
    let text = normalize_base64(sealed);
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| EnvelopeError::Base64)
}

/// Undo the damage a sealed value suffers on its way here: a second URL encoding
/// (`%2B`, `%2F`, `%3D`), a `+` read as a space, and line breaks some encoders insert.
/// Neither `%` nor white space belongs to the base64 alphabet, so the repair is unambiguous.
pub fn normalize_base64(value: &str) -> std::borrow::Cow<'_, str> {
    // A fold rather than `any`: without the early exit the scan is vectorised, and a
    // sealed value almost never needs repair, so it is read to the end anyway.
    let needs_repair = value.bytes().fold(false, |found, b| {
        found | matches!(b, b'%' | b' ' | b'\n' | b'\r' | b'\t')
    });
    if !needs_repair {
        return std::borrow::Cow::Borrowed(value);
    }
    let decoded = crate::outer::percent_decode(value.as_bytes(), false);
    let repaired: String = String::from_utf8_lossy(&decoded)
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('+'),
            '\n' | '\r' | '\t' => None,
            other => Some(other),
        })
        .collect();
    std::borrow::Cow::Owned(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_key() -> MerchantKey {
        MerchantKey::parse("KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx").expect("32 bytes")
    }

    #[test]
    fn sealed_text_opens_to_the_same_bytes() {
        let key = sample_key();
        let sealed = seal(&key, br#"{"service_name":"api","cmd":"api/orders"}"#);
        assert_eq!(
            open(&key, &sealed).expect("opens"),
            br#"{"service_name":"api","cmd":"api/orders"}"#
        );
    }

    #[test]
    fn a_fixed_iv_gives_a_fixed_vector() {
        let key = sample_key();
        let sealed = seal_with_iv(&key, &[7u8; 16], b"hello");
        // IV (16 bytes of 7) followed by one block.
        let raw = STANDARD.decode(&sealed).expect("base64");
        assert_eq!(raw.len(), 32);
        assert_eq!(&raw[..16], &[7u8; 16]);
        assert_eq!(open(&key, &sealed).expect("opens"), b"hello");
    }

    #[test]
    fn a_value_url_encoded_once_more_still_opens() {
        let key = sample_key();
        let sealed = seal(&key, b"{}");
        let twice: String = sealed
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(open(&key, &twice).expect("opens"), b"{}");
    }

    #[test]
    fn a_plus_read_as_a_space_still_opens() {
        let key = sample_key();
        // Find a sealing that contains a '+', then damage it.
        let sealed = (0..64u8)
            .map(|i| seal_with_iv(&key, &[i; 16], b"{\"a\":1}"))
            .find(|s| s.contains('+'))
            .expect("some IV yields a '+'");
        assert_eq!(
            open(&key, &sealed.replace('+', " ")).expect("opens"),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn the_wrong_key_is_a_padding_error_not_a_panic() {
        let sealed = seal(&sample_key(), b"{\"cmd\":\"api/orders\"}");
        let other = MerchantKey::parse("00000000000000000000000000000000").expect("32 bytes");
        // A wrong key almost always breaks the padding; if it happens to produce valid
        // padding the bytes are garbage, which the JSON layer rejects.
        match open(&other, &sealed) {
            Err(EnvelopeError::Padding) => {}
            Ok(bytes) => assert_ne!(bytes, b"{\"cmd\":\"api/orders\"}"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        let key = sample_key();
        assert_eq!(open(&key, "not base64!!"), Err(EnvelopeError::Base64));
        assert_eq!(open(&key, "AAAA"), Err(EnvelopeError::TooShort));
        let odd = STANDARD.encode([0u8; 40]);
        assert_eq!(open(&key, &odd), Err(EnvelopeError::Misaligned));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert_eq!(
            MerchantKey::parse("short"),
            Err(EnvelopeError::KeyLength(5))
        );
    }
}

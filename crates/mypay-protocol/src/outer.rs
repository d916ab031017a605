//! The outer request every command arrives in: `store_uid` (or `agent_uid` for a
//! dealer), `service` and `encry_data`, the last two sealed with [`crate::envelope`].
//!
//! The PHP, Python, C# and Java samples post `application/x-www-form-urlencoded`; the
//! Node.js sample posts `application/json`. [`OuterRequest::from_form`] is a lean parser
//! for the three fields we need: this runs on every request, and a general form
//! deserializer that builds a map of owned strings cost as much as the AES step.

use serde::Deserialize;

/// The three outer fields, as text. `service` and `encry_data` are still sealed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OuterRequest {
    /// `store_uid` of the outer form.
    pub store_uid: Option<String>,
    /// `agent_uid` of the outer form (dealer mode).
    pub agent_uid: Option<String>,
    pub service: Option<String>,
    pub encry_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OuterError {
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    #[error("request body is not valid UTF-8")]
    Utf8,
}

impl OuterRequest {
    /// Read a form body. Unknown fields are ignored; a repeated field keeps its first value.
    pub fn from_form(body: &[u8]) -> Result<Self, OuterError> {
        let mut out = OuterRequest::default();
        // memchr rather than a byte-by-byte split: the values are long base64 runs.
        let pairs = memchr::memchr_iter(b'&', body)
            .chain(std::iter::once(body.len()))
            .scan(0, |start, end| {
                let pair = &body[*start..end];
                *start = end + 1;
                Some(pair)
            });
        for pair in pairs {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let slot = match name {
                b"store_uid" => &mut out.store_uid,
                b"agent_uid" => &mut out.agent_uid,
                b"service" => &mut out.service,
                b"encry_data" => &mut out.encry_data,
                _ => continue,
            };
            if slot.is_none() {
                let decoded = percent_decode(value, true);
                *slot = Some(String::from_utf8(decoded).map_err(|_| OuterError::Utf8)?);
            }
        }
        Ok(out)
    }

    /// Read a JSON body (the Node.js sample). Values may be strings or numbers.
    pub fn from_json(body: &[u8]) -> Result<Self, OuterError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default, deserialize_with = "crate::lenient::opt_string")]
            store_uid: Option<String>,
            #[serde(default, deserialize_with = "crate::lenient::opt_string")]
            agent_uid: Option<String>,
            #[serde(default, deserialize_with = "crate::lenient::opt_string")]
            service: Option<String>,
            #[serde(default, deserialize_with = "crate::lenient::opt_string")]
            encry_data: Option<String>,
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| OuterError::Json(e.to_string()))?;
        Ok(OuterRequest {
            store_uid: raw.store_uid,
            agent_uid: raw.agent_uid,
            service: raw.service,
            encry_data: raw.encry_data,
        })
    }

    /// Read a body by its content type: JSON when it says so or looks like an object,
    /// a form otherwise.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Self, OuterError> {
        let says_json = content_type.is_some_and(|ct| ct.contains("json"));
        let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if says_json || looks_json {
            Self::from_json(body)
        } else {
            Self::from_form(body)
        }
    }

    /// Encode as a form body, the way the PHP and Python samples post.
    pub fn to_form(&self) -> String {
        let mut out = String::with_capacity(512);
        for (name, value) in [
            ("store_uid", &self.store_uid),
            ("agent_uid", &self.agent_uid),
            ("service", &self.service),
            ("encry_data", &self.encry_data),
        ] {
            if let Some(v) = value {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(name);
                out.push('=');
                percent_encode_into(v, &mut out);
            }
        }
        out
    }
}

/// Percent-encode a form value (RFC 3986 unreserved characters stay as they are).
pub fn percent_encode_into(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// Decode `%XX` escapes; with `plus_is_space`, also `+` as a space (form encoding).
/// A `%` not followed by two hex digits is kept as it is.
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    // Copy the runs between escapes whole: a sealed value is mostly plain base64.
    loop {
        let next = if plus_is_space {
            memchr::memchr2(b'%', b'+', rest)
        } else {
            memchr::memchr(b'%', rest)
        };
        let Some(at) = next else {
            out.extend_from_slice(rest);
            return out;
        };
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        match rest {
            [b'+', tail @ ..] => {
                out.push(b' ');
                rest = tail;
            }
            [b'%', h, l, tail @ ..] => match (hex_value(*h), hex_value(*l)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    rest = tail;
                }
                // A `%` not followed by two hex digits stays as it is.
                _ => {
                    out.push(b'%');
                    rest = &rest[1..];
                }
            },
            [other, tail @ ..] => {
                out.push(*other);
                rest = tail;
            }
            [] => return out,
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pairs_and_a_trailing_ampersand_are_skipped() {
        let outer =
            OuterRequest::from_form(b"&store_uid=1&&service=a%2B&x&encry_data=&").expect("form");
        assert_eq!(outer.store_uid.as_deref(), Some("1"));
        assert_eq!(outer.service.as_deref(), Some("a+"));
        assert_eq!(outer.encry_data.as_deref(), Some(""));
        assert_eq!(
            OuterRequest::from_form(b"").expect("empty"),
            OuterRequest::default()
        );
    }

    #[test]
    fn a_php_form_is_read() {
        let body = b"store_uid=289151880002&service=ab%2Bcd%2F%3D&encry_data=xy%3D%3D";
        let outer = OuterRequest::from_form(body).expect("form");
        assert_eq!(outer.store_uid.as_deref(), Some("289151880002"));
        assert_eq!(outer.service.as_deref(), Some("ab+cd/="));
        assert_eq!(outer.encry_data.as_deref(), Some("xy=="));
        assert_eq!(outer.agent_uid, None);
    }

    #[test]
    fn a_node_json_body_is_read_with_numbers_as_strings() {
        let body = br#"{"store_uid":289151880002,"service":"abc","encry_data":"def"}"#;
        let outer = OuterRequest::from_body(Some("application/json"), body).expect("json");
        assert_eq!(outer.store_uid.as_deref(), Some("289151880002"));
        assert_eq!(outer.service.as_deref(), Some("abc"));
    }

    #[test]
    fn percent_decoding_matches_a_byte_by_byte_reading() {
        // The obvious decoder, one byte at a time, as the reference.
        fn reference(input: &[u8], plus_is_space: bool) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < input.len() {
                match input[i] {
                    b'+' if plus_is_space => out.push(b' '),
                    b'%' if i + 2 < input.len() => {
                        match (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                            (Some(h), Some(l)) => {
                                out.push(h << 4 | l);
                                i += 2;
                            }
                            _ => out.push(b'%'),
                        }
                    }
                    other => out.push(other),
                }
                i += 1;
            }
            out
        }
        let alphabet = b"%+2bBfF3dDaz/= ";
        let mut seed = 0x2545_f491_u32;
        for length in 0..40 {
            for _ in 0..50 {
                let input: Vec<u8> = (0..length)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        alphabet[seed as usize % alphabet.len()]
                    })
                    .collect();
                for plus in [false, true] {
                    assert_eq!(
                        percent_decode(&input, plus),
                        reference(&input, plus),
                        "{:?}",
                        String::from_utf8_lossy(&input)
                    );
                }
            }
        }
    }

    #[test]
    fn percent_decoding_keeps_stray_percent_signs() {
        assert_eq!(percent_decode(b"a%2", false), b"a%2");
        assert_eq!(percent_decode(b"%", false), b"%");
        assert_eq!(percent_decode(b"%zz", false), b"%zz");
        assert_eq!(percent_decode(b"%41", false), b"A");
        assert_eq!(percent_decode(b"a+b", true), b"a b");
        assert_eq!(percent_decode(b"a+b", false), b"a+b");
    }

    #[test]
    fn to_form_round_trips() {
        let outer = OuterRequest {
            store_uid: Some("1".into()),
            agent_uid: None,
            service: Some("a+b/c=".into()),
            encry_data: Some("z".into()),
        };
        assert_eq!(
            OuterRequest::from_form(outer.to_form().as_bytes()).expect("form"),
            outer
        );
    }
}

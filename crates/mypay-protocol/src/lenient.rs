//! JSON values as the sample clients send them: `"cost": 10` and `"cost": "10"` mean the
//! same, and so do `"store_uid": 289151880002` and `"store_uid": "289151880002"`.
//!
//! Use these with `#[serde(deserialize_with = "…")]`. An empty string reads as absent for
//! the optional forms, as PHP and C# clients send `""` for "not set".

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            Ok(Some(format!("{}", v as i64)))
        } else {
            Ok(Some(v.to_string()))
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(if v { "1" } else { "0" }.to_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A text field that may arrive as a string or a number; absent, `null` and `""` are `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(d.deserialize_any(TextVisitor)?.filter(|s| !s.is_empty()))
}

/// A yes/no that may arrive as a JSON bool, a number or text (forms send `"true"`,
/// `"false"`, `"1"`, `"0"`); absent or empty is `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match opt_string(d)? {
        None => Ok(None),
        Some(t) => match t.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some(true)),
            "0" | "false" | "no" | "off" => Ok(Some(false)),
            other => Err(de::Error::custom(format!("{other:?} is not true or false"))),
        },
    }
}

/// An amount as text: a JSON number or numeric text, never a bool (`true` would read as
/// `1`, and a refund of `cost: true` must not refund one dollar). Absent, `null` and `""`
/// are `None`; whether the text is a whole number is the caller's check.
pub fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(d.deserialize_any(AmountVisitor)?.filter(|s| !s.is_empty()))
}

/// A required whole-number amount: a JSON number or numeric text, never a bool.
pub fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = d
        .deserialize_any(AmountVisitor)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| de::Error::custom("must be a whole number"))?;
    parse_integer(&text)
        .ok_or_else(|| de::Error::custom(format!("must be a whole number, got {text:?}")))
}

/// [`TextVisitor`] without bools: amounts are numbers or numeric strings only.
struct AmountVisitor;

impl<'de> Visitor<'de> for AmountVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or numeric text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        TextVisitor.visit_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        TextVisitor.visit_string(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        TextVisitor.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        TextVisitor.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        TextVisitor.visit_f64(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(AmountVisitor)
    }
}

/// A required text field that may arrive as a string or a number.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(TextVisitor)?
        .ok_or_else(|| de::Error::custom("must not be null"))
}

/// Read an integer from text, tolerating surrounding white space and a `.0` fraction.
pub fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (whole, frac) = t.split_once('.')?;
    if frac.bytes().all(|b| b == b'0') {
        whole.parse().ok()
    } else {
        None
    }
}

/// An integer that may arrive as a number or as numeric text; absent, `null` and `""` are
/// `None`. Anything else is an error that says a whole number was expected.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match d.deserialize_any(TextVisitor)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => parse_integer(&s)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("must be a whole number, got {s:?}"))),
    }
}

/// A required integer that may arrive as a number or as numeric text.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d)?.ok_or_else(|| de::Error::custom("must be a whole number"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Probe {
        #[serde(default, deserialize_with = "super::opt_string")]
        text: Option<String>,
        #[serde(default, deserialize_with = "super::opt_i64")]
        number: Option<i64>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_and_strings_are_interchangeable() {
        let a = probe(r#"{"text": 289151880002, "number": "10"}"#).expect("lenient");
        let b = probe(r#"{"text": "289151880002", "number": 10}"#).expect("lenient");
        assert_eq!(a.text, b.text);
        assert_eq!(a.number, Some(10));
        assert_eq!(b.number, Some(10));
    }

    #[test]
    fn empty_and_null_are_absent() {
        let p = probe(r#"{"text": "", "number": null}"#).expect("lenient");
        assert_eq!(p.text, None);
        assert_eq!(p.number, None);
    }

    #[test]
    fn php_escapes_are_plain_json() {
        let p = probe(r#"{"text": "http:\/\/x\/\u5546"}"#).expect("lenient");
        assert_eq!(p.text.as_deref(), Some("http://x/商"));
    }

    #[test]
    fn a_non_number_names_what_was_expected() {
        let err = probe(r#"{"number": "ten"}"#).expect_err("not a number");
        assert!(err.to_string().contains("whole number"), "{err}");
    }

    #[test]
    fn amounts_refuse_bools() {
        #[derive(serde::Deserialize, Debug)]
        struct A {
            #[serde(default, deserialize_with = "super::opt_amount")]
            cost: Option<String>,
            #[serde(default, deserialize_with = "super::amount")]
            total: i64,
        }
        let read = |j: &str| serde_json::from_str::<A>(j);
        assert!(read(r#"{"cost": true, "total": 1}"#).is_err());
        assert!(read(r#"{"cost": "1", "total": false}"#).is_err());
        let ok = read(r#"{"cost": 10, "total": "10"}"#).expect("numbers and text");
        assert_eq!((ok.cost.as_deref(), ok.total), (Some("10"), 10));
    }

    #[test]
    fn whole_floats_are_integers() {
        assert_eq!(probe(r#"{"number": 10.0}"#).expect("ok").number, Some(10));
        assert!(probe(r#"{"number": 10.5}"#).is_err());
    }

    #[test]
    fn yes_and_no_read_from_bools_numbers_and_text() {
        #[derive(serde::Deserialize)]
        struct F {
            #[serde(default, deserialize_with = "super::opt_bool")]
            b: Option<bool>,
        }
        let read = |j: &str| serde_json::from_str::<F>(j).map(|f| f.b);
        assert_eq!(read(r#"{"b": true}"#).ok(), Some(Some(true)));
        assert_eq!(read(r#"{"b": "false"}"#).ok(), Some(Some(false)));
        assert_eq!(read(r#"{"b": 1}"#).ok(), Some(Some(true)));
        assert_eq!(read(r#"{"b": ""}"#).ok(), Some(None));
        assert_eq!(read("{}").ok(), Some(None));
        assert!(read(r#"{"b": "maybe"}"#).is_err());
    }
}

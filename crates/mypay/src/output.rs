//! Answers as a readable table, or as JSON with `--json`.

use serde_json::Value;

/// Print `value` as JSON (with `--json`) or as one `name  value` line per field, nested
/// values as compact JSON.
pub fn print(value: &Value, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    match value {
        Value::Object(fields) => {
            let width = fields.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            for (name, v) in fields {
                println!("{name:width$}  {}", scalar(v));
            }
        }
        Value::Array(items) => {
            for item in items {
                println!("{}", scalar(item));
            }
        }
        other => println!("{}", scalar(other)),
    }
}

/// A value on one line: text as it is, anything else as compact JSON.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Any serialisable answer as JSON.
pub fn value_of<T: serde::Serialize>(answer: &T) -> Value {
    serde_json::to_value(answer).unwrap_or(Value::Null)
}

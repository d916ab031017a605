//! No padding oracle: every way a sealed field fails to open gets one answer per field,
//! and whoever keeps failing is throttled without locking the merchant out.

use crate::helpers::{TestApp, form, sample_order_json, spawn_app};
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_protocol::envelope::{self, MerchantKey};
use serde_json::{Value, json};

fn key() -> MerchantKey {
    MerchantKey::parse(SAMPLE_STORE_KEY).expect("key")
}

fn sealed(bytes: &[u8]) -> String {
    envelope::seal(&key(), bytes)
}

fn raw_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every broken form a sealed field can take: not base64, too short, not whole blocks,
/// bad padding, padding right but not UTF-8, UTF-8 but not JSON, JSON but cut short.
fn broken_fields() -> Vec<String> {
    vec![
        "!!!not base64!!!".to_owned(),
        raw_base64(&[1u8; 20]),
        raw_base64(&[1u8; 40]),
        raw_base64(&[7u8; 48]),
        sealed(&[0xff, 0xfe, 0xfd, 0x80]),
        sealed(b"hello, not json"),
        sealed(b"{\"cost\": 1"),
    ]
}

async fn post(app: &TestApp, store_uid: &str, service: &str, data: &str) -> Value {
    app.post_raw(
        "/api/init",
        "application/x-www-form-urlencoded",
        form(&[
            ("store_uid", store_uid),
            ("service", service),
            ("encry_data", data),
        ]),
    )
    .await
}

fn service(cmd: &str) -> String {
    sealed(
        json!({"service_name": "api", "cmd": cmd})
            .to_string()
            .as_bytes(),
    )
}

#[tokio::test]
async fn every_failure_to_open_a_field_answers_the_same_for_that_field() {
    let app = spawn_app().await;
    let order = sealed(sample_order_json("ORACLE-1", 10).to_string().as_bytes());
    let mut service_answers = Vec::new();
    let mut data_answers = Vec::new();
    for broken in broken_fields() {
        service_answers.push(post(&app, SAMPLE_STORE_UID, &broken, &order).await);
        data_answers.push(post(&app, SAMPLE_STORE_UID, &service("api/orders"), &broken).await);
    }
    for (answers, field) in [(&service_answers, "service"), (&data_answers, "encry_data")] {
        let first = &answers[0];
        assert_eq!(first["code"], "100", "{first}");
        let msg = first["msg"].as_str().expect("msg");
        assert!(msg.starts_with(field), "{msg}");
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a, first, "{field} variant {i} answers differently");
        }
        for word in ["padding", "base64", "UTF", "JSON", "block", "short"] {
            assert!(!msg.contains(word), "the answer names the step: {msg}");
        }
    }
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_without_locking_the_merchant_out() {
    let app = spawn_app().await;
    let order = sealed(sample_order_json("THR-1", 10).to_string().as_bytes());
    let forged = raw_base64(&[9u8; 48]);
    let mut last = Value::Null;
    for _ in 0..40 {
        last = post(&app, SAMPLE_STORE_UID, &service("api/orders"), &forged).await;
    }
    assert_eq!(last["code"], "100");
    let msg = last["msg"].as_str().expect("msg");
    assert!(msg.contains("too many failed requests"), "{last}");
    // It says for how long.
    assert!(msg.contains("refused for 10 minutes"), "{last}");
    // The merchant's own requests, sealed right, are served as always.
    let answer = post(&app, SAMPLE_STORE_UID, &service("api/orders"), &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    // Its technical contact heard of it once.
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);
    for _ in 0..10 {
        post(&app, SAMPLE_STORE_UID, &forged, &order).await;
    }
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);
    app.finish().await;
}

#[tokio::test]
async fn one_address_failing_for_many_senders_is_throttled_too() {
    let app = spawn_app().await;
    let forged = raw_base64(&[9u8; 48]);
    // Unknown senders, and the sample merchant with forged fields, from one address.
    let mut last = Value::Null;
    for n in 0..30 {
        let uid = format!("{:012}", 100_000_000_000u64 + n);
        last = post(&app, &uid, &forged, &forged).await;
        let _ = post(&app, SAMPLE_STORE_UID, &forged, &forged).await;
    }
    assert!(
        last["msg"]
            .as_str()
            .expect("msg")
            .contains("too many failed requests"),
        "{last}"
    );
    let order = sealed(sample_order_json("THR-2", 10).to_string().as_bytes());
    let answer = post(&app, SAMPLE_STORE_UID, &service("api/orders"), &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    app.finish().await;
}

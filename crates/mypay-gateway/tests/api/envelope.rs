//! Every quirk of the sample clients is accepted; every kind of bad input answers 100.

use crate::helpers::{form, sample_order_json, sample_order_with, spawn_app};
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_protocol::envelope::{self, MerchantKey};
use serde_json::json;

fn key() -> MerchantKey {
    MerchantKey::parse(SAMPLE_STORE_KEY).expect("key")
}

fn sealed_service(cmd: &str) -> String {
    envelope::seal(
        &key(),
        json!({"service_name": "api", "cmd": cmd})
            .to_string()
            .as_bytes(),
    )
}

#[tokio::test]
async fn a_node_style_json_body_is_accepted() {
    let app = spawn_app().await;
    let body = json!({
        "store_uid": SAMPLE_STORE_UID,
        "service": sealed_service("api/orders"),
        "encry_data": envelope::seal(&key(), sample_order_json("NODE-1", 10).to_string().as_bytes()),
    });
    let answer = app
        .post_raw("/api/init", "application/json", body.to_string())
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn a_csharp_style_body_with_one_iv_and_hand_encoding_is_accepted() {
    let app = spawn_app().await;
    let iv = [42u8; 16];
    let service =
        envelope::seal_with_iv(&key(), &iv, br#"{"service_name":"api","cmd":"api/orders"}"#);
    let data = envelope::seal_with_iv(
        &key(),
        &iv,
        sample_order_json("CS-1", 10).to_string().as_bytes(),
    );
    // HttpUtility.UrlEncode by hand, then the pairs joined without further encoding.
    let enc = |s: &str| {
        s.replace('+', "%2b")
            .replace('/', "%2f")
            .replace('=', "%3d")
    };
    let body = format!(
        "store_uid={SAMPLE_STORE_UID}&service={}&encry_data={}",
        enc(&service),
        enc(&data)
    );
    let answer = app
        .post_raw("/api/init", "application/x-www-form-urlencoded", body)
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    // Encoded once more by a client library on top of that.
    let twice = body_encoded_twice(&service, &data);
    let answer = app
        .post_raw("/api/init", "application/x-www-form-urlencoded", twice)
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    app.finish().await;
}

fn body_encoded_twice(service: &str, data: &str) -> String {
    let once = |s: &str| {
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    form(&[
        ("store_uid", SAMPLE_STORE_UID),
        ("service", &once(service)),
        ("encry_data", &once(data)),
    ])
}

#[tokio::test]
async fn a_plus_sent_raw_and_read_as_a_space_is_repaired() {
    let app = spawn_app().await;
    // Find a sealing with a '+' and send it unencoded: the form decoder reads a space.
    let (service, data) = (0u8..=255)
        .map(|i| {
            let iv = [i; 16];
            (
                envelope::seal_with_iv(
                    &key(),
                    &iv,
                    br#"{"service_name":"api","cmd":"api/orders"}"#,
                ),
                envelope::seal_with_iv(
                    &key(),
                    &iv,
                    sample_order_json("PLUS-1", 10).to_string().as_bytes(),
                ),
            )
        })
        .find(|(s, d)| s.contains('+') && d.contains('+'))
        .expect("some IV gives a '+'");
    let body = format!("store_uid={SAMPLE_STORE_UID}&service={service}&encry_data={data}");
    let answer = app
        .post_raw("/api/init", "application/x-www-form-urlencoded", body)
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn bad_input_of_every_kind_answers_100_naming_the_problem() {
    let app = spawn_app().await;
    let data = envelope::seal(
        &key(),
        sample_order_json("BAD-ENV", 10).to_string().as_bytes(),
    );
    let other_key = MerchantKey::parse("abcdefghijklmnopqrstuvwxyz012345").expect("key");
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty body", String::new(), "store_uid"),
        (
            "no service",
            form(&[("store_uid", SAMPLE_STORE_UID), ("encry_data", &data)]),
            "service",
        ),
        (
            "no encry_data",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", &sealed_service("api/orders")),
            ]),
            "encry_data",
        ),
        (
            "unknown merchant",
            form(&[
                ("store_uid", "000000000000"),
                ("service", &sealed_service("api/orders")),
                ("encry_data", &data),
            ]),
            "store_uid",
        ),
        (
            "not base64",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", "!!!not base64!!!"),
                ("encry_data", &data),
            ]),
            "service",
        ),
        (
            "wrong key",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                (
                    "service",
                    &envelope::seal(&other_key, br#"{"cmd":"api/orders"}"#),
                ),
                ("encry_data", &data),
            ]),
            "service",
        ),
        (
            "too short",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", "AAAA"),
                ("encry_data", &data),
            ]),
            "service",
        ),
        (
            "unknown cmd",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", &sealed_service("api/nothing")),
                ("encry_data", &data),
            ]),
            "cmd",
        ),
        (
            "service not JSON",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", &envelope::seal(&key(), b"hello")),
                ("encry_data", &data),
            ]),
            "service",
        ),
        (
            "data not JSON",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", &sealed_service("api/orders")),
                ("encry_data", &envelope::seal(&key(), b"[1,2")),
            ]),
            "encry_data",
        ),
        (
            "data not base64",
            form(&[
                ("store_uid", SAMPLE_STORE_UID),
                ("service", &sealed_service("api/orders")),
                ("encry_data", "%%%"),
            ]),
            "encry_data",
        ),
    ];
    for (what, body, names) in cases {
        let answer = app
            .post_raw("/api/init", "application/x-www-form-urlencoded", body)
            .await;
        assert_eq!(answer["code"], "100", "{what}: {answer}");
        let msg = answer["msg"].as_str().expect("msg");
        assert!(msg.contains(names), "{what}: {msg:?} should name {names}");
    }
    let answer = app
        .post_raw("/api/init", "application/json", "{not json".to_owned())
        .await;
    assert_eq!(answer["code"], "100");
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn every_command_of_the_document_is_served() {
    let app = spawn_app().await;
    // A transaction that does not exist: each command refuses naming uid/key, none says
    // it is not supported.
    for cmd in [
        "api/issueinvoice",
        "api/invoice",
        "api/queryorder",
        "api/refund",
    ] {
        let answer = app.api(cmd, &json!({"uid": "1", "key": "k"})).await;
        let msg = answer["msg"].as_str().expect("msg");
        assert!(!msg.contains("not supported"), "{cmd}: {answer}");
        assert!(msg.starts_with("uid/key"), "{cmd}: {answer}");
    }
    // The e-invoice commands refuse alike: the query of an invoice as its issue.
    let issue = app
        .api("api/issueinvoice", &json!({"uid": "1", "key": "k"}))
        .await;
    let query = app
        .api("api/invoice", &json!({"uid": "1", "key": "k"}))
        .await;
    assert_eq!(
        (issue["code"].as_str(), query["code"].as_str()),
        (Some("B500"), Some("B500"))
    );
    app.finish().await;
}

#[tokio::test]
async fn client_mode_allows_orders_and_nothing_that_moves_money_back() {
    let app = spawn_app().await;
    let code = "CLIENTMODEVERIFICATIONCODE000001";
    app.state
        .store
        .add_credential(
            mypay_gateway::store::CredentialOwner::Client,
            SAMPLE_STORE_UID,
            code,
            crate::helpers::start_time(),
        )
        .await
        .expect("credential");
    let client =
        mypay_client::Client::new(&format!("{}/api/open", app.base), SAMPLE_STORE_UID, code)
            .expect("client");
    let order = client
        .create_order(&serde_json::from_value(sample_order_json("OPEN-1", 10)).expect("order"))
        .await
        .expect("orders allowed in client mode");
    assert!(order.uid > 0);
    let refused = client
        .query_order(order.uid, &order.key)
        .await
        .expect_err("query refused");
    assert!(refused.to_string().contains("client mode"), "{refused}");
    // The merchant key is not a client-mode code.
    let wrong = mypay_client::Client::new(
        &format!("{}/api/open", app.base),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    assert!(wrong.payment_modes(10, "TWD").await.is_err());
    app.finish().await;
}

#[tokio::test]
async fn a_dealer_acts_only_for_its_own_merchants() {
    let app = spawn_app().await;
    let store = &app.state.store;
    let now = crate::helpers::start_time();
    let dealer_key = "DEALERKEYDEALERKEYDEALERKEY00001";
    store
        .create_dealer("AGENT01", "A dealer", dealer_key, now)
        .await
        .expect("dealer");
    let settings =
        mypay_gateway::ledger::merchant::MerchantSettings::sandbox_defaults("dealer's shop");
    store
        .create_merchant(
            "398800730001",
            Some("AGENT01"),
            &settings,
            "SHOPKEYSHOPKEYSHOPKEYSHOPKEY0001",
            now,
        )
        .await
        .expect("merchant");
    let dealer =
        mypay_client::Client::dealer(&format!("{}/api/agent", app.base), "AGENT01", dealer_key)
            .expect("client");
    let mine = sample_order_with("DEALER-1", 10, json!({"store_uid": "398800730001"}));
    let order = dealer
        .create_order(&serde_json::from_value(mine).expect("order"))
        .await
        .expect("own merchant");
    let stored = store.order(order.uid).await.expect("db").expect("order");
    assert_eq!(stored.store_uid, "398800730001");
    let not_mine = sample_order_json("DEALER-2", 10); // the sample merchant has no dealer
    let refused = dealer
        .create_order(&serde_json::from_value(not_mine).expect("order"))
        .await
        .expect_err("refused");
    assert!(
        refused.to_string().contains("not a merchant of dealer"),
        "{refused}"
    );
    app.finish().await;
}

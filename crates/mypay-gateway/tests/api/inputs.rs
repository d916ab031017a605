//! What merchants' clients send that the document allows, and what it does not: capture
//! and refund shapes of the document's samples and public libraries, `group_id`, amounts,
//! the inner `store_uid`, `order_id` bytes, and tools the gateway cannot take yet.

use crate::helpers::{
    assert_mentions, assert_refused, sample_order_json, sample_order_with, spawn_app,
};
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use serde_json::json;

#[tokio::test]
async fn the_documents_csharp_capture_of_9_with_one_item_of_1_is_captured() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("CS-1", 10, true).await;
    // The C# sample of api/authorizedrequestpayment: cost 9, one item whose total is 1.
    let answer = app
        .api(
            "api/authorizedrequestpayment",
            &json!({
                "store_uid": SAMPLE_STORE_UID, "uid": uid.to_string(), "key": key, "cost": 9,
                "items": [{"id": "1", "name": "商品名稱", "cost": "1", "amount": "1", "total": "1"}],
            }),
        )
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["content"]["prc"], "250");
    assert_eq!(answer["content"]["actual_cost"], 9);

    // Still: items named as in the order, and no more than was authorised.
    let (uid2, key2) = app.card_order("CS-2", 10, true).await;
    let unknown_item = app
        .api(
            "api/authorizedrequestpayment",
            &json!({"uid": uid2.to_string(), "key": key2, "cost": 5,
                    "items": [{"id": "1", "name": "別的商品", "cost": "5", "amount": "1", "total": "5"}]}),
        )
        .await;
    assert_refused(&unknown_item, "B500", "items[0].name");
    let too_much = app
        .api(
            "api/authorizedrequestpayment",
            &json!({"uid": uid2.to_string(), "key": key2, "cost": 11,
                    "items": [{"id": "1", "name": "商品名稱", "cost": "1", "amount": "1", "total": "1"}]}),
        )
        .await;
    assert_eq!(too_much["code"], "B500", "{too_much}");
    assert_eq!(app.query(uid2, &key2).await["prc"], "245");
    app.finish().await;
}

#[tokio::test]
async fn a_refund_with_invoice_state_4_and_no_items_succeeds_on_an_order_without_an_invoice() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("INV-1", 100, false).await;
    let answer = app
        .api(
            "api/refund",
            &json!({"uid": uid.to_string(), "key": key, "cost": "40", "invoice_state": 4}),
        )
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["row_data"]["cost"], 40);
    let record = app.query(uid, &key).await;
    assert_eq!(record["refund_order"][0]["prc"], "230");
    app.finish().await;
}

#[tokio::test]
async fn group_id_is_echoed_in_the_query_record_and_every_notice() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let order = sample_order_with("G-1", 100, json!({"group_id": "GROUP-77"}));
    let answer = app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");
    let key = answer["key"].as_str().expect("key");
    assert_eq!(app.query(uid, key).await["group_id"], "GROUP-77");

    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    app.drain().await;
    let notices = {
        let n = receiver.transaction_notices();
        (!n.is_empty()).then_some(n)
    }
    .expect("the payment notice");
    assert_eq!(notices[0].group_id, "GROUP-77");
    app.finish().await;
}

#[tokio::test]
async fn bools_as_amounts_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("B-1", 100, false).await;

    let order = sample_order_with("B-2", 1, json!({"cost": true}));
    let answer = app.order(&order).await;
    assert_refused(&answer, "100", "cost");

    let mut order = sample_order_json("B-3", 1);
    order["items"][0]["total"] = json!(true);
    let answer = app.order(&order).await;
    assert_mentions(&answer, "100", "items[0].total");

    let refund = app
        .api(
            "api/refund",
            &json!({"uid": uid.to_string(), "key": key, "cost": true}),
        )
        .await;
    assert_refused(&refund, "B500", "cost");

    let (auth_uid, auth_key) = app.card_order("B-4", 100, true).await;
    let capture = app
        .api(
            "api/authorizedrequestpayment",
            &json!({"uid": auth_uid.to_string(), "key": auth_key, "cost": false,
                    "items": [{"id": "1", "name": "商品名稱", "cost": "1", "amount": true, "total": "1"}]}),
        )
        .await;
    assert_refused(&capture, "B500", "cost");

    assert_eq!(app.totals().await.reversals, 0);
    assert_eq!(app.order_count().await, 2);
    assert_eq!(app.query(auth_uid, &auth_key).await["prc"], "245");
    app.finish().await;
}

#[tokio::test]
async fn an_inner_store_uid_of_another_merchant_is_refused_on_every_command() {
    let app = spawn_app().await;
    let (paid_uid, paid_key) = app.card_order("S-1", 100, false).await;
    let (auth_uid, auth_key) = app.card_order("S-2", 100, true).await;
    let other = "999999999999";
    let item = json!([{"id": "1", "name": "商品名稱", "cost": "10", "amount": "1", "total": "10"}]);
    let attempts = [
        (
            "api/queryorder",
            json!({"store_uid": other, "uid": paid_uid.to_string(), "key": paid_key}),
        ),
        (
            "api/refund",
            json!({"store_uid": other, "uid": paid_uid.to_string(), "key": paid_key, "cost": 10}),
        ),
        (
            "api/refund",
            json!({"store_uid": SAMPLE_STORE_UID, "rows": [{"store_uid": other, "uid": paid_uid.to_string(), "key": paid_key, "cost": 10}]}),
        ),
        (
            "api/refundcancel",
            json!({"store_uid": other, "uid": paid_uid.to_string(), "key": paid_key}),
        ),
        (
            "api/authorizedrequestpayment",
            json!({"store_uid": other, "uid": auth_uid.to_string(), "key": auth_key, "cost": 10, "items": item}),
        ),
        (
            "api/cancelauthorization",
            json!({"store_uid": other, "uid": auth_uid.to_string(), "key": auth_key}),
        ),
        (
            "api/paymentsupportpaymode",
            json!({"store_uid": other, "cost": 100}),
        ),
        ("api/orders", {
            sample_order_with("S-3", 10, json!({"store_uid": other}))
        }),
    ];
    for (cmd, data) in attempts {
        let answer = app.api(cmd, &data).await;
        // A multi-row refund answers each row in its place.
        let refusal = answer.get(0).unwrap_or(&answer);
        let code = refusal["code"].as_str().unwrap_or_default();
        assert!(code == "100" || code == "B500", "{cmd}: {answer}");
        let msg = refusal["msg"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("store_uid") || msg.starts_with("rows[0].store_uid"),
            "{cmd}: the field is named: {answer}"
        );
    }
    assert_eq!(app.totals().await.reversals, 0);
    assert_eq!(app.order_count().await, 2);
    assert_eq!(app.query(auth_uid, &auth_key).await["prc"], "245");
    assert_eq!(app.query(paid_uid, &paid_key).await["prc"], "250");
    app.finish().await;
}

#[tokio::test]
async fn order_ids_are_kept_byte_for_byte_or_refused() {
    let app = spawn_app().await;
    for bad in [
        " A-1",
        "A-1 ",
        "A-1\r\n",
        "A\n1",
        "A\t1",
        "\u{0}A",
        "A-1\u{3000}",
    ] {
        let answer = app.order(&sample_order_json(bad, 100)).await;
        assert_eq!(answer["code"], "100", "{bad:?}: {answer}");
        assert!(
            answer["msg"].as_str().expect("msg").starts_with("order_id"),
            "{bad:?}: {answer}"
        );
    }
    assert_eq!(app.order_count().await, 0);
    for good in [
        "A-1",
        "訂單 2026/11#1",
        "F3DCB0AD-23F3-4721-BBBA-FAC8CDDB9E5F",
    ] {
        let answer = app.order(&sample_order_json(good, 100)).await;
        assert_eq!(answer["code"], "200", "{good:?}: {answer}");
        let uid = answer["uid"].as_u64().expect("uid");
        let record = app.query(uid, answer["key"].as_str().expect("key")).await;
        assert_eq!(record["order_id"], good);
    }
    app.finish().await;
}

#[tokio::test]
async fn recurring_tools_are_listed_and_need_their_terms() {
    let app = spawn_app().await;
    let modes = app
        .api("api/paymentsupportpaymode", &json!({"cost": 100}))
        .await;
    let listed: Vec<&str> = modes["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(listed.contains(&"DIRECTDEBIT"), "{modes}");
    // Without `regular` (or with a wrong one) a recurring order is refused, naming it.
    for (pfn, regular, total, field) in [
        ("DIRECTDEBIT", None, Some("12"), "regular"),
        ("14", Some("X"), Some("12"), "regular"),
        ("DIRECTDEBIT_ABROAD", Some("M"), None, "regular_total"),
        ("DIRECTDEBIT", Some("M"), Some("twelve"), "regular_total"),
    ] {
        let mut order = sample_order_with("DD-1", 100, json!({"pfn": pfn}));
        if let Some(r) = regular {
            order["regular"] = json!(r);
        }
        if let Some(t) = total {
            order["regular_total"] = json!(t);
        }
        let answer = app.order(&order).await;
        assert_eq!(answer["code"], "100", "{pfn}: {answer}");
        assert!(
            answer["msg"].as_str().expect("msg").starts_with(field),
            "{field}: {answer}"
        );
    }
    // A first charge date before today, recurring fields on another tool, a wallet card.
    let mut order = sample_order_with(
        "DD-2",
        100,
        json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": "3", "regular_first_charge_date": "20000101"}),
    );
    let answer = app.order(&order).await;
    assert!(
        answer["msg"]
            .as_str()
            .expect("msg")
            .starts_with("regular_first_charge_date"),
        "{answer}"
    );
    order["regular_first_charge_date"] = json!("");
    order["enable_ewallet"] = json!(1);
    order["virtual_pan"] = json!("VP123");
    let answer = app.order(&order).await;
    assert!(
        answer["msg"]
            .as_str()
            .expect("msg")
            .starts_with("enable_ewallet"),
        "{answer}"
    );
    let order = sample_order_with("DD-3", 100, json!({"pfn": "CREDITCARD", "regular": "M"}));
    let answer = app.order(&order).await;
    assert!(
        answer["msg"].as_str().expect("msg").starts_with("regular"),
        "{answer}"
    );
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn an_inner_store_uid_spelled_with_json_escapes_is_checked_too() {
    use mypay_gateway::ledger::merchant::SAMPLE_STORE_KEY;
    use mypay_protocol::envelope::{self, MerchantKey};
    let app = spawn_app().await;
    let (uid, key) = app.card_order("ESC-1", 100, false).await;
    let sealing = MerchantKey::parse(SAMPLE_STORE_KEY).expect("key");
    let data = format!(
        r#"{{"store\u005fuid": "999999999999", "uid": "{uid}", "key": "{key}", "cost": 10}}"#
    );
    let body = crate::helpers::form(&[
        ("store_uid", SAMPLE_STORE_UID),
        (
            "service",
            &envelope::seal(&sealing, br#"{"service_name":"api","cmd":"api/refund"}"#),
        ),
        ("encry_data", &envelope::seal(&sealing, data.as_bytes())),
    ]);
    let answer = app
        .post_raw("/api/init", "application/x-www-form-urlencoded", body)
        .await;
    assert_refused(&answer, "B500", "store_uid");
    assert_eq!(app.totals().await.reversals, 0);
    app.finish().await;
}

use crate::helpers::{placed, sample_order_json, sample_order_with, spawn_app};
use serde_json::{Value, json};

fn shipping() -> Value {
    json!({"shipment_type": 2, "name": "王小明", "ship_address": "台北市信義路1號", "tel": "0912345678", "zip_code": "110"})
}

#[tokio::test]
async fn post_pay_is_reviewed_then_captured_when_shipped() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let mut data = sample_order_with("AFP-1", 2000, json!({"pfn": "AFP"}));
    let refused = app.order(&data).await;
    assert_eq!(refused["code"], "100");
    assert_eq!(
        refused["msg"],
        "shipping_info: is required for post-pay (AFP)"
    );
    data["shipping_info"] =
        json!({"shipment_type": 4, "name": "王小明", "ship_address": "x", "tel": "1"});
    let refused = app.order(&data).await;
    assert!(
        refused["msg"]
            .as_str()
            .expect("msg")
            .starts_with("shipping_info.cvs"),
        "{refused}"
    );
    data["shipping_info"] = shipping();
    let answer = app.order(&data).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);

    let (_, body) = app.pay_with(uid, json!({"pfn": "AFP"})).await;
    assert_eq!(body["prc"], "282", "{body}");
    // Not captured before approval.
    let capture = json!({"uid": uid.to_string(), "key": key, "cost": 2000,
        "items": [{"id": "1", "name": "商品名稱", "cost": 2000, "amount": 1, "total": 2000}]});
    assert_eq!(
        app.api("api/authorizedrequestpayment", &capture).await["code"],
        "B500"
    );
    // The provider approves after its review time on the test clock.
    app.advance(59).await;
    assert_eq!(app.query(uid, &key).await["prc"], "282");
    app.advance(1).await;
    assert_eq!(app.query(uid, &key).await["prc"], "284");
    let shipped = app.api("api/authorizedrequestpayment", &capture).await;
    assert_eq!(shipped["code"], "B200", "{shipped}");
    assert_eq!(shipped["content"]["prc"], "250");
    assert_eq!(shipped["content"]["actual_cost"], 2000);
    app.drain().await;
    let states = {
        let n: Vec<String> = receiver
            .transaction_notices()
            .into_iter()
            .map(|n| n.prc)
            .collect();
        (n.len() == 3).then_some(n)
    }
    .expect("three notices");
    let mut states = states;
    states.sort();
    assert_eq!(states, ["250", "282", "284"]);
    app.finish().await;
}

#[tokio::test]
async fn a_rejected_post_pay_fails() {
    let app = spawn_app().await;
    let mut data = sample_order_json("AFP-2", 500);
    data["shipping_info"] = shipping();
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    app.pay_with(uid, json!({"pfn": "AFP"})).await;
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/orders/{uid}/review"),
            json!({"approve": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prc"], "300");
    assert_eq!(app.query(uid, &key).await["retmsg"], "審核不通過");
    // The review timer finds nothing left to do.
    app.advance(120).await;
    assert_eq!(app.query(uid, &key).await["prc"], "300");

    // Approved, then refused before it could be captured (後付款請款失敗): 284 → 300.
    data["order_id"] = json!("AFP-3");
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    app.pay_with(uid, json!({"pfn": "AFP"})).await;
    app.advance(60).await;
    assert_eq!(app.query(uid, &key).await["prc"], "284");
    let (_, body) = app
        .sandbox(
            &format!("/sandbox/orders/{uid}/review"),
            json!({"approve": false}),
        )
        .await;
    assert_eq!(body["prc"], "300", "{body}");
    app.finish().await;
}

#[tokio::test]
async fn cardless_instalments_bind_submit_and_are_paid_or_abandoned() {
    let app = spawn_app().await;
    let mut data = sample_order_with("CL-1", 30000, json!({"pfn": "CARDLESS"}));
    assert!(
        app.order(&data).await["msg"]
            .as_str()
            .expect("msg")
            .starts_with("user_data")
    );
    data["user_data"] =
        json!({"user_real_name": "王小明", "user_sn": "A123456789", "user_address": "台北市"});
    let answer = app.order(&data).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let path = format!("/sandbox/orders/{uid}/pay");
    assert_eq!(
        app.sandbox(&path, json!({"pfn": "CARDLESS"})).await.1["prc"],
        "265"
    );
    assert_eq!(
        app.sandbox(&path, json!({"pfn": "CARDLESS"})).await.1["prc"],
        "275"
    );
    app.advance(60).await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["pfn"], "CARDLESS");
    assert_eq!(record["supplier_code"], "A1");

    data["order_id"] = json!("CL-2");
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    app.pay_with(uid, json!({"pfn": "CARDLESS"})).await;
    let (status, body) = app
        .sandbox(&format!("/sandbox/orders/{uid}/abandon"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.query(uid, &key).await["prc"], "A0002");
    app.finish().await;
}

#[tokio::test]
async fn cash_is_taken_in_person_and_refunded_at_once() {
    let app = spawn_app().await;
    let (online, _) = app.sample_order("CASH-0", 300).await;
    let (status, _) = app.pay_with(online, json!({"pfn": "CASH"})).await;
    assert_eq!(status, 400, "cash is in person only");
    let data = sample_order_with("CASH-1", 300, json!({"transaction_type": 2}));
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let (_, body) = app.pay_with(uid, json!({"pfn": "CASH"})).await;
    assert_eq!(body["prc"], "250", "{body}");
    let refund = app.refund(uid, &key, 300).await;
    assert_eq!(refund["row_data"]["prc"], "230", "{refund}");
    app.finish().await;
}

use crate::helpers::{assert_refused, placed, sample_order_with, spawn_app};
use serde_json::json;

#[tokio::test]
async fn an_online_wallet_payment_is_confirmed_or_refused_in_the_app() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = app.sample_order("W-1", 500).await;
    let (status, body) = app.pay_with(uid, json!({"pfn": "LINEPAYON"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prc"], "250");
    let record = app.query(uid, &key).await;
    assert_eq!(record["pfn"], "LINEPAYON");
    assert_eq!(record["supplier_code"], "W2");
    assert_eq!(record["actual_cost"], 500);
    app.drain().await;
    let notice = receiver.first_transaction_notice();
    assert_eq!(notice.pfn, "LINEPAYON");
    assert_eq!(notice.prc, "250");
    // Wallet refunds complete at once (the document's list includes LINE Pay).
    assert_eq!(app.refund(uid, &key, 100).await["row_data"]["prc"], "230");

    let (uid, key) = app.sample_order("W-2", 500).await;
    let (_, body) = app
        .pay_with(uid, json!({"pfn": "JKOON", "decline": true}))
        .await;
    assert_eq!(body["prc"], "300");
    assert_eq!(app.query(uid, &key).await["retmsg"], "錢包拒絕付款");

    // An offline wallet is not offered to an online order.
    let (uid, _) = app.sample_order("W-3", 500).await;
    let (status, _) = app
        .pay_with(
            uid,
            json!({"pfn": "LINEPAYOFF", "wallet_code": "123456789012"}),
        )
        .await;
    assert_eq!(status, 400);
    app.finish().await;
}

#[tokio::test]
async fn in_person_wallets_need_transaction_type_2_and_the_consumers_code() {
    let app = spawn_app().await;
    let mut data = sample_order_with("W-4", 300, json!({"pfn": "LINEPAYOFF"}));
    let refused = app.order(&data).await;
    assert_refused(&refused, "100", "transaction_type");
    data["transaction_type"] = json!(3);
    assert_eq!(app.order(&data).await["code"], "100");
    data["transaction_type"] = json!(2);
    let answer = app.order(&data).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);

    let path = format!("/sandbox/orders/{uid}/pay");
    let (status, body) = app.sandbox(&path, json!({"pfn": "LINEPAYOFF"})).await;
    assert_eq!(status, 400, "a code is required: {body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .starts_with("wallet_code")
    );
    let (status, _) = app
        .sandbox(&path, json!({"pfn": "LINEPAYOFF", "wallet_code": "12ab"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.query(uid, &key).await["prc"], "200");
    let (_, body) = app
        .sandbox(
            &path,
            json!({"pfn": "LINEPAYOFF", "wallet_code": "281234567890123456"}),
        )
        .await;
    assert_eq!(body["prc"], "250", "{body}");

    // A code ending in 0002 is refused by the sandbox wallet.
    let data = sample_order_with(
        "W-5",
        300,
        json!({"pfn": "JKOOFF", "transaction_type": "2"}),
    );
    let answer = app.order(&data).await;
    let uid = answer["uid"].as_u64().expect("uid");
    let (_, body) = app
        .pay_with(uid, json!({"pfn": "JKOOFF", "wallet_code": "900000000002"}))
        .await;
    assert_eq!(body["prc"], "300", "{body}");
    app.finish().await;
}

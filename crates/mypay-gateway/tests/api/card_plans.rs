use crate::helpers::{assert_refused, placed, sample_order_with, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn instalments_follow_the_orders_limits_and_the_cards_bank() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let mut data = sample_order_with(
        "I-1",
        1000,
        json!({"pfn": "C_INSTALLMENT", "creditcard_installment": r#"{"3": ["006", "822"], "6": ["822"]}"#}),
    );
    let answer = app.order(&data).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let path = format!("/sandbox/orders/{uid}/pay");
    // 4938170130000003 is a 合作金庫 (006) card: 3 instalments yes, 6 no.
    let card = |n: Option<&str>| {
        json!({"pfn": "C_INSTALLMENT", "card_number": "4938170130000003", "expiry": "1228",
               "cvc": "985", "otp": "nccc1234", "installment": n})
    };
    for (n, field) in [
        (None, "installment"),
        (Some("6"), "installment"),
        (Some("12"), "installment"),
    ] {
        let (status, body) = app.sandbox(&path, card(n)).await;
        assert_eq!(status, 400, "{n:?}: {body}");
        assert!(
            body["error"].as_str().expect("error").starts_with(field),
            "{body}"
        );
    }
    assert_eq!(app.query(uid, &key).await["prc"], "200");
    let (status, body) = app.sandbox(&path, card(Some("3"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prc"], "250");
    let record = app.query(uid, &key).await;
    assert_eq!(record["trans_type"], 2);
    let plan: Value =
        serde_json::from_str(record["installment"].as_str().expect("text")).expect("json");
    assert_eq!(
        plan,
        json!({"period_number": 3, "total": 1000, "first": 334, "every": 333})
    );
    app.drain().await;
    let notice = receiver.first_transaction_notice();
    assert_eq!(notice.trans_type, "2");
    assert_eq!(notice.installment, record["installment"]);

    // Limits that are not the document's shape are refused at order time.
    data["order_id"] = json!("I-2");
    data["creditcard_installment"] = json!(r#"{"3": "006"}"#);
    let refused = app.order(&data).await;
    assert_refused(&refused, "100", "creditcard_installment");
    app.finish().await;
}

#[tokio::test]
async fn bonus_points_pay_part_of_the_amount() {
    let app = spawn_app().await;
    let data = sample_order_with("BONUS-1", 1000, json!({"pfn": "C_REDEEM"}));
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let (status, body) = app.pay_with(uid, json!({"pfn": "C_REDEEM", "card_number": "4111111111111111", "expiry": "1230", "cvc": "123"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["trans_type"], 3);
    let redeem: Value =
        serde_json::from_str(record["redeem"].as_str().expect("text")).expect("json");
    assert_eq!(redeem, json!({"type": "2", "used": "100", "amount": "900"}));
    // An ordinary card payment stays trans_type 1 with empty plans.
    let (uid, key) = app.card_order("PLAIN-1", 100, false).await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["trans_type"], 1);
    assert_eq!(record["installment"], "");
    assert_eq!(record["redeem"], "");
    app.finish().await;
}

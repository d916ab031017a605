use crate::helpers::{assert_refused, placed, sample_order_with, spawn_app};
use serde_json::{Value, json};

/// Create an order and choose the pay-later tool `pfn` for it, as the consumer would.
async fn issued(
    app: &crate::helpers::TestApp,
    order_id: &str,
    cost: i64,
    pfn: &str,
) -> (u64, String, Value) {
    let (uid, key) = app.sample_order(order_id, cost).await;
    let (status, body) = app.pay_with(uid, json!({"pfn": pfn})).await;
    assert_eq!(status, 200, "{body}");
    (uid, key, body)
}

async fn offline_payment(app: &crate::helpers::TestApp, uid: u64, body: Value) -> (u16, Value) {
    let (status, body) = app
        .sandbox(&format!("/sandbox/orders/{uid}/offline-payment"), body)
        .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_cvs_code_is_issued_notified_then_paid_at_the_counter() {
    let app = spawn_app().await;
    let receiver = app.receiver_of_every_notice().await;
    let (uid, key, body) = issued(&app, "CVS-1", 1200, "CSTORECODE").await;
    assert_eq!(body["prc"], "260");
    assert_eq!(body["result_content_type"], "IBON");
    // Default limit_pay_days 3: the end of the third day after today (2026-11-23).
    assert_eq!(body["expired_date"], "20261126235959");

    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "260");
    assert_eq!(record["pfn"], "CSTORECODE");
    assert_eq!(record["supplier_code"], "S1");
    assert_eq!(record["result_type"], 4);
    let content: Value =
        serde_json::from_str(record["result_content"].as_str().expect("text")).expect("json");
    for field in "PinCode LimitDate BarCode1 BarCode2 BarCode3 BarcodeEndDate".split(' ') {
        assert!(
            content[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {content}"
        );
    }

    // 非即時交易回傳資訊 when the code is issued.
    app.drain().await;
    let pending = receiver.first_transaction_notice();
    assert_eq!(pending.prc, "260");
    assert_eq!(pending.result_content_type, "IBON");
    assert_eq!(pending.expired_date, "20261126235959");
    assert_eq!(app.notices(uid).await[0]["kind"], "non_real_time");

    let (status, paid) = offline_payment(&app, uid, json!({})).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["prc"], "250");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["actual_cost"], 1200);
    app.drain().await;
    let done = receiver
        .transaction_notices()
        .into_iter()
        .find(|n| n.prc == "250")
        .expect("the completed notice");
    assert_eq!(done.actual_cost, "1200");
    // Paid once: a second payment of the same code is refused.
    let (status, _) = offline_payment(&app, uid, json!({})).await;
    assert_eq!(status, 409);
    app.finish().await;
}

#[tokio::test]
async fn a_wrong_amount_is_290_and_the_deadline_makes_380_then_a_late_payment_290() {
    let app = spawn_app().await;
    let (uid, key, _) = issued(&app, "CVS-2", 500, "CSTORECODE").await;
    let (status, body) = offline_payment(&app, uid, json!({"amount": "450"})).await;
    assert_eq!(status, 200, "{body}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "290");
    assert_eq!(record["actual_cost"], 450);

    let data = sample_order_with("ATM-1", 800, json!({"limit_pay_days": 1}));
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let (_, body) = app.pay_with(uid, json!({"pfn": "E_COLLECTION"})).await;
    assert_eq!(body["prc"], "270");
    assert_eq!(body["bank_id"], "807");
    assert_eq!(body["expired_date"], "20261124235959");
    // Still payable at the last second of the last day; expired one second later.
    app.advance(37 * 3600 + 59 * 60 + 59).await;
    assert_eq!(app.query(uid, &key).await["prc"], "270");
    app.advance(1).await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "380");
    assert_eq!(record["retmsg"], "逾期未繳費");
    let (status, body) = offline_payment(&app, uid, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.query(uid, &key).await["prc"], "290");

    // Bad input changes nothing.
    let (status, body) = offline_payment(&app, uid, json!({"amount": "-1"})).await;
    assert_eq!(status, 400, "{body}");
    let data = sample_order_with("ATM-2", 800, json!({"limit_pay_days": 0}));
    let bad = app.order(&data).await;
    assert_refused(&bad, "100", "limit_pay_days");
    app.finish().await;
}

#[tokio::test]
async fn barcodes_webatm_and_stored_value_have_their_states() {
    let app = spawn_app().await;
    let (_, _, body) = issued(&app, "BAR-1", 300, "BARCODE").await;
    assert_eq!(body["prc"], "260");
    assert_eq!(body["result_content_type"], "BARCODE");
    let content: Value =
        serde_json::from_str(body["result_content"].as_str().expect("text")).expect("json");
    assert!(
        content["BarCode3"]
            .as_str()
            .expect("code")
            .ends_with("000000300"),
        "{content}"
    );

    let (uid, key, body) = issued(&app, "WEBATM-1", 300, "WEBATM").await;
    assert_eq!(body["prc"], "280");
    offline_payment(&app, uid, json!({})).await;
    assert_eq!(app.query(uid, &key).await["prc"], "250");

    let (_, _, body) = issued(&app, "RECHARGE-1", 300, "M_RECHARGE").await;
    assert_eq!(body["prc"], "280");

    // A card tool's pay helper cannot be used for an offline payment.
    let (uid, _) = app.card_order("CARD-X", 300, false).await;
    let (status, _) = offline_payment(&app, uid, json!({})).await;
    assert_eq!(status, 409);
    app.finish().await;
}

#[tokio::test]
async fn counter_refunds_queue_for_the_nightly_batch_and_can_be_cancelled_until_then() {
    let app = spawn_app().await;
    let receiver = app.receiver_of_every_notice().await;
    let (uid, key, _) = issued(&app, "CVS-R", 1000, "CSTORECODE").await;
    offline_payment(&app, uid, json!({})).await;

    let queued = app.refund(uid, &key, 300).await;
    assert_eq!(queued["code"], "B200", "{queued}");
    assert!(queued["row_data"].is_null(), "not real time: {queued}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["refund_order"][0]["prc"], "200");
    assert_eq!(record["refund_order"][0]["actual_cost"], "0");
    // Queued refunds count against the balance.
    assert_eq!(app.refund(uid, &key, 701).await["code"], "B500");

    let cancel = json!({"uid": uid.to_string(), "key": key});
    let cancelled = app.api("api/refundcancel", &cancel).await;
    assert_eq!(cancelled["code"], "B200", "{cancelled}");
    assert_eq!(app.query(uid, &key).await["refund_order"][0]["prc"], "220");
    assert_eq!(app.api("api/refundcancel", &cancel).await["code"], "B500");

    // Queued again, then the 00:00 batch (14 hours after 10:00) completes it.
    assert_eq!(app.refund(uid, &key, 1000).await["code"], "B200");
    app.advance(14 * 3600).await;
    let record = app.query(uid, &key).await;
    let refunds = record["refund_order"].as_array().expect("refunds");
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[1]["prc"], "230");
    assert_eq!(refunds[1]["finishtime"], "20261124000000");
    // Too late to cancel now.
    let late = app.api("api/refundcancel", &cancel).await;
    assert_eq!(
        late["msg"],
        "無法取消此筆退款,原因為目前此筆狀態不是申請中。"
    );

    app.drain().await;
    let refund = receiver.first_refund_notice();
    assert_eq!(refund.prc, "230");
    assert_eq!(refund.cost, 1000);
    assert_eq!(refund.refund_type, 3, "cash-type refund");
    assert_eq!(refund.expected_refund_date, "20261201");
    assert_eq!(refund.pfn, "CSTORECODE");
    app.finish().await;
}

#[tokio::test]
async fn an_each_debit_needs_its_code_and_settles_like_an_online_transfer() {
    let app = spawn_app().await;
    let mut data = sample_order_with("EACH-1", 700, json!({"pfn": "EACH"}));
    let refused = app.order(&data).await;
    assert_eq!(refused["code"], "100");
    assert_eq!(refused["msg"], "each_code: is required for eACH (EACH)");
    data["each_code"] = json!("TX123");
    let answer = app.order(&data).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let (_, body) = app.pay_with(uid, json!({"pfn": "EACH"})).await;
    assert_eq!(body["prc"], "280", "{body}");
    assert_eq!(body["result_content_type"], "EACH");
    offline_payment(&app, uid, json!({})).await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["pfn"], "EACH");
    assert_eq!(record["pay_mode_uid"], 0, "EACH has no 附錄一 number");
    app.finish().await;
}

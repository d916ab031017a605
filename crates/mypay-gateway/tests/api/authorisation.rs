use crate::helpers::{assert_mentions, spawn_app, states};
use mypay_protocol::PaymentTool;
use serde_json::{Value, json};

fn capture_request(uid: u64, key: &str, cost: i64, name: &str) -> Value {
    json!({
        "uid": uid.to_string(), "key": key, "cost": cost,
        "items": [{"id": "1", "name": name, "cost": cost.to_string(), "amount": "1", "total": cost.to_string()}],
    })
}

#[tokio::test]
async fn a_direct_acquirer_captures_part_of_an_authorisation_once_and_at_once() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = app.card_order("C-1", 10, true).await;
    assert_eq!(app.query(uid, &key).await["prc"], "245");

    let answer = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(uid, &key, 9, "商品名稱"),
        )
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["msg"], "執行成功,請款完成。");
    let content = &answer["content"];
    assert_eq!(content["prc"], "250");
    assert_eq!(content["cost"], 10);
    assert_eq!(content["actual_cost"], 9);
    assert_eq!(content["uid"], uid);

    // Once only; and no cancelling what was captured.
    let again = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(uid, &key, 1, "商品名稱"),
        )
        .await;
    assert_eq!(again["code"], "B500", "{again}");
    let cancel = app.on_order("api/cancelauthorization", uid, &key).await;
    assert_mentions(&cancel, "B500", "已請款");

    // What can be refunded is what was captured.
    assert_eq!(app.refund(uid, &key, 10).await["code"], "B500");
    assert_eq!(app.refund(uid, &key, 9).await["code"], "B200");

    // The authorisation (245) and the capture (250) were each notified.
    app.drain().await;
    let notices = {
        let n = receiver.transaction_notices();
        (n.len() == 2).then_some(n)
    }
    .expect("two transaction notices");
    let mut states: Vec<&str> = notices.iter().map(|n| n.prc.as_str()).collect();
    states.sort_unstable();
    assert_eq!(states, ["245", "250"]);
    let captured = notices.iter().find(|n| n.prc == "250").expect("250");
    assert_eq!(captured.actual_cost, "9");
    app.finish().await;
}

#[tokio::test]
async fn a_batch_acquirer_confirms_the_capture_at_the_nightly_batch() {
    let app = spawn_app().await;
    app.update_merchant(|s| {
        for t in s
            .tools
            .iter_mut()
            .filter(|t| t.tool == PaymentTool::CreditCard)
        {
            t.supplier = "BC".into();
        }
    })
    .await;
    let (uid, key) = app.card_order("C-2", 10, true).await;
    let answer = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(uid, &key, 9, "商品名稱"),
        )
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["msg"], "執行成功,請款處理進行中。");
    assert_eq!(answer["content"]["prc"], "247");
    assert_eq!(answer["content"]["retmsg"], "請款進行中");
    assert_eq!(answer["content"]["actual_cost"], 0);
    assert_eq!(answer["content"]["finishtime"], "");
    assert_eq!(answer["content"]["supplier_code"], "BC");

    // Not refundable while the capture waits for the batch.
    let refund = app.refund(uid, &key, 9).await;
    assert_mentions(&refund, "B500", "247");

    // The test clock starts at 10:00 in Taipei: 13 hours on, still the same day.
    app.advance(13 * 3600).await;
    assert_eq!(app.query(uid, &key).await["prc"], "247");
    app.advance(3600).await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["actual_cost"], 9);
    assert_eq!(record["finishtime"], "20261124000000");
    assert_eq!(app.refund(uid, &key, 9).await["code"], "B200");
    app.finish().await;
}

#[tokio::test]
async fn a_capture_after_the_deadline_or_of_other_amounts_changes_nothing() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("C-3", 10, true).await;
    for (data, expect) in [
        (capture_request(uid, &key, 11, "商品名稱"), "cost"),
        (capture_request(uid, &key, 9, "別的商品"), "items[0].name"),
        (
            json!({"uid": uid.to_string(), "key": key, "cost": 9}),
            "items",
        ),
        (
            json!({"uid": uid.to_string(), "key": key, "cost": "x"}),
            "cost",
        ),
        (
            capture_request(uid, "0123456789abcdef0123456789abcdef", 9, "商品名稱"),
            "uid/key",
        ),
    ] {
        let answer = app.api("api/authorizedrequestpayment", &data).await;
        assert_eq!(answer["code"], "B500", "{data}: {answer}");
        assert!(
            answer["msg"].as_str().expect("msg").starts_with(expect),
            "{data}: {answer}"
        );
    }
    // Five days after the authorisation it may still be captured; not a second later.
    app.advance(5 * 24 * 3600 + 1).await;
    let late = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(uid, &key, 9, "商品名稱"),
        )
        .await;
    assert_mentions(&late, "B500", "請款期限");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "245");
    let history = states(&app.state.store, uid).await;
    assert_eq!(
        history,
        ["200", "245"],
        "created and authorised, nothing more"
    );

    // A paid (automatically captured) order has nothing to capture.
    let (paid, paid_key) = app.card_order("C-4", 10, false).await;
    let answer = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(paid, &paid_key, 10, "商品名稱"),
        )
        .await;
    assert_eq!(answer["code"], "B500", "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn cancelling_an_authorisation_fails_the_order_with_a_cancellation_record() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = app.card_order("C-5", 10, true).await;
    let body = json!({"uid": uid.to_string(), "key": key});
    let answer = app.api("api/cancelauthorization", &body).await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["msg"], "執行成功,取消授權完成");
    let content = &answer["content"];
    assert_eq!(content["prc"], "300");
    assert_eq!(content["retmsg"], "交易失敗");
    assert_eq!(content["actual_cost"], 10);
    assert_eq!(content["cancel_order"][0]["prc"], "220");
    assert_eq!(content["cancel_order"][0]["cost"], "10");
    assert_eq!(content["refund_order"], json!([]));

    let again = app.api("api/cancelauthorization", &body).await;
    assert_eq!(again["code"], "B500", "{again}");
    let capture = app
        .api(
            "api/authorizedrequestpayment",
            &capture_request(uid, &key, 10, "商品名稱"),
        )
        .await;
    assert_eq!(capture["code"], "B500", "{capture}");
    assert_eq!(app.refund(uid, &key, 10).await["code"], "B500");

    app.drain().await;
    let failed = receiver
        .transaction_notices()
        .into_iter()
        .find(|n| n.prc == "300")
        .expect("the 300 notice");
    assert_eq!(failed.uid, uid.to_string());
    app.finish().await;
}

#[tokio::test]
async fn racing_captures_and_cancels_move_the_order_once() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("C-6", 10, true).await;
    let capture = capture_request(uid, &key, 10, "商品名稱");
    let cancel = json!({"uid": uid.to_string(), "key": key});
    let (a, b, c, d) = tokio::join!(
        app.api("api/authorizedrequestpayment", &capture),
        app.api("api/cancelauthorization", &cancel),
        app.api("api/authorizedrequestpayment", &capture),
        app.api("api/cancelauthorization", &cancel),
    );
    let wins = [&a, &b, &c, &d]
        .iter()
        .filter(|x| x["code"] == "B200")
        .count();
    assert_eq!(wins, 1, "{a} {b} {c} {d}");
    let prc = app.query(uid, &key).await["prc"].clone();
    assert!(prc == "250" || prc == "300", "{prc}");
    app.finish().await;
}

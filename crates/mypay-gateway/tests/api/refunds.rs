use crate::helpers::{assert_mentions, assert_refused, join_all, spawn_app};
use serde_json::json;

#[tokio::test]
async fn a_card_order_refunds_at_once_in_parts_never_beyond_what_was_paid() {
    let app = spawn_app().await;
    let receiver = app.receiver_of_every_notice().await;
    let (uid, key) = app.card_order("R-1", 300, false).await;

    let first = app.refund(uid, &key, 100).await;
    assert_eq!(first["code"], "B200", "{first}");
    assert_eq!(first["msg"], "執行成功");
    assert_eq!(first["uid"], uid.to_string());
    assert_eq!(first["key"], key);
    let row = &first["row_data"];
    assert_eq!(row["uid"], uid);
    assert_eq!(row["prc"], "230");
    assert_eq!(row["cost"], 100);
    assert_eq!(row["actual_cost"], 100);
    assert_eq!(row["refund_type"], 1);
    assert_eq!(row["order_id"], "R-1");
    assert_eq!(row["pfn"], "CREDITCARD");
    assert_eq!(row["retmsg"], "退款完成");
    assert_eq!(row["finishtime"], "20261123100000");
    let first_refund_uid = row["refund_uid"].as_u64().expect("refund_uid");

    let second = app.refund(uid, &key, 150).await;
    assert_eq!(second["code"], "B200", "{second}");
    assert_ne!(second["row_data"]["refund_uid"], first_refund_uid);

    // 50 is left: 51 is refused with the balance named, and nothing is written.
    let too_much = app.refund(uid, &key, 51).await;
    assert_eq!(too_much["code"], "B500", "{too_much}");
    let msg = too_much["msg"].as_str().expect("msg");
    assert!(msg.starts_with("cost:") && msg.contains("50"), "{msg}");
    assert!(too_much["row_data"].is_null());
    assert_eq!(app.totals().await.reversals, 2);

    assert_eq!(app.refund(uid, &key, 50).await["code"], "B200");
    assert_eq!(app.refund(uid, &key, 1).await["code"], "B500");

    // The order stays paid; the query lists every refund.
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    let refunds = record["refund_order"].as_array().expect("refund_order");
    let costs: Vec<&str> = refunds.iter().filter_map(|r| r["cost"].as_str()).collect();
    assert_eq!(costs, ["100", "150", "50"]);
    assert!(refunds.iter().all(|r| r["prc"] == "230"));
    assert_eq!(refunds[0]["uid"], first_refund_uid.to_string());

    // One refund notice per refund, each naming its refund_uid, next to the payment's.
    app.drain().await;
    let bodies = {
        let refunds = receiver.refund_notices();
        (refunds.len() == 3).then_some(refunds)
    }
    .expect("three refund notices");
    let mut notified: Vec<i64> = bodies.iter().map(|r| r.cost).collect();
    notified.sort_unstable();
    assert_eq!(notified, [50, 100, 150]);
    assert!(
        bodies
            .iter()
            .all(|r| r.uid == uid && r.key == key && r.prc == "230")
    );
    assert!(bodies.iter().any(|r| r.refund_uid == first_refund_uid));
    app.finish().await;
}

#[tokio::test]
async fn refunds_of_unpaid_unknown_or_malformed_requests_change_nothing() {
    let app = spawn_app().await;
    let (unpaid, unpaid_key) = app.sample_order("R-2", 100).await;
    let (paid, key) = app.card_order("R-3", 100, false).await;

    let answer = app.refund(unpaid, &unpaid_key, 10).await;
    assert_mentions(&answer, "B500", "200");

    let answer = app
        .refund(paid, "0123456789abcdef0123456789abcdef", 10)
        .await;
    assert_refused(&answer, "B500", "uid/key");

    for (data, field) in [
        (
            json!({"uid": paid.to_string(), "key": key, "cost": "ten"}),
            "cost",
        ),
        (
            json!({"uid": paid.to_string(), "key": key, "cost": 0}),
            "cost",
        ),
        (
            json!({"uid": paid.to_string(), "key": key, "cost": -5}),
            "cost",
        ),
        (json!({"uid": paid.to_string(), "key": key}), "cost"),
        (json!({"key": key, "cost": 5}), "uid"),
        (
            json!({"uid": paid.to_string(), "key": key, "cost": 5, "invoice_state": 9,
                "items": [{"id": "1", "name": "商品名稱", "cost": 5, "amount": 1, "total": 5}]}),
            "invoice_state",
        ),
        (
            json!({"uid": paid.to_string(), "key": key, "cost": 5,
                "items": [{"id": "1", "name": "別的商品", "cost": 5, "amount": 1, "total": 5}]}),
            "items[0].name",
        ),
        (
            json!({"uid": paid.to_string(), "key": key, "cost": 5,
                "items": [{"id": "1", "name": "商品名稱", "cost": 4, "amount": 1, "total": 4}]}),
            "items",
        ),
    ] {
        let answer = app.api("api/refund", &data).await;
        assert_eq!(answer["code"], "B500", "{data}: {answer}");
        let msg = answer["msg"].as_str().expect("msg");
        assert!(msg.starts_with(field), "{data}: {msg}");
    }
    assert_eq!(app.totals().await.reversals, 0);
    assert_eq!(app.query(paid, &key).await["refund_order"], json!([]));

    // With items that match the order and the amount, the same refund goes through.
    let answer = app
        .api(
            "api/refund",
            &json!({"uid": paid.to_string(), "key": key, "cost": 5, "invoice_state": 6,
                    "items": [{"id": "1", "name": "商品名稱", "cost": 5, "amount": 1, "total": 5}]}),
        )
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    // The order has no e-invoice, so there is none to allow against.
    assert_eq!(
        app.query(paid, &key).await["refund_order"][0]["invoice_state"],
        0
    );
    app.finish().await;
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_paid_amount() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("R-4", 100, false).await;
    let answers = join_all((0..12).map(|_| app.refund(uid, &key, 30)).collect()).await;
    let accepted = answers.iter().filter(|a| a["code"] == "B200").count();
    let refused = answers.iter().filter(|a| a["code"] == "B500").count();
    assert_eq!((accepted, refused), (3, 9), "{answers:?}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["refund_order"].as_array().expect("refunds").len(), 3);
    let order = app
        .state
        .store
        .order(uid)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(order.refunded, 90);
    app.finish().await;
}

#[tokio::test]
async fn a_refund_cannot_be_cancelled_once_it_is_done() {
    let app = spawn_app().await;
    let (uid, key) = app.card_order("R-5", 100, false).await;
    assert_eq!(app.refund(uid, &key, 40).await["code"], "B200");
    let answer = app.on_order("api/refundcancel", uid, &key).await;
    assert_eq!(answer["code"], "B500", "{answer}");
    assert_eq!(
        answer["msg"],
        "無法取消此筆退款,原因為目前此筆狀態不是申請中。"
    );
    assert_eq!(answer["uid"], uid.to_string());
    assert!(answer["row_data"].is_null());
    // The multi-row form answers one entry per row.
    let answer = app
        .api(
            "api/refundcancel",
            &json!({"rows": [{"uid": uid.to_string(), "key": key}, {"uid": "1", "key": "x"}]}),
        )
        .await;
    let rows = answer.as_array().expect("an array for rows");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["code"] == "B500"));
    assert!(rows[1]["msg"].as_str().expect("msg").starts_with("uid/key"));

    // A malformed row is answered in its place; the rows around it still count.
    let answer = app
        .api(
            "api/refund",
            &json!({"rows": [
                {"uid": uid.to_string(), "key": key, "cost": 10},
                {"uid": uid.to_string(), "key": key, "cost": {"not": "a number"}},
                {"uid": uid.to_string(), "key": key, "cost": 20},
            ]}),
        )
        .await;
    let rows = answer.as_array().expect("an array for rows");
    let codes: Vec<&str> = rows.iter().filter_map(|r| r["code"].as_str()).collect();
    assert_eq!(codes, ["B200", "B500", "B200"], "{answer}");
    assert!(
        rows[1]["msg"]
            .as_str()
            .expect("msg")
            .starts_with("rows[1].cost"),
        "{answer}"
    );
    assert_eq!(rows[1]["uid"], uid.to_string());
    let listed = app.query(uid, &key).await["refund_order"]
        .as_array()
        .expect("refunds")
        .len();
    assert_eq!(listed, 3, "40, then 10 and 20 from the rows");
    app.finish().await;
}

#[tokio::test]
async fn a_settled_order_carries_its_payout_date_and_stays_refundable() {
    let app = spawn_app().await;
    let _receiver = app.receiver_of_every_notice().await;
    let (unpaid, _) = app.sample_order("S-0", 100).await;
    let (status, _) = app
        .sandbox(&format!("/sandbox/orders/{unpaid}/settle"), json!({}))
        .await;
    assert_eq!(status, 409, "only paid orders settle");
    let (uid, key) = app.card_order("S-1", 100, false).await;
    let (status, body) = app
        .sandbox(&format!("/sandbox/orders/{uid}/settle"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "600");
    assert_eq!(record["appropriation_date"], "20261130");
    app.drain().await;
    let log = {
        let n = app.notices(uid).await;
        n.iter().find(|x| x["prc"] == "600").cloned()
    }
    .expect("the confirmation notice");
    assert_eq!(log["kind"], "confirmation");
    assert_eq!(app.refund(uid, &key, 40).await["code"], "B200");
    app.finish().await;
}

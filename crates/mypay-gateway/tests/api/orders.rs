use crate::helpers::{assert_mentions, sample_order_json, sample_order_with, spawn_app};
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use serde_json::json;

#[tokio::test]
async fn an_order_answers_200_with_uid_key_and_the_paypage_url() {
    let app = spawn_app().await;
    let answer = app.order(&sample_order_json("A-1", 10)).await;
    assert_eq!(answer["code"], "200");
    assert_eq!(answer["msg"], "資料正確");
    let uid = answer["uid"].as_u64().expect("uid is a number");
    assert_eq!(
        answer["url"],
        format!(
            "{}/payment/{}.html",
            app.base,
            app.state.tickets.ticket(uid)
        )
    );
    let key = answer["key"].as_str().expect("key");
    assert_eq!(key.len(), 32);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(app.order_count().await, 1);
    app.finish().await;
}

#[tokio::test]
async fn the_same_unpaid_request_again_is_the_same_transaction() {
    let app = spawn_app().await;
    let (uid1, key1) = app.sample_order("RETRY-1", 10).await;
    let (uid2, key2) = app.sample_order("RETRY-1", 10).await;
    assert_eq!((uid1, &key1), (uid2, &key2));
    // Different content under the same order_id: a new transaction.
    let (uid3, key3) = app.sample_order("RETRY-1", 20).await;
    assert_ne!(uid3, uid1);
    assert_ne!(key3, key1);
    // Once paid, the same request again starts a new transaction (recurring, re-buys).
    app.pay(uid1, "4058650600065507", "1022", "395", None).await;
    let (uid4, _) = app.sample_order("RETRY-1", 10).await;
    assert!(uid4 != uid1 && uid4 != uid3);
    assert_eq!(app.order_count().await, 3);
    app.finish().await;
}

#[tokio::test]
async fn concurrent_identical_requests_get_one_transaction() {
    let app = spawn_app().await;
    let data = sample_order_json("RACE-1", 10);
    let (a, b, c) = tokio::join!(app.order(&data), app.order(&data), app.order(&data));
    assert_eq!(a["uid"], b["uid"]);
    assert_eq!(b["uid"], c["uid"]);
    assert_eq!(app.order_count().await, 1);
    app.finish().await;
}

#[tokio::test]
async fn concurrent_different_requests_for_one_order_id_follow_the_merchants_rule() {
    // Arriving together, they are decided inside one commit batch.
    let app = spawn_app().await;
    let (ten, twenty) = (
        sample_order_json("SAME-ID", 10),
        sample_order_json("SAME-ID", 20),
    );
    let (a, b, c) = tokio::join!(app.order(&ten), app.order(&twenty), app.order(&ten));
    // Not strict: a changed request is a new transaction, and every answer names a
    // stored transaction with the amount it asked for.
    assert_ne!(a["uid"], b["uid"], "{a} {b}");
    let mut uids = Vec::new();
    for (answer, cost) in [(&a, 10), (&b, 20), (&c, 10)] {
        assert_eq!(answer["code"], "200", "{answer}");
        let uid = answer["uid"].as_u64().expect("uid");
        let record = app.query(uid, answer["key"].as_str().expect("key")).await;
        assert_eq!(record["cost"], cost, "{record}");
        uids.push(uid);
    }
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(app.order_count().await, uids.len() as i64);

    app.update_merchant(|s| s.strict_order_id = true).await;
    let requests = [10, 20, 30, 40].map(|cost| sample_order_json("STRICT-RACE", cost));
    let answers = futures_join_all(requests.iter().map(|r| app.order(r))).await;
    let accepted = answers.iter().filter(|a| a["code"] == "200").count();
    assert_eq!(accepted, 1, "{answers:?}");
    for refused in answers.iter().filter(|a| a["code"] != "200") {
        assert_mentions(refused, "100", "order_id");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_strict_merchant_refuses_a_reused_order_id() {
    let app = spawn_app().await;
    app.update_merchant(|s| s.strict_order_id = true).await;
    app.sample_order("STRICT-1", 10).await;
    let again = app.order(&sample_order_json("STRICT-1", 20)).await;
    assert_mentions(&again, "100", "order_id");
    assert_eq!(app.order_count().await, 1);
    app.finish().await;
}

#[tokio::test]
async fn invalid_orders_answer_100_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let base = sample_order_json("BAD-1", 10);
    let without = |field: &str| {
        let mut v = base.clone();
        v.as_object_mut().expect("obj").remove(field);
        v
    };
    let with = |fields: serde_json::Value| sample_order_with("BAD-1", 10, fields);
    let with_item = |field: &str, value: serde_json::Value| {
        let mut v = base.clone();
        v["items"][0][field] = value;
        v
    };
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("user_id", without("user_id")),
        ("order_id", with(json!({"order_id": "x".repeat(51)}))),
        ("ip", with(json!({"ip": "not-an-ip"}))),
        ("cost", with(json!({"cost": "11"}))),
        ("cost", with(json!({"cost": "ten"}))),
        ("items", without("items")),
        ("items[0].total", with_item("amount", json!("2"))),
        ("items[0].cost", with_item("cost", json!("abc"))),
        ("pfn", with(json!({"pfn": "BITCOIN"}))),
        ("pfn", with(json!({"pfn": "CSTORECODE"}))),
        ("currency", with(json!({"currency": "USD"}))),
        ("store_uid", with(json!({"store_uid": "999"}))),
        (
            "success_returl",
            with(json!({"success_returl": "javascript:alert(1)"})),
        ),
    ];
    for (field, data) in cases {
        let answer = app.order(&data).await;
        assert_eq!(answer["code"], "100", "{field}: {answer}");
        let msg = answer["msg"].as_str().expect("msg");
        assert!(msg.contains(field), "msg {msg:?} should name {field}");
    }
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn discounts_shipping_and_the_older_item_format_are_accepted() {
    let app = spawn_app().await;
    let data = sample_order_with(
        "SUM-1",
        100,
        json!({"shipping_fee": 60, "discount": "-10", "cost": 150}),
    );
    assert_eq!(app.order(&data).await["code"], "200");

    let legacy = json!({
        "store_uid": SAMPLE_STORE_UID, "user_id": "u", "order_id": "LEGACY-1", "ip": "::1",
        "cost": 25, "item": "2",
        "i_1_id": "a", "i_1_name": "A", "i_1_cost": "10", "i_1_amount": "2", "i_1_total": "20",
        "i_2_id": "b", "i_2_name": "B", "i_2_cost": 5, "i_2_amount": 1, "i_2_total": 5,
    });
    let answer = app.order(&legacy).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let record = app
        .query(
            answer["uid"].as_u64().expect("uid"),
            answer["key"].as_str().expect("key"),
        )
        .await;
    assert_eq!(record["items"][0]["name"], "A");
    assert_eq!(record["items"][1]["total"], 5);
    app.finish().await;
}

#[tokio::test]
async fn the_query_record_has_the_documents_shape() {
    let app = spawn_app().await;
    let (uid, key) = app.sample_order("Q-1", 10).await;
    let before = app.query(uid, &key).await;
    assert_eq!(before["prc"], "200");
    assert_eq!(before["uid"], uid);
    assert_eq!(before["cost"], 10);
    assert_eq!(before["finishtime"], "");
    assert_eq!(before["echo_0"], "first echo");

    app.pay(uid, "4938170130000003", "1228", "985", Some("nccc1234"))
        .await;
    let record = app.query(uid, &key).await;
    assert_eq!(record["key"], key);
    assert_eq!(record["prc"], "250");
    assert_eq!(record["cardno"], "493817******0003");
    assert_eq!(record["card_type"], "1");
    assert_eq!(record["issuing_bank"], "合作金庫");
    assert_eq!(record["issuing_bank_uid"], "006");
    assert_eq!(record["supplier_code"], "T0");
    assert_eq!(record["supplier_name"], "高鉅科技");
    assert_eq!(record["transaction_mode"], 1);
    assert_eq!(record["pfn"], "CREDITCARD");
    assert_eq!(record["order_id"], "Q-1");
    assert_eq!(record["user_id"], "phper");
    assert_eq!(record["currency"], "TWD");
    assert_eq!(record["actual_cost"], 10);
    assert_eq!(record["acode"].as_str().expect("acode").len(), 6);
    // 10:00 in Taipei on the test clock's day.
    assert_eq!(record["finishtime"], "20261123100000");
    for field in ["refund_order", "cancel_order", "invoice_allowance", "items"] {
        assert!(record[field].is_array(), "{field}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_query_with_the_wrong_key_or_uid_answers_100() {
    let app = spawn_app().await;
    let (uid, _) = app.sample_order("Q-2", 10).await;
    let answer = app.query(uid, "00000000000000000000000000000000").await;
    assert_mentions(&answer, "100", "uid/key");
    let answer = app
        .api("api/queryorder", &json!({"uid": "abc", "key": "x"}))
        .await;
    assert_mentions(&answer, "100", "uid");
    app.finish().await;
}

#[tokio::test]
async fn a_burst_of_orders_and_retries_gets_one_transaction_per_request() {
    let app = spawn_app().await;
    let requests: Vec<serde_json::Value> = (0..60)
        .flat_map(|i| {
            let data = sample_order_json(&format!("BURST-{i}"), 10 + i);
            [data.clone(), data]
        })
        .collect();
    let answers = futures_join_all(requests.iter().map(|r| app.order(r))).await;
    for pair in answers.chunks(2) {
        assert_eq!(pair[0]["code"], "200", "{}", pair[0]);
        assert_eq!(pair[0]["uid"], pair[1]["uid"]);
        assert_eq!(pair[0]["key"], pair[1]["key"]);
    }
    let mut uids: Vec<u64> = answers.iter().filter_map(|a| a["uid"].as_u64()).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 60);
    assert_eq!(app.order_count().await, 60);
    for (i, pair) in answers.chunks(2).enumerate() {
        let record = app
            .query(
                pair[0]["uid"].as_u64().expect("uid"),
                pair[0]["key"].as_str().expect("key"),
            )
            .await;
        assert_eq!(record["order_id"], format!("BURST-{i}"));
        assert_eq!(record["cost"], 10 + i as i64);
    }
    app.finish().await;
}

/// Run futures concurrently on this task, keeping their order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}

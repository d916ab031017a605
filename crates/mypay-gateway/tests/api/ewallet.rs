//! The MYPAY e-wallet (SPEC §9): `api/ewalletbind`, the bind page, the virtual card
//! number's notice, and orders paid with it in one click or in the background.

use crate::helpers::{
    Receiver, Reply, TestApp, cookies, form, hidden_csrf, placed, post_form, sample_order_with,
    spawn_app,
};
use mypay_protocol::notice::EwalletNotice;
use serde_json::{Value, json};

fn bind_request(user_id: &str) -> Value {
    json!({
        "user_id": user_id,
        "user_sn": "A123456789",
        "user_cellphone_code": "886",
        "user_cellphone": "918123123",
        "user_real_name": "金城武",
        "pfn": "CREDITCARD",
        "ip": "127.0.0.1",
        "success_returl": "https://shop.example/bound",
        "failure_returl": "https://shop.example/not-bound",
    })
}

/// `api/ewalletbind`: the bind page's URL and the ticket in it.
async fn open_bind(app: &TestApp, user_id: &str) -> (String, String) {
    let answer = app.api("api/ewalletbind", &bind_request(user_id)).await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert_eq!(answer["msg"], "執行成功");
    let url = answer["url"].as_str().expect("url").to_owned();
    let ticket = url
        .rsplit('/')
        .next()
        .and_then(|p| p.strip_suffix(".html"))
        .expect("ticket")
        .to_owned();
    assert!(url.starts_with(&format!("{}/ewallet/", app.base)), "{url}");
    (url, ticket)
}

/// Bind a card through the sandbox helper: the virtual card number.
async fn bind_card(app: &TestApp, user_id: &str) -> String {
    let (_, ticket) = open_bind(app, user_id).await;
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/ewallet/{ticket}/bind"),
            json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "bound", "{body}");
    body["virtual_pan"]
        .as_str()
        .expect("virtual_pan")
        .to_owned()
}

#[tokio::test]
async fn a_consumer_binds_a_3d_card_on_the_page_and_the_merchant_hears_its_virtual_pan() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (url, ticket) = open_bind(&app, "wallet-user").await;
    let page = app.page(&url, "en").await;
    assert_eq!(page.status(), 200);
    let jar = cookies(&page);
    assert!(jar.contains("mypay_csrf="), "{jar}");
    let html = page.text().await.expect("html");
    assert!(html.contains("Save a card"), "{html}");
    let csrf = hidden_csrf(&html);
    // A form without the cookie's token changes nothing.
    let forged = post_form(
        &app,
        &format!("/ewallet/{ticket}/bind"),
        "",
        &[
            ("csrf", &"0".repeat(64)),
            ("card_number", "4938170130000003"),
        ],
    )
    .await;
    assert_eq!(forged.status(), 403);
    // An order's ticket of the same number opens no bind page, and a wrong token none.
    let id: u64 = ticket
        .split('-')
        .next()
        .expect("id")
        .parse()
        .expect("number");
    let page = app
        .http
        .get(format!("{}/ewallet/{}.html", app.base, app.ticket(id)))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 404);
    // A Luhn-invalid number: the form again, with its error.
    let bad = post_form(
        &app,
        &format!("/ewallet/{ticket}/bind"),
        &jar,
        &[
            ("csrf", &csrf),
            ("card_number", "4938170130000004"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    // A 3D card: the password step, one wrong password, then the right one.
    let sent = post_form(
        &app,
        &format!("/ewallet/{ticket}/bind"),
        &jar,
        &[
            ("csrf", &csrf),
            ("card_number", "4938170130000003"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(sent.headers()["location"], format!("/ewallet/{ticket}/otp"));
    let wrong = post_form(
        &app,
        &format!("/ewallet/{ticket}/otp"),
        &jar,
        &[("csrf", &csrf), ("otp", "nope")],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    let right = post_form(
        &app,
        &format!("/ewallet/{ticket}/otp"),
        &jar,
        &[("csrf", &csrf), ("otp", "nccc1234")],
    )
    .await;
    assert_eq!(right.status(), 303);
    let result = app
        .http
        .get(format!("{url}?locale=en"))
        .header("cookie", &jar)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(result.contains("Your card is saved"), "{result}");
    assert!(result.contains("493817******0003"), "{result}");
    assert!(result.contains("https://shop.example/bound"), "{result}");
    // The notice: the document's seven fields, no uid or key.
    app.drain().await;
    let body = {
        receiver
            .bodies()
            .into_iter()
            .find(|b| b.contains("virtual_pan="))
    }
    .expect("the e-wallet notice");
    assert!(!body.contains("uid="), "{body}");
    let notice = EwalletNotice::from_form(body.as_bytes());
    assert_eq!(notice.pfn, "CREDITCARD");
    assert_eq!(notice.cardno, "493817******0003");
    assert_eq!(notice.user_id, "wallet-user");
    assert_eq!(
        (notice.cellphone_code.as_str(), notice.cellphone.as_str()),
        ("886", "918123123")
    );
    assert_eq!(notice.enable, "1");
    assert_eq!(notice.virtual_pan.len(), 16);
    assert!(notice.virtual_pan.bytes().all(|b| b.is_ascii_digit()));
    // The bind is over: the card form is not shown again.
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/ewallet/{ticket}/bind"),
            json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    app.finish().await;
}

#[tokio::test]
async fn the_ewallet_notice_is_tried_every_15_minutes_4_times_to_its_own_url() {
    let app = spawn_app().await;
    let completed = Receiver::start(vec![Reply::Ack]).await;
    let failing = Receiver::start(vec![Reply::Status(500, "down")]).await;
    app.set_notify_url(&completed.url).await;
    app.update_merchant(|s| s.notify.ewallet = Some(failing.url.clone()))
        .await;
    bind_card(&app, "retry-user").await;
    app.drain().await;
    assert_eq!(failing.count(), 1, "the first attempt");
    // 14 minutes: no second attempt; 15: the second; then the third and the fourth.
    app.advance(14 * 60).await;
    assert_eq!(failing.count(), 1);
    app.advance(60).await;
    assert_eq!(failing.count(), 2);
    app.advance(15 * 60).await;
    app.advance(15 * 60).await;
    assert_eq!(failing.count(), 4);
    // Four times in all.
    app.advance(3600).await;
    assert_eq!(failing.count(), 4);
    assert_eq!(
        completed.count(),
        0,
        "an e-wallet notice goes to its own URL"
    );
    app.finish().await;
}

#[tokio::test]
async fn orders_pay_with_the_bound_card_in_the_background_or_in_one_click() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let pan = bind_card(&app, "phper").await;

    // ewallet_type 2: charged at once, no page; the answer carries the result.
    let order = sample_order_with(
        "EW-BG-1",
        500,
        json!({"enable_ewallet": 1, "virtual_pan": pan, "ewallet_type": 2}),
    );
    let answer = app.order(&order).await;
    assert_eq!(answer["code"], "250", "{answer}");
    assert_eq!(answer["url"], "");
    let (uid, key) = placed(&answer);
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["cardno"], "405865******5507");
    assert_eq!(record["actual_cost"], 500);
    app.drain().await;
    {
        receiver
            .transaction_notices()
            .into_iter()
            .find(|n| n.uid == uid.to_string() && n.prc == "250")
    }
    .expect("the 交易完成 notice");
    // The same request again: the same transaction, charged once.
    let again = app.order(&order).await;
    assert_eq!(
        (again["code"].as_str(), again["uid"].as_u64()),
        (Some("250"), Some(uid))
    );

    // ewallet_type 1: the PayPage offers the saved card, paid in one click.
    let order = sample_order_with(
        "EW-FG-1",
        200,
        json!({"enable_ewallet": 1, "virtual_pan": pan, "ewallet_type": 1}),
    );
    let answer = app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");
    let page = app.page(answer["url"].as_str().expect("url"), "en").await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    // A bound e-wallet card is named so (not as quick checkout's card).
    assert!(html.contains("Your e-wallet card"), "{html}");
    assert!(!html.contains("The card you used last time"), "{html}");
    assert!(html.contains("405865******5507"), "{html}");
    let csrf = hidden_csrf(&html);
    let paid = post_form(
        &app,
        &format!("/payment/{}/ewallet", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(paid.status(), 303);
    let record = app.query(uid, answer["key"].as_str().expect("key")).await;
    assert_eq!(record["prc"], "250", "{record}");
    app.finish().await;
}

#[tokio::test]
async fn bad_bind_requests_and_wallet_orders_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for (change, field) in [
        (json!({"user_id": ""}), "user_id"),
        (json!({"ip": "999.0.0.1"}), "ip"),
        (json!({"pfn": "CSTORECODE"}), "pfn"),
        (
            json!({"success_returl": "javascript:alert(1)"}),
            "success_returl",
        ),
        (json!({"user_cellphone": "09-12"}), "user_cellphone"),
        (json!({"store_uid": "999999999999"}), "store_uid"),
    ] {
        let mut request = bind_request("someone");
        for (k, v) in change.as_object().expect("object") {
            request[k] = v.clone();
        }
        let answer = app.api("api/ewalletbind", &request).await;
        assert_eq!(answer["code"], "B500", "{field}: {answer}");
        assert!(
            answer["msg"].as_str().expect("msg").starts_with(field),
            "{field}: {answer}"
        );
    }
    let pan = bind_card(&app, "owner").await;
    for (pan, user, field) in [
        ("", "owner", "virtual_pan"),
        ("9999999999999999", "owner", "virtual_pan"),
        (pan.as_str(), "someone-else", "virtual_pan"),
    ] {
        let order = sample_order_with(
            "EW-BAD",
            100,
            json!({"user_id": user, "enable_ewallet": 1, "virtual_pan": pan}),
        );
        let answer = app.order(&order).await;
        assert_eq!(answer["code"], "100", "{answer}");
        assert!(
            answer["msg"].as_str().expect("msg").starts_with(field),
            "{answer}"
        );
    }
    let order = sample_order_with(
        "EW-BAD",
        100,
        json!({"user_id": "owner", "enable_ewallet": 1, "virtual_pan": pan, "ewallet_type": 3}),
    );
    let answer = app.order(&order).await;
    assert!(
        answer["msg"]
            .as_str()
            .expect("msg")
            .starts_with("ewallet_type"),
        "{answer}"
    );
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn the_sample_dealer_binds_for_its_store_on_api_agent() {
    use mypay_gateway::ledger::merchant::{SAMPLE_AGENT_KEY, SAMPLE_AGENT_UID, SAMPLE_STORE_UID};
    use mypay_protocol::envelope::{self, MerchantKey};
    let app = spawn_app().await;
    let key = MerchantKey::parse(SAMPLE_AGENT_KEY).expect("key");
    let mut data = bind_request("dealer-user");
    data["store_uid"] = json!(SAMPLE_STORE_UID);
    let body = form(&[
        ("agent_uid", SAMPLE_AGENT_UID),
        (
            "service",
            &envelope::seal(&key, br#"{"service_name":"api","cmd":"api/ewalletbind"}"#),
        ),
        (
            "encry_data",
            &envelope::seal(&key, data.to_string().as_bytes()),
        ),
    ]);
    let answer = app
        .post_raw("/api/agent", "application/x-www-form-urlencoded", body)
        .await;
    assert_eq!(answer["code"], "B200", "{answer}");
    assert!(answer["url"].as_str().expect("url").contains("/ewallet/"));
    app.finish().await;
}

#[tokio::test]
async fn quick_checkout_offers_the_card_the_consumer_last_paid_with_unless_turned_off() {
    let app = spawn_app().await;
    let order_for = |id: &str, user: &str, quickpay: Option<i64>| {
        let mut order = sample_order_with(id, 300, json!({"user_id": user}));
        if let Some(q) = quickpay {
            order["enable_quickpay"] = json!(q);
        }
        order
    };
    // A first payment with quick checkout turned off remembers nothing.
    let first = app.order(&order_for("QP-0", "quick-user", Some(0))).await;
    let uid = first["uid"].as_u64().expect("uid");
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let second = app.order(&order_for("QP-1", "quick-user", None)).await;
    let html = app
        .page(second["url"].as_str().expect("url"), "en")
        .await
        .text()
        .await
        .expect("html");
    assert!(
        !html.contains("The card you used last time") && !html.contains("Your e-wallet card"),
        "{html}"
    );
    // Paid with quick checkout on (the default): the next page offers that card.
    let uid = second["uid"].as_u64().expect("uid");
    app.pay(uid, "5433760200078009", "1022", "597", None).await;
    let third = app.order(&order_for("QP-2", "quick-user", None)).await;
    let page = app.page(third["url"].as_str().expect("url"), "en").await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    // Quick checkout's card is named so, in every language (not as an e-wallet card).
    assert!(html.contains("The card you used last time"), "{html}");
    assert!(!html.contains("Your e-wallet card"), "{html}");
    assert!(html.contains("543376******8009"), "{html}");
    let zh = app
        .page(third["url"].as_str().expect("url"), "zh-TW")
        .await
        .text()
        .await
        .expect("html");
    assert!(
        zh.contains("上次使用的信用卡") && !zh.contains("電子錢包信用卡"),
        "{zh}"
    );
    assert!(!html.contains("5433760200078009"), "never the whole number");
    let csrf = hidden_csrf(&html);
    let uid = third["uid"].as_u64().expect("uid");
    let paid = post_form(
        &app,
        &format!("/payment/{}/ewallet", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(paid.status(), 303);
    let record = app.query(uid, third["key"].as_str().expect("key")).await;
    assert_eq!(
        (record["prc"].as_str(), record["cardno"].as_str()),
        (Some("250"), Some("543376******8009"))
    );
    // Another consumer, or an order that turns it off, is offered nothing.
    for order in [
        order_for("QP-3", "someone-else", None),
        order_for("QP-4", "quick-user", Some(0)),
    ] {
        let answer = app.order(&order).await;
        let html = app
            .http
            .get(answer["url"].as_str().expect("url"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(!html.contains("543376******8009"), "{html}");
        let uid = answer["uid"].as_u64().expect("uid");
        let (status, body) = app
            .sandbox(&format!("/sandbox/orders/{uid}/abandon"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    app.finish().await;
}

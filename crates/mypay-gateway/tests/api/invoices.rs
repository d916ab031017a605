//! E-invoices (電子發票, SPEC §10) over the API: issued with the payment or later with
//! `api/issueinvoice`, queried with `api/invoice` and `api/queryorder`, numbered from the
//! merchant's word tracks, voided or allowed by refunds, laid out as the MOF spec.

use crate::helpers::{
    TestApp, assert_mentions, assert_refused, fresh_database, join_all, placed, sample_order_json,
    sample_order_with, spawn_app, spawn_app_with,
};
use mypay_gateway::clock::Clock;
use mypay_gateway::ledger::invoice::{self, check_code};
use mypay_gateway::ledger::merchant::{SAMPLE_INVOICE_QR_KEY, SAMPLE_STORE_UID};
use mypay_gateway::store::InvoiceTrack;
use serde_json::{Value, json};

/// The period of the tests' start (2026-11-23, Taipei): ROC 115, Nov–Dec.
const PERIOD: &str = "11512";

async fn add_track(app: &TestApp, period: &str, track: &str, first: i64, last: i64) {
    app.state
        .store
        .add_invoice_track(&InvoiceTrack {
            store_uid: SAMPLE_STORE_UID.into(),
            period: period.into(),
            track: track.into(),
            first_number: first,
            last_number: last,
            next_number: first,
        })
        .await
        .expect("track added");
}

/// A card order of `cost` with `invoice` fields merged in, paid; (uid, key).
async fn paid_order(app: &TestApp, order_id: &str, cost: i64, invoice: Value) -> (u64, String) {
    let mut order = sample_order_with(order_id, cost, json!({"pfn": "CREDITCARD"}));
    if let (Some(o), Some(extra)) = (order.as_object_mut(), invoice.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    let answer = app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let paid = app.pay(uid, "4058650600065507", "1022", "395", None).await;
    assert_eq!(paid["prc"], "250", "{paid}");
    (uid, key)
}

async fn invoice_of(app: &TestApp, uid: u64, key: &str) -> Value {
    app.on_order("api/invoice", uid, key).await
}

async fn issue(app: &TestApp, uid: u64, key: &str, fields: Value) -> Value {
    let mut data = json!({"store_uid": SAMPLE_STORE_UID, "uid": uid.to_string(), "key": key});
    if let (Some(o), Some(extra)) = (data.as_object_mut(), fields.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    app.api("api/issueinvoice", &data).await
}

fn mobile() -> Value {
    json!({"invoice_input_type": 1, "invoice_cloud_type": 2, "invoice_mobile_code": "/NFVIAZP"})
}

/// A fresh sandbox issues the sample merchant's invoices at once, in every period its
/// clock reaches: no word track has to be registered first.
#[tokio::test]
async fn the_sample_merchant_has_numbers_in_every_period_of_a_fresh_sandbox() {
    let app = spawn_app().await;
    let asks = json!({"issue_invoice_state": 1, "invoice_input_type": 1, "invoice_cloud_type": 4});
    let mut periods = Vec::new();
    for (i, days) in [0, 61, 365].into_iter().enumerate() {
        app.advance(days * 86_400).await;
        let (uid, key) = paid_order(&app, &format!("FRESH-{i}"), 500, asks.clone()).await;
        let invoice = invoice_of(&app, uid, &key).await;
        assert_eq!(invoice["state"], 2, "{invoice}");
        assert_eq!(invoice["wordtrack"], "JH", "{invoice}");
        let date = invoice["date"].as_str().expect("date").to_owned();
        periods.push(invoice::period(
            jiff::civil::Date::strptime("%Y%m%d", &date).expect("YYYYMMDD"),
        ));
    }
    assert_eq!(periods, ["11512", "11602", "11702"]);
    app.finish().await;
}

#[tokio::test]
async fn an_order_that_asks_gets_its_invoice_with_its_payment_laid_out_as_the_mof_spec() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "AB", 0, 99).await;
    let mut fields = mobile();
    fields["issue_invoice_state"] = json!(1);
    let (uid, key) = paid_order(&app, "INV-1", 10, fields).await;
    let inv = invoice_of(&app, uid, &key).await;
    assert_eq!(inv["state"], 2, "{inv}");
    assert_eq!(inv["prc"], "250");
    assert_eq!(
        (inv["wordtrack"].as_str(), inv["number"].as_str()),
        (Some("AB"), Some("00000000"))
    );
    assert_eq!(inv["date"], "20261123");
    let random = inv["rand_code"].as_str().expect("rand_code").to_owned();
    assert!(
        random.len() == 4 && random.bytes().all(|b| b.is_ascii_digit()),
        "{inv}"
    );
    assert_eq!(inv["seller_ban"], "28915188");
    assert_eq!(inv["buyer_ban"], "");
    let check = check_code("AB00000000", &random, SAMPLE_INVOICE_QR_KEY).expect("key");
    assert_eq!(
        inv["left_qrcode"],
        format!(
            "AB00000000{}{random}0000000a0000000a0000000028915188{check}:**********:1:1:1:商品名稱:1:10:",
            "1151123"
        )
    );
    assert_eq!(inv["right_qrcode"], "**");
    assert_eq!(inv["middle_barcode"], format!("11512AB00000000{random}"));
    assert_eq!(
        (
            inv["amount"].as_str(),
            inv["sales_amount"].as_str(),
            inv["tax_amount"].as_str()
        ),
        (Some("10"), Some("10"), Some("0"))
    );
    assert_eq!(
        inv["order_detail"],
        r#"[{"Description":"商品名稱","Quantity":"1","UnitPrice":"10","Amount":"10"}]"#
    );
    assert_eq!(
        (inv["ratetype"].as_i64(), inv["input_type"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (inv["cloud_type"].as_str(), inv["mobile_code"].as_str()),
        (Some("2"), Some("/NFVIAZP"))
    );
    assert_eq!(inv["echo_0"], "first echo");
    // Its printable proof, behind a ticket of its own.
    let proof_url = inv["proof_url"].as_str().expect("proof_url").to_owned();
    assert!(
        proof_url.starts_with(&format!("{}/invoice/{uid}-", app.base)),
        "{proof_url}"
    );
    let page = app.http.get(&proof_url).send().await.expect("proof");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("電子發票證明聯") && html.contains("AB-00000000"),
        "{html}"
    );
    assert!(html.contains(&format!("data-code=\"11512AB00000000{random}\"")));
    assert_eq!(html.matches("<svg").count(), 3, "barcode and two QR codes");
    let paypage_ticket = app.ticket(uid);
    for wrong in [
        format!("{}/invoice/{paypage_ticket}.html", app.base),
        proof_url.replace(
            &format!("/invoice/{uid}-"),
            &format!("/invoice/{}-", uid + 1),
        ),
        format!("{}/invoice/{uid}.html", app.base),
    ] {
        let page = app.http.get(&wrong).send().await.expect("proof");
        assert_eq!(page.status(), 404, "{wrong}");
    }
    // The query record carries the same invoice.
    let record = app.query(uid, &key).await;
    assert_eq!(record["invoice_state"], 2);
    assert_eq!(record["invoice_number"], "00000000");
    assert_eq!(record["invoice_left_qrcode"], inv["left_qrcode"]);
    assert_eq!(record["invoice_mobile_code"], "/NFVIAZP");
    // Asked again later: issued once.
    let again = issue(&app, uid, &key, mobile()).await;
    assert_mentions(&again, "B500", "already");
    assert_eq!(again["number"], "00000000");
    app.finish().await;
}

#[tokio::test]
async fn issueinvoice_within_48_hours_donations_and_b2b_with_tax_split() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "CD", 5000, 5999).await;
    // Not asked at payment: nothing until api/issueinvoice.
    let (uid, key) = paid_order(&app, "INV-LATER", 10, json!({"issue_invoice_state": 0})).await;
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 0);
    let donated = issue(
        &app,
        uid,
        &key,
        json!({"invoice_input_type": 2, "invoice_love_code": "241"}),
    )
    .await;
    assert_eq!(donated["code"], "B200", "{donated}");
    assert_eq!(donated["msg"], "發票處理完成");
    assert_eq!(donated["state"], 2);
    assert_eq!(donated["actual_cost"], 10);
    assert_eq!(donated["number"], "00005000");
    assert_eq!(
        donated["date"].as_str().map(str::len),
        Some(14),
        "{donated}"
    );
    assert_eq!(invoice_of(&app, uid, &key).await["love_code"], "241");

    // B2B (paper): sales and tax split, the buyer's BAN in the codes.
    let (uid, key) = paid_order(&app, "INV-B2B", 5500, json!({"issue_invoice_state": 0})).await;
    let b2b = issue(
        &app,
        uid,
        &key,
        json!({"invoice_input_type": 3, "invoice_b2b_title": "測試股份有限公司", "invoice_b2b_id": "04595257", "invoice_b2b_address": "台北市中正區"}),
    )
    .await;
    assert_eq!(b2b["code"], "B200", "{b2b}");
    assert_eq!(
        (b2b["sales_amount"].as_str(), b2b["tax_amount"].as_str()),
        (Some("5238"), Some("262"))
    );
    assert_eq!(b2b["buyer_ban"], "04595257");
    let left = b2b["left_qrcode"].as_str().expect("left");
    assert_eq!(&left[21..45], "000014760000157c04595257", "{left}");
    let record = invoice_of(&app, uid, &key).await;
    assert_eq!(
        (record["b2b_title"].as_str(), record["b2b_id"].as_str()),
        (Some("測試股份有限公司"), Some("04595257"))
    );

    // After 48 hours: refused, nothing written.
    let (uid, key) = paid_order(&app, "INV-LATE", 10, json!({"issue_invoice_state": 0})).await;
    app.advance(48 * 3600 + 1).await;
    let late = issue(&app, uid, &key, mobile()).await;
    assert_mentions(&late, "B500", "48 hours");
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 0);
    app.finish().await;
}

#[tokio::test]
async fn bad_invoice_fields_are_refused_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "EF", 0, 99).await;
    let (uid, key) = paid_order(&app, "INV-BAD", 10, json!({"issue_invoice_state": 0})).await;
    for (fields, field) in [
        (
            json!({"invoice_input_type": 1, "invoice_cloud_type": 2, "invoice_mobile_code": "NFVIAZP1"}),
            "invoice_mobile_code",
        ),
        (
            json!({"invoice_input_type": 1, "invoice_cloud_type": 2, "invoice_mobile_code": "/nfviazp"}),
            "invoice_mobile_code",
        ),
        (
            json!({"invoice_input_type": 1, "invoice_cloud_type": 3, "invoice_natural_person": "A123456789012345"}),
            "invoice_natural_person",
        ),
        (
            json!({"invoice_input_type": 1, "invoice_cloud_type": 9}),
            "invoice_cloud_type",
        ),
        (
            json!({"invoice_input_type": 1, "invoice_tax_id": "12345678"}),
            "invoice_tax_id",
        ),
        (
            json!({"invoice_input_type": 2, "invoice_love_code": "12"}),
            "invoice_love_code",
        ),
        (
            json!({"invoice_input_type": 2, "invoice_love_code": "12345678"}),
            "invoice_love_code",
        ),
        (
            json!({"invoice_input_type": 3, "invoice_b2b_title": "x", "invoice_b2b_id": "04595258", "invoice_b2b_address": "y"}),
            "invoice_b2b_id",
        ),
        (
            json!({"invoice_input_type": 3, "invoice_b2b_id": "04595257", "invoice_b2b_address": "y"}),
            "invoice_b2b_title",
        ),
        (json!({"invoice_input_type": 7}), "invoice_input_type"),
        (
            json!({"invoice_input_type": 1, "invoice_ratetype": 4}),
            "invoice_ratetype",
        ),
    ] {
        let answer = issue(&app, uid, &key, fields.clone()).await;
        assert_eq!(answer["code"], "B500", "{fields}: {answer}");
        assert!(
            answer["msg"].as_str().unwrap_or("").starts_with(field),
            "{fields}: {answer}"
        );
        assert_eq!(invoice_of(&app, uid, &key).await["state"], 0, "{fields}");
    }
    // Valid BANs by the current rule, as the buyer's tax id of a cloud invoice.
    for ban in ["00501508", "00000074", "62140097"] {
        let (uid, key) = paid_order(
            &app,
            &format!("INV-BAN-{ban}"),
            10,
            json!({"issue_invoice_state": 0}),
        )
        .await;
        let answer = issue(
            &app,
            uid,
            &key,
            json!({"invoice_input_type": 1, "invoice_tax_id": ban}),
        )
        .await;
        assert_eq!(answer["code"], "B200", "{ban}: {answer}");
        assert_eq!(answer["buyer_ban"], ban);
    }
    // On the order: a paper invoice with a PayPage payment, and bad values, are a 100.
    let before = app.order_count().await;
    for (fields, field) in [
        (
            json!({"issue_invoice_state": 1, "invoice_input_type": 3, "invoice_b2b_title": "x", "invoice_b2b_id": "04595257", "invoice_b2b_address": "y"}),
            "invoice_input_type",
        ),
        (
            json!({"issue_invoice_state": 1, "invoice_input_type": 2, "invoice_love_code": "1"}),
            "invoice_love_code",
        ),
        (json!({"issue_invoice_state": 5}), "issue_invoice_state"),
    ] {
        let mut order = sample_order_json("INV-ORDER-BAD", 10);
        for (k, v) in fields.as_object().expect("object") {
            order[k] = v.clone();
        }
        let answer = app.order(&order).await;
        assert_eq!(answer["code"], "100", "{fields}: {answer}");
        assert!(
            answer["msg"].as_str().unwrap_or("").starts_with(field),
            "{fields}: {answer}"
        );
    }
    assert_eq!(app.order_count().await, before);
    // Another merchant's order, or a wrong key: the same refusal.
    let wrong = issue(&app, uid, "0123456789abcdef0123456789abcdef", mobile()).await;
    assert_refused(&wrong, "B500", "uid/key");
    app.finish().await;
}

#[tokio::test]
async fn twenty_orders_paid_at_once_get_twenty_consecutive_numbers() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "GH", 100, 199).await;
    let mut orders = Vec::new();
    for i in 0..20 {
        let order = sample_order_with(
            &format!("INV-C{i}"),
            10 + i,
            json!({"pfn": "CREDITCARD", "issue_invoice_state": 1}),
        );
        let answer = app.order(&order).await;
        orders.push((
            answer["uid"].as_u64().expect("uid"),
            answer["key"].as_str().expect("key").to_owned(),
        ));
    }
    let paid = join_all(
        orders
            .iter()
            .map(|(uid, _)| app.pay(*uid, "4058650600065507", "1022", "395", None))
            .collect(),
    )
    .await;
    assert!(paid.iter().all(|p| p["prc"] == "250"));
    let mut numbers = Vec::new();
    for (uid, key) in &orders {
        let inv = invoice_of(&app, *uid, key).await;
        assert_eq!(inv["state"], 2, "{inv}");
        numbers.push(
            inv["number"]
                .as_str()
                .expect("number")
                .parse::<i64>()
                .expect("digits"),
        );
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (100..120).collect::<Vec<_>>());
    app.finish().await;
}

#[tokio::test]
async fn used_up_or_missing_word_tracks_are_state_5_with_an_email_until_a_range_is_added() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "JK", 0, 1).await;
    let emails_before = app.state.store.email_count().await.expect("emails");
    let mut fields = mobile();
    fields["issue_invoice_state"] = json!(1);
    let mut last = (0, String::new());
    for i in 0..3 {
        last = paid_order(&app, &format!("INV-X{i}"), 10, fields.clone()).await;
    }
    let (uid, key) = last;
    let inv = invoice_of(&app, uid, &key).await;
    assert_eq!(inv["state"], 5, "{inv}");
    assert_eq!(inv["number"], "");
    assert_eq!(
        app.state.store.email_count().await.expect("emails"),
        emails_before + 1
    );
    let retry = issue(&app, uid, &key, mobile()).await;
    assert_refused(&retry, "B500", "wordtrack:");
    // A new range: the invoice is issued, from it.
    add_track(&app, PERIOD, "JK", 2, 10).await;
    let issued = issue(&app, uid, &key, mobile()).await;
    assert_eq!(issued["code"], "B200", "{issued}");
    assert_eq!(issued["number"], "00000002");
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 2);
    app.finish().await;
}

#[tokio::test]
async fn refunds_void_within_the_period_or_allow_up_to_the_invoice() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "LM", 0, 99).await;
    let mut fields = mobile();
    fields["issue_invoice_state"] = json!(1);
    let items = |cost: i64| json!([{"id": "1", "name": "商品名稱", "cost": cost.to_string(), "amount": "1", "total": cost.to_string()}]);
    // A full refund voids it.
    let (uid, key) = paid_order(&app, "INV-VOID", 100, fields.clone()).await;
    let refund = app
        .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": 100, "invoice_state": 4, "items": items(100)}))
        .await;
    assert_eq!(refund["code"], "B200", "{refund}");
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 4);
    assert_eq!(app.query(uid, &key).await["invoice_state"], 4);

    // Partial refunds allow (折讓), never past the invoice; a partial void is refused.
    let (uid, key) = paid_order(&app, "INV-ALLOW", 100, fields.clone()).await;
    let partial_void = app
        .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": 30, "invoice_state": 4, "items": items(30)}))
        .await;
    assert_refused(&partial_void, "B500", "invoice_state:");
    let mut refund_uids = Vec::new();
    for cost in [30, 70] {
        let refund = app
            .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": cost, "invoice_state": 6, "items": items(cost)}))
            .await;
        assert_eq!(refund["code"], "B200", "{refund}");
        refund_uids.push(
            refund["row_data"]["refund_uid"]
                .to_string()
                .trim_matches('"')
                .to_owned(),
        );
    }
    let inv = invoice_of(&app, uid, &key).await;
    assert_eq!(inv["state"], 6, "{inv}");
    let allowances = inv["allowance"].as_array().expect("allowance");
    assert_eq!(allowances.len(), 2, "{inv}");
    assert_eq!(allowances[0]["amount"], 30);
    assert_eq!(allowances[1]["amount"], 70);
    assert_eq!(allowances[0]["uid"], refund_uids[0].as_str(), "{inv}");
    assert_eq!(
        allowances[0]["order_detail"],
        r#"[{"Description":"商品名稱","Quantity":"1","UnitPrice":"30","Amount":"30"}]"#
    );
    let over = app
        .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": 1, "invoice_state": 6, "items": items(1)}))
        .await;
    assert_eq!(over["code"], "B500", "{over}");

    // A store code's refund waits for the 00:00 batch; the invoice it voided keeps it from
    // being cancelled (an invoice is not un-voided).
    let order = sample_order_with("INV-CVS", 100, json!({"issue_invoice_state": 1}));
    let answer = app.order(&order).await;
    let (uid, key) = placed(&answer);
    app.pay_at_a_store(uid).await;
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 2);
    let refund = app
        .api(
            "api/refund",
            &json!({"uid": uid.to_string(), "key": key, "cost": 100, "items": items(100)}),
        )
        .await;
    assert_eq!(refund["code"], "B200", "{refund}");
    assert_eq!(
        invoice_of(&app, uid, &key).await["state"],
        4,
        "voided by default"
    );
    let cancel = app.on_order("api/refundcancel", uid, &key).await;
    assert_refused(&cancel, "B500", "invoice:");
    app.finish().await;
}

/// A gateway whose clock stands at `at` (Taipei `YYYY-MM-DD HH:MM:SS`), with the
/// sample merchant's tracks for `periods`.
async fn app_at(at: &str, periods: &[&str]) -> TestApp {
    let at: jiff::Timestamp = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", at)
        .expect("datetime")
        .to_zoned(jiff::tz::TimeZone::get("Asia/Taipei").expect("zone"))
        .expect("zoned")
        .timestamp();
    let app = spawn_app_with(fresh_database(), Clock::frozen(at), |_| {}).await;
    for (i, p) in periods.iter().enumerate() {
        add_track(&app, p, ["PA", "PB", "PC"][i], 0, 99).await;
    }
    app
}

#[tokio::test]
async fn the_period_turns_at_taipei_midnight_of_an_odd_month() {
    for (last_second, before, after) in [
        ("2026-02-28 23:59:59", "11502", "11504"),
        ("2025-12-31 23:59:59", "11412", "11502"),
    ] {
        let app = app_at(last_second, &[before, after]).await;
        let mut fields = mobile();
        fields["issue_invoice_state"] = json!(1);
        let (uid, key) = paid_order(&app, "INV-P1", 10, fields.clone()).await;
        let first = invoice_of(&app, uid, &key).await;
        assert!(
            first["middle_barcode"]
                .as_str()
                .unwrap_or("")
                .starts_with(before),
            "{first}"
        );
        assert_eq!(first["wordtrack"], "PA");
        app.advance(1).await;
        let (uid2, key2) = paid_order(&app, "INV-P2", 10, fields).await;
        let second = invoice_of(&app, uid2, &key2).await;
        assert!(
            second["middle_barcode"]
                .as_str()
                .unwrap_or("")
                .starts_with(after),
            "{second}"
        );
        assert_eq!(second["wordtrack"], "PB");
        // The first invoice's period is over: it cannot be voided, only allowed.
        let items =
            json!([{"id": "1", "name": "商品名稱", "cost": "10", "amount": "1", "total": "10"}]);
        let void = app
            .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": 10, "invoice_state": 4, "items": items}))
            .await;
        assert_mentions(&void, "B500", "跨發票期別");
        let allow = app
            .api("api/refund", &json!({"uid": uid.to_string(), "key": key, "cost": 10, "invoice_state": 6, "items": items}))
            .await;
        assert_eq!(allow["code"], "B200", "{allow}");
        assert_eq!(invoice_of(&app, uid, &key).await["state"], 6);
        app.finish().await;
    }
}

#[tokio::test]
async fn the_sandbox_centre_keeps_an_invoice_waiting_or_fails_it() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "NP", 0, 99).await;
    let (uid, key) = paid_order(&app, "INV-SBX", 10, json!({"issue_invoice_state": 0})).await;
    for (state, expected) in [(1, 1), (3, 3)] {
        let (status, body) = app
            .sandbox(
                &format!("/sandbox/orders/{uid}/invoice"),
                json!({"state": state}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(invoice_of(&app, uid, &key).await["state"], expected);
        assert_eq!(app.query(uid, &key).await["invoice_state"], expected);
    }
    // A failed invoice is issued by api/issueinvoice.
    let issued = issue(&app, uid, &key, mobile()).await;
    assert_eq!(issued["code"], "B200", "{issued}");
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/orders/{uid}/invoice"),
            json!({"state": 3}),
        )
        .await;
    assert_eq!(status, 400, "an issued invoice stays issued: {body}");
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/orders/{uid}/invoice"),
            json!({"state": 9}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 2);
    app.finish().await;
}

#[tokio::test]
async fn check_codes_match_an_independent_implementation() {
    // Python's pycryptodome, over random numbers, random codes and keys.
    let mut cases = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let letters: String = (0..2)
            .map(|_| char::from(b'A' + (next() % 26) as u8))
            .collect();
        let number = format!("{letters}{:08}", next() % 100_000_000);
        let random = format!("{:04}", next() % 10_000);
        let key: String = (0..32)
            .map(|_| char::from(b"0123456789abcdef"[(next() % 16) as usize]))
            .collect();
        let ours = check_code(&number, &random, &key).expect("key");
        cases.push((number, random, key, ours));
    }
    let input: String = cases
        .iter()
        .map(|(n, r, k, _)| format!("{n} {r} {k}\n"))
        .collect();
    let script = r#"
import sys, base64
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
iv = base64.b64decode("Dt8lyToo17X/XkXaQvihuA==")
for line in sys.stdin:
    n, r, k = line.split()
    c = AES.new(bytes.fromhex(k), AES.MODE_CBC, iv)
    print(base64.b64encode(c.encrypt(pad((n + r).encode(), 16))).decode())
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with pycryptodome (scripts/test.sh installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python runs");
    assert!(out.status.success());
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), cases.len());
    for ((n, r, k, ours), theirs) in cases.iter().zip(&theirs) {
        assert_eq!(ours, theirs, "{n} {r} {k}");
        assert_eq!(ours.len(), 24);
    }
    // And the layout's pure parts against the document's example.
    assert_eq!(
        invoice::middle_barcode("11104", "JH00000242", "3385"),
        "11104JH000002423385"
    );
}

#[tokio::test]
async fn the_invoice_setup_is_made_from_the_command_line_and_used_through_the_sdk() {
    use crate::helpers::gateway_command;
    let db = fresh_database();
    // The command line seeds the sample merchant at the real time, so this runs on it.
    let today = invoice::period(mypay_gateway::clock::taipei::date(jiff::Timestamp::now()));
    let ok = |args: &[&str]| {
        let (ok, out, err) = gateway_command(&db, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    // Each bad value is refused naming its option, and changes nothing.
    for (args, option) in [
        (
            vec![
                "merchant",
                "set",
                SAMPLE_STORE_UID,
                "--invoice-ban",
                "12345678",
            ],
            "--invoice-ban",
        ),
        (
            vec![
                "merchant",
                "set",
                SAMPLE_STORE_UID,
                "--invoice-qr-key",
                "xyz",
            ],
            "--invoice-qr-key",
        ),
        (
            vec![
                "merchant",
                "invoice-track",
                SAMPLE_STORE_UID,
                "--period",
                "11511",
                "--track",
                "QR",
                "--from",
                "00000000",
                "--to",
                "00000009",
            ],
            "--period",
        ),
        (
            vec![
                "merchant",
                "invoice-track",
                SAMPLE_STORE_UID,
                "--period",
                "11512",
                "--track",
                "qr",
                "--from",
                "00000000",
                "--to",
                "00000009",
            ],
            "--track",
        ),
        (
            vec![
                "merchant",
                "invoice-track",
                SAMPLE_STORE_UID,
                "--period",
                "11512",
                "--track",
                "QR",
                "--from",
                "0000000",
                "--to",
                "00000009",
            ],
            "--from",
        ),
        (
            vec![
                "merchant",
                "invoice-track",
                SAMPLE_STORE_UID,
                "--period",
                "11512",
                "--track",
                "QR",
                "--from",
                "00000009",
                "--to",
                "00000001",
            ],
            "--to",
        ),
    ] {
        let (done, _, err) = gateway_command(&db, &args);
        assert!(!done, "{args:?}");
        assert!(err.contains(option), "{args:?}: {err}");
    }
    ok(&[
        "merchant",
        "set",
        SAMPLE_STORE_UID,
        "--invoice-ban",
        "22099131",
        "--invoice-qr-key",
        "00112233445566778899AABBCCDDEEFF",
    ]);
    let listed = ok(&[
        "merchant",
        "invoice-track",
        SAMPLE_STORE_UID,
        "--period",
        &today,
        "--track",
        "QR",
        "--from",
        "00000010",
        "--to",
        "00000019",
    ]);
    assert!(
        listed.contains(&format!("{today}  QR  00000010–00000019  next 00000010")),
        "{listed}"
    );
    // An overlapping range of the same track is refused.
    let (done, _, err) = gateway_command(
        &db,
        &[
            "merchant",
            "invoice-track",
            SAMPLE_STORE_UID,
            "--period",
            &today,
            "--track",
            "QR",
            "--from",
            "00000015",
            "--to",
            "00000029",
        ],
    );
    assert!(!done && err.contains("overlaps"), "{err}");

    let app = spawn_app_with(db.clone(), Clock::test(), |_| {}).await;
    let (uid, key) = paid_order(&app, "INV-SDK", 10, json!({"issue_invoice_state": 0})).await;
    let issued = app
        .client
        .issue_invoice(&mypay_client::protocol::messages::IssueInvoiceRequest {
            uid: Some(uid.to_string()),
            key: Some(key.clone()),
            invoice_input_type: Some(2),
            invoice_love_code: Some("8585".into()),
            ..Default::default()
        })
        .await
        .expect("issued");
    assert_eq!(
        (issued.wordtrack.as_str(), issued.number.as_str()),
        ("QR", "00000010")
    );
    assert_eq!(issued.seller_ban, "22099131");
    let check = check_code(
        "QR00000010",
        &issued.rand_code,
        "00112233445566778899aabbccddeeff",
    )
    .expect("key");
    assert!(
        issued.left_qrcode.contains(&format!("22099131{check}:")),
        "{}",
        issued.left_qrcode
    );
    let record = app.client.invoice(uid, &key).await.expect("invoice");
    assert_eq!((record.state, record.love_code.as_str()), (2, "8585"));
    let listed = ok(&["merchant", "invoice-track", SAMPLE_STORE_UID]);
    assert!(listed.contains("next 00000011"), "{listed}");
    app.finish().await;
}

#[tokio::test]
async fn an_invoice_the_payment_could_not_issue_is_issued_by_the_payments_timer() {
    let app = spawn_app().await;
    add_track(&app, PERIOD, "RS", 0, 99).await;
    // The seller's QR key is missing when the order is paid: nothing can be issued then.
    app.update_merchant(|s| s.invoice.qr_key = None).await;
    let mut fields = mobile();
    fields["issue_invoice_state"] = json!(1);
    let (uid, key) = paid_order(&app, "INV-NET", 10, fields).await;
    assert_eq!(invoice_of(&app, uid, &key).await["state"], 0);
    app.update_merchant(|s| s.invoice.qr_key = Some(SAMPLE_INVOICE_QR_KEY.into()))
        .await;
    // The timer written with the payment issues it, once (the advance answers when every
    // timer due has run, on whichever worker took it).
    app.advance(60).await;
    let inv = invoice_of(&app, uid, &key).await;
    assert_eq!(
        (inv["state"].as_i64(), inv["number"].as_str()),
        (Some(2), Some("00000000"))
    );
    app.advance(3600).await;
    assert_eq!(invoice_of(&app, uid, &key).await["number"], "00000000");
    // An order paid with its invoice issued at once: its timer finds it and does nothing.
    let (uid2, key2) = paid_order(&app, "INV-NET-2", 10, {
        let mut f = mobile();
        f["issue_invoice_state"] = json!(1);
        f
    })
    .await;
    assert_eq!(invoice_of(&app, uid2, &key2).await["number"], "00000001");
    app.advance(60).await;
    assert_eq!(invoice_of(&app, uid2, &key2).await["number"], "00000001");
    let tracks = app
        .state
        .store
        .invoice_tracks(SAMPLE_STORE_UID)
        .await
        .expect("tracks");
    assert_eq!(tracks[0].next_number, 2, "no number taken twice");
    app.finish().await;
}

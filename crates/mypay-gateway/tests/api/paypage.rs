//! The PayPage over plain HTTP, as a browser without JavaScript uses it.

use crate::helpers::{
    cookies, get_page, hidden_csrf, placed, post_form, sample_order_json, sample_order_with,
    spawn_app,
};
use serde_json::json;

#[tokio::test]
async fn a_consumer_pays_with_a_3d_card_and_goes_back_to_the_merchant_without_parameters() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let data = sample_order_with(
        "WEB-1",
        120,
        json!({"success_returl": "https://shop.example/thanks", "failure_returl": "https://shop.example/sorry"}),
    );
    let answer = app.order(&data).await;
    let url = answer["url"].as_str().expect("url").to_owned();
    let uid = answer["uid"].as_u64().expect("uid");

    let page = app.page(&url, "en").await;
    assert_eq!(page.status(), 200);
    let jar = cookies(&page);
    assert!(jar.contains("mypay_csrf="));
    assert!(jar.contains("mypay_locale=en"));
    let html = page.text().await.expect("html");
    assert!(html.contains("Pay now"));
    assert!(html.contains("WEB-1"));
    assert!(html.contains("value=\"CREDITCARD\""));
    let csrf = hidden_csrf(&html);

    // Without the cookie's token, nothing happens.
    let forged = post_form(
        &app,
        &format!("/payment/{}/pay", app.ticket(uid)),
        "",
        &[
            ("csrf", &"0".repeat(32)),
            ("card_number", "4938170130000003"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(forged.status(), 403);

    // A Luhn-invalid number re-shows the form with the error.
    let bad = post_form(
        &app,
        &format!("/payment/{}/pay", app.ticket(uid)),
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "CREDITCARD"),
            ("card_number", "4938170130000004"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    let bad_html = bad.text().await.expect("html");
    assert!(
        bad_html.contains("role=\"alert\">The card number is not valid (check digit)"),
        "{bad_html}"
    );

    let paid = post_form(
        &app,
        &format!("/payment/{}/pay", app.ticket(uid)),
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "CREDITCARD"),
            ("card_number", "4938 1701 3000 0003"),
            ("expiry", "12/28"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("/payment/{}/otp", app.ticket(uid))
    );

    let otp_page = get_page(&app, &format!("/payment/{}/otp", app.ticket(uid)), &jar).await;
    let otp_html = otp_page.text().await.expect("html");
    assert!(otp_html.contains("493817******0003"));
    assert!(
        !otp_html.contains("4938170130000003"),
        "the full card number is never shown again"
    );

    let wrong = post_form(
        &app,
        &format!("/payment/{}/otp", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("otp", "nope")],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .expect("html")
            .contains("Wrong 3-D Secure password; tries left: 2")
    );
    let right = post_form(
        &app,
        &format!("/payment/{}/otp", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("otp", "nccc1234")],
    )
    .await;
    assert_eq!(right.status(), 303);
    assert_eq!(
        right.headers()["location"],
        format!("/payment/{}/result", app.ticket(uid))
    );

    let result = get_page(&app, &format!("/payment/{}/result", app.ticket(uid)), &jar).await;
    let html = result.text().await.expect("html");
    assert!(html.contains("Payment successful"), "{html}");
    assert!(
        html.contains("content=\"3;url=https://shop.example/thanks\""),
        "redirect without parameters"
    );
    assert!(html.contains("href=\"https://shop.example/thanks\""));

    app.drain().await;
    let notice = receiver.bodies().first().cloned().expect("the notice");
    assert!(notice.contains("prc=250"));
    app.finish().await;
}

#[tokio::test]
async fn the_page_speaks_four_languages_and_defaults_to_traditional_chinese() {
    let app = spawn_app().await;
    let (uid, _) = app.sample_order("LANG-1", 10).await;
    let url = format!("{}/payment/{}.html", app.base, app.ticket(uid));
    let zh_tw = app
        .http
        .get(&url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(zh_tw.contains("確認付款"));
    assert!(zh_tw.contains("lang=\"zh-Hant-TW\""));
    for (locale, words) in [
        ("zh-CN", "确认付款"),
        ("en", "Pay now"),
        ("id", "Bayar sekarang"),
    ] {
        let html = app.page(&url, locale).await.text().await.expect("html");
        assert!(html.contains(words), "{locale}");
    }
    // The choice sticks through the cookie.
    let first = app.page(&url, "id").await;
    let jar = cookies(&first);
    let again = app
        .http
        .get(&url)
        .header("cookie", jar)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(again.contains("Bayar sekarang"));
    app.finish().await;
}

#[tokio::test]
async fn abandoning_on_the_page_fails_the_order_and_goes_to_the_failure_url() {
    let app = spawn_app().await;
    let data = sample_order_with(
        "WEB-2",
        10,
        json!({"failure_returl": "https://shop.example/sorry"}),
    );
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let page = app
        .http
        .get(format!("{}/payment/{}.html", app.base, app.ticket(uid)))
        .send()
        .await
        .expect("page");
    let jar = cookies(&page);
    let csrf = hidden_csrf(&page.text().await.expect("html"));
    let left = post_form(
        &app,
        &format!("/payment/{}/abandon", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(left.status(), 303);
    assert_eq!(app.query(uid, &key).await["prc"], "A0002");
    let html = app
        .http
        .get(format!("{}/payment/{}.html", app.base, app.ticket(uid)))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("url=https://shop.example/sorry"));
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_order_is_a_404_page() {
    let app = spawn_app().await;
    for path in [
        "/payment/999.html",
        "/payment/abc.html",
        "/payment/999/result",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    app.finish().await;
}

#[tokio::test]
async fn no_full_card_number_reaches_the_database() {
    let app = spawn_app().await;
    let (uid, _) = app.sample_order("PCI-1", 10).await;
    app.pay(uid, "4003618704777729", "0130", "987", None).await; // waits at the 3D step
    let (uid2, _) = app.sample_order("PCI-2", 10).await;
    app.pay(uid2, "5433760200078009", "1022", "597", None).await;
    // Checkpoint so the database's files hold everything, then read every byte of them
    // (the SQLite file and its journal, or the whole PostgreSQL cluster: tables, WAL).
    app.state.store.checkpoint().await.expect("checkpoint");
    let dir = match &*app.database {
        mypay_gateway::store::DatabaseUrl::Sqlite(path) => path.parent().expect("dir").to_owned(),
        mypay_gateway::store::DatabaseUrl::Postgres(_) => std::env::var("MYPAY_TEST_PGDATA")
            .expect("MYPAY_TEST_PGDATA names the cluster's directory")
            .into(),
    };
    // The masked number is stored: the files read are the ones that hold the records.
    let mut masked_seen = false;
    for path in crate::helpers::files_under(&dir) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue; // a file the server removed meanwhile (a recycled WAL segment)
        };
        let text = String::from_utf8_lossy(&bytes);
        // Only full numbers are searched: a 3-digit CVC could occur by chance in random tokens.
        for secret in ["4003618704777729", "5433760200078009"] {
            assert!(
                !text.contains(secret),
                "{secret} found in {}",
                path.display()
            );
        }
        masked_seen |= text.contains("543376******8009");
    }
    assert!(masked_seen, "the masked card number is in the files read");
    app.finish().await;
}

#[tokio::test]
async fn a_consumer_gets_a_store_code_with_barcodes_on_the_page() {
    let app = spawn_app().await;
    let (uid, key) = app.sample_order("WEB-CVS", 1200).await;
    let page = get_page(
        &app,
        &format!("/payment/{}.html?locale=zh-TW", app.ticket(uid)),
        "",
    )
    .await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(
        html.contains(
            "action=\"/payment/{uid}/issue\""
                .replace("{uid}", &app.ticket(uid))
                .as_str()
        )
    );
    assert!(html.contains("value=\"CSTORECODE\""));
    assert!(html.contains("value=\"E_COLLECTION\""));
    let csrf = hidden_csrf(&html);

    // A tool that is not pay-later is refused on this form, and nothing changes.
    let wrong = post_form(
        &app,
        &format!("/payment/{}/issue", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("pfn", "CREDITCARD")],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(app.query(uid, &key).await["prc"], "200");

    let issued = post_form(
        &app,
        &format!("/payment/{}/issue", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("pfn", "CSTORECODE")],
    )
    .await;
    assert_eq!(issued.status(), 303);
    let result = get_page(&app, &format!("/payment/{}/result", app.ticket(uid)), &jar).await;
    let html = result.text().await.expect("html");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "260");
    let content: serde_json::Value =
        serde_json::from_str(record["result_content"].as_str().expect("text")).expect("json");
    let pin = content["PinCode"].as_str().expect("pin");
    assert!(html.contains(pin), "the code is shown");
    assert!(
        html.contains("2026-11-26 23:59:59"),
        "the deadline is shown"
    );
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "no redirect while unpaid"
    );
    for n in 1..=3 {
        assert!(html.contains(&format!("/payment/{}/barcode/{n}.svg", app.ticket(uid))));
        let image = get_page(
            &app,
            &format!("/payment/{}/barcode/{n}.svg", app.ticket(uid)),
            "",
        )
        .await;
        assert_eq!(image.status(), 200);
        assert_eq!(
            image.headers()["content-type"].to_str().expect("type"),
            "image/svg+xml"
        );
        let svg = image.text().await.expect("svg");
        assert!(
            svg.starts_with("<svg") && svg.matches("<rect").count() > 40,
            "{svg}"
        );
    }
    let missing = get_page(
        &app,
        &format!("/payment/{}/barcode/4.svg", app.ticket(uid)),
        "",
    )
    .await;
    assert_eq!(missing.status(), 404);
    // Revisiting the PayPage shows the same code, not the payment form.
    let again = get_page(&app, &format!("/payment/{}.html", app.ticket(uid)), &jar).await;
    let html = again.text().await.expect("html");
    assert!(html.contains(pin));
    assert!(!html.contains("/issue\""));
    app.finish().await;
}

#[tokio::test]
async fn a_consumer_binds_and_submits_a_cardless_application_on_the_page() {
    let app = spawn_app().await;
    let mut data = sample_order_json("WEB-CL", 30000);
    data["user_data"] =
        json!({"user_real_name": "王小明", "user_sn": "A123456789", "user_address": "台北市"});
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let page = get_page(
        &app,
        &format!("/payment/{}.html?locale=en", app.ticket(uid)),
        "",
    )
    .await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("value=\"CARDLESS\""),
        "offered with user_data"
    );
    assert!(
        !html.contains("value=\"AFP\""),
        "no post-pay without shipping_info"
    );
    assert!(!html.contains("value=\"CASH\""), "no cash online");
    let csrf = hidden_csrf(&html);
    let bound = post_form(
        &app,
        &format!("/payment/{}/apply", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("pfn", "CARDLESS")],
    )
    .await;
    assert_eq!(bound.status(), 303);
    assert_eq!(app.query(uid, &key).await["prc"], "265");
    let result = get_page(&app, &format!("/payment/{}/result", app.ticket(uid)), &jar).await;
    let html = result.text().await.expect("html");
    assert!(html.contains("Submit the application"), "{html}");
    let csrf = hidden_csrf(&html);
    let submitted = post_form(
        &app,
        &format!("/payment/{}/apply", app.ticket(uid)),
        &jar,
        &[("csrf", &csrf), ("pfn", "CARDLESS")],
    )
    .await;
    assert_eq!(submitted.status(), 303);
    assert_eq!(app.query(uid, &key).await["prc"], "275");
    let html = get_page(&app, &format!("/payment/{}/result", app.ticket(uid)), &jar)
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("under review"), "{html}");
    app.finish().await;
}

#[tokio::test]
async fn in_person_the_cashier_enters_the_consumers_wallet_code() {
    let app = spawn_app().await;
    let data = sample_order_with("WEB-POS", 250, json!({"transaction_type": 2}));
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let page = get_page(
        &app,
        &format!("/payment/{}.html?locale=en", app.ticket(uid)),
        "",
    )
    .await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"LINEPAYOFF\"") && !html.contains("value=\"LINEPAYON\""));
    assert!(html.contains("name=\"wallet_code\""));
    assert!(html.contains("value=\"CASH\""), "cash in person");
    let csrf = hidden_csrf(&html);
    let path = format!("/payment/{}/wallet", app.ticket(uid));
    let bad = post_form(
        &app,
        &path,
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "LINEPAYOFF"),
            ("wallet_code", "12"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .expect("html")
            .contains("The payment code is 12 to 24 digits")
    );
    let paid = post_form(
        &app,
        &path,
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "LINEPAYOFF"),
            ("wallet_code", "281234567890123456"),
        ],
    )
    .await;
    assert_eq!(paid.status(), 303);
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["pfn"], "LINEPAYOFF");
    app.finish().await;
}

#[tokio::test]
async fn the_card_form_offers_instalment_counts_and_charges_the_chosen_one() {
    let app = spawn_app().await;
    let data = sample_order_with("WEB-INST", 1200, json!({"pfn": "C_INSTALLMENT"}));
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    let page = get_page(&app, &format!("/payment/{}.html", app.ticket(uid)), "").await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(html.contains("<select id=\"installment\" name=\"installment\">"));
    for n in ["3", "6", "12"] {
        assert!(html.contains(&format!("<option value=\"{n}\">")), "{n}");
    }
    let csrf = hidden_csrf(&html);
    let paid = post_form(
        &app,
        &format!("/payment/{}/pay", app.ticket(uid)),
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "C_INSTALLMENT"),
            ("card_number", "4111111111111111"),
            ("expiry", "1230"),
            ("cvc", "123"),
            ("installment", "6"),
        ],
    )
    .await;
    assert_eq!(paid.status(), 303);
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "250");
    assert_eq!(record["trans_type"], 2);
    let plan: serde_json::Value =
        serde_json::from_str(record["installment"].as_str().expect("text")).expect("json");
    assert_eq!(plan["period_number"], 6);
    assert_eq!(plan["every"], 200);
    app.finish().await;
}

#[tokio::test]
async fn a_consumer_binds_a_3d_card_to_a_recurring_series_on_the_page() {
    let app = spawn_app().await;
    let data = sample_order_with(
        "WEB-SUB",
        300,
        json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": "12", "regular_first_charge_date": "20270131", "success_returl": "https://shop.example/subscribed"}),
    );
    let answer = app.order(&data).await;
    let url = answer["url"].as_str().expect("url").to_owned();
    let (uid, key) = placed(&answer);
    let page = app.page(&url, "en").await;
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    // The terms above the card form, and the recurring tool as the only one.
    assert!(
        html.contains("Recurring payment: charged every period · M × 12 · 2027-01-31"),
        "{html}"
    );
    assert!(html.contains("value=\"DIRECTDEBIT\""), "{html}");
    assert!(!html.contains("value=\"CREDITCARD\""), "{html}");
    let csrf = hidden_csrf(&html);
    // A 3D card: the password step, then the card is bound (not charged).
    let sent = post_form(
        &app,
        &format!("/payment/{}/pay", app.ticket(uid)),
        &jar,
        &[
            ("csrf", &csrf),
            ("pfn", "DIRECTDEBIT"),
            ("card_number", "4938170130000003"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let otp_path = sent.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(otp_path.ends_with("/otp"), "{otp_path}");
    let otp = post_form(
        &app,
        &otp_path,
        &jar,
        &[("csrf", &csrf), ("otp", "nccc1234")],
    )
    .await;
    assert_eq!(otp.status(), 303);
    let result = get_page(
        &app,
        otp.headers()["location"].to_str().expect("location"),
        &jar,
    )
    .await
    .text()
    .await
    .expect("html");
    assert!(
        result.contains("Your card is saved; the first charge is made on its date"),
        "{result}"
    );
    assert!(
        result.contains("https://shop.example/subscribed"),
        "{result}"
    );
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "265");
    assert_eq!(record["cardno"], "493817******0003");
    // On its date the bound card is charged without its consumer.
    app.advance(70 * 86_400).await;
    let record = app.query(uid, &key).await;
    assert_eq!(
        (record["prc"].as_str(), record["nois"].as_str()),
        (Some("250"), Some("1"))
    );
    app.finish().await;
}

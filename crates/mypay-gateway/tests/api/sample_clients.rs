//! The document's own sample clients (../shared/sample-clients), unchanged but for the
//! URL, against the gateway: the proof of wire compatibility.

use crate::helpers::{placed, sample_order_with, spawn_app};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

fn samples_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sample-clients");
    assert!(
        root.join("run.sh").exists(),
        "the sample clients are expected at {}",
        root.display()
    );
    root
}

/// Run `apis` in every language; one parsed answer per (language, api).
async fn run(base: &str, apis: &str, env: &[(&str, String)]) -> Vec<(String, String, Value)> {
    run_in(base, "python node php", apis, env).await
}

/// Run `apis` in `langs`; one parsed answer per (language, api).
pub(crate) async fn run_in(
    base: &str,
    langs: &str,
    apis: &str,
    env: &[(&str, String)],
) -> Vec<(String, String, Value)> {
    let mut cmd = Command::new("bash");
    cmd.arg(samples_dir().join("run.sh"))
        .arg(base)
        .env("LANGS", langs)
        .env("APIS", apis);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run.sh runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut out = Vec::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).expect("run.sh prints JSON lines");
        assert_eq!(row["exit"], 0, "{row}");
        let answer: Value = serde_json::from_str(row["stdout"].as_str().expect("stdout").trim())
            .unwrap_or_else(|e| {
                panic!(
                    "{} {}: not JSON ({e}): {}",
                    row["lang"], row["api"], row["stdout"]
                )
            });
        out.push((
            row["lang"].as_str().unwrap_or("").to_owned(),
            row["api"].as_str().unwrap_or("").to_owned(),
            answer,
        ));
    }
    assert_eq!(
        out.len(),
        langs.split_whitespace().count() * apis.split_whitespace().count(),
        "every language ran every api: {text}"
    );
    out
}

#[tokio::test]
async fn the_documents_sample_clients_create_query_and_list_in_three_languages() {
    let app = spawn_app().await;
    let results = run(&app.base, "orders paymentsupportpaymode", &[]).await;
    let mut uids = Vec::new();
    for (lang, api, answer) in &results {
        match api.as_str() {
            "orders" => {
                assert_eq!(answer["code"], "200", "{lang}: {answer}");
                assert!(answer["url"].as_str().expect("url").contains("/payment/"));
                uids.push((
                    answer["uid"].as_u64().expect("uid"),
                    answer["key"].as_str().expect("key").to_owned(),
                ));
            }
            "paymentsupportpaymode" => {
                assert_eq!(answer["code"], "B200", "{lang}: {answer}");
                let content: Vec<&str> = answer["content"]
                    .as_array()
                    .expect("content")
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect();
                assert!(
                    content.contains(&"CREDITCARD") && content.contains(&"CSTORECODE"),
                    "{lang}: {answer}"
                );
            }
            _ => unreachable!(),
        }
    }
    // Python and Node.js send the identical order: a safe retry gives the same transaction.
    assert_eq!(uids[0], uids[1]);

    // Pay one, then each language's query sample reads it.
    let (uid, key) = uids[2].clone();
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let env = [
        ("MYPAY_UID", uid.to_string()),
        ("MYPAY_KEY_TOKEN", key.clone()),
    ];
    for (lang, _, record) in run(&app.base, "queryorder", &env).await {
        assert_eq!(record["uid"], uid, "{lang}: {record}");
        assert_eq!(record["key"], key);
        assert_eq!(record["prc"], "250");
        assert_eq!(record["cardno"], "405865******5507");
        assert_eq!(record["items"][0]["name"], "商品名稱");
    }
    // The documented example uid/key belong to no order here: a clean refusal.
    for (lang, _, record) in run(&app.base, "queryorder", &[]).await {
        assert_eq!(record["code"], "100", "{lang}: {record}");
    }
    app.finish().await;
}

const LANGS: [&str; 3] = ["python", "node", "php"];

fn order_env(uid: u64, key: &str) -> [(&'static str, String); 2] {
    [
        ("MYPAY_UID", uid.to_string()),
        ("MYPAY_KEY_TOKEN", key.to_owned()),
    ]
}

#[tokio::test]
async fn the_documents_samples_capture_and_cancel_authorisations_in_three_languages() {
    let app = spawn_app().await;
    for (i, lang) in LANGS.into_iter().enumerate() {
        // The capture sample captures 9 of an item named 商品名稱, as ordered for 10.
        let (uid, key) = app.card_order(&format!("S-CAP-{i}"), 10, true).await;
        let env = order_env(uid, &key);
        let answers = run_in(&app.base, lang, "authorizedrequestpayment", &env).await;
        let answer = &answers[0].2;
        assert_eq!(answer["code"], "B200", "{lang}: {answer}");
        assert_eq!(answer["content"]["prc"], "250", "{lang}: {answer}");
        assert_eq!(answer["content"]["actual_cost"], 9, "{lang}: {answer}");
        // The same sample again: captured once only.
        let again = run_in(&app.base, lang, "authorizedrequestpayment", &env).await;
        assert_eq!(again[0].2["code"], "B500", "{lang}: {}", again[0].2);

        let (uid, key) = app.card_order(&format!("S-CANCEL-{i}"), 10, true).await;
        let answers = run_in(
            &app.base,
            lang,
            "cancelauthorization",
            &order_env(uid, &key),
        )
        .await;
        let answer = &answers[0].2;
        assert_eq!(answer["code"], "B200", "{lang}: {answer}");
        assert_eq!(answer["msg"], "執行成功,取消授權完成");
        assert_eq!(answer["content"]["prc"], "300", "{lang}: {answer}");
        assert_eq!(answer["content"]["cancel_order"][0]["prc"], "220");
    }
    // The document's own uid/key name no order here: a refusal, not an error.
    for (lang, _, answer) in run(
        &app.base,
        "authorizedrequestpayment cancelauthorization",
        &[],
    )
    .await
    {
        assert_eq!(answer["code"], "B500", "{lang}: {answer}");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_documents_samples_refund_and_cancel_refunds_in_three_languages() {
    let app = spawn_app().await;
    // The refund sample refunds 100 of an item named 倚天劍模型 with an allowance
    // (invoice_state 6): three languages, three refunds of an order of 300.
    let data = json!({
        "items": [{"id": "1", "name": "倚天劍模型", "cost": "100", "amount": "3", "total": "300"}],
        "cost": "300", "user_id": "phper", "order_id": "S-REFUND", "ip": "127.0.0.1", "pfn": "0",
    });
    let answer = app.order(&data).await;
    let (uid, key) = placed(&answer);
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let env = order_env(uid, &key);
    let mut refund_uids = Vec::new();
    for (lang, _, answer) in run(&app.base, "refund", &env).await {
        assert_eq!(answer["code"], "B200", "{lang}: {answer}");
        assert_eq!(answer["row_data"]["prc"], "230", "{lang}: {answer}");
        assert_eq!(answer["row_data"]["cost"], 100, "{lang}: {answer}");
        refund_uids.push(answer["row_data"]["refund_uid"].clone());
    }
    refund_uids.dedup();
    assert_eq!(refund_uids.len(), 3, "three different refunds");
    // Nothing is left to refund.
    for (lang, _, answer) in run_in(&app.base, "php", "refund", &env).await {
        assert_eq!(answer["code"], "B500", "{lang}: {answer}");
    }
    // Card refunds complete at once, so there is nothing queued to cancel: the document's
    // own refusal, in every language.
    for (lang, _, answer) in run(&app.base, "refundcancel", &env).await {
        assert_eq!(answer["code"], "B500", "{lang}: {answer}");
        assert_eq!(
            answer["msg"], "無法取消此筆退款,原因為目前此筆狀態不是申請中。",
            "{lang}"
        );
        assert_eq!(answer["uid"], uid.to_string());
    }
    // A store-code payment refunds at the nightly batch: until then each language's
    // refundcancel sample cancels the queued refund.
    for (i, lang) in LANGS.into_iter().enumerate() {
        let (uid, key) = app.sample_order(&format!("S-CVS-{i}"), 500).await;
        app.pay_at_a_store(uid).await;
        assert_eq!(app.refund(uid, &key, 200).await["code"], "B200");
        let answers = run_in(&app.base, lang, "refundcancel", &order_env(uid, &key)).await;
        let answer = &answers[0].2;
        assert_eq!(answer["code"], "B200", "{lang}: {answer}");
        assert_eq!(app.query(uid, &key).await["refund_order"][0]["prc"], "220");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_documents_disabledirectdebit_samples_get_the_documents_answer_in_three_languages() {
    let app = spawn_app().await;
    // The samples stop on 2018-09-20, long before the gateway's today: the document's
    // recorded answer, for its own ids and for a real series' alike.
    for (lang, _, answer) in run(&app.base, "disabledirectdebit", &[]).await {
        assert_eq!(
            answer,
            json!({"code": "B500", "msg": "停扣日必須大於今日",
                   "order_id": "F3DCB0AD-23F3-4721-BBBA-FAC8CDDB9E5F", "group_id": "D0000000520"}),
            "{lang}"
        );
    }
    let order = sample_order_with(
        "S-DD-1",
        100,
        json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": "6"}),
    );
    let created = app.order(&order).await;
    let (uid, key) = placed(&created);
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let group_id = app.query(uid, &key).await["group_id"]
        .as_str()
        .expect("group_id")
        .to_owned();
    let env = [
        ("MYPAY_ORDER_ID", "S-DD-1".to_owned()),
        ("MYPAY_GROUP_ID", group_id.clone()),
    ];
    for (lang, _, answer) in run(&app.base, "disabledirectdebit", &env).await {
        assert_eq!(
            answer,
            json!({"code": "B500", "msg": "停扣日必須大於今日", "order_id": "S-DD-1", "group_id": group_id}),
            "{lang}"
        );
    }
    // Nothing was stopped: the next period is charged, a transaction of its own.
    app.advance(31 * 86_400).await;
    let uids = app
        .state
        .store
        .order_uids(mypay_gateway::ledger::merchant::SAMPLE_STORE_UID, "S-DD-1")
        .await
        .expect("uids");
    assert_eq!(uids.len(), 2, "{uids:?}");
    app.finish().await;
}

#[tokio::test]
async fn the_documents_ewalletbind_samples_get_a_bind_page_in_three_languages() {
    let app = spawn_app().await;
    // Python and PHP send the store form; the document's Node.js sample is the dealer's
    // (the sample dealer, on /api/agent), and its store form is derived from it.
    let mut answers = run(&app.base, "ewalletbind", &[]).await;
    answers.extend(run_in(&app.base, "node", "ewalletbind_store_derived", &[]).await);
    assert_eq!(answers.len(), 4);
    for (lang, api, answer) in answers {
        assert_eq!(answer["code"], "B200", "{lang} {api}: {answer}");
        let url = answer["url"].as_str().expect("url");
        assert!(
            url.starts_with(&format!("{}/ewallet/", app.base)),
            "{lang}: {url}"
        );
        // The page opens, in the consumer's language.
        let page = app.http.get(url).send().await.expect("page");
        assert_eq!(page.status(), 200, "{lang}");
        assert!(page.text().await.expect("html").contains("綁定信用卡"));
    }
    app.finish().await;
}

#[tokio::test]
async fn the_documents_invoice_samples_issue_and_query_in_three_languages() {
    let app = spawn_app().await;
    app.state
        .store
        .add_invoice_track(&mypay_gateway::store::InvoiceTrack {
            store_uid: mypay_gateway::ledger::merchant::SAMPLE_STORE_UID.into(),
            period: "11512".into(),
            track: "JH".into(),
            first_number: 242,
            last_number: 999,
            next_number: 242,
        })
        .await
        .expect("track");
    let mut numbers = Vec::new();
    for (i, lang) in LANGS.into_iter().enumerate() {
        // Paid without an invoice; the sample issues one to the mobile barcode /NFVIAZP.
        let order = sample_order_with(&format!("S-INV-{i}"), 10, json!({"issue_invoice_state": 0}));
        let answer = app.order(&order).await;
        let (uid, key) = placed(&answer);
        app.pay(uid, "4058650600065507", "1022", "395", None).await;
        let env = order_env(uid, &key);
        let issued = &run_in(&app.base, lang, "issueinvoice", &env).await[0].2;
        assert_eq!(issued["code"], "B200", "{lang}: {issued}");
        assert_eq!(issued["state"], 2, "{lang}: {issued}");
        assert_eq!(issued["wordtrack"], "JH");
        let number = issued["number"].as_str().expect("number").to_owned();
        let queried = &run_in(&app.base, lang, "invoice", &env).await[0].2;
        assert_eq!(queried["state"], 2, "{lang}: {queried}");
        assert_eq!(queried["number"], number.as_str(), "{lang}");
        assert_eq!(queried["mobile_code"], "/NFVIAZP", "{lang}");
        assert_eq!(queried["left_qrcode"], issued["left_qrcode"], "{lang}");
        // Issued once: the sample again is refused.
        let again = &run_in(&app.base, lang, "issueinvoice", &env).await[0].2;
        assert_eq!(again["code"], "B500", "{lang}: {again}");
        numbers.push(number);
    }
    assert_eq!(numbers, ["00000242", "00000243", "00000244"]);
    // The document's own uid/key name no order here: a refusal, not an error.
    for (lang, _, answer) in run(&app.base, "issueinvoice invoice", &[]).await {
        assert!(
            answer["msg"].as_str().unwrap_or("").starts_with("uid/key"),
            "{lang}: {answer}"
        );
    }
    app.finish().await;
}

/// SPEC §3: in the sandbox the document's published keys never expire, whatever the
/// clocks do. Two years and more on, every sample of the document, in every language,
/// is still opened with them: no answer says the merchant (or the dealer) has no valid
/// key.
#[tokio::test]
async fn every_sample_still_works_with_the_published_keys_after_800_days() {
    let app = spawn_app().await;
    app.advance(800 * 86_400).await;
    let apis = [
        "orders",
        "queryorder",
        "refund",
        "cancelauthorization",
        "authorizedrequestpayment",
        "disabledirectdebit",
        "ewalletbind",
        "refundcancel",
        "issueinvoice",
        "invoice",
        "paymentsupportpaymode",
    ];
    let mut answers = run(&app.base, &apis.join(" "), &[]).await;
    answers.extend(run_in(&app.base, "node", "ewalletbind_store_derived", &[]).await);
    assert_eq!(answers.len(), 3 * 11 + 1);
    for (lang, api, answer) in &answers {
        let msg = answer
            .as_array()
            .and_then(|rows| rows.first())
            .unwrap_or(answer)["msg"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            !msg.contains("valid key")
                && !msg.starts_with("service")
                && !msg.starts_with("encry_data"),
            "{lang} {api}: {answer}"
        );
    }
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(_, api, _)| api == "orders")
        .map(|(_, _, a)| a)
        .collect();
    assert_eq!(created.len(), 3);
    for answer in created {
        assert_eq!(answer["code"], "200", "{answer}");
    }
    app.finish().await;
}

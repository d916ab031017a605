//! What an operator runs and relies on: merchants and keys from the command line,
//! production that takes no money it cannot take, a test clock that survives restarts,
//! notices that reach only public hosts, and card payments that ask the acquirer once.

use crate::helpers::{
    Receiver, Reply, assert_mentions, fresh_database, gateway_command, join_all, sample_order_json,
    sample_order_with, spawn_app_with, spawn_app_with_acquirer, start_gateway, start_time,
};
use mypay_client::Client;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::Mode;
use mypay_gateway::ledger::connector::{Answering, CardAcquirer, CardCharge};
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use mypay_gateway::ledger::notify_url::NotifyHosts;
use mypay_gateway::sandbox::cards::TestCardAcquirer;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn credentials(out: &str) -> (String, String) {
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    (
        v["store_uid"].as_str().expect("store_uid").to_owned(),
        v["key"].as_str().expect("key").to_owned(),
    )
}

async fn can_order(base: &str, store_uid: &str, key: &str, order_id: &str) -> bool {
    let client = Client::new(&format!("{base}/api/init"), store_uid, key).expect("client");
    let order = sample_order_with(order_id, 100, json!({"store_uid": store_uid}));
    let order = serde_json::from_value(order).expect("order");
    client.create_order(&order).await.is_ok()
}

#[tokio::test]
async fn merchants_are_created_listed_and_their_keys_rotated_from_the_command_line() {
    let db = fresh_database();
    let (ok, out, err) =
        gateway_command(&db, &["merchant", "create", "--name", "Shop A", "--json"]);
    assert!(ok, "{err}");
    let (uid, key) = credentials(&out);
    assert_eq!(uid.len(), 12, "{uid}");
    assert!(uid.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(key.len(), 32);
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
    let (ok, out, _) = gateway_command(&db, &["merchant", "create"]);
    assert!(ok);
    assert!(out.contains("store_uid ") && out.contains("key "), "{out}");
    assert!(!out.contains(&key), "another key");

    let (ok, out, _) = gateway_command(&db, &["merchant", "list", "--json"]);
    assert!(ok);
    let listed: Vec<Value> = serde_json::from_str(&out).expect("json list");
    let uids: HashSet<&str> = listed
        .iter()
        .filter_map(|m| m["store_uid"].as_str())
        .collect();
    assert!(
        uids.contains(uid.as_str()) && uids.contains(SAMPLE_STORE_UID),
        "{out}"
    );
    assert_eq!(listed.len(), 3);
    assert!(!out.contains(&key), "list never shows keys");

    let (mut gateway, base) = start_gateway(&db);
    assert!(can_order(&base, &uid, &key, "CLI-1").await);

    // A new key; the old one keeps working for the overlap.
    let (ok, out, err) = gateway_command(&db, &["merchant", "rotate-key", &uid, "--json"]);
    assert!(ok, "{err}");
    let (_, second) = credentials(&out);
    assert_ne!(second, key);
    assert!(can_order(&base, &uid, &second, "CLI-2").await);
    assert!(can_order(&base, &uid, &key, "CLI-3").await, "the overlap");

    // Revoking: only the newest key works, at once.
    let (ok, out, _) = gateway_command(
        &db,
        &["merchant", "rotate-key", &uid, "--revoke-old", "--json"],
    );
    assert!(ok);
    let (_, third) = credentials(&out);
    assert!(can_order(&base, &uid, &third, "CLI-4").await);
    assert!(!can_order(&base, &uid, &second, "CLI-5").await);
    assert!(!can_order(&base, &uid, &key, "CLI-6").await);
    let (ok, _, err) = gateway_command(&db, &["merchant", "rotate-key", "000000000000"]);
    assert!(!ok && err.contains("no merchant"), "{err}");
    gateway.kill().expect("kill");
    let _ = gateway.wait();
}

#[tokio::test]
async fn production_refuses_to_start_without_upstreams_and_has_no_sample_merchant() {
    let db = fresh_database();
    let (ok, _, err) = gateway_command(&db, &["--mode", "production", "--listen", "127.0.0.1:0"]);
    assert!(!ok, "production must not start");
    assert!(err.contains("--upstreams"), "it says why: {err}");
    let (ok, out, err) =
        gateway_command(&db, &["--mode", "production", "merchant", "list", "--json"]);
    assert!(ok, "{err}");
    assert!(!out.contains(SAMPLE_STORE_UID), "{out}");

    // With a connector it runs, without the sample merchant or the sandbox.
    let app = spawn_app_with_acquirer(
        db,
        Clock::system(),
        |s| s.mode = Mode::Production,
        Some(Arc::new(TestCardAcquirer)),
    )
    .await;
    let answer = app.order(&sample_order_json("PROD-1", 100)).await;
    assert_mentions(&answer, "100", "store_uid");
    let sandbox = app.get("/sandbox/clock").await;
    assert_eq!(sandbox.status(), 404);
    app.finish().await;
}

/// A production merchant made by the command line offers no payment tool until its
/// operator enables one; and the sandbox's "the consumer confirmed in the wallet app" is
/// no route of production at all: a consumer cannot pay by saying so.
#[tokio::test]
async fn production_merchants_start_with_no_tool_and_no_wallet_is_paid_on_a_consumers_word() {
    let db = fresh_database();
    let production = |args: &[&str]| {
        let mut full = vec!["--mode", "production"];
        full.extend_from_slice(args);
        let (ok, out, err) = gateway_command(&db, &full);
        assert!(ok, "{args:?}: {err}");
        out
    };
    let (store_uid, key) = credentials(&production(&["merchant", "create", "--json"]));
    let shown: Value =
        serde_json::from_str(&production(&["merchant", "show", &store_uid])).expect("json");
    assert_eq!(shown["settings"]["tools"], json!([]), "{shown}");

    let app = spawn_app_with_acquirer(
        db.clone(),
        Clock::system(),
        |s| s.mode = Mode::Production,
        Some(Arc::new(TestCardAcquirer)),
    )
    .await;
    let merchant =
        Client::new(&format!("{}/api/init", app.base), &store_uid, &key).expect("client");
    let tools = merchant.payment_modes(1000, "TWD").await.expect("modes");
    assert!(tools.is_empty(), "no tool until one is enabled: {tools:?}");
    let mut order = sample_order_with("PROD-NONE", 1000, json!({"store_uid": store_uid}));
    let refused = app.api_as(&store_uid, &key, "api/orders", &order).await;
    assert_eq!(refused["code"], "100", "{refused}");

    production(&[
        "merchant",
        "set",
        &store_uid,
        "--tools",
        "CREDITCARD,LINEPAYON",
    ]);
    let tools = merchant.payment_modes(1000, "TWD").await.expect("modes");
    assert_eq!(tools, ["CREDITCARD", "LINEPAYON"]);
    order["pfn"] = json!("LINEPAYON");
    let answer = app.api_as(&store_uid, &key, "api/orders", &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");

    // The wallet's page shows its QR code, and no buttons that would answer for the app.
    let ticket = app.ticket(uid);
    let page =
        crate::helpers::get_page(&app, &format!("/payment/{ticket}/wallet/LINEPAYON"), "").await;
    assert_eq!(page.status(), 200);
    let jar = crate::helpers::cookies(&page);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("<svg") && !html.contains("decision"),
        "{html}"
    );
    // The sandbox's form, posted anyway with a valid CSRF token (the checkout page's).
    let checkout = crate::helpers::get_page(&app, &format!("/payment/{ticket}.html"), &jar).await;
    let csrf = crate::helpers::hidden_csrf(&checkout.text().await.expect("html"));
    let confirmed = crate::helpers::post_form(
        &app,
        &format!("/payment/{ticket}/wallet/LINEPAYON/answer"),
        &jar,
        &[("csrf", &csrf), ("decision", "approve")],
    )
    .await;
    assert_eq!(confirmed.status(), 404, "no such route in production");
    let record = app
        .api_as(
            &store_uid,
            &key,
            "api/queryorder",
            &json!({"uid": uid.to_string(), "key": answer["key"]}),
        )
        .await;
    assert_eq!(record["prc"], "200", "nothing changed: {record}");
    app.finish().await;
}

#[tokio::test]
async fn the_command_line_refuses_unsafe_return_and_notify_urls() {
    let db = fresh_database();
    for (flag, url) in [
        ("--success-returl", "javascript:alert(document.cookie)"),
        (
            "--failure-returl",
            "data:text/html,<script>alert(1)</script>",
        ),
    ] {
        let (ok, _, err) = gateway_command(&db, &["merchant", "set", SAMPLE_STORE_UID, flag, url]);
        assert!(!ok, "{flag} {url}");
        assert!(err.contains(flag), "{err}");
    }
    for literal in [
        "http://2130706433/n",
        "http://0x7f.1/n",
        "http://[::ffff:10.0.0.1]/n",
    ] {
        let set = ["merchant", "set", SAMPLE_STORE_UID, "--notify-url", literal];
        let (ok, _, err) =
            gateway_command(&db, &[&["--notify-hosts", "public"], &set[..]].concat());
        assert!(!ok, "{literal}");
        assert!(err.contains("public"), "{err}");
    }
    // A name is judged where it is resolved, at delivery.
    let (ok, out, err) = gateway_command(
        &db,
        &[
            "--notify-hosts",
            "public",
            "merchant",
            "set",
            SAMPLE_STORE_UID,
            "--notify-url",
            "http://shop.example/notify",
            "--success-returl",
            "https://shop.example/ok",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("https://shop.example/ok"));
    let (ok, out, _) = gateway_command(&db, &["merchant", "show", SAMPLE_STORE_UID]);
    assert!(ok && !out.contains("javascript"), "{out}");
}

#[tokio::test]
async fn the_test_clock_survives_a_restart_and_never_moves_back() {
    let db = fresh_database();
    let app = spawn_app_with(db.clone(), Clock::frozen(start_time()), |_| {}).await;
    app.advance(2100).await;
    let before = app.state.clocks.shared().now();
    app.stop().await;

    let again = spawn_app_with(db.clone(), Clock::frozen(start_time()), |_| {}).await;
    let clock: Value = again
        .get("/sandbox/clock")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(clock["offset_seconds"], 2100, "{clock}");
    assert_eq!(again.state.clocks.shared().now(), before);
    again.advance(60).await;
    again.stop().await;

    // A real-time test clock, restarted: never earlier than it last showed.
    let live = spawn_app_with(db, Clock::test(), |_| {}).await;
    assert!(live.state.clocks.shared().now() >= before + jiff::SignedDuration::from_secs(60));
}

#[tokio::test]
async fn with_public_notify_hosts_no_spelling_or_name_of_loopback_is_reached() {
    let app = spawn_app_with(fresh_database(), Clock::frozen(start_time()), |s| {
        s.notify_hosts = Some(NotifyHosts::Public);
    })
    .await;
    let receiver = Receiver::start(vec![Reply::Ack]).await;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches("/notify")
        .to_owned();
    let spellings = [
        format!("http://localhost:{port}/notify"),
        format!("http://localhost.:{port}/notify"),
        format!("http://127.0.0.1:{port}/notify"),
        format!("http://2130706433:{port}/notify"),
        format!("http://0x7f000001:{port}/notify"),
        format!("http://0177.0.0.1:{port}/notify"),
        format!("http://127.1:{port}/notify"),
        format!("http://127.0.0.1.:{port}/notify"),
        format!("http://[::ffff:127.0.0.1]:{port}/notify"),
        format!("http://[::1]:{port}/notify"),
        format!("http://127.0.0.1:{port}\\@shop.example/notify"),
    ];
    for (i, url) in spellings.iter().enumerate() {
        app.set_notify_url(url).await;
        let (uid, _) = app.card_order(&format!("SSRF-{i}"), 100, false).await;
        app.drain().await;
        let notice = {
            let n = app.notice(uid, "completed").await;
            (n["attempt_log"].as_array().is_some_and(|l| !l.is_empty())).then_some(n)
        }
        .expect("an attempt");
        let attempt = &notice["attempt_log"][0];
        assert_eq!(attempt["outcome"], "failed", "{url}: {notice}");
    }
    assert_eq!(receiver.count(), 0, "no notice reached loopback");
    app.finish().await;
}

/// An acquirer that counts its calls and takes a while to answer.
struct CountingAcquirer {
    calls: AtomicUsize,
    attempts: Mutex<Vec<String>>,
}

impl CardAcquirer for CountingAcquirer {
    fn charge<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.attempts
                .lock()
                .expect("lock")
                .push(charge.attempt.to_owned());
            tokio::time::sleep(Duration::from_millis(150)).await;
            TestCardAcquirer.answer(charge)
        })
    }

    fn verify<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        TestCardAcquirer.verify(charge)
    }

    fn store_card<'a>(
        &'a self,
        card: &'a mypay_gateway::ledger::card::CardInput,
    ) -> mypay_gateway::ledger::connector::Keeping<'a> {
        TestCardAcquirer.store_card(card)
    }

    fn status<'a>(&'a self, reference: &'a str) -> mypay_gateway::ledger::connector::Resolving<'a> {
        TestCardAcquirer.status(reference)
    }

    fn charge_stored<'a>(
        &'a self,
        charge: &'a mypay_gateway::ledger::connector::StoredCardCharge<'a>,
    ) -> Answering<'a> {
        TestCardAcquirer.charge_stored(charge)
    }

    fn approval_code(&self, uid: u64) -> String {
        TestCardAcquirer.approval_code(uid)
    }
}

async fn app_with_counting_acquirer() -> (crate::helpers::TestApp, Arc<CountingAcquirer>) {
    let acquirer = Arc::new(CountingAcquirer {
        calls: AtomicUsize::new(0),
        attempts: Mutex::default(),
    });
    let app = spawn_app_with_acquirer(
        fresh_database(),
        Clock::frozen(start_time()),
        |_| {},
        Some(acquirer.clone()),
    )
    .await;
    (app, acquirer)
}

#[tokio::test]
async fn racing_card_submissions_reach_the_acquirer_once() {
    let (app, acquirer) = app_with_counting_acquirer().await;
    let receiver = app.receiver().await;
    let (uid, key) = app.sample_order("ONCE-1", 100).await;
    let body = json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"});
    let path = format!("/sandbox/orders/{uid}/pay");
    let answers = join_all((0..6).map(|_| app.sandbox(&path, body.clone())).collect()).await;
    assert_eq!(acquirer.calls.load(Ordering::SeqCst), 1, "{answers:?}");
    let paid = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(paid, 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{answers:?}"
    );
    let attempt = acquirer.attempts.lock().expect("lock")[0].clone();
    assert_eq!(attempt.len(), 32, "an idempotency key of the attempt");
    assert_eq!(app.query(uid, &key).await["prc"], "250");
    app.drain().await;
    assert_eq!(receiver.count(), 1, "one notice");
    // A later submission finds the order paid and asks nobody.
    let (status, _) = app.sandbox(&path, body).await;
    assert_eq!(status, 409);
    assert_eq!(acquirer.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_paypage_submission_while_the_first_is_with_the_acquirer_is_told_so() {
    let (app, acquirer) = app_with_counting_acquirer().await;
    let answer = app.order(&sample_order_json("ONCE-2", 100)).await;
    let uid = answer["uid"].as_u64().expect("uid");
    let page = app.page(answer["url"].as_str().expect("url"), "en").await;
    let jar: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let html = page.text().await.expect("html");
    let at = html.find("name=\"csrf\" value=\"").expect("csrf") + 19;
    let csrf = html[at..at + html[at..].find('"').expect("end")].to_owned();
    let path = format!("{}/payment/{}/pay", app.base, app.ticket(uid));
    let body = crate::helpers::form(&[
        ("csrf", &csrf),
        ("card_number", "4058650600065507"),
        ("expiry", "1022"),
        ("cvc", "395"),
    ]);
    let submit = || {
        app.http
            .post(&path)
            .header("cookie", jar.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    let answers = join_all(vec![submit(), submit()]).await;
    let mut statuses = Vec::new();
    let mut texts = Vec::new();
    for a in answers {
        let a = a.expect("answer");
        statuses.push(a.status().as_u16());
        texts.push(a.text().await.expect("text"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 422], "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("being processed")),
        "{texts:?}"
    );
    assert_eq!(acquirer.calls.load(Ordering::SeqCst), 1);
}

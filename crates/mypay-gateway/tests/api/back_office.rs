//! The back office's API as operators use it: keys that live as MYPAY's on the test
//! clock, dealers acting for exactly their merchants, client-mode codes, and every write
//! refused to viewers and to callers without a token.

use crate::admin::{admin_app, admin_app_on, call, get, post, token};
use crate::helpers::*;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use reqwest::Method;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

async fn new_merchant(app: &TestApp, operator: &str, name: &str) -> (String, String) {
    let (status, body) = post(
        app,
        "/admin/api/v1/merchants",
        operator,
        json!({"name": name}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["store_uid"].as_str().expect("store_uid").to_owned(),
        body["key"].as_str().expect("key").to_owned(),
    )
}

async fn advance(app: &TestApp, operator: &str, days: i64) {
    let (status, body) = post(
        app,
        "/admin/api/v1/clock/advance",
        operator,
        json!({"seconds": days * DAY}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn mails_to(app: &TestApp, operator: &str, to: &str) -> Vec<Value> {
    let (status, body) = get(app, "/admin/api/v1/emails", Some(operator)).await;
    assert_eq!(status, 200, "{body}");
    let mut mails: Vec<Value> = body["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .filter(|m| m["to"] == to)
        .cloned()
        .collect();
    mails.reverse(); // oldest first
    mails
}

async fn order_works(app: &TestApp, store_uid: &str, key: &str, order_id: &str) -> bool {
    let order = sample_order_with(order_id, 100, json!({"store_uid": store_uid}));
    let answer = app.api_as(store_uid, key, "api/orders", &order).await;
    answer["code"] == "200"
}

async fn keys(app: &TestApp, token: &str, store_uid: &str) -> Vec<Value> {
    let (status, body) = get(
        app,
        &format!("/admin/api/v1/merchants/{store_uid}/keys"),
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["keys"][0].get("key").is_none(), "never a key: {body}");
    body["keys"].as_array().expect("keys").clone()
}

/// SPEC §3 on the merchant's clock: reminders 60, 30 and 20 days before the end; an
/// extension while more than 7 days remain; 7 days before, a successor e-mailed, both
/// keys valid until the old one ends, the old one refused after. The sandbox's published
/// key never ends.
#[tokio::test]
async fn keys_remind_extend_and_renew_as_mypay_s_do() {
    let app = admin_app().await;
    let op = token(&app, "ops", "operator");
    let (renewed, renewed_key) = new_merchant(&app, &op, "Renewed").await;
    let (extended, extended_key) = new_merchant(&app, &op, "Extended").await;
    for (store_uid, mail) in [
        (&renewed, "keys@renewed.example"),
        (&extended, "keys@extended.example"),
    ] {
        let (status, body) = call(
            &app,
            Method::PATCH,
            &format!("/admin/api/v1/merchants/{store_uid}"),
            Some(&op),
            Some(json!({"contact_email": mail})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["settings"]["contact_email"], mail);
    }
    let first = keys(&app, &op, &renewed).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["state"], "valid");
    let old_id = first[0]["id"].as_i64().expect("id");

    // 305 days on: 60 days left, the first reminder; then 30 and 20.
    advance(&app, &op, 305).await;
    let mails = mails_to(&app, &op, "keys@renewed.example").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0]["subject"]
            .as_str()
            .expect("subject")
            .contains("60 days"),
        "{mails:?}"
    );
    advance(&app, &op, 1).await;
    assert_eq!(
        mails_to(&app, &op, "keys@renewed.example").await.len(),
        1,
        "once"
    );
    advance(&app, &op, 29).await;
    advance(&app, &op, 10).await;
    let mails = mails_to(&app, &op, "keys@renewed.example").await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(mails[1]["subject"].as_str().expect("s").contains("30 days"));
    assert!(mails[2]["subject"].as_str().expect("s").contains("20 days"));

    // 8 days left: an extension is still allowed.
    advance(&app, &op, 12).await;
    let ext_id = keys(&app, &op, &extended).await[0]["id"]
        .as_i64()
        .expect("id");
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{extended}/keys/{ext_id}/extend"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let until: jiff::Timestamp = body["key"]["valid_until"]
        .as_str()
        .expect("until")
        .parse()
        .expect("time");
    assert_eq!(
        until,
        start_time() + jiff::SignedDuration::from_hours(24 * 730)
    );

    // 7 days left: the successor is made and e-mailed; the extension is refused.
    advance(&app, &op, 1).await;
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{renewed}/keys/{old_id}/extend"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().expect("error").contains("7 days"),
        "{body}"
    );
    let mails = mails_to(&app, &op, "keys@renewed.example").await;
    assert_eq!(mails.len(), 4, "{mails:?}");
    let text = mails[3]["body"].as_str().expect("body");
    let new_key = text
        .lines()
        .find_map(|l| l.strip_prefix("New key: "))
        .expect("the new key in the e-mail")
        .trim()
        .to_owned();
    assert_eq!(new_key.len(), 32);
    assert_eq!(keys(&app, &op, &renewed).await.len(), 2);
    assert!(order_works(&app, &renewed, &renewed_key, "OLD-KEY-1").await);
    assert!(order_works(&app, &renewed, &new_key, "NEW-KEY-1").await);
    // The extended merchant got no successor: its key has a year left.
    assert_eq!(mails_to(&app, &op, "keys@extended.example").await.len(), 3);

    // Past the old key's end: refused; the new one and the extended one work.
    advance(&app, &op, 7).await;
    assert!(!order_works(&app, &renewed, &renewed_key, "OLD-KEY-2").await);
    assert!(order_works(&app, &renewed, &new_key, "NEW-KEY-2").await);
    assert!(order_works(&app, &extended, &extended_key, "EXT-KEY-1").await);
    let listed = keys(&app, &op, &renewed).await;
    assert!(
        listed
            .iter()
            .any(|k| k["id"] == old_id && k["state"] == "ended"),
        "{listed:?}"
    );

    // More than a year on, the published sample key still works.
    assert!(
        order_works(
            &app,
            SAMPLE_STORE_UID,
            SAMPLE_STORE_KEY,
            "SAMPLE-AFTER-A-YEAR"
        )
        .await
    );
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}/keys/rotate"),
        &op,
        json!({"revoke_old": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["key"].as_str().expect("key").len(), 32);
    app.finish().await;
}

/// Revoking a key ends it at once; the command line extends a merchant's newest key.
#[tokio::test]
async fn keys_are_revoked_at_once_and_extended_from_the_command_line() {
    let app = admin_app().await;
    let op = token(&app, "ops", "operator");
    let (store_uid, key) = new_merchant(&app, &op, "Revoked").await;
    let (status, rotated) = post(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/keys/rotate"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{rotated}");
    let new_key = rotated["key"].as_str().expect("key").to_owned();
    assert!(
        order_works(&app, &store_uid, &key, "BOTH-1").await,
        "the overlap"
    );
    let old_id = keys(&app, &op, &store_uid).await[1]["id"]
        .as_i64()
        .expect("id");
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/keys/{old_id}/revoke"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !order_works(&app, &store_uid, &key, "OLD-2").await,
        "revoked at once"
    );
    assert!(order_works(&app, &store_uid, &new_key, "NEW-2").await);
    let (status, _) = post(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/keys/{old_id}/revoke"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "already ended");
    let (status, _) = post(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/keys/999999/extend"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);

    let (ok, out, err) = gateway_command(&app.database, &["merchant", "extend-key", &store_uid]);
    assert!(ok, "{err}");
    assert!(out.contains("now valid until"), "{out}");
    let (ok, _, err) = gateway_command(&app.database, &["merchant", "extend-key", "000000000000"]);
    assert!(!ok && err.contains("no merchant"), "{err}");
    let (_, log) = get(&app, "/admin/api/v1/audit", Some(&op)).await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["key.extend", "key.revoke", "key.rotate", "merchant.create"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    let extend = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "key.extend")
        .expect("extend entry");
    assert!(
        extend["actor"].as_str().expect("actor").starts_with("os:"),
        "{extend}"
    );
    app.finish().await;
}

/// The document's dealer `api/ewalletbind` (on /api/agent) for a dealer made in the back
/// office: it works for the merchants attached to it, not for another.
#[tokio::test]
async fn a_dealer_acts_for_exactly_the_merchants_attached() {
    use mypay_protocol::envelope::{self, MerchantKey};
    let app = admin_app().await;
    let op = token(&app, "ops", "operator");
    let viewer = token(&app, "look", "viewer");
    let (status, _) = post(&app, "/admin/api/v1/dealers", &viewer, json!({"name": "x"})).await;
    assert_eq!(status, 403);
    let (status, dealer) = post(
        &app,
        "/admin/api/v1/dealers",
        &op,
        json!({"name": "Agency"}),
    )
    .await;
    assert_eq!(status, 201, "{dealer}");
    let agent_uid = dealer["agent_uid"].as_str().expect("agent_uid").to_owned();
    let agent_key = MerchantKey::parse(dealer["key"].as_str().expect("key")).expect("key");
    let (one, _) = new_merchant(&app, &op, "One").await;
    let (two, _) = new_merchant(&app, &op, "Two").await;
    let (three, _) = new_merchant(&app, &op, "Three").await;
    for m in [&one, &two] {
        let (status, body) = call(
            &app,
            Method::PUT,
            &format!("/admin/api/v1/dealers/{agent_uid}/merchants/{m}"),
            Some(&op),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let bind = |store_uid: &str| {
        let data = json!({
            "store_uid": store_uid,
            "user_id": "dealer-user",
            "user_sn": "A123456789",
            "user_cellphone_code": "886",
            "user_cellphone": "918123123",
            "user_real_name": "金城武",
            "pfn": "CREDITCARD",
            "ip": "127.0.0.1",
            "success_returl": "https://shop.example/bound",
            "failure_returl": "https://shop.example/not-bound",
        });
        form(&[
            ("agent_uid", &agent_uid),
            (
                "service",
                &envelope::seal(
                    &agent_key,
                    br#"{"service_name":"api","cmd":"api/ewalletbind"}"#,
                ),
            ),
            (
                "encry_data",
                &envelope::seal(&agent_key, data.to_string().as_bytes()),
            ),
        ])
    };
    for m in [&one, &two] {
        let answer = app
            .post_raw("/api/agent", "application/x-www-form-urlencoded", bind(m))
            .await;
        assert_eq!(answer["code"], "B200", "{m}: {answer}");
    }
    let answer = app
        .post_raw(
            "/api/agent",
            "application/x-www-form-urlencoded",
            bind(&three),
        )
        .await;
    assert_ne!(answer["code"], "B200", "{answer}");
    // Detached: refused from now on. Attached elsewhere: 409.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/api/v1/dealers/{agent_uid}/merchants/{two}"),
        Some(&op),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let answer = app
        .post_raw(
            "/api/agent",
            "application/x-www-form-urlencoded",
            bind(&two),
        )
        .await;
    assert_ne!(answer["code"], "B200", "{answer}");

    // The command line: a second dealer, which may not take the first one's merchant.
    let (ok, out, err) = gateway_command(
        &app.database,
        &["dealer", "create", "--name", "CLI agency", "--json"],
    );
    assert!(ok, "{err}");
    let made: Value = serde_json::from_str(out.trim()).expect("json");
    let other = made["agent_uid"].as_str().expect("agent_uid").to_owned();
    assert_eq!(made["key"].as_str().expect("key").len(), 32);
    let (ok, _, err) = gateway_command(&app.database, &["dealer", "attach", &other, &one]);
    assert!(!ok && err.contains("attached to dealer"), "{err}");
    let (ok, _, err) = gateway_command(&app.database, &["dealer", "attach", &other, &three]);
    assert!(ok, "{err}");
    let answer = app
        .post_raw(
            "/api/agent",
            "application/x-www-form-urlencoded",
            bind(&three),
        )
        .await;
    assert_ne!(
        answer["code"], "B200",
        "three is the other dealer's: {answer}"
    );
    let (ok, _, err) = gateway_command(&app.database, &["dealer", "detach", &other, &three]);
    assert!(ok, "{err}");
    let (status, listed) = get(&app, "/admin/api/v1/dealers", Some(&viewer)).await;
    assert_eq!(status, 200);
    let agency = listed["dealers"]
        .as_array()
        .expect("dealers")
        .iter()
        .find(|d| d["agent_uid"] == agent_uid.as_str())
        .expect("listed");
    assert_eq!(agency["merchants"], json!([one]));
    app.finish().await;
}

/// A verification code issued in the back office seals `/api/open` orders; refunds stay
/// refused in client mode; a revoked code is refused; the list never shows a code.
#[tokio::test]
async fn client_codes_open_api_open_until_revoked() {
    // On a running clock: the command line's codes are valid from its own now.
    let app = admin_app_on(mypay_gateway::clock::Clock::test()).await;
    let op = token(&app, "ops", "operator");
    let (store_uid, key) = new_merchant(&app, &op, "Client mode").await;
    let (status, issued) = post(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/client-codes"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let code = issued["code"].as_str().expect("code").to_owned();
    let id = issued["id"].as_i64().expect("id");
    assert_eq!(code.len(), 32);
    let open = |store_uid: &str, code: &str, cmd: &str, data: &Value| {
        sealed_form(store_uid, code, cmd, data)
    };
    let order = sample_order_with("OPEN-1", 100, json!({"store_uid": store_uid}));
    let answer = app
        .post_raw(
            "/api/open",
            "application/x-www-form-urlencoded",
            open(&store_uid, &code, "api/orders", &order),
        )
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, order_key) = placed(&answer);
    let refund =
        json!({"uid": uid.to_string(), "key": order_key, "refund_info": [{"cost": "100"}]});
    let answer = app
        .post_raw(
            "/api/open",
            "application/x-www-form-urlencoded",
            open(&store_uid, &code, "api/refund", &refund),
        )
        .await;
    assert_ne!(answer["code"], "B200", "{answer}");
    assert!(answer.to_string().contains("client mode"), "{answer}");
    // The merchant's own key does not open /api/open, nor the code /api/init.
    let answer = app
        .post_raw(
            "/api/init",
            "application/x-www-form-urlencoded",
            open(&store_uid, &code, "api/orders", &order),
        )
        .await;
    assert_ne!(answer["code"], "200", "{answer}");
    let _ = key;

    let (status, listed) = get(
        &app,
        &format!("/admin/api/v1/merchants/{store_uid}/client-codes"),
        Some(&op),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["client_codes"][0]["id"], id);
    assert!(
        !listed.to_string().contains(&code),
        "never a code: {listed}"
    );
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/api/v1/merchants/{store_uid}/client-codes/{id}"),
        Some(&op),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let again = sample_order_with("OPEN-2", 100, json!({"store_uid": store_uid}));
    let answer = app
        .post_raw(
            "/api/open",
            "application/x-www-form-urlencoded",
            open(&store_uid, &code, "api/orders", &again),
        )
        .await;
    assert_ne!(answer["code"], "200", "a revoked code: {answer}");

    // The command line issues and revokes, by id alone.
    let (ok, out, err) = gateway_command(
        &app.database,
        &["client-code", "issue", &store_uid, "--json"],
    );
    assert!(ok, "{err}");
    let made: Value = serde_json::from_str(out.trim()).expect("json");
    let cli_code = made["code"].as_str().expect("code").to_owned();
    let third = sample_order_with("OPEN-3", 100, json!({"store_uid": store_uid}));
    let answer = app
        .post_raw(
            "/api/open",
            "application/x-www-form-urlencoded",
            open(&store_uid, &cli_code, "api/orders", &third),
        )
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    let cli_id = made["id"].as_i64().expect("id").to_string();
    let (ok, _, err) = gateway_command(&app.database, &["client-code", "revoke", &cli_id]);
    assert!(ok, "{err}");
    let (ok, _, err) = gateway_command(&app.database, &["client-code", "revoke", &cli_id]);
    assert!(!ok && err.contains("already ended"), "{err}");
    let fourth = sample_order_with("OPEN-4", 100, json!({"store_uid": store_uid}));
    let answer = app
        .post_raw(
            "/api/open",
            "application/x-www-form-urlencoded",
            open(&store_uid, &cli_code, "api/orders", &fourth),
        )
        .await;
    assert_ne!(answer["code"], "200", "{answer}");
    app.finish().await;
}

/// Every write refuses a viewer (403) and a caller without a token (401), and changes
/// nothing; every read refuses a caller without a token.
#[tokio::test]
async fn every_write_needs_an_operator_and_every_read_a_token() {
    let app = admin_app().await;
    let viewer = token(&app, "look", "viewer");
    let s = SAMPLE_STORE_UID;
    let writes: Vec<(Method, String)> = vec![
        (Method::POST, "/admin/api/v1/merchants".into()),
        (Method::PATCH, format!("/admin/api/v1/merchants/{s}")),
        (
            Method::POST,
            format!("/admin/api/v1/merchants/{s}/notify-test"),
        ),
        (
            Method::POST,
            format!("/admin/api/v1/merchants/{s}/keys/rotate"),
        ),
        (
            Method::POST,
            format!("/admin/api/v1/merchants/{s}/keys/1/extend"),
        ),
        (
            Method::POST,
            format!("/admin/api/v1/merchants/{s}/keys/1/revoke"),
        ),
        (
            Method::POST,
            format!("/admin/api/v1/merchants/{s}/client-codes"),
        ),
        (
            Method::DELETE,
            format!("/admin/api/v1/merchants/{s}/client-codes/1"),
        ),
        (Method::POST, "/admin/api/v1/dealers".into()),
        (
            Method::PUT,
            format!("/admin/api/v1/dealers/518169081001/merchants/{s}"),
        ),
        (
            Method::DELETE,
            format!("/admin/api/v1/dealers/518169081001/merchants/{s}"),
        ),
        (Method::POST, "/admin/api/v1/notices/1/resend".into()),
        (Method::POST, "/admin/api/v1/emails/1/resend".into()),
        (Method::POST, "/admin/api/v1/clock/advance".into()),
    ];
    for (method, path) in &writes {
        let (status, body) = call(
            &app,
            method.clone(),
            path,
            Some(&viewer),
            Some(json!({"seconds": 60})),
        )
        .await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        let (status, body) = call(
            &app,
            method.clone(),
            path,
            None,
            Some(json!({"seconds": 60})),
        )
        .await;
        assert_eq!(status, 401, "{method} {path}: {body}");
    }
    let reads = [
        "/admin/api/v1/merchants".to_owned(),
        format!("/admin/api/v1/merchants/{s}"),
        format!("/admin/api/v1/merchants/{s}/keys"),
        format!("/admin/api/v1/merchants/{s}/client-codes"),
        "/admin/api/v1/dealers".into(),
        "/admin/api/v1/orders".into(),
        "/admin/api/v1/orders/1".into(),
        "/admin/api/v1/notices".into(),
        "/admin/api/v1/emails".into(),
        "/admin/api/v1/emails/1".into(),
        "/admin/api/v1/audit".into(),
        "/admin/api/v1/audit/verify".into(),
        "/admin/api/v1/audit/export".into(),
        "/admin/api/v1/clock".into(),
    ];
    for path in &reads {
        let (status, _) = get(&app, path, None).await;
        assert_eq!(status, 401, "{path}");
    }
    // Nothing was written: the audit log holds the token's issue alone, the clock is
    // unmoved.
    let (_, log) = get(&app, "/admin/api/v1/audit", Some(&viewer)).await;
    let entries = log["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["action"], "token.issue");
    let (_, clock) = get(&app, "/admin/api/v1/clock", Some(&viewer)).await;
    assert_eq!(clock["offset_seconds"], 0, "{clock}");
    app.finish().await;
}

async fn search(app: &TestApp, token: &str, query: &str) -> Vec<u64> {
    let (status, body) = get(app, &format!("/admin/api/v1/orders?{query}"), Some(token)).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["uid"].as_u64().expect("uid"))
        .collect()
}

fn kinds(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// Search by every filter, keyset pages, refusals by name; one order's timeline with its
/// notice attempts; an acknowledged notice sent again; a test notice.
#[tokio::test]
async fn orders_are_found_by_every_filter_and_tell_their_story() {
    let app = admin_app().await;
    let op = token(&app, "ops", "operator");
    let viewer = token(&app, "look", "viewer");
    let receiver = app.receiver().await;
    let alice = |id: &str, cost: i64| sample_order_with(id, cost, json!({"user_id": "alice"}));
    let (paid, _) = placed(&app.order(&alice("FIND-A", 100)).await);
    app.pay(paid, "4058650600065507", "1022", "395", None).await;
    let (unpaid, _) = placed(
        &app.order(&sample_order_with("FIND-B", 300, json!({"user_id": "bob"})))
            .await,
    );
    let (later, _) = placed(&app.order(&alice("FIND-C", 500)).await);
    app.drain().await;

    assert_eq!(
        search(&app, &viewer, "user_id=alice").await,
        vec![later, paid]
    );
    assert_eq!(search(&app, &viewer, "card_last4=5507").await, vec![paid]);
    assert_eq!(search(&app, &viewer, "prc=250").await, vec![paid]);
    assert_eq!(search(&app, &viewer, "pfn=CREDITCARD").await, vec![paid]);
    assert_eq!(
        search(&app, &viewer, "min_cost=200&max_cost=400").await,
        vec![unpaid]
    );
    assert_eq!(search(&app, &viewer, "order_id=FIND-C").await, vec![later]);
    assert_eq!(
        search(&app, &viewer, &format!("uid={unpaid}")).await,
        vec![unpaid]
    );
    assert_eq!(
        search(&app, &viewer, &format!("store_uid={SAMPLE_STORE_UID}")).await,
        vec![later, unpaid, paid]
    );
    assert_eq!(
        search(&app, &viewer, "store_uid=000000000000").await,
        Vec::<u64>::new()
    );
    let from = start_time().to_string();
    assert_eq!(
        search(&app, &viewer, &format!("from={from}")).await.len(),
        3
    );
    assert!(
        search(&app, &viewer, &format!("to={from}"))
            .await
            .is_empty()
    );
    // Keyset pages: `next` leads on, and is null on the last page.
    let (_, first) = get(&app, "/admin/api/v1/orders?limit=2", Some(&viewer)).await;
    assert_eq!(first["orders"].as_array().expect("orders").len(), 2);
    let next = first["next"].as_str().expect("next").to_owned();
    let (_, second) = get(
        &app,
        &format!("/admin/api/v1/orders?limit=2&after={next}"),
        Some(&viewer),
    )
    .await;
    assert_eq!(second["orders"][0]["uid"], paid);
    assert_eq!(second["next"], Value::Null);
    for (query, field) in [
        ("card_last4=12", "card_last4"),
        ("limit=0", "limit"),
        ("min_cost=-1", "min_cost"),
        ("from=yesterday", "from"),
        ("after=x", "after"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = get(
            &app,
            &format!("/admin/api/v1/orders?{query}"),
            Some(&viewer),
        )
        .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(
            body["error"].as_str().expect("error").starts_with(field),
            "{query}: {body}"
        );
    }

    // The paid order's story: its request, its states, the notice and its attempt.
    let (status, order) = get(&app, &format!("/admin/api/v1/orders/{paid}"), Some(&viewer)).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["prc"], "250", "the query record: {order}");
    let story = kinds(&order);
    for kind in ["request", "state", "notice_attempt"] {
        assert!(story.iter().any(|k| k == kind), "{kind}: {story:?}");
    }
    assert_eq!(story[0], "request");
    let times: Vec<jiff::Timestamp> = order["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["at"].as_str().expect("at").parse().expect("RFC 3339"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {times:?}"
    );
    assert!(
        !order.to_string().contains("4058650600065507"),
        "never a card number"
    );
    let notice = order["notices"][0].clone();
    assert_eq!(notice["state"], "acknowledged", "{order}");
    let notice_id = notice["id"].as_i64().expect("id");
    let (status, _) = get(&app, "/admin/api/v1/orders/99999999", Some(&viewer)).await;
    assert_eq!(status, 404);

    // An acknowledged notice, sent again to the current URL.
    let before = receiver.count();
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/notices/{notice_id}/resend"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acknowledged"], true);
    assert_eq!(receiver.count(), before + 1);
    let (_, order) = get(&app, &format!("/admin/api/v1/orders/{paid}"), Some(&viewer)).await;
    let story = kinds(&order);
    assert_eq!(
        story.iter().filter(|k| *k == "notice_attempt").count(),
        2,
        "{story:?}"
    );
    assert!(story.iter().any(|k| k == "admin"), "{story:?}");
    let (status, _) = post(
        &app,
        "/admin/api/v1/notices/99999999/resend",
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);

    // The notice list by state.
    let (_, listed) = get(
        &app,
        &format!("/admin/api/v1/notices?uid={paid}&state=acknowledged"),
        Some(&viewer),
    )
    .await;
    assert_eq!(
        listed["notices"].as_array().expect("notices").len(),
        1,
        "{listed}"
    );
    let (_, listed) = get(
        &app,
        &format!("/admin/api/v1/notices?uid={paid}&state=pending"),
        Some(&viewer),
    )
    .await;
    assert_eq!(listed["notices"], json!([]));
    let (status, _) = get(&app, "/admin/api/v1/notices?state=lost", Some(&viewer)).await;
    assert_eq!(status, 422);

    // A test notice: one attempt to the merchant's URL, answered as it went.
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}/notify-test"),
        &op,
        json!({"kind": "completed"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attempt"]["acknowledged"], true, "{body}");
    assert!(
        receiver
            .bodies()
            .last()
            .expect("a body")
            .contains("TEST-NOTICE")
    );
    let (status, body) = post(
        &app,
        &format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}/notify-test"),
        &op,
        json!({"kind": "refund"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["attempt"]["acknowledged"], false,
        "no refund URL: {body}"
    );
    let (status, _) = post(
        &app,
        &format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}/notify-test"),
        &op,
        json!({"kind": "gossip"}),
    )
    .await;
    assert_eq!(status, 422);
    app.finish().await;
}

/// A merchant changed field by field (a refused change changes nothing); a notice that
/// fails its last attempt e-mails its merchant, the e-mail shows in the order's timeline
/// and is sent again; the audit log exports as JSON lines and checks.
#[tokio::test]
async fn merchants_change_mails_resend_and_the_audit_exports() {
    let app = admin_app().await;
    let op = token(&app, "ops", "operator");
    let failing = Receiver::start(vec![Reply::Status(500, "no")]).await;
    let path = format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&op),
        Some(json!({
            "notify_url": failing.url,
            "contact_email": "tech@shop.example",
            "notice_retry": {"attempts": 1, "interval_secs": 60},
            "tools": [{"tool": "CREDITCARD", "min_amount": 5, "max_amount": 20000, "supplier": "SANDBOX"}],
            "strict_order_id": true,
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["notice_retry"]["attempts"], 1);
    assert_eq!(
        body["settings"]["tools"].as_array().expect("tools").len(),
        1
    );
    assert_eq!(body["settings"]["tools"][0]["max_amount"], 20000);
    assert_eq!(body["settings"]["strict_order_id"], true);
    for (change, field) in [
        (
            json!({"tools": [{"tool": "NOPE", "min_amount": 1, "max_amount": 2, "supplier": "X"}]}),
            "body",
        ),
        (
            json!({"tools": [{"tool": "CREDITCARD", "min_amount": 9, "max_amount": 2, "supplier": "X"}]}),
            "tools",
        ),
        (
            json!({"notice_retry": {"attempts": 0, "interval_secs": 60}}),
            "notice_retry",
        ),
        (json!({"contact_email": "not an address"}), "contact_email"),
        (json!({"notify_url": "ftp://shop.example"}), "notify_url"),
        (json!({"colour": "red"}), "body"),
    ] {
        let (status, body) =
            call(&app, Method::PATCH, &path, Some(&op), Some(change.clone())).await;
        assert_eq!(status, 422, "{change}: {body}");
        assert!(
            body["error"].as_str().expect("error").starts_with(field),
            "{change}: {body}"
        );
    }
    let (_, now) = get(&app, &path, Some(&op)).await;
    assert_eq!(
        now["settings"]["contact_email"], "tech@shop.example",
        "unchanged: {now}"
    );

    // One attempt, failed: the merchant's contact is told, about that order.
    let (uid, _) = placed(&app.order(&sample_order_json("MAIL-1", 100)).await);
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    app.drain().await;
    assert!(failing.count() >= 1);
    let (status, mails) = get(&app, &format!("/admin/api/v1/emails?uid={uid}"), Some(&op)).await;
    assert_eq!(status, 200, "{mails}");
    let mail = mails["emails"][0].clone();
    assert_eq!(mail["to"], "tech@shop.example", "{mails}");
    assert_eq!(mail["order_uid"], uid);
    let mail_id = mail["id"].as_i64().expect("id");
    let (status, one) = get(&app, &format!("/admin/api/v1/emails/{mail_id}"), Some(&op)).await;
    assert_eq!(status, 200);
    assert_eq!(one["email"]["subject"], mail["subject"]);
    let (status, resent) = post(
        &app,
        &format!("/admin/api/v1/emails/{mail_id}/resend"),
        &op,
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{resent}");
    let (_, mails) = get(&app, &format!("/admin/api/v1/emails?uid={uid}"), Some(&op)).await;
    assert_eq!(mails["emails"].as_array().expect("emails").len(), 2);
    let (_, order) = get(&app, &format!("/admin/api/v1/orders/{uid}"), Some(&op)).await;
    let story = kinds(&order);
    assert_eq!(
        story.iter().filter(|k| *k == "email").count(),
        2,
        "{story:?}"
    );
    let (status, _) = get(&app, "/admin/api/v1/emails/99999999", Some(&op)).await;
    assert_eq!(status, 404);

    // The audit log, exported: one JSON object a line, oldest first, chained.
    let base = app.admin_base.as_deref().expect("admin");
    let export = app
        .http
        .get(format!("{base}/admin/api/v1/audit/export"))
        .header("authorization", format!("Bearer {op}"))
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let text = export.text().await.expect("text");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "chained");
    }
    assert!(lines.iter().any(|e| e["action"] == "merchant.change"));
    assert!(lines.iter().any(|e| e["action"] == "email.resend"));
    let (_, verified) = get(&app, "/admin/api/v1/audit/verify", Some(&op)).await;
    assert_eq!(verified, json!({"ok": true}));
    app.finish().await;
}

//! Sandbox merchants with test clocks of their own (`POST /sandbox/merchants`): tests
//! side by side on one shared sandbox never move each other's time.

use crate::helpers::{
    Receiver, Reply, TestApp, sample_order_with, spawn_app, spawn_app_with, start_time,
};
use axum::http::StatusCode;
use mypay_gateway::clock::Clock;
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

struct Merchant {
    store_uid: String,
    key: String,
}

async fn sandbox_merchant(app: &TestApp, notify_url: &str) -> Merchant {
    let (status, made) = app
        .sandbox(
            "/sandbox/merchants",
            json!({"name": "CI merchant", "notify_url": notify_url}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let store_uid = made["store_uid"].as_str().expect("store_uid").to_owned();
    let key = made["key"].as_str().expect("key").to_owned();
    assert!(
        store_uid.len() == 12 && store_uid.bytes().all(|b| b.is_ascii_digit()),
        "{made}"
    );
    assert!(
        key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{made}"
    );
    assert_eq!(made["clock"]["store_uid"], store_uid.as_str());
    Merchant { store_uid, key }
}

async fn clock_of(app: &TestApp, store_uid: Option<&str>) -> (u16, Value) {
    let url = match store_uid {
        Some(s) => format!("{}/sandbox/clock?store_uid={s}", app.base),
        None => format!("{}/sandbox/clock", app.base),
    };
    let response = app.http.get(url).send().await.expect("clock");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// The instant a clock shows, to the second.
async fn now_of(app: &TestApp, store_uid: Option<&str>) -> i64 {
    let (status, clock) = clock_of(app, store_uid).await;
    assert_eq!(status, 200, "{clock}");
    clock["now"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .expect("now")
        .as_second()
}

/// `clock/advance` of the clock of `store_uid`: (HTTP status, answer).
async fn try_advance_own(app: &TestApp, store_uid: &str, seconds: i64) -> (StatusCode, Value) {
    app.sandbox(
        "/sandbox/clock/advance",
        json!({"seconds": seconds, "store_uid": store_uid}),
    )
    .await
}

async fn advance_own(app: &TestApp, store_uid: &str, seconds: i64) -> Value {
    let (status, body) = try_advance_own(app, store_uid, seconds).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A monthly series of `total` periods from `first`, its card bound; the order's uid.
async fn monthly_series(
    app: &TestApp,
    m: &Merchant,
    order_id: &str,
    first: &str,
    total: u32,
) -> u64 {
    let order = sample_order_with(
        order_id,
        300,
        json!({"store_uid": m.store_uid, "pfn": "DIRECTDEBIT", "regular": "M", "regular_total": total.to_string(), "regular_first_charge_date": first}),
    );
    let answer = app.api_as(&m.store_uid, &m.key, "api/orders", &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");
    let bound = app.pay(uid, "4058650600065507", "1022", "395", None).await;
    assert_eq!(bound["prc"], "265", "{bound}");
    uid
}

/// The dates (Taipei, from `finishtime`) and `nois` of the periods notified for `order_id`.
fn charged(receiver: &Receiver, order_id: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = receiver
        .transaction_notices()
        .into_iter()
        .filter(|n| n.order_id == order_id)
        .map(|n| {
            (
                n.finishtime.get(..8).unwrap_or("").to_owned(),
                n.nois.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn two_sandbox_merchants_keep_their_own_time() {
    let app = spawn_app().await;
    let (ra, rb) = (
        Receiver::start(vec![Reply::Ack]).await,
        Receiver::start(vec![Reply::Ack]).await,
    );
    let a = sandbox_merchant(&app, &ra.url).await;
    let b = sandbox_merchant(&app, &rb.url).await;
    assert_ne!(a.store_uid, b.store_uid);
    let start = start_time().as_second();
    // Both start where the shared clock stands.
    assert_eq!(now_of(&app, Some(&a.store_uid)).await, start);
    assert_eq!(now_of(&app, Some(&b.store_uid)).await, start);
    // The same schedule for both: monthly from 2026-12-01, three periods.
    monthly_series(&app, &a, "A-SUB", "20261201", 3).await;
    monthly_series(&app, &b, "B-SUB", "20261201", 3).await;

    // A's clock runs 75 days ahead: its three periods are charged on their dates.
    let moved = advance_own(&app, &a.store_uid, 75 * DAY).await;
    assert_eq!(moved["store_uid"], a.store_uid.as_str(), "{moved}");
    assert_eq!(moved["offset_seconds"], 75 * DAY, "{moved}");
    assert_eq!(
        charged(&ra, "A-SUB"),
        [
            ("20261201".into(), "1".into()),
            ("20270101".into(), "2".into()),
            ("20270201".into(), "3".into())
        ]
    );
    assert_eq!(now_of(&app, Some(&a.store_uid)).await, start + 75 * DAY);
    // Neither B nor the shared clock moved, and nothing of B's ran.
    assert_eq!(now_of(&app, Some(&b.store_uid)).await, start);
    assert_eq!(now_of(&app, None).await, start);
    assert!(charged(&rb, "B-SUB").is_empty(), "{:?}", rb.bodies());

    // The shared clock runs a year ahead: neither merchant's time moves with it.
    app.advance(365 * DAY).await;
    assert_eq!(now_of(&app, None).await, start + 365 * DAY);
    assert_eq!(now_of(&app, Some(&a.store_uid)).await, start + 75 * DAY);
    assert_eq!(now_of(&app, Some(&b.store_uid)).await, start);
    assert!(charged(&rb, "B-SUB").is_empty(), "{:?}", rb.bodies());
    assert_eq!(charged(&ra, "A-SUB").len(), 3);

    // B's clock moves ten days: its first period only, on its date.
    advance_own(&app, &b.store_uid, 10 * DAY).await;
    assert_eq!(charged(&rb, "B-SUB"), [("20261201".into(), "1".into())]);
    assert_eq!(now_of(&app, Some(&a.store_uid)).await, start + 75 * DAY);

    // What a merchant does is timed on its own clock: A's new order is paid on A's date.
    let order = sample_order_with(
        "A-CARD",
        120,
        json!({"store_uid": a.store_uid, "pfn": "CREDITCARD"}),
    );
    let answer = app.api_as(&a.store_uid, &a.key, "api/orders", &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");
    let paid = app.pay(uid, "4058650600065507", "1022", "395", None).await;
    assert_eq!(paid["prc"], "250", "{paid}");
    let record = app
        .api_as(
            &a.store_uid,
            &a.key,
            "api/queryorder",
            &json!({"uid": uid.to_string(), "key": answer["key"]}),
        )
        .await;
    // 2026-11-23 10:00 in Taipei plus 75 days.
    assert_eq!(
        record["finishtime"].as_str().and_then(|t| t.get(..8)),
        Some("20270206"),
        "{record}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_clock_is_moved_only_by_name_and_only_if_it_is_its_own() {
    let app = spawn_app().await;
    let start = start_time().as_second();
    // The sample merchant runs on the shared clock: naming it is refused, nothing moves.
    let (status, body) = try_advance_own(&app, SAMPLE_STORE_UID, DAY).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap_or("");
    assert!(
        error.starts_with("store_uid:") && error.contains("shared clock"),
        "{body}"
    );
    assert_eq!(now_of(&app, None).await, start);
    let (status, body) = try_advance_own(&app, "999999999999", DAY).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("store_uid:"),
        "{body}"
    );
    let (status, body) = clock_of(&app, Some("999999999999")).await;
    assert_eq!(status, 404, "{body}");

    // Bad requests to create one name the field and create nothing.
    for (bad, field) in [
        (
            json!({"notify_url": "ftp://example.com/notice"}),
            "notify_url:",
        ),
        (json!({"ewallet_url": "not a url"}), "ewallet_url:"),
        (json!({"recurring_retry_days": 0}), "recurring_retry_days"),
        (json!({"recurring_retry_days": "three"}), "body"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "a\u{0}b"}), "name"),
    ] {
        let before = merchant_count(&app).await;
        let (status, body) = app.sandbox("/sandbox/merchants", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap_or("").starts_with(field),
            "{bad}: {body}"
        );
        let after = merchant_count(&app).await;
        assert_eq!(before, after, "{bad} created a merchant");
    }

    // Its own clock: a move backwards or past a century is refused and changes nothing.
    let receiver = Receiver::start(vec![Reply::Ack]).await;
    let m = sandbox_merchant(&app, &receiver.url).await;
    for seconds in [-1, 101 * 366 * DAY] {
        let (status, body) = try_advance_own(&app, &m.store_uid, seconds).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"].as_str().unwrap_or("").starts_with("seconds:"),
            "{body}"
        );
    }
    assert_eq!(now_of(&app, Some(&m.store_uid)).await, start);
    // Its key works on the API at once.
    let order = sample_order_with("OWN-1", 100, json!({"store_uid": m.store_uid}));
    let answer = app.api_as(&m.store_uid, &m.key, "api/orders", &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn a_merchants_clock_and_its_waiting_work_survive_a_restart() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Ack]).await;
    let m = sandbox_merchant(&app, &receiver.url).await;
    monthly_series(&app, &m, "R-SUB", "20261201", 2).await;
    advance_own(&app, &m.store_uid, 5 * DAY).await;
    let database = app.database.clone();
    app.stop().await;

    let app = spawn_app_with(database, Clock::frozen(start_time()), |_| {}).await;
    let start = start_time().as_second();
    assert_eq!(now_of(&app, Some(&m.store_uid)).await, start + 5 * DAY);
    assert_eq!(now_of(&app, None).await, start);
    // The shared clock passing the charge date does not charge it: it is due on the
    // merchant's clock.
    app.advance(30 * DAY).await;
    assert!(
        charged(&receiver, "R-SUB").is_empty(),
        "{:?}",
        receiver.bodies()
    );
    // The merchant's clock reaching it does, once.
    advance_own(&app, &m.store_uid, 4 * DAY).await;
    assert_eq!(
        charged(&receiver, "R-SUB"),
        [("20261201".into(), "1".into())]
    );
    advance_own(&app, &m.store_uid, DAY).await;
    assert_eq!(charged(&receiver, "R-SUB").len(), 1);
    app.finish().await;
}

async fn merchant_count(app: &TestApp) -> usize {
    let now = jiff::Timestamp::now();
    app.state
        .store
        .merchant_summaries(now)
        .await
        .expect("list")
        .len()
}

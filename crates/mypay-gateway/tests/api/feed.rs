//! The sandbox's notice feed (`POST /sandbox/notifications/feed`), what `mypay listen`
//! follows: sealed with the merchant's key, only its own notices, each with the exact body
//! the gateway posts, and held open until one comes.

use crate::helpers::*;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_protocol::envelope::{self, MerchantKey};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn sealed(store_uid: &str, key: &str, data: &Value) -> String {
    let key = MerchantKey::parse(key).expect("key");
    form(&[
        ("store_uid", store_uid),
        (
            "encry_data",
            &envelope::seal(&key, data.to_string().as_bytes()),
        ),
    ])
}

async fn feed(app: &TestApp, store_uid: &str, key: &str, data: Value) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/sandbox/notifications/feed", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(sealed(store_uid, key, &data))
        .send()
        .await
        .expect("feed");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_feed_gives_a_merchant_its_own_notices_and_waits_for_the_next() {
    let app = spawn_app().await;
    // A URL nobody answers: the notices stay in the outbox, and the feed has them.
    app.set_notify_url("http://127.0.0.1:9/notify").await;
    let other_key = "OTHERKEYOTHERKEYOTHERKEYOTHERKEY";
    app.add_merchant("100000000009", other_key, "http://127.0.0.1:9/notify")
        .await;

    let (status, empty) = feed(
        &app,
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
        json!({"after": 0}),
    )
    .await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty, json!({"notices": [], "last": 0}));

    let (uid, _) = app.sample_order("FEED-1", 100).await;
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let (status, page) = feed(
        &app,
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
        json!({"after": 0}),
    )
    .await;
    assert_eq!(status, 200);
    let notices = page["notices"].as_array().expect("notices");
    assert_eq!(notices.len(), 1, "{page}");
    let n = &notices[0];
    assert_eq!(n["uid"], uid);
    assert_eq!(n["kind"], "completed");
    assert_eq!(n["content_type"], "application/x-www-form-urlencoded");
    let stored = app.notices(uid).await;
    assert_eq!(
        n["body"], stored[0]["body"],
        "the exact body the gateway posts"
    );
    let last = page["last"].as_i64().expect("last");

    // Nobody reads another merchant's notices; a wrong key reads nothing.
    let (status, theirs) = feed(&app, "100000000009", other_key, json!({"after": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(theirs["notices"], json!([]), "{theirs}");
    let (status, refused) = feed(&app, SAMPLE_STORE_UID, other_key, json!({"after": 0})).await;
    assert_eq!(status, 401, "{refused}");
    assert!(refused.get("notices").is_none());
    let r = app
        .http
        .post(format!("{}/sandbox/notifications/feed", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("store_uid", SAMPLE_STORE_UID),
            ("encry_data", "not sealed"),
        ]))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 401);

    // -1: nothing, and the newest id to follow from.
    let (_, now) = feed(
        &app,
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
        json!({"after": -1}),
    )
    .await;
    assert_eq!(now, json!({"notices": [], "last": last}));

    // Held open: a notice written while it waits is answered within a moment.
    let waiting = {
        let (http, base) = (app.http.clone(), app.base.clone());
        let body = sealed(
            SAMPLE_STORE_UID,
            SAMPLE_STORE_KEY,
            &json!({"after": last, "wait_secs": 10}),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let page: Value = http
                .post(format!("{base}/sandbox/notifications/feed"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("feed")
                .json()
                .await
                .expect("json");
            (page, started.elapsed(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (second, _) = app.sample_order("FEED-2", 100).await;
    app.pay(second, "4058650600065507", "1022", "395", None)
        .await;
    let paid_at = Instant::now();
    let (page, waited, answered_at) = waiting.await.expect("join");
    assert!(
        waited >= Duration::from_millis(400),
        "it waited: {waited:?}"
    );
    assert!(
        answered_at.duration_since(paid_at) < Duration::from_secs(1),
        "answered within a second"
    );
    assert_eq!(page["notices"][0]["uid"], second, "{page}");
    app.finish().await;
}

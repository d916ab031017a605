//! How notices are delivered: retries on the schedule of the first attempt, resends to the
//! merchant's current URL that never shorten the schedule, refund notices only to a refund
//! URL, and deliveries that do not queue one merchant behind another.

use crate::helpers::{
    Receiver, Reply, eventually, fresh_database, sample_order_with, spawn_app, spawn_app_with,
    start_time,
};
use mypay_gateway::clock::Clock;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn attempt_count(notice: &Value) -> usize {
    notice["attempt_log"].as_array().map_or(0, Vec::len)
}

async fn paid_order_with_a_failing_receiver(
    app: &crate::helpers::TestApp,
    order_id: &str,
) -> (Receiver, u64) {
    let receiver = Receiver::start(vec![Reply::Status(500, "down")]).await;
    app.set_notify_url(&receiver.url).await;
    let (uid, _) = app.card_order(order_id, 100, false).await;
    app.drain().await;
    assert_eq!(
        attempt_count(&app.notice(uid, "completed").await),
        1,
        "the first attempt"
    );
    (receiver, uid)
}

#[tokio::test]
async fn retries_keep_the_schedule_of_the_first_attempt() {
    let app = spawn_app().await;
    let (receiver, uid) = paid_order_with_a_failing_receiver(&app, "SCHED-1").await;

    // The second attempt is due 5 minutes after the first, not earlier.
    let early = app.advance(299).await;
    assert_eq!(early["notice_attempts"], 0, "{early}");
    let second = app.advance(1).await;
    assert_eq!(second["notice_attempts"], 1, "{second}");

    // Two hours at once: the three attempts left, in order, then the alert, all before
    // the advance answers.
    let rest = app.advance(7200).await;
    assert_eq!(rest["notice_attempts"], 3, "{rest}");
    let notice = app.notice(uid, "completed").await;
    assert_eq!(notice["status"], "failed", "{notice}");
    assert_eq!(notice["attempts"], 5);
    let log = notice["attempt_log"].as_array().expect("log");
    let numbers: Vec<i64> = log.iter().filter_map(|a| a["attempt"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert!(
        log.iter()
            .all(|a| a["outcome"] == "failed" && a["http_status"] == 500)
    );
    assert_eq!(receiver.count(), 5);
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);
    // Nothing more is due, ever.
    assert_eq!(app.advance(86_400).await["notice_attempts"], 0);
    assert_eq!(receiver.count(), 5);
    app.finish().await;
}

#[tokio::test]
async fn a_resend_goes_to_the_merchants_current_url() {
    let app = spawn_app().await;
    let (old, uid) = paid_order_with_a_failing_receiver(&app, "RESEND-1").await;
    let new = app.receiver().await;

    let id = app.notice(uid, "completed").await["id"]
        .as_i64()
        .expect("id");
    let (status, answer) = app
        .sandbox(&format!("/sandbox/notifications/{id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["acknowledged"], true, "{answer}");
    assert_eq!(new.count(), 1);
    assert_eq!(old.count(), 1);
    let notice = app.notice(uid, "completed").await;
    assert_eq!(notice["status"], "delivered");
    let last = &notice["attempt_log"][1];
    assert_eq!(last["trigger"], "resend");
    assert_eq!(last["url"], new.url.as_str());
    // Delivered: no scheduled attempt follows.
    assert_eq!(app.advance(3600).await["notice_attempts"], 0);
    app.finish().await;
}

#[tokio::test]
async fn a_failed_resend_never_shortens_the_remaining_schedule() {
    let app = spawn_app().await;
    let (receiver, uid) = paid_order_with_a_failing_receiver(&app, "RESEND-2").await;
    let before = app.notice(uid, "completed").await;
    let id = before["id"].as_i64().expect("id");

    let (status, answer) = app
        .sandbox(&format!("/sandbox/notifications/{id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["acknowledged"], false, "{answer}");
    let after = app.notice(uid, "completed").await;
    assert_eq!(after["status"], "pending", "{after}");
    assert_eq!(after["attempts"], 1);
    assert_eq!(after["next_attempt_at"], before["next_attempt_at"]);
    assert_eq!(app.state.store.email_count().await.expect("emails"), 0);

    // The four scheduled attempts left still come, then the alert.
    let rest = app.advance(7200).await;
    assert_eq!(rest["notice_attempts"], 4, "{rest}");
    let notice = app.notice(uid, "completed").await;
    assert_eq!(notice["status"], "failed");
    assert_eq!(attempt_count(&notice), 6);
    assert_eq!(receiver.count(), 6);
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);
    app.finish().await;
}

#[tokio::test]
async fn refund_notices_go_only_to_a_refund_url_never_to_the_payment_url() {
    let app = spawn_app().await;
    let payments = app.receiver().await;
    let (uid, key) = app.card_order("REF-URL-1", 100, false).await;
    assert_eq!(app.refund(uid, &key, 30).await["code"], "B200");
    app.advance(3600).await;
    app.drain().await;
    assert_eq!(payments.count(), 1, "the payment notice");
    assert!(payments.refund_notices().is_empty());
    assert!(app.notices(uid).await.iter().all(|n| n["kind"] != "refund"));

    let refunds = Receiver::start(vec![Reply::Ack]).await;
    app.set_refund_url(&refunds.url).await;
    assert_eq!(app.refund(uid, &key, 20).await["code"], "B200");
    app.drain().await;
    let notices = {
        let n = refunds.refund_notices();
        (n.len() == 1).then_some(n)
    }
    .expect("the refund notice");
    assert_eq!(notices[0].cost, 20);
    assert_eq!(payments.count(), 1, "nothing more on the payment URL");
    app.finish().await;
}

#[tokio::test]
async fn a_slow_merchant_delays_no_other_merchants_notices() {
    let app = spawn_app_with(fresh_database(), Clock::frozen(start_time()), |s| {
        s.notify_timeout = Duration::from_secs(2);
    })
    .await;
    let slow = Receiver::start(vec![Reply::Slow(Duration::from_secs(3))]).await;
    app.set_notify_url(&slow.url).await;
    for n in 0..4 {
        app.card_order(&format!("SLOW-{n}"), 100, false).await;
    }
    eventually("the slow merchant's notices in flight", || async {
        (slow.count() == 4).then_some(())
    })
    .await;

    let fast = Receiver::start(vec![Reply::Ack]).await;
    let (other, other_key) = ("100000000001", "0123456789abcdefghijABCDEFGHIJ01");
    app.add_merchant(other, other_key, &fast.url).await;
    let answer = app
        .api_as(other, other_key, "api/orders", &{
            sample_order_with("FAST-1", 100, json!({"store_uid": other}))
        })
        .await;
    assert_eq!(answer["code"], "200", "{answer}");
    let uid = answer["uid"].as_u64().expect("uid");
    let started = Instant::now();
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    eventually("the other merchant's notice", || async {
        (fast.count() == 1).then_some(())
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(1000),
        "the other merchant's notice waited {waited:?} behind the slow one"
    );
    app.finish().await;
}

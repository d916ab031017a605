use crate::helpers::{Receiver, Reply, fresh_database, spawn_app, spawn_app_with, start_time};
use mypay_client::verify_notice;
use mypay_gateway::clock::Clock;
use mypay_protocol::notice::TransactionNotice;
use std::time::Duration;

#[tokio::test]
async fn a_paid_order_notifies_the_merchant_with_every_field() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = app.sample_order("N-1", 10).await;
    let paid = app
        .pay(uid, "4938170130000003", "1228", "985", Some("nccc1234"))
        .await;
    assert_eq!(paid["prc"], "250");

    app.drain().await;
    let body = receiver.bodies().first().cloned().expect("the notice");
    let notice = verify_notice(body.as_bytes(), uid, &key).expect("uid and key match the order");
    assert_eq!(notice.prc, "250");
    assert_eq!(notice.order_id, "N-1");
    assert_eq!(notice.cost, "10");
    assert_eq!(notice.actual_cost, "10");
    assert_eq!(notice.currency, "TWD");
    assert_eq!(notice.cardno, "493817******0003");
    assert_eq!(notice.card_type, "1");
    assert_eq!(notice.pfn, "CREDITCARD");
    assert_eq!(notice.supplier_code, "T0");
    assert_eq!(notice.finishtime, "20261123100000");
    assert_eq!(notice.echo_0, "first echo");
    assert_eq!(notice.user_id, "phper");
    for field in TransactionNotice::FIELDS {
        assert!(
            body.contains(&format!("{field}=")),
            "{field} missing from the notice"
        );
    }
    // The notice agrees with the query record.
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], notice.prc);
    assert_eq!(record["acode"], notice.acode);

    app.drain().await;
    let log = app.notices(uid).await;
    assert_eq!(log[0]["status"], "delivered", "the delivery log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["kind"], "completed");
    assert_eq!(log[0]["attempt_log"][0]["http_status"], 200);
    assert_eq!(log[0]["attempt_log"][0]["reply"], "8888");
    assert_eq!(receiver.count(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_failing_merchant_gets_five_attempts_five_minutes_apart_then_an_alert() {
    let app = spawn_app().await;
    let receiver =
        Receiver::start(vec![Reply::Status(500, "oops"), Reply::Status(200, "OK")]).await;
    app.set_notify_url(&receiver.url).await;
    let (uid, _) = app.sample_order("N-2", 10).await;
    app.pay(uid, "4000000000000002", "1230", "123", None).await;
    app.drain().await;
    assert_eq!(receiver.count(), 1, "the first attempt");
    // Not yet due: nothing more.
    app.advance(299).await;
    assert_eq!(receiver.count(), 1);
    for expected in 2..=5 {
        app.advance(300).await;
        assert_eq!(
            receiver.count(),
            expected,
            "attempt {expected} after 5 more minutes"
        );
    }
    app.advance(3600).await;
    assert_eq!(receiver.count(), 5, "no sixth attempt");
    let log = &app.notices(uid).await[0];
    assert_eq!(log["status"], "failed");
    assert_eq!(log["prc"], "300");
    let attempts = log["attempt_log"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 5);
    assert_eq!(attempts[0]["http_status"], 500);
    assert_eq!(attempts[0]["reply"], "oops");
    assert_eq!(attempts[1]["http_status"], 200);
    assert_eq!(attempts[1]["reply"], "OK");
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);

    // A resend makes one more attempt at once.
    let id = log["id"].as_i64().expect("id");
    let (status, _) = app
        .sandbox(
            &format!("/sandbox/notifications/{id}/resend"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(receiver.count(), 6);
    app.finish().await;
}

#[tokio::test]
async fn a_slow_reply_is_a_failure_logged_as_429() {
    let db = fresh_database();
    // The timeout is the document's 5 s by default; 1 s here keeps the suite fast.
    let app = spawn_app_with(db, Clock::frozen(start_time()), |s| {
        s.notify_timeout = Duration::from_secs(1)
    })
    .await;
    let receiver = Receiver::start(vec![Reply::Slow(Duration::from_secs(3)), Reply::Ack]).await;
    app.set_notify_url(&receiver.url).await;
    let (uid, _) = app.sample_order("N-3", 10).await;
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    app.drain().await;
    let log = app.notices(uid).await[0].clone();
    assert_eq!(log["attempts"], 1, "a failed attempt");
    assert_eq!(log["status"], "pending");
    assert_eq!(log["attempt_log"][0]["http_status"], 429);
    app.advance(300).await;
    assert_eq!(app.notices(uid).await[0]["status"], "delivered");
    app.finish().await;
}

#[tokio::test]
async fn a_restart_loses_no_due_notice_and_repeats_no_delivered_one() {
    let db = fresh_database();
    let receiver = Receiver::start(vec![Reply::Status(503, "down"), Reply::Ack]).await;
    let first = spawn_app_with(db.clone(), Clock::frozen(start_time()), |_| {}).await;
    first.set_notify_url(&receiver.url).await;
    let (uid, key) = first.sample_order("N-4", 10).await;
    first
        .pay(uid, "4058650600065507", "1022", "395", None)
        .await;
    first.drain().await;
    assert_eq!(receiver.count(), 1, "the first attempt");
    first.stop().await;

    // Five minutes later, a new process on the same database.
    let later = start_time() + jiff::SignedDuration::from_secs(300);
    let second = spawn_app_with(db, Clock::frozen(later), |_| {}).await;
    second.drain().await;
    assert_eq!(receiver.count(), 2, "the retry after the restart");
    second.advance(3600).await;
    assert_eq!(receiver.count(), 2);
    assert_eq!(
        second.query(uid, &key).await["prc"],
        "250",
        "the paid order survived"
    );
    assert_eq!(second.notices(uid).await[0]["status"], "delivered");
}

#[tokio::test]
async fn a_pending_charge_resolves_on_the_test_clock_with_a_confirmation_notice() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (paid_uid, paid_key) = app.sample_order("P-1", 10).await;
    let (failed_uid, failed_key) = app.sample_order("P-2", 10).await;
    assert_eq!(
        app.pay(paid_uid, "4000000000000028", "1230", "123", None)
            .await["prc"],
        "A0001"
    );
    assert_eq!(
        app.pay(failed_uid, "4000000000000036", "1230", "123", None)
            .await["prc"],
        "A0001"
    );
    assert_eq!(app.query(paid_uid, &paid_key).await["finishtime"], "");

    app.advance(59).await;
    assert_eq!(app.query(paid_uid, &paid_key).await["prc"], "A0001");
    app.advance(1).await;
    assert_eq!(app.query(paid_uid, &paid_key).await["prc"], "250");
    assert_eq!(app.query(failed_uid, &failed_key).await["prc"], "300");

    let notices = app.notices(paid_uid).await;
    let kinds: Vec<(String, String)> = notices
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap_or("").to_owned(),
                n["prc"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("completed".to_owned(), "A0001".to_owned()),
            ("confirmation".to_owned(), "250".to_owned())
        ]
    );
    assert_eq!(notices[1]["fields"]["finishtime"], "20261123100100");
    let timeline: Vec<(Option<String>, String, String)> = app
        .state
        .store
        .events(paid_uid)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.from_prc, e.to_prc, e.at))
        .collect();
    assert_eq!(
        timeline,
        vec![
            (None, "200".to_owned(), "2026-11-23 10:00:00".to_owned()),
            (
                Some("200".to_owned()),
                "A0001".to_owned(),
                "2026-11-23 10:00:00".to_owned()
            ),
            (
                Some("A0001".to_owned()),
                "250".to_owned(),
                "2026-11-23 10:01:00".to_owned()
            ),
        ]
    );
    app.drain().await;
    assert_eq!(receiver.count(), 4, "four notices delivered");
    app.finish().await;
}

#[tokio::test]
async fn every_outcome_card_reaches_its_state() {
    let app = spawn_app().await;
    let cases = [
        ("4000000000000002", "300"),
        ("4000000000000010", "400"),
        ("4000000000000044", "290"),
        ("4761120010000492", "250"),
        ("4111111111111111", "250"),
    ];
    for (i, (card, prc)) in cases.iter().enumerate() {
        let (uid, key) = app.sample_order(&format!("OUT-{i}"), 10).await;
        let expiry = if card.starts_with("4761") {
            "1122"
        } else {
            "1230"
        };
        let cvc = if card.starts_with("4761") {
            "533"
        } else {
            "123"
        };
        assert_eq!(
            app.pay(uid, card, expiry, cvc, None).await["prc"],
            *prc,
            "{card}"
        );
        let record = app.query(uid, &key).await;
        assert_eq!(record["prc"], *prc);
        if *prc == "290" {
            assert_eq!(record["actual_cost"], 9);
        }
    }
    // A 3D card with the wrong password fails; an order is paid once only.
    let (uid, _) = app.sample_order("OUT-3D", 10).await;
    assert_eq!(
        app.pay(uid, "4003618704777729", "0130", "000", Some("wrong"))
            .await["prc"],
        "300"
    );
    let (status, body) = app
        .pay_with(
            uid,
            serde_json::json!({"card_number": "4111111111111111", "expiry": "1230", "cvc": "123"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // A Luhn-invalid number is a form error, not a transaction.
    let (uid, key) = app.sample_order("OUT-LUHN", 10).await;
    let (status, body) = app
        .pay_with(
            uid,
            serde_json::json!({"card_number": "4111111111111112", "expiry": "1230", "cvc": "123"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("card_number")
    );
    assert_eq!(app.query(uid, &key).await["prc"], "200");
    // Abandoning ends the order with A0002.
    let (status, body) = app
        .sandbox(
            &format!("/sandbox/orders/{uid}/abandon"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["prc"], "A0002");
    app.finish().await;
}

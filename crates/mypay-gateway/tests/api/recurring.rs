//! Recurring billing (定期定額, SPEC §9) over the API, the sandbox helpers and the test
//! clock: every period charged once on its date, notified with its `nois`.

use crate::helpers::{Receiver, Reply, TestApp, assert_refused, sample_order_with, spawn_app};
use mypay_protocol::notice::TransactionNotice;
use serde_json::{Value, json};
use std::collections::HashSet;

const DAY: i64 = 86_400;
/// A test card without 3-D Secure (永豐銀行 Visa).
const CARD: (&str, &str, &str) = ("4058650600065507", "1022", "395");

/// A recurring order: `regular` every period, `total` periods, first on `first` (or
/// today when empty); answers (uid, key).
async fn recurring_order(
    app: &TestApp,
    order_id: &str,
    regular: &str,
    total: u32,
    first: &str,
    group_id: Option<&str>,
) -> (u64, String) {
    let mut order = sample_order_with(
        order_id,
        300,
        json!({"pfn": "DIRECTDEBIT", "regular": regular, "regular_total": total.to_string(), "regular_first_charge_date": first}),
    );
    if let Some(g) = group_id {
        order["group_id"] = json!(g);
    }
    let answer = app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    (
        answer["uid"].as_u64().expect("uid"),
        answer["key"].as_str().expect("key").to_owned(),
    )
}

async fn bind(app: &TestApp, uid: u64) -> Value {
    app.pay(uid, CARD.0, CARD.1, CARD.2, None).await
}

/// The notices of `order_id`'s periods, in period order, as (nois, date of finishtime,
/// prc, uid).
fn periods(receiver: &Receiver, order_id: &str) -> Vec<(u32, String, String, String)> {
    let mut out: Vec<(u32, String, String, String)> = receiver
        .transaction_notices()
        .into_iter()
        .filter(|n: &TransactionNotice| n.order_id == order_id)
        .map(|n| {
            (
                n.nois.parse().expect("nois"),
                n.finishtime.get(..8).unwrap_or("").to_owned(),
                n.prc.clone(),
                n.uid.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The sample merchant's key is valid for a year: after advancing the clock past it, the
/// merchant gets a new one (as `merchant key` gives), which the later calls use.
const RENEWED_KEY: &str = "RenewedKey0123456789abcdefABCDEF";

async fn renew_sample_key(app: &TestApp) {
    use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
    app.state
        .store
        .rotate_key(
            SAMPLE_STORE_UID,
            RENEWED_KEY,
            app.state.clocks.shared().now(),
            false,
        )
        .await
        .expect("new key");
}

async fn query_renewed(app: &TestApp, uid: u64, key: &str) -> Value {
    use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
    app.api_as(
        SAMPLE_STORE_UID,
        RENEWED_KEY,
        "api/queryorder",
        &json!({"uid": uid.to_string(), "key": key}),
    )
    .await
}

async fn disable(app: &TestApp, order_id: &str, group_id: &str, stop_time: &str) -> Value {
    app.api(
        "api/disabledirectdebit",
        &json!({"order_id": order_id, "group_id": group_id, "stop_time": stop_time, "stop_reason": "消費者不喜翻~"}),
    )
    .await
}

#[tokio::test]
async fn thirteen_monthly_periods_from_january_31st_each_on_its_own_date() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-1", "M", 13, "20270131", None).await;
    // The first charge is later: the page only binds the card.
    let bound = bind(&app, uid).await;
    assert_eq!(bound["prc"], "265", "{bound}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "265", "{record}");
    assert_eq!(record["actual_cost"], 0, "{record}");
    let group_id = record["group_id"].as_str().expect("group_id").to_owned();
    assert_eq!(group_id, format!("D{uid:010}"));
    assert_eq!(record["store_group_id"], "");
    // From 2026-11-23 to 2028-02-01: fourteen months and more, in one advance.
    app.advance(435 * DAY).await;
    renew_sample_key(&app).await;
    let charged = periods(&receiver, "SUB-1");
    let dates: Vec<&str> = charged.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(
        dates,
        [
            "20270131", "20270228", "20270331", "20270430", "20270531", "20270630", "20270731",
            "20270831", "20270930", "20271031", "20271130", "20271231", "20280131"
        ]
    );
    let nois: Vec<u32> = charged.iter().map(|p| p.0).collect();
    assert_eq!(nois, (1..=13).collect::<Vec<_>>());
    assert!(charged.iter().all(|p| p.2 == "250"), "{charged:?}");
    let uids: HashSet<&str> = charged.iter().map(|p| p.3.as_str()).collect();
    assert_eq!(uids.len(), 13, "each period is its own transaction");
    // Period 1 is the bound order itself.
    assert_eq!(charged[0].3, uid.to_string());
    let record = query_renewed(&app, uid, &key).await;
    assert_eq!(
        (record["prc"].as_str(), record["nois"].as_str()),
        (Some("250"), Some("1")),
        "{record}"
    );
    assert_eq!(record["actual_cost"], 300);
    // Every notice names the series and its period.
    for n in receiver.transaction_notices() {
        assert_eq!(n.group_id, group_id);
        assert_eq!(n.pfn, "DIRECTDEBIT");
        assert_eq!(n.payment_name, "商品名稱");
        assert_eq!(n.cost, "300");
    }
    // A later period's transaction is found by its own uid and key.
    let twelfth = receiver
        .transaction_notices()
        .into_iter()
        .find(|n| n.nois == "12")
        .expect("period 12");
    let record = query_renewed(&app, twelfth.uid.parse().expect("uid"), &twelfth.key).await;
    assert_eq!(record["order_id"], "SUB-1");
    assert_eq!(record["nois"], "12");
    assert_eq!(record["prc"], "250");
    // Total reached: a year more charges nothing.
    app.advance(400 * DAY).await;
    assert_eq!(periods(&receiver, "SUB-1").len(), 13);
    app.finish().await;
}

#[tokio::test]
async fn a_first_charge_today_is_paid_on_the_page_with_the_merchants_group_id() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-2", "M", 0, "", Some("G-2")).await;
    let paid = bind(&app, uid).await;
    assert_eq!(paid["prc"], "250", "{paid}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["group_id"], "G-2");
    assert_eq!(record["store_group_id"], "G-2");
    assert_eq!(record["nois"], "1");
    assert_eq!(record["actual_cost"], 300);
    // No end: two years are 24 more periods, from 2026-12-23 on.
    app.advance(731 * DAY).await;
    let charged = periods(&receiver, "SUB-2");
    assert_eq!(charged.len(), 25, "{charged:?}");
    assert_eq!(charged[0].1, "20261123");
    assert_eq!(charged[1].1, "20261223");
    assert_eq!(charged[24].1, "20281123");
    app.finish().await;
}

#[tokio::test]
async fn weekly_and_fortnightly_series_cross_the_year() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (weekly, _) = recurring_order(&app, "SUB-W", "W", 4, "20261221", None).await;
    let (fortnightly, _) = recurring_order(&app, "SUB-F", "F", 3, "20261221", None).await;
    bind(&app, weekly).await;
    bind(&app, fortnightly).await;
    app.advance(90 * DAY).await;
    let dates = |id| {
        periods(&receiver, id)
            .into_iter()
            .map(|p| p.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        dates("SUB-W"),
        ["20261221", "20261228", "20270104", "20270111"]
    );
    assert_eq!(dates("SUB-F"), ["20261221", "20270104", "20270118"]);
    app.finish().await;
}

#[tokio::test]
async fn quarterly_half_yearly_and_yearly_from_february_29th() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    for (id, regular) in [("SUB-S", "S"), ("SUB-H", "H"), ("SUB-A", "A")] {
        let (uid, _) = recurring_order(&app, id, regular, 4, "20280229", None).await;
        bind(&app, uid).await;
    }
    app.advance(5 * 366 * DAY).await;
    let dates = |id| {
        periods(&receiver, id)
            .into_iter()
            .map(|p| p.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        dates("SUB-S"),
        ["20280229", "20280529", "20280829", "20281129"]
    );
    assert_eq!(
        dates("SUB-H"),
        ["20280229", "20280829", "20290228", "20290829"]
    );
    assert_eq!(
        dates("SUB-A"),
        ["20280229", "20290228", "20300228", "20310228"]
    );
    app.finish().await;
}

/// The published key never expires in the sandbox: a yearly series begun today charges
/// its second period a year on, and 800 days on its merchant still queries every period
/// with the key of the document.
#[tokio::test]
async fn a_yearly_series_charges_its_second_period_and_is_queried_800_days_on() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-Y", "A", 0, "", None).await;
    assert_eq!(bind(&app, uid).await["prc"], "250");
    app.advance(800 * DAY).await;
    let charged = periods(&receiver, "SUB-Y");
    let seen: Vec<(u32, &str, &str)> = charged
        .iter()
        .map(|p| (p.0, p.1.as_str(), p.2.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "20261123", "250"),
            (2, "20271123", "250"),
            (3, "20281123", "250")
        ]
    );
    assert_eq!(app.query(uid, &key).await["prc"], "250");
    for notice in receiver.transaction_notices() {
        let record = app
            .query(notice.uid.parse().expect("uid"), &notice.key)
            .await;
        assert_eq!(record["prc"], "250", "period {}: {record}", notice.nois);
        assert_eq!(record["nois"], notice.nois.as_str());
    }
    app.finish().await;
}

#[tokio::test]
async fn a_declined_period_is_retried_three_days_later_and_the_series_goes_on() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-D", "M", 4, "", None).await;
    bind(&app, uid).await;
    let group_id = app.query(uid, &key).await["group_id"]
        .as_str()
        .expect("group_id")
        .to_owned();
    let decline = |g: String| {
        let app = &app;
        async move {
            app.sandbox(
                &format!("/sandbox/recurring/{g}/next-charge"),
                json!({"decline": true}),
            )
            .await
        }
    };
    let (status, body) = decline(group_id.clone()).await;
    assert_eq!(status, 200, "{body}");
    // Period 2 (2026-12-23) declines, its retry (12-26) is approved; period 3 on 01-23.
    app.advance(62 * DAY).await;
    let charged = periods(&receiver, "SUB-D");
    let seen: Vec<(u32, &str, &str)> = charged
        .iter()
        .map(|p| (p.0, p.1.as_str(), p.2.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "20261123", "250"),
            (2, "20261223", "300"),
            (2, "20261226", "250"),
            (3, "20270123", "250"),
        ]
    );
    // Both attempts of period 2 are transactions of their own.
    assert_ne!(charged[1].3, charged[2].3);
    // Another decline, with the merchant's retry delay set to 5 days: period 4 declines
    // on 02-23, its retry on 02-28 is approved, and the series (4 periods) ends.
    decline(group_id.clone()).await;
    app.update_merchant(|s| s.recurring_retry_days = 5).await;
    app.advance(60 * DAY).await;
    let charged = periods(&receiver, "SUB-D");
    let last: Vec<(u32, &str, &str)> = charged[4..]
        .iter()
        .map(|p| (p.0, p.1.as_str(), p.2.as_str()))
        .collect();
    assert_eq!(last, [(4, "20270223", "300"), (4, "20270228", "250")]);
    // An unknown series is a clear 404.
    let (status, body) = decline("NO-SUCH".into()).await;
    assert_eq!(status, 404, "{body}");
    app.finish().await;
}

#[tokio::test]
async fn a_card_that_declines_fails_its_bind_and_starts_no_series() {
    let app = spawn_app().await;
    let (uid, key) = recurring_order(&app, "SUB-X", "M", 3, "20270101", None).await;
    let answer = app.pay(uid, "4000000000000002", "1230", "123", None).await;
    assert_eq!(answer["prc"], "300", "{answer}");
    let record = app.query(uid, &key).await;
    assert_eq!(record["group_id"], "");
    app.advance(120 * DAY).await;
    assert_eq!(app.query(uid, &key).await["prc"], "300");
    app.finish().await;
}

#[tokio::test]
async fn disabledirectdebit_stops_the_series_from_its_date() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-STOP", "M", 0, "", None).await;
    bind(&app, uid).await;
    let group_id = app.query(uid, &key).await["group_id"]
        .as_str()
        .expect("group_id")
        .to_owned();
    // Not after today: the document's answer, with both ids echoed.
    let answer = disable(&app, "SUB-STOP", &group_id, "20261123").await;
    assert_eq!(
        answer,
        json!({"code": "B500", "msg": "停扣日必須大於今日", "order_id": "SUB-STOP", "group_id": group_id})
    );
    // An unknown series, a mismatched order_id, a malformed date, a missing field.
    let answer = disable(&app, "SUB-STOP", "D0000000520", "20270101").await;
    assert_refused(&answer, "B500", "group_id");
    let answer = disable(&app, "OTHER", &group_id, "20270101").await;
    assert!(
        answer["msg"].as_str().expect("msg").starts_with("order_id"),
        "{answer}"
    );
    let answer = disable(&app, "SUB-STOP", &group_id, "2027-01-01").await;
    assert!(
        answer["msg"]
            .as_str()
            .expect("msg")
            .starts_with("stop_time"),
        "{answer}"
    );
    let answer = app
        .api(
            "api/disabledirectdebit",
            &json!({"order_id": "SUB-STOP", "group_id": group_id}),
        )
        .await;
    assert_eq!(answer["msg"], "stop_time: is required", "{answer}");
    // Stop from 2027-02-23: periods 2 (12-23) and 3 (01-23) are charged, 4 is not.
    let answer = disable(&app, "SUB-STOP", &group_id, "20270223").await;
    assert_eq!(
        answer,
        json!({"code": "B200", "msg": "執行成功", "order_id": "SUB-STOP", "group_id": group_id})
    );
    app.advance(200 * DAY).await;
    let nois: Vec<u32> = periods(&receiver, "SUB-STOP").iter().map(|p| p.0).collect();
    assert_eq!(nois, [1, 2, 3]);
    // A stop that has taken effect cannot be moved.
    let answer = disable(&app, "SUB-STOP", &group_id, "20280101").await;
    assert_refused(&answer, "B500", "stop_time");
    app.finish().await;
}

#[tokio::test]
async fn a_stop_before_the_first_charge_leaves_the_card_bound_and_uncharged() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-EARLY", "W", 10, "20261201", None).await;
    bind(&app, uid).await;
    let group_id = format!("D{uid:010}");
    let answer = disable(&app, "SUB-EARLY", &group_id, "20261130").await;
    assert_eq!(answer["code"], "B200", "{answer}");
    app.advance(30 * DAY).await;
    assert!(periods(&receiver, "SUB-EARLY").is_empty());
    assert_eq!(app.query(uid, &key).await["prc"], "265");
    app.finish().await;
}

#[tokio::test]
async fn a_bound_order_left_before_its_first_charge_is_never_charged() {
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    let (uid, key) = recurring_order(&app, "SUB-LEFT", "M", 6, "20261215", None).await;
    bind(&app, uid).await;
    let (status, body) = app
        .sandbox(&format!("/sandbox/orders/{uid}/abandon"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.query(uid, &key).await["prc"], "A0002");
    app.advance(100 * DAY).await;
    // Only the abandonment's notice: no charge.
    let prcs: Vec<String> = periods(&receiver, "SUB-LEFT")
        .into_iter()
        .map(|p| p.2)
        .collect();
    assert_eq!(prcs, ["A0002"]);
    assert_eq!(app.order_count().await, 1, "no transaction of any period");
    app.finish().await;
}

/// `kill -9` of the gateway at random moments of clock advances over many due series,
/// restarted each time: every period is charged once (one transaction per period, paid)
/// and notified. A notice may arrive twice only when a kill fell between the merchant's
/// `8888` and its record (at-least-once): those are counted and printed.
#[tokio::test]
async fn every_period_is_charged_once_through_kill_9_during_clock_advances() {
    use crate::helpers::{fresh_database, gateway_command, start_gateway};
    use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
    const SERIES: usize = 30;
    const PERIODS: u32 = 6;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let mut random = Lcg(seed);
    let db = fresh_database();
    let receiver = Receiver::start(vec![Reply::Ack]).await;
    let http = reqwest::Client::new();

    let (mut gateway, mut base) = start_gateway(&db);
    let (ok, _, err) = gateway_command(
        &db,
        &[
            "merchant",
            "set",
            SAMPLE_STORE_UID,
            "--notify-url",
            &receiver.url,
        ],
    );
    assert!(ok, "{err}");
    let client = mypay_client::Client::new(
        &format!("{base}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    for i in 0..SERIES {
        let order = sample_order_with(
            &format!("KILL-SUB-{i}"),
            100 + i as i64,
            json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": PERIODS.to_string()}),
        );
        let order = serde_json::from_value(order).expect("order");
        let created = client.create_order(&order).await.expect("created");
        let paid: Value = http
            .post(format!("{base}/sandbox/orders/{}/pay", created.uid))
            .json(&json!({"card_number": CARD.0, "expiry": CARD.1, "cvc": CARD.2}))
            .send()
            .await
            .expect("pay")
            .json()
            .await
            .expect("json");
        assert_eq!(paid["prc"], "250", "{paid}");
    }

    // Four advances of 45 days, each cut by a kill at a random moment (even before the
    // advance is stored); the restarted gateway goes on by itself.
    let mut kills = 0;
    for _ in 0..4 {
        let advance = {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                http.post(format!("{base}/sandbox/clock/advance"))
                    .json(&json!({"seconds": 45 * DAY}))
                    .send()
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(random.below(250))).await;
        gateway.kill().expect("SIGKILL");
        gateway.wait().expect("reaped");
        kills += 1;
        let _ = advance.await;
        (gateway, base) = start_gateway(&db);
    }
    // The rest, on a gateway left running (everything due runs before it answers): up to
    // five advances in all, as a kill may have come before an advance was stored.
    let clock: Value = http
        .get(format!("{base}/sandbox/clock"))
        .send()
        .await
        .expect("clock")
        .json()
        .await
        .expect("json");
    let moved = clock["offset_seconds"].as_i64().expect("offset");
    let answer: Value = http
        .post(format!("{base}/sandbox/clock/advance"))
        .json(&json!({"seconds": (5 * 45 * DAY - moved).max(0)}))
        .send()
        .await
        .expect("advance")
        .json()
        .await
        .expect("json");
    assert!(answer["now"].is_string(), "{answer}");

    let expected = SERIES * PERIODS as usize;
    let mut waited = 0;
    let notices = loop {
        let notices = receiver.transaction_notices();
        let distinct: HashSet<(String, String)> = notices
            .iter()
            .map(|n| (n.uid.clone(), n.prc.clone()))
            .collect();
        if distinct.len() >= expected {
            break notices;
        }
        waited += 1;
        if waited > 400 {
            let seen: HashSet<(String, String)> = notices
                .iter()
                .map(|n| (n.order_id.clone(), n.nois.clone()))
                .collect();
            let mut missing = Vec::new();
            for i in 0..SERIES {
                for p in 1..=PERIODS {
                    if !seen.contains(&(format!("KILL-SUB-{i}"), p.to_string())) {
                        missing.push((i, p));
                    }
                }
            }
            let clock: Value = http
                .get(format!("{base}/sandbox/clock"))
                .send()
                .await
                .expect("c")
                .json()
                .await
                .expect("j");
            let list: Value = http
                .get(format!("{base}/sandbox/notifications"))
                .send()
                .await
                .expect("c")
                .json()
                .await
                .expect("j");
            let pending: Vec<&Value> = list["notifications"]
                .as_array()
                .expect("a")
                .iter()
                .filter(|n| n["status"] != "delivered")
                .collect();
            panic!("seed {seed}: missing {missing:?}; clock {clock}; undelivered {pending:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut by_period: std::collections::HashMap<(String, String), HashSet<String>> =
        Default::default();
    for n in &notices {
        assert_eq!(n.prc, "250", "seed {seed}: {n:?}");
        by_period
            .entry((n.order_id.clone(), n.nois.clone()))
            .or_default()
            .insert(n.uid.clone());
    }
    for i in 0..SERIES {
        for period in 1..=PERIODS {
            let uids = by_period
                .get(&(format!("KILL-SUB-{i}"), period.to_string()))
                .unwrap_or_else(|| panic!("seed {seed}: series {i} period {period} not notified"));
            assert_eq!(
                uids.len(),
                1,
                "seed {seed}: series {i} period {period}: {uids:?}"
            );
        }
    }
    assert_eq!(by_period.len(), expected, "no period beyond the total");
    // Each period's transaction is paid, as its query shows.
    let client = mypay_client::Client::new(
        &format!("{base}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    for n in notices.iter().take(20) {
        let record = client
            .query_order(n.uid.parse().expect("uid"), &n.key)
            .await
            .expect("query");
        assert_eq!(record.prc, "250");
    }
    let again = notices.len() - expected;
    eprintln!(
        "recurring kill test (seed {seed}): {kills} kills, {expected} periods charged once, {again} notices delivered again after a kill (at-least-once)"
    );
    gateway.kill().expect("SIGKILL");
    let _ = gateway.wait();
}

/// A small deterministic generator (the seed is printed on failure).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Many random series (kinds, first dates, totals, stops, a decline) under random clock
/// jumps: every charge falls on the date an independent calendar rule gives, each
/// period once, nothing on or after a stop.
#[tokio::test]
async fn random_schedules_charge_on_the_dates_an_independent_rule_gives() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(11, |d| d.as_nanos() as u64);
    let mut random = Lcg(seed);
    let app = spawn_app().await;
    let receiver = app.receiver().await;
    // The tests' clock starts on 2026-11-23 (Taipei).
    let today = Civil::new(2026, 11, 23);
    let kinds = ["W", "F", "M", "S", "H", "A", "O"];
    let mut expected: Vec<(String, u32, String, String)> = Vec::new();
    let mut plans = Vec::new();
    for i in 0..14 {
        let kind = kinds[random.below(kinds.len() as u64) as usize];
        let total = random.below(9) as u32; // 0: no end
        let first = today.plus_days(random.below(70) as i64);
        let stop = (random.below(3) == 0).then(|| first.plus_days(1 + random.below(400) as i64));
        let decline = random.below(4) == 0;
        let order_id = format!("RND-{i}");
        let first_text = if first == today {
            String::new()
        } else {
            first.date8()
        };
        let (uid, _) = recurring_order(&app, &order_id, kind, total, &first_text, None).await;
        bind(&app, uid).await;
        let group_id = format!("D{uid:010}");
        if let Some(stop) = stop {
            let answer = disable(&app, &order_id, &group_id, &stop.date8()).await;
            assert_eq!(answer["code"], "B200", "seed {seed}: {answer}");
        }
        if decline {
            let (status, body) = app
                .sandbox(
                    &format!("/sandbox/recurring/{group_id}/next-charge"),
                    json!({"decline": true}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        plans.push((order_id, kind, total, first, stop, decline));
    }
    // Jumps of 1 to 120 days, some 600 days in all.
    let mut days = 0;
    while days < 600 {
        let jump = 1 + random.below(120) as i64;
        app.advance(jump * DAY).await;
        days += jump;
    }
    let end = today.plus_days(days);
    for (order_id, kind, total, first, stop, decline) in &plans {
        let periods_in_all = if *kind == "O" || *total == 1 {
            1
        } else {
            *total
        };
        let mut declined_once = !decline;
        for n in 1.. {
            if periods_in_all != 0 && n > periods_in_all {
                break;
            }
            let date = first.period(kind, n);
            // Period 1 today is charged on the page; every other by the scheduler.
            let by_page = n == 1 && *first == today;
            let allowed = |d: Civil| d <= end && stop.is_none_or(|s| d < s);
            if !allowed(date) {
                break;
            }
            if !by_page && !declined_once {
                declined_once = true;
                expected.push((order_id.clone(), n, date.date8(), "300".to_owned()));
                let retry = date.plus_days(3);
                if !allowed(retry) {
                    break;
                }
                expected.push((order_id.clone(), n, retry.date8(), "250".to_owned()));
                continue;
            }
            expected.push((order_id.clone(), n, date.date8(), "250".to_owned()));
        }
    }
    let mut seen: Vec<(String, u32, String, String)> = receiver
        .transaction_notices()
        .into_iter()
        .map(|n| {
            (
                n.order_id.clone(),
                n.nois.parse().expect("nois"),
                n.finishtime.get(..8).unwrap_or("").to_owned(),
                n.prc.clone(),
            )
        })
        .collect();
    // Every series charges at least its first period (before any stop, within the run).
    assert!(expected.len() >= plans.len(), "seed {seed}: {expected:?}");
    // A notice is received once here (no kill): duplicates would be double charges.
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "seed {seed}: {plans:?}");
    app.finish().await;
}

/// A calendar date with its own arithmetic (days since 1970-01-01, month ends by
/// table), independent of the gateway's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Civil {
    y: i64,
    m: i64,
    d: i64,
}

impl Civil {
    fn new(y: i64, m: i64, d: i64) -> Civil {
        Civil { y, m, d }
    }

    fn days_in_month(y: i64, m: i64) -> i64 {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][(m - 1) as usize]
    }

    fn plus_days(self, mut n: i64) -> Civil {
        let mut c = self;
        while n > 0 {
            c.d += 1;
            if c.d > Civil::days_in_month(c.y, c.m) {
                c.d = 1;
                c.m += 1;
                if c.m > 12 {
                    c.m = 1;
                    c.y += 1;
                }
            }
            n -= 1;
        }
        c
    }

    fn plus_months(self, n: i64) -> Civil {
        let months = self.y * 12 + (self.m - 1) + n;
        let (y, m) = (months / 12, months % 12 + 1);
        Civil::new(y, m, self.d.min(Civil::days_in_month(y, m)))
    }

    /// Period `n`'s date of a series of `kind` from this first date.
    fn period(self, kind: &str, n: u32) -> Civil {
        let k = i64::from(n - 1);
        match kind {
            "W" => self.plus_days(7 * k),
            "F" => self.plus_days(14 * k),
            "M" => self.plus_months(k),
            "S" => self.plus_months(3 * k),
            "H" => self.plus_months(6 * k),
            "A" => self.plus_months(12 * k),
            _ => self,
        }
    }

    fn date8(self) -> String {
        format!("{:04}{:02}{:02}", self.y, self.m, self.d)
    }
}

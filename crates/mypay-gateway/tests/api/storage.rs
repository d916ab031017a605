//! One story through the storage interface, told the same way to each backend (the
//! suite runs on SQLite, and on PostgreSQL when `MYPAY_TEST_POSTGRES` is set): every
//! guard that keeps money moving once is tried, and what is stored read back.

use crate::helpers::{fresh_database, join_all};
use jiff::{SignedDuration, Timestamp};
use mypay_gateway::ledger::merchant::MerchantSettings;
use mypay_gateway::ledger::timers::TimerKind;
use mypay_gateway::store::{
    AttemptRecord, ChargeTarget, Created, CredentialOwner, NewNotice, NewOrderRow, NewReversal,
    NewSeries, NewTimer, NoticeClaim, NoticeFilter, PaymentFacts, RefundEffects, ReversalKind,
    SeriesChargeAsk, SeriesWrite, Store, StoreError, StoreOptions, Transition, Trigger, WorkLease,
};
use mypay_protocol::Prc;
use std::time::Duration;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("time")
}

fn new_order(order_id: &str, request: &str, strict: bool, token: &str) -> NewOrderRow {
    NewOrderRow {
        store_uid: "100000000001".into(),
        order_id: order_id.into(),
        pfn: "CREDITCARD",
        cost: 100,
        currency: "TWD",
        authorise_only: false,
        request_json: request.into(),
        strict,
        token: token.into(),
        user_id: "u".into(),
        now: at(0),
    }
}

fn notice(uid: u64, kind: &str, prc: &str) -> NewNotice {
    NewNotice {
        uid,
        ref_uid: 0,
        store_uid: "100000000001".into(),
        kind: kind.into(),
        prc: prc.into(),
        url: "http://shop.example/notify".into(),
        body: format!("uid={uid}&prc={prc}"),
        max_attempts: 2,
        interval_secs: 300,
    }
}

fn paid(uid: u64, notices: Vec<NewNotice>, timers: Vec<NewTimer>) -> Transition {
    Transition {
        uid,
        from: Prc::Created,
        to: Prc::Paid,
        cause: "card".into(),
        retmsg: String::new(),
        at: at(10),
        finishes: true,
        facts: PaymentFacts {
            actual_cost: Some(100),
            cardno: Some("543376******8009".into()),
            ..Default::default()
        },
        notices,
        timers,
        completes_timer: None,
        reversals: Vec::new(),
        series: None,
    }
}

fn lease(holder: &str, now: Timestamp) -> WorkLease {
    WorkLease::new(holder.into(), now, Duration::from_secs(10))
}

#[tokio::test]
async fn the_storage_story() {
    let database = fresh_database();
    let store = Store::open(&database, &StoreOptions::default())
        .await
        .expect("the store opens and migrates");
    store.ready().await.expect("ready once migrated");

    // The installation: one secret, kept; the clock's state only ever raised.
    let secret = store.installation_secret().await.expect("secret");
    assert_eq!(store.installation_secret().await.expect("again"), secret);
    assert_eq!(store.clock_state().await.expect("clock"), None);
    store.save_clock_state(5_000, 9_000).await.expect("save");
    store
        .save_clock_state(4_000, 8_000)
        .await
        .expect("an older state");
    assert_eq!(
        store.clock_state().await.expect("clock"),
        Some((5_000, 9_000))
    );

    // Merchants and keys.
    let settings = MerchantSettings::sandbox_defaults("Story shop");
    store
        .create_merchant("100000000001", None, &settings, "k1", at(0))
        .await
        .expect("merchant");
    assert!(matches!(
        store
            .create_merchant("100000000001", None, &settings, "k9", at(0))
            .await,
        Err(StoreError::Duplicate)
    ));
    store
        .rotate_key("100000000001", "k2", at(60), false)
        .await
        .expect("rotate");
    let keys = store
        .credentials(CredentialOwner::Store, "100000000001")
        .await
        .expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].secret, "k2", "newest first");
    assert_eq!(
        keys[1].valid_until,
        at(60) + SignedDuration::from_hours(24 * 7),
        "the old key keeps working a week"
    );
    let mut renamed = settings.clone();
    renamed.name = "Story shop, renamed".into();
    store
        .save_settings("100000000001", &renamed)
        .await
        .expect("settings");
    let merchant = store
        .merchant("100000000001")
        .await
        .expect("read")
        .expect("merchant");
    assert_eq!(merchant.settings.name, "Story shop, renamed");
    assert!(matches!(
        store.save_settings("999999999999", &renamed).await,
        Err(StoreError::NotFound)
    ));

    // Orders: a new one, its retry, a different request under the same id, and a
    // merchant that requires unique ids.
    let Created::New { uid, token } = store
        .create_order(new_order("A-1", r#"{"a":1}"#, false, "t1"))
        .await
        .expect("order")
    else {
        panic!("a new transaction");
    };
    assert_eq!(token, "t1");
    assert_eq!(
        store
            .create_order(new_order("A-1", r#"{"a":1}"#, false, "t2"))
            .await
            .expect("retry"),
        Created::Retry {
            uid,
            token: "t1".into()
        }
    );
    let Created::New { uid: other, .. } = store
        .create_order(new_order("A-1", r#"{"a":2}"#, false, "t3"))
        .await
        .expect("another request")
    else {
        panic!("another request under the same id is a new transaction");
    };
    assert_ne!(other, uid);
    assert_eq!(
        store
            .create_order(new_order("A-1", r#"{"a":3}"#, true, "t4"))
            .await
            .expect("strict"),
        Created::DuplicateOrderId
    );
    // The same new request many times at once: one transaction.
    let racing = join_all(
        (0..16)
            .map(|i| store.create_order(new_order("RACE", r#"{"r":1}"#, false, &format!("r{i}"))))
            .collect(),
    )
    .await;
    let uids: std::collections::BTreeSet<u64> = racing
        .into_iter()
        .map(|c| match c.expect("created") {
            Created::New { uid, .. } | Created::Retry { uid, .. } => uid,
            Created::DuplicateOrderId => panic!("not strict"),
        })
        .collect();
    assert_eq!(uids.len(), 1, "{uids:?}");

    // Retries and new orders one after another (PostgreSQL's writer inserts plainly until
    // a batch collides, then with conflict checks until a batch goes through without one):
    // each answer is the same whichever way its batch was written.
    let mut tokens: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    // (order_id, request, token, the token of the transaction it is a retry of)
    for (step, (order_id, request, token, retry_of)) in [
        ("SEQ-1", r#"{"s":1}"#, "s1", None),
        ("SEQ-1", r#"{"s":1}"#, "s2", Some("s1")),
        ("SEQ-2", r#"{"s":2}"#, "s3", None),
        ("SEQ-1", r#"{"s":1}"#, "s4", Some("s1")),
        ("SEQ-1", r#"{"s":1}"#, "s5", Some("s1")),
        ("SEQ-3", r#"{"s":3}"#, "s6", None),
        ("SEQ-3", r#"{"s":3}"#, "s7", Some("s6")),
        ("SEQ-1", r#"{"s":9}"#, "s8", None),
    ]
    .into_iter()
    .enumerate()
    {
        let created = store
            .create_order(new_order(order_id, request, false, token))
            .await
            .expect("created");
        match (created, retry_of) {
            (Created::New { uid, token: new }, None) => {
                assert_eq!(new, token, "step {step}");
                assert!(
                    !tokens.values().any(|&u| u == uid),
                    "step {step}: a new transaction has a uid of its own"
                );
                tokens.insert(token, uid);
            }
            (Created::Retry { uid, token: stored }, Some(of)) => {
                assert_eq!(stored, of, "step {step}: the retry of {of}");
                assert_eq!(Some(&uid), tokens.get(of), "step {step}");
            }
            (other, _) => panic!("step {step}: {order_id} {request}: {other:?}"),
        }
    }

    // A state change with its notice and timer, once: a second from the same state
    // conflicts and writes nothing.
    let timer = NewTimer {
        kind: TimerKind::ResolvePending,
        due_at: at(100),
        payload: "p".into(),
        store_uid: String::new(),
    };
    store
        .apply(&paid(
            uid,
            vec![notice(uid, "completed", "250")],
            vec![timer.clone()],
        ))
        .await
        .expect("paid");
    assert!(matches!(
        store
            .apply(&paid(
                uid,
                vec![notice(uid, "completed", "250")],
                vec![timer]
            ))
            .await,
        Err(StoreError::Conflict)
    ));
    let order = store.order(uid).await.expect("read").expect("order");
    assert_eq!((order.prc, order.actual_cost), (Prc::Paid, Some(100)));
    let history: Vec<String> = store
        .events(uid)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.to_prc)
        .collect();
    assert_eq!(history, ["200", "250"]);
    let totals = store.totals().await.expect("totals");
    assert_eq!((totals.notices, totals.timers), (1, 1), "{totals:?}");

    // Timers: not due before their time; leased to one holder at a time; the lease
    // runs out and another takes it; closing ends it.
    let a = lease("node-a", at(0));
    assert!(
        store
            .claim_timers(at(99).into(), 10, &a)
            .await
            .expect("early")
            .is_empty()
    );
    assert!(store.timers_due(at(100).into()).await.expect("due"));
    let taken = store
        .claim_timers(at(100).into(), 10, &a)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    let b = lease("node-b", at(1));
    let again = store
        .claim_timers(at(100).into(), 10, &b)
        .await
        .expect("claim");
    if store.backend() == "postgres" {
        assert!(again.is_empty(), "leased to node-a");
        let later = lease("node-b", at(11));
        assert_eq!(
            store
                .claim_timers(at(100).into(), 10, &later)
                .await
                .expect("claim")
                .len(),
            1
        );
    }
    store
        .close_timer(taken[0].id, at(100))
        .await
        .expect("close");
    assert!(!store.timers_due(at(100).into()).await.expect("due"));

    // Refunds: what fits the paid balance, never more, however they race.
    let refund = |cost| NewReversal {
        kind: ReversalKind::Refund,
        cost,
        prc: Prc::Created,
        retmsg: "申請中".into(),
        refund_type: 1,
        expected_refund_date: String::new(),
        invoice_state: None,
        items: None,
        finished: false,
    };
    let thirty = refund(30);
    let racing = join_all(
        (0..8)
            .map(|_| {
                store.refund(
                    uid,
                    &thirty,
                    at(20),
                    Box::new(|_| RefundEffects {
                        notice: None,
                        timer: None,
                    }),
                )
            })
            .collect(),
    )
    .await;
    let accepted = racing.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 3, "3 × 30 of 100");
    assert!(
        racing
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict))
    );
    let order = store.order(uid).await.expect("read").expect("order");
    assert_eq!(order.refunded, 90);
    let cancelled = store
        .cancel_queued_refunds(uid, at(30))
        .await
        .expect("cancel");
    assert_eq!(cancelled.len(), 3);
    assert_eq!(store.order(uid).await.expect("r").expect("o").refunded, 0);
    let row = store
        .refund(
            uid,
            &refund(100),
            at(40),
            Box::new(|row| RefundEffects {
                notice: None,
                timer: Some(NewTimer {
                    kind: TimerKind::RefundBatch,
                    due_at: at(50),
                    payload: row.id.to_string(),
                    store_uid: String::new(),
                }),
            }),
        )
        .await
        .expect("the whole balance");
    let batch = store
        .claim_timers(at(50).into(), 10, &lease("node-a", at(60)))
        .await
        .expect("batch");
    assert_eq!(batch.len(), 1);
    let done = store
        .complete_refund(row.id, batch[0].id, "", at(50), Box::new(|_| None))
        .await
        .expect("complete")
        .expect("completed");
    assert_eq!(done.prc.code(), "230");
    assert_eq!(
        store
            .complete_refund(row.id, batch[0].id, "", at(51), Box::new(|_| None))
            .await
            .expect("again"),
        None,
        "completed once"
    );
    assert_eq!(store.reversals(uid).await.expect("records").len(), 4);

    // Notices: claimed, recorded, finished; a resend goes once more.
    let claim = || NoticeClaim {
        now: at(10).into(),
        limit: 10,
        default_room: 10,
        ..Default::default()
    };
    let taken = store
        .claim_notices(claim(), &lease("node-a", at(100)))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].body, format!("uid={uid}&prc=250"));
    if store.backend() == "postgres" {
        let none = store
            .claim_notices(claim(), &lease("node-b", at(101)))
            .await
            .expect("claim");
        assert!(none.is_empty(), "leased to node-a");
    }
    let attempt = AttemptRecord {
        notice: taken[0].clone(),
        trigger: Trigger::Scheduled,
        at: at(10),
        url: "http://shop.example/notify".into(),
        http_status: Some(500),
        reply: "oops".into(),
        elapsed_ms: 3,
        acknowledged: false,
        alert: None,
    };
    store
        .record_attempts(vec![attempt.clone()], &lease("node-a", at(102)))
        .await
        .expect("record");
    let after = store
        .notice(taken[0].id)
        .await
        .expect("read")
        .expect("notice");
    assert_eq!((after.attempts, after.status.as_str()), (1, "pending"));
    assert_eq!(
        after.next_attempt_at,
        at(310),
        "on the first attempt's schedule"
    );
    assert!(!store.notices_due(at(309).into()).await.expect("due"));
    assert!(store.notices_due(at(310).into()).await.expect("due"));
    let backlog = store.backlog(at(400)).await.expect("backlog");
    assert_eq!((backlog.notices_due, backlog.oldest_notice_secs), (1, 90));
    let second = store
        .claim_notices(
            NoticeClaim {
                now: at(310).into(),
                ..claim()
            },
            &lease("node-b", at(200)),
        )
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    store
        .record_attempts(
            vec![AttemptRecord {
                notice: second[0].clone(),
                at: at(310),
                alert: Some(("ops@shop.example".into(), "s".into(), "b".into())),
                ..attempt.clone()
            }],
            &lease("node-b", at(201)),
        )
        .await
        .expect("record");
    let failed = store.notice(taken[0].id).await.expect("r").expect("n");
    assert_eq!((failed.attempts, failed.status.as_str()), (2, "failed"));
    assert_eq!(store.email_count().await.expect("emails"), 1, "one alert");
    assert!(
        store
            .resend_notice(taken[0].id, at(400))
            .await
            .expect("resend")
    );
    let log = store.notice_attempts(taken[0].id).await.expect("attempts");
    assert_eq!(log.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2]);
    let listed = store
        .notices(&NoticeFilter {
            uid: Some(uid),
            ..Default::default()
        })
        .await
        .expect("notices");
    assert_eq!(listed.len(), 1);

    // Leases given back at shutdown make the work claimable at once.
    let third = store
        .claim_notices(
            NoticeClaim {
                now: at(400).into(),
                ..claim()
            },
            &lease("node-c", at(300)),
        )
        .await
        .expect("claim");
    assert_eq!(third.len(), 1);
    store
        .release_leases(&lease("node-c", at(300)))
        .await
        .expect("release");
    let fourth = store
        .claim_notices(
            NoticeClaim {
                now: at(400).into(),
                ..claim()
            },
            &lease("node-d", at(301)),
        )
        .await
        .expect("claim");
    assert_eq!(fourth.len(), 1, "given back, taken by another");

    // State changes applied together (recurring charges' answers): each alone. The one
    // whose order moved on is refused and leaves nothing, its neighbours are applied.
    let mut together = Vec::new();
    for token in ["g1", "g2", "g3"] {
        let Created::New { uid, .. } = store
            .create_order(new_order(&format!("TOGETHER-{token}"), "{}", false, token))
            .await
            .expect("created")
        else {
            panic!("a new order");
        };
        together.push(uid);
    }
    store
        .apply(&paid(together[1], vec![], vec![]))
        .await
        .expect("paid before");
    let before = store.totals().await.expect("totals");
    let later = |uid| NewTimer {
        kind: TimerKind::CaptureBatch,
        due_at: at(5_000),
        payload: format!("together-{uid}"),
        store_uid: "100000000001".into(),
    };
    let answers = store
        .apply_each(
            &together
                .iter()
                .map(|&uid| paid(uid, vec![notice(uid, "completed", "250")], vec![later(uid)]))
                .collect::<Vec<_>>(),
        )
        .await
        .expect("applied together");
    assert!(
        matches!(
            answers.as_slice(),
            [Ok(()), Err(StoreError::Conflict), Ok(())]
        ),
        "{answers:?}"
    );
    for uid in [together[0], together[2]] {
        let order = store.order(uid).await.expect("read").expect("order");
        assert_eq!(order.prc, Prc::Paid);
        assert_eq!(order.actual_cost, Some(100));
        assert_eq!(order.cardno.as_deref(), Some("543376******8009"));
        assert_eq!(order.finished_at, Some(at(10)));
        let history: Vec<String> = store
            .events(uid)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.to_prc)
            .collect();
        assert_eq!(history, ["200", "250"]);
    }
    let after = store.totals().await.expect("totals");
    assert_eq!(
        after.notices,
        before.notices + 2,
        "the refused change wrote no notice"
    );
    assert_eq!(
        after.timers,
        before.timers + 2,
        "the refused change started no timer"
    );
    // Each notice written with its body (the delivery reads them together).
    let written = store
        .notices(&NoticeFilter {
            uid: Some(together[2]),
            ..Default::default()
        })
        .await
        .expect("notices");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].body, format!("uid={}&prc=250", together[2]));

    // Attempts of several notices recorded together: each logged, each notice's schedule
    // moved on by its own outcome.
    let due: Vec<_> = store
        .claim_notices(claim(), &lease("node-e", at(500)))
        .await
        .expect("claim")
        .into_iter()
        .filter(|n| n.uid == together[0] || n.uid == together[2])
        .collect();
    assert_eq!(due.len(), 2, "{due:?}");
    let records = due
        .iter()
        .map(|n| AttemptRecord {
            notice: n.clone(),
            at: at(20),
            acknowledged: n.uid == together[0],
            ..attempt.clone()
        })
        .collect();
    store
        .record_attempts(records, &lease("node-e", at(501)))
        .await
        .expect("recorded together");
    for n in &due {
        let now = store.notice(n.id).await.expect("read").expect("notice");
        let expected = if n.uid == together[0] {
            (1, "delivered", at(310))
        } else {
            (1, "pending", at(310))
        };
        assert_eq!(
            (now.attempts, now.status.as_str(), now.next_attempt_at),
            expected,
            "{now:?}"
        );
        let log = store.notice_attempts(n.id).await.expect("attempts");
        assert_eq!(log.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1]);
    }

    // Recurring charges recorded together before the upstream is asked: each a new
    // transaction of its series (`A0001`, its period, its series' id) with its first
    // event; the sandbox's pending decline taken by its own series' charge only; a
    // charge recorded before answered as it was, beside a new one.
    let mut series = Vec::new();
    for token in ["s1", "s2"] {
        let Created::New { uid, .. } = store
            .create_order(new_order(&format!("SERIES-{token}"), "{}", false, token))
            .await
            .expect("created")
        else {
            panic!("a new order");
        };
        let mut bound = paid(uid, vec![], vec![]);
        bound.series = Some(SeriesWrite {
            series_uid: uid,
            create: Some(NewSeries {
                store_uid: "100000000001".into(),
                group_id: format!("G{uid}"),
                store_group_id: String::new(),
                tool: "DIRECTDEBIT".into(),
                card_token: format!("card-{token}"),
                cardno: "543376******8009".into(),
                card_type: 1,
                issuing_bank: "bank".into(),
                issuing_bank_uid: "007".into(),
            }),
            next_charge: None,
        });
        store.apply(&bound).await.expect("series bound");
        series.push(uid);
    }
    assert!(
        store
            .decline_next_charge(series[1], true)
            .await
            .expect("decline")
    );
    let ask = |series_uid: u64, period: u32, key: &str| SeriesChargeAsk {
        series_uid,
        period,
        attempt: 1,
        key: key.into(),
        target: ChargeTarget::NewTransaction {
            token: format!("{key}-transaction"),
        },
        cause: format!("recurring charge, period {period}"),
        at: at(600),
    };
    let first = store
        .begin_series_charges(&[ask(series[0], 2, "k1"), ask(series[1], 2, "k2")])
        .await
        .expect("recorded together");
    let first: Vec<_> = first.into_iter().map(|c| c.expect("recorded")).collect();
    assert_eq!(
        first
            .iter()
            .map(|c| (c.idempotency_key.as_str(), c.forced_decline))
            .collect::<Vec<_>>(),
        [("k1", false), ("k2", true)]
    );
    for (charge, &series_uid) in first.iter().zip(&series) {
        assert_ne!(charge.uid, series_uid, "a transaction of its own");
        let made = store.order(charge.uid).await.expect("read").expect("made");
        assert_eq!(made.prc, Prc::Pending);
        assert_eq!(made.nois, Some(2));
        assert_eq!(made.group_id, Some(format!("G{series_uid}")));
        let history: Vec<String> = store
            .events(charge.uid)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.to_prc)
            .collect();
        assert_eq!(history, ["A0001"]);
    }
    let taken = store
        .series(series[1])
        .await
        .expect("read")
        .expect("series");
    assert!(!taken.decline_next, "the decline was taken by its charge");
    let again = store
        .begin_series_charges(&[ask(series[0], 2, "k3"), ask(series[1], 3, "k4")])
        .await
        .expect("recorded again");
    let again: Vec<_> = again.into_iter().map(|c| c.expect("recorded")).collect();
    assert_eq!(
        (again[0].idempotency_key.as_str(), again[0].uid),
        ("k1", first[0].uid),
        "recorded before: the same key and transaction"
    );
    assert_eq!(
        (again[1].idempotency_key.as_str(), again[1].forced_decline),
        ("k4", false)
    );
    assert!(![first[0].uid, first[1].uid].contains(&again[1].uid));

    // Two nodes recording the same periods at once (a lease that ran out mid-charge): each
    // period is recorded once, and both nodes are answered with that one record. On
    // PostgreSQL the later batch meets the earlier's keys (a unique violation once the
    // earlier commits) and is written again item by item, which answers them as known.
    let other = Store::open(&database, &StoreOptions::default())
        .await
        .expect("a second node");
    for period in 4..12 {
        let key = |node: &str, i: usize| format!("race-{period}-{node}-{i}");
        let asks = |node: &str| {
            [
                ask(series[0], period, &key(node, 0)),
                ask(series[1], period, &key(node, 1)),
            ]
        };
        let (mine, theirs) = (asks("a"), asks("b"));
        let (a, b) = tokio::join!(
            store.begin_series_charges(&mine),
            other.begin_series_charges(&theirs)
        );
        let (a, b) = (a.expect("node a"), b.expect("node b"));
        for i in 0..2 {
            let a = a[i].as_ref().expect("node a's charge");
            let b = b[i].as_ref().expect("node b's charge");
            assert_eq!(
                (&a.idempotency_key, a.uid),
                (&b.idempotency_key, b.uid),
                "period {period}, series {i}: one record for both nodes"
            );
            assert!(
                [key("a", i), key("b", i)].contains(&a.idempotency_key),
                "{a:?}"
            );
            let made = store.order(a.uid).await.expect("read").expect("made");
            assert_eq!(made.nois, Some(i64::from(period)), "{made:?}");
        }
    }

    // A checkpoint leaves everything on disk (the card-data test reads it).
    store.checkpoint().await.expect("checkpoint");
}

//! The ledger checker: after every restart and at the end, what the gateway answered is
//! held against what the API and the database say now.
//!
//! - every answered order exists once (and no order id sent, answered or not, twice);
//! - refunds never exceed what was paid, and every answered refund is kept;
//! - every money effect happened once: an order becomes paid (`250`) at most once, a
//!   recurring period is paid by at most one transaction;
//! - every paid order has its notice, delivered or still scheduled; none delivered again
//!   after a recorded `8888`; every recorded `8888` was really answered by the receiver;
//! - no half-written record: each order's history is one unbroken chain ending in its
//!   state, every paid order has its finish time, every notice its body, every refund its
//!   order (and SQLite's own integrity and foreign-key checks pass);
//! - the test clock never moved back.

use crate::receiver::Receiver;
use crate::traffic::{Actors, Model, clock_offset};
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

/// What one check found, and what the next one compares with.
#[derive(Default)]
pub struct Checker {
    /// Notice bodies recorded as delivered at the last check, with how many deliveries
    /// the receiver had had of each then.
    delivered: HashMap<String, usize>,
    /// Checks made.
    pub checks: u32,
    /// Ask the API for at most this many answered orders (spread over them all); every
    /// one when `None`. The database's checks always cover every order.
    pub api_sample: Option<usize>,
}

/// The figures of one check.
#[derive(Debug, Default)]
pub struct Tally {
    pub orders: i64,
    pub paid: i64,
    pub refunds: i64,
    pub notices_delivered: i64,
    pub notices_pending: i64,
    pub notices_failed: i64,
    pub periods_paid: i64,
}

impl Checker {
    /// Every invariant; the violations found (empty when all hold).
    pub async fn check(
        &mut self,
        db: &AnyPool,
        sqlite: bool,
        actors: &Actors,
        model: &Mutex<Model>,
        receiver: &Receiver,
    ) -> anyhow::Result<(Vec<String>, Tally)> {
        self.checks += 1;
        let mut wrong = Vec::new();
        let mut tally = Tally::default();
        let store = actors.store_uid.as_str();
        let (sent, placed, refused, paid, refunds, clock) = {
            let m = model.lock().map_err(|_| anyhow::anyhow!("model lock"))?;
            (
                m.sent_order_ids.clone(),
                m.placed.clone(),
                m.refused.clone(),
                m.paid.clone(),
                m.refunds.clone(),
                m.clock,
            )
        };

        // The clock never moved back.
        let answer: serde_json::Value = actors
            .http
            .get(format!("{}/sandbox/clock?store_uid={store}", actors.base))
            .send()
            .await?
            .json()
            .await?;
        let offset = clock_offset(&answer);
        if offset < clock {
            wrong.push(format!(
                "the clock moved back: offset {offset} s, {clock} s answered before"
            ));
        }
        if let Ok(mut m) = model.lock() {
            m.clock = m.clock.max(offset);
        }

        // One snapshot for every read (background work goes on while the checker reads):
        // SQLite's read transaction, PostgreSQL's repeatable read.
        let mut tx = db.begin().await?;
        if !sqlite {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }

        // Orders: every row of this merchant (a period's transaction is a row of its own
        // with its series' order id).
        let mut orders: BTreeMap<i64, OrderRow> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT uid, order_id, prc, cost, COALESCE(actual_cost, -1), \
             CAST(CASE WHEN finished_at IS NULL THEN 0 ELSE 1 END AS BIGINT), \
             CAST(CASE WHEN uid IN (SELECT uid FROM series_charges WHERE uid <> series_uid) \
             THEN 1 ELSE 0 END AS BIGINT) \
             FROM orders WHERE store_uid = $1",
        )
        .bind(store)
        .fetch_all(&mut *tx)
        .await?
        {
            orders.insert(
                r.try_get(0)?,
                OrderRow {
                    order_id: r.try_get(1)?,
                    prc: r.try_get(2)?,
                    cost: r.try_get(3)?,
                    actual_cost: r.try_get(4)?,
                    finished: r.try_get::<i64, _>(5)? == 1,
                    period_transaction: r.try_get::<i64, _>(6)? == 1,
                },
            );
        }
        tally.orders = orders.len() as i64;
        let mut by_order_id: HashMap<&str, Vec<i64>> = HashMap::new();
        for (uid, o) in &orders {
            if !o.period_transaction {
                by_order_id
                    .entry(o.order_id.as_str())
                    .or_default()
                    .push(*uid);
            }
        }
        for (order_id, p) in &placed {
            match by_order_id.get(order_id.as_str()) {
                Some(uids) if uids.contains(&(p.uid as i64)) => {}
                _ => wrong.push(format!("answered order {order_id} (uid {}) is lost", p.uid)),
            }
        }

        // Each order's history: one chain, ending in its state; paid at most once.
        let mut events: BTreeMap<i64, Vec<(Option<String>, String)>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT e.uid, e.from_prc, e.to_prc FROM order_events e \
             JOIN orders o ON o.uid = e.uid WHERE o.store_uid = $1 ORDER BY e.uid, e.id",
        )
        .bind(store)
        .fetch_all(&mut *tx)
        .await?
        {
            events
                .entry(r.try_get(0)?)
                .or_default()
                .push((r.try_get(1)?, r.try_get(2)?));
        }
        for (order_id, uids) in &by_order_id {
            if uids.len() > 1 {
                wrong.push(format!(
                    "order id {order_id} written {} times: uids {uids:?}",
                    uids.len()
                ));
            }
            if !sent.contains(*order_id) {
                wrong.push(format!("order id {order_id} was never sent"));
            }
            // A refused order is not stored; except one whose background e-wallet charge
            // could not start after its row was written: it stays unpaid and untouched
            // (no step in its history), and a retry of the same request charges it once.
            if let Some(answer) = refused.get(*order_id) {
                let untouched = uids.iter().all(|uid| {
                    orders.get(uid).is_some_and(|o| o.prc == "200")
                        && events.get(uid).is_none_or(Vec::is_empty)
                });
                if !untouched {
                    wrong.push(format!(
                        "order {order_id} was answered {answer}, and is stored and moved on"
                    ));
                }
            }
        }
        let mut ever_paid: BTreeSet<i64> = BTreeSet::new();
        for (uid, o) in &orders {
            let history = events.get(uid).map(Vec::as_slice).unwrap_or(&[]);
            for pair in history.windows(2) {
                if pair[1].0.as_deref() != Some(pair[0].1.as_str()) {
                    wrong.push(format!(
                        "order {uid}: history broken: {:?} after {:?}",
                        pair[1], pair[0]
                    ));
                }
            }
            if let Some(last) = history.last()
                && last.1 != o.prc
            {
                wrong.push(format!(
                    "order {uid}: state {} but its history ends in {}",
                    o.prc, last.1
                ));
            }
            let paid_times = history.iter().filter(|e| e.1 == "250").count();
            if paid_times > 1 {
                wrong.push(format!("order {uid}: paid {paid_times} times"));
            }
            if paid_times > 0 || o.prc == "250" {
                ever_paid.insert(*uid);
                if !o.finished {
                    wrong.push(format!("order {uid}: paid with no finish time"));
                }
            }
        }
        tally.paid = ever_paid.len() as i64;
        for (uid, p) in &paid {
            if !ever_paid.contains(&(*uid as i64)) {
                wrong.push(format!(
                    "order {uid} was answered paid, and is not ({:?})",
                    orders.get(&(*uid as i64)).map(|o| &o.prc)
                ));
            }
            let _ = p;
        }

        // Recurring: one paid transaction per series and period.
        for r in sqlx::query(
            "SELECT sc.series_uid, sc.period, COUNT(DISTINCT sc.uid) FROM series_charges sc \
             JOIN orders o ON o.uid = sc.uid \
             WHERE o.store_uid = $1 AND o.prc = '250' GROUP BY sc.series_uid, sc.period",
        )
        .bind(store)
        .fetch_all(&mut *tx)
        .await?
        {
            let (series, period, n): (i64, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            tally.periods_paid += 1;
            if n > 1 {
                wrong.push(format!("series {series}: period {period} paid {n} times"));
            }
        }

        // Refunds never exceed what was paid; every answered refund is kept.
        let mut refunded: HashMap<i64, i64> = HashMap::new();
        let mut refund_ids: BTreeSet<i64> = BTreeSet::new();
        for r in sqlx::query(
            "SELECT r.id, r.uid, r.cost, r.prc FROM reversals r JOIN orders o ON o.uid = r.uid \
             WHERE o.store_uid = $1 AND r.kind = 'refund'",
        )
        .bind(store)
        .fetch_all(&mut *tx)
        .await?
        {
            let (id, uid, cost, prc): (i64, i64, i64, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            refund_ids.insert(id);
            tally.refunds += 1;
            if prc != "220" {
                *refunded.entry(uid).or_default() += cost;
            }
        }
        for (uid, total) in &refunded {
            match orders.get(uid) {
                None => wrong.push(format!("refund of order {uid}, which is not there")),
                Some(o) => {
                    let paid_amount = if o.actual_cost >= 0 {
                        o.actual_cost
                    } else {
                        o.cost
                    };
                    if !ever_paid.contains(uid) {
                        wrong.push(format!("order {uid} refunded {total} and never paid"));
                    } else if *total > paid_amount {
                        wrong.push(format!(
                            "order {uid}: refunded {total} of {paid_amount} paid"
                        ));
                    }
                }
            }
        }
        for (uid, refund_uid) in &refunds {
            if !refund_ids.contains(&(*refund_uid as i64)) {
                wrong.push(format!(
                    "answered refund {refund_uid} of order {uid} is lost"
                ));
            }
        }

        // Notices: every paid order has its notice; none failed; every body kept.
        let mut notices_of: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        let mut delivered_now: HashMap<String, usize> = HashMap::new();
        let notices = sqlx::query(
            "SELECT n.id, n.uid, n.prc, n.status, b.body FROM notices n \
             LEFT JOIN notice_bodies b ON b.notice_id = n.id WHERE n.store_uid = $1",
        )
        .bind(store)
        .fetch_all(&mut *tx)
        .await?;
        // Read after the notices: a delivery recorded in the database was received before
        // it was recorded, so it is among these (the gateway keeps delivering meanwhile).
        let receipts = receiver.receipts();
        let mut received: HashMap<&str, (usize, bool)> = HashMap::new();
        for r in &receipts {
            let e = received.entry(r.body.as_str()).or_insert((0, false));
            e.0 += 1;
            e.1 |= r.acknowledged;
        }
        for r in notices {
            let (id, uid, prc, status): (i64, i64, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            let body: Option<String> = r.try_get(4)?;
            let Some(body) = body else {
                wrong.push(format!("notice {id} (order {uid}) has no body"));
                continue;
            };
            match status.as_str() {
                "delivered" => {
                    tally.notices_delivered += 1;
                    match received.get(body.as_str()) {
                        Some((n, true)) => {
                            delivered_now.insert(body, *n);
                        }
                        _ => wrong.push(format!(
                            "notice {id} (order {uid}, {prc}) recorded delivered, and the receiver never answered it 8888"
                        )),
                    }
                }
                "pending" => tally.notices_pending += 1,
                _ => {
                    tally.notices_failed += 1;
                    wrong.push(format!("notice {id} (order {uid}, {prc}) failed"));
                }
            }
            notices_of.entry(uid).or_default().push((prc, status));
        }
        for uid in &ever_paid {
            let has = notices_of
                .get(uid)
                .is_some_and(|ns| ns.iter().any(|(prc, _)| prc == "250"));
            if !has {
                wrong.push(format!("paid order {uid} has no 250 notice"));
            }
        }
        for (body, before) in &self.delivered {
            let now = received.get(body.as_str()).map_or(0, |r| r.0);
            if now > *before {
                wrong.push(format!(
                    "a notice delivered again after its recorded 8888 ({before} → {now} deliveries): {}",
                    body.chars().take(80).collect::<String>()
                ));
            }
        }
        self.delivered = delivered_now;

        // No half-written record.
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reversals r LEFT JOIN orders o ON o.uid = r.uid WHERE o.uid IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?;
        if orphans > 0 {
            wrong.push(format!("{orphans} refunds of no order"));
        }
        let orphan_series: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM series_charges sc LEFT JOIN orders o ON o.uid = sc.uid WHERE o.uid IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?;
        if orphan_series > 0 {
            wrong.push(format!("{orphan_series} period charges of no transaction"));
        }
        if sqlite {
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut *tx)
                .await?;
            if integrity != "ok" {
                wrong.push(format!("SQLite integrity_check: {integrity}"));
            }
            let broken = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&mut *tx)
                .await?;
            if !broken.is_empty() {
                wrong.push(format!("SQLite foreign_key_check: {} rows", broken.len()));
            }
        }

        tx.rollback().await?;

        // And the API says what the database says: every answered order is found.
        let step = self
            .api_sample
            .map_or(1, |n| placed.len().div_ceil(n.max(1)).max(1));
        for (order_id, p) in placed.iter().step_by(step) {
            match actors.client.query_order(p.uid, &p.key).await {
                Ok(record) if record.order_id == *order_id => {
                    let stored = orders.get(&(p.uid as i64)).map(|o| o.prc.as_str());
                    if stored != Some(record.prc.as_str()) && stored.is_some() {
                        // Background work may have moved it between the two reads: ask again.
                        let again = actors.client.query_order(p.uid, &p.key).await;
                        if !matches!(again, Ok(ref r) if r.order_id == *order_id) {
                            wrong.push(format!(
                                "api/queryorder of {order_id} failed the second time"
                            ));
                        }
                    }
                }
                Ok(record) => wrong.push(format!(
                    "api/queryorder of {} answers order id {}",
                    p.uid, record.order_id
                )),
                Err(e) => wrong.push(format!("api/queryorder of {order_id} (uid {}): {e}", p.uid)),
            }
        }
        Ok((wrong, tally))
    }
}

struct OrderRow {
    order_id: String,
    prc: String,
    cost: i64,
    actual_cost: i64,
    finished: bool,
    period_transaction: bool,
}

//! Many rows' writes in one statement: recurring charges falling due together, their
//! answers, and the records of notice attempts. Charged one by one a period took about twenty statements, and on PostgreSQL
//! each costs a round trip and the server's own work per statement, whatever it writes
//! (measured: 100,000 periods at ~1,000/s, both processes busy). Here a group's rows
//! travel as one JSON parameter (`json_to_recordset`) and each kind of write is one
//! data-modifying `WITH` part of a single statement.
//!
//! The batch is an optimisation only: when its shape is not one it handles, or a row it
//! needs is missing, it answers `None` having written what the caller's transaction then
//! rolls back, and the caller writes the items one by one, each with its exact answer.
//! A key another node took meanwhile (a unique violation) fails the statement, and the
//! same fallback tells which item it was.
//!
//! Each statement is planned for its call ([`Exec::fetch_planned_now`]): the tables it
//! joins its rows with (`series_charges`, `orders`, `notices`) grow by thousands of rows
//! a second while a backlog is charged, and a plan the connection kept from when they
//! were small joined them by scanning them whole (measured: 945 scans of `series_charges`
//! reading 11 million rows for 30,000 charges).

use super::super::notices::{AttemptRecord, NewNotice, Trigger};
use super::super::orders::{PaymentFacts, Transition};
use super::super::recurring::{ChargeTarget, SeriesCharge, SeriesChargeAsk};
use super::super::sql::{Exec, Signal, Write};
use super::super::timers::NewTimer;
use super::super::{Columns, StoreError, StoreResult, micros};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Record charges before their upstream is asked, as `recurring::begin_charge` does one:
/// a charge recorded before is answered as it was; a new one gets its row, its
/// transaction (`A0001`, a copy of the order that bound the card) with its first event,
/// and takes the sandbox's pending decline. Answers in the order of `asks`.
pub(in crate::store) async fn begin_charges(
    tx: &mut impl Exec,
    asks: &[SeriesChargeAsk],
) -> StoreResult<Option<Vec<SeriesCharge>>> {
    let rows: Vec<Value> = asks
        .iter()
        .enumerate()
        .map(|(i, ask)| {
            // Every field named, as in `recurring::begin_charge`.
            let SeriesChargeAsk {
                series_uid,
                period,
                attempt,
                key,
                target,
                cause,
                at,
            } = ask;
            json!({
                "i": i,
                "series_uid": series_uid,
                "period": period,
                "attempt": attempt,
                "key": key,
                "token": match target {
                    ChargeTarget::BoundOrder => None,
                    ChargeTarget::NewTransaction { token } => Some(token),
                },
                "cause": cause,
                "at": micros(*at),
            })
        })
        .collect();
    let answered = tx
        .fetch_planned_now(
            BEGIN_CHARGES,
            &[Value::Array(rows).to_string().as_str().into()],
        )
        .await?;
    let mut charges: Vec<Option<SeriesCharge>> = vec![None; asks.len()];
    for row in &answered {
        let Some(slot) = usize::try_from(row.int(0)?)
            .ok()
            .and_then(|i| charges.get_mut(i))
        else {
            return Ok(None);
        };
        *slot = Some(SeriesCharge {
            idempotency_key: row.text(1)?,
            forced_decline: row.int(2)? != 0,
            uid: row.int(3)? as u64,
        });
    }
    // A series, or the order that bound its card, gone: the item's own path says so.
    Ok(charges.into_iter().collect())
}

/// `known`: charges recorded before. `fresh`: the others, with their series. `made`: their
/// new transactions. `charged`: each fresh charge with the transaction it pays (a charge
/// whose transaction could not be copied is left out, and the batch refused).
const BEGIN_CHARGES: &str = "WITH v AS (
        SELECT * FROM json_to_recordset(CAST($1 AS JSON)) AS v(i BIGINT, series_uid BIGINT,
            period BIGINT, attempt BIGINT, key TEXT, token TEXT, cause TEXT, at BIGINT)
    ), known AS (
        SELECT v.i, c.idempotency_key AS key, c.forced_decline, c.uid
        FROM v JOIN series_charges c ON c.series_uid = v.series_uid
            AND c.period = v.period AND c.attempt = v.attempt
    ), fresh AS (
        SELECT v.*, CASE WHEN s.decline_next <> 0 THEN 1 ELSE 0 END AS forced_decline,
            s.group_id
        FROM v JOIN series s ON s.uid = v.series_uid
        WHERE v.i NOT IN (SELECT i FROM known)
    ), made AS (
        INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency,
            authorise_only, prc, created_at, updated_at, group_id, nois, user_id)
        SELECT f.store_uid, f.order_id, fresh.token, f.request, f.pfn, f.cost, f.currency, 0,
            'A0001', fresh.at, fresh.at, fresh.group_id, fresh.period, f.user_id
        FROM fresh JOIN orders f ON f.uid = fresh.series_uid
        WHERE fresh.token IS NOT NULL
        RETURNING uid, token
    ), charged AS (
        SELECT fresh.*, made.uid AS made_uid, COALESCE(made.uid, fresh.series_uid) AS uid
        FROM fresh LEFT JOIN made ON made.token = fresh.token
        WHERE fresh.token IS NULL OR made.uid IS NOT NULL
    ), events AS (
        INSERT INTO order_events (uid, from_prc, to_prc, at, cause)
        SELECT made_uid, NULL, 'A0001', at, cause FROM charged WHERE made_uid IS NOT NULL
    ), recorded AS (
        INSERT INTO series_charges (series_uid, period, attempt, idempotency_key,
            forced_decline, uid, created_at)
        SELECT series_uid, period, attempt, key, forced_decline, uid, at FROM charged
    ), taken AS (
        UPDATE series SET decline_next = 0
        WHERE uid IN (SELECT series_uid FROM charged WHERE forced_decline <> 0)
    )
    SELECT i, key, forced_decline, uid FROM known
    UNION ALL
    SELECT i, key, forced_decline, uid FROM charged";

/// Apply state changes as `orders::apply_in` applies one, each refused alone
/// ([`StoreError::Conflict`]) when its order is no longer in its `from` state. `None`
/// when the batch has a shape it does not handle: refunds or a new series among the
/// changes, or two changes of one order, notice or timer.
pub(in crate::store) async fn apply_all(
    tx: &mut impl Write,
    changes: &[Transition],
) -> StoreResult<Option<Vec<StoreResult<()>>>> {
    let mut orders = HashSet::new();
    let mut notice_keys = HashSet::new();
    let mut timer_keys = HashSet::new();
    let (mut rows, mut notices, mut timers) = (Vec::new(), Vec::new(), Vec::new());
    for t in changes {
        let plain = t.reversals.is_empty() && t.series.as_ref().is_none_or(|s| s.create.is_none());
        if !plain || !orders.insert(t.uid) {
            return Ok(None);
        }
        rows.push(change_row(t));
        for n in &t.notices {
            if !notice_keys.insert((n.uid, n.kind.as_str(), n.prc.as_str(), n.ref_uid)) {
                return Ok(None);
            }
            notices.push(notice_row(t, n));
        }
        let next_charge = t.series.as_ref().and_then(|s| {
            let timer = s.next_charge.as_ref()?;
            Some((s.series_uid, timer))
        });
        for (uid, timer) in t.timers.iter().map(|m| (t.uid, m)).chain(next_charge) {
            if !timer_keys.insert((timer.kind.as_str(), uid, timer.payload.as_str())) {
                return Ok(None);
            }
            timers.push(timer_row(t.uid, uid, timer));
        }
    }
    let text = |rows: Vec<Value>| Value::Array(rows).to_string();
    let (rows, notices, timers) = (text(rows), text(notices), text(timers));
    let applied = tx
        .fetch_planned_now(
            APPLY_ALL,
            &[
                rows.as_str().into(),
                notices.as_str().into(),
                timers.as_str().into(),
            ],
        )
        .await?;
    let mut moved = HashSet::with_capacity(applied.len());
    for row in &applied {
        moved.insert(row.int(0)? as u64);
    }
    if changes
        .iter()
        .any(|t| moved.contains(&t.uid) && t.writes_work())
    {
        tx.signal(Signal::Work).await?;
    }
    Ok(Some(
        changes
            .iter()
            .map(|t| {
                if moved.contains(&t.uid) {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            })
            .collect(),
    ))
}

/// A change's row. Every field is named (no `..`), so a field added to a state change or
/// its facts fails to compile here until the batch writes it as `orders::apply_in` does.
fn change_row(t: &Transition) -> Value {
    let Transition {
        uid,
        from,
        to,
        cause,
        retmsg,
        at,
        finishes,
        facts,
        completes_timer,
        // Written by `apply_all` itself (or refused there: refunds, a new series).
        notices: _,
        timers: _,
        reversals: _,
        series: _,
    } = t;
    let PaymentFacts {
        paid_pfn,
        cardno,
        card_type,
        issuing_bank,
        issuing_bank_uid,
        acode,
        supplier_code,
        actual_cost,
        captured,
        pay_deadline,
        result_content_type,
        result_content,
        bank_id,
        trans_type,
        installment,
        redeem,
        appropriation_date,
        group_id,
        nois,
    } = facts;
    json!({
        "t": uid,
        "from_prc": from.code(),
        "to_prc": to.code(),
        "retmsg": retmsg,
        "at": micros(*at),
        "finishes": finishes,
        "cause": cause,
        "completes_timer": completes_timer,
        "paid_pfn": paid_pfn,
        "cardno": cardno,
        "card_type": card_type,
        "issuing_bank": issuing_bank,
        "issuing_bank_uid": issuing_bank_uid,
        "acode": acode,
        "supplier_code": supplier_code,
        "actual_cost": actual_cost,
        "captured": captured,
        "pay_deadline": pay_deadline.map(micros),
        "result_content_type": result_content_type,
        "result_content": result_content,
        "bank_id": bank_id,
        "trans_type": trans_type,
        "installment": installment,
        "redeem": redeem,
        "appropriation_date": appropriation_date,
        "group_id": group_id,
        "nois": nois,
    })
}

fn notice_row(t: &Transition, n: &NewNotice) -> Value {
    json!({
        "t": t.uid,
        "uid": n.uid,
        "ref_uid": n.ref_uid,
        "store_uid": n.store_uid,
        "kind": n.kind,
        "prc": n.prc,
        "url": n.url,
        "body": n.body,
        "max_attempts": n.max_attempts,
        "interval_secs": n.interval_secs,
        "at": micros(t.at),
    })
}

/// A timer a change starts: of its order (`uid` = `t`) or of its series.
fn timer_row(t: u64, uid: u64, timer: &NewTimer) -> Value {
    json!({
        "t": t,
        "kind": timer.kind.as_str(),
        "uid": uid,
        "due_at": micros(timer.due_at),
        "payload": timer.payload,
        "store_uid": timer.store_uid,
    })
}

/// `applied`: the orders still in their `from` state, moved; every other part writes only
/// for those. The parts see one snapshot, so none reads another's rows: each takes what it
/// needs from the parameters and from `applied`.
const APPLY_ALL: &str = "WITH v AS (
        SELECT * FROM json_to_recordset(CAST($1 AS JSON)) AS v(t BIGINT, from_prc TEXT,
            to_prc TEXT, retmsg TEXT, at BIGINT, finishes BOOLEAN, cause TEXT,
            completes_timer BIGINT, paid_pfn TEXT, cardno TEXT, card_type BIGINT,
            issuing_bank TEXT, issuing_bank_uid TEXT, acode TEXT, supplier_code TEXT,
            actual_cost BIGINT, captured BIGINT, pay_deadline BIGINT,
            result_content_type TEXT, result_content TEXT, bank_id TEXT, trans_type BIGINT,
            installment TEXT, redeem TEXT, appropriation_date TEXT, group_id TEXT,
            nois BIGINT)
    ), applied AS (
        UPDATE orders o SET prc = v.to_prc, retmsg = v.retmsg, updated_at = v.at,
            finished_at = CASE WHEN v.finishes THEN v.at ELSE o.finished_at END,
            paid_pfn = COALESCE(v.paid_pfn, o.paid_pfn), cardno = COALESCE(v.cardno, o.cardno),
            card_last4 = COALESCE(SUBSTR(v.cardno, LENGTH(v.cardno) - 3), o.card_last4),
            card_type = COALESCE(v.card_type, o.card_type),
            issuing_bank = COALESCE(v.issuing_bank, o.issuing_bank),
            issuing_bank_uid = COALESCE(v.issuing_bank_uid, o.issuing_bank_uid),
            acode = COALESCE(v.acode, o.acode),
            supplier_code = COALESCE(v.supplier_code, o.supplier_code),
            actual_cost = COALESCE(v.actual_cost, o.actual_cost),
            captured = COALESCE(v.captured, o.captured),
            pay_deadline = COALESCE(v.pay_deadline, o.pay_deadline),
            result_content_type = COALESCE(v.result_content_type, o.result_content_type),
            result_content = COALESCE(v.result_content, o.result_content),
            bank_id = COALESCE(v.bank_id, o.bank_id),
            trans_type = COALESCE(v.trans_type, o.trans_type),
            installment = COALESCE(v.installment, o.installment),
            redeem = COALESCE(v.redeem, o.redeem),
            appropriation_date = COALESCE(v.appropriation_date, o.appropriation_date),
            group_id = COALESCE(v.group_id, o.group_id), nois = COALESCE(v.nois, o.nois)
        FROM v WHERE o.uid = v.t AND o.prc = v.from_prc
        RETURNING o.uid
    ), events AS (
        INSERT INTO order_events (uid, from_prc, to_prc, at, cause)
        SELECT t, from_prc, to_prc, at, cause FROM v WHERE t IN (SELECT uid FROM applied)
    ), n AS (
        SELECT * FROM json_to_recordset(CAST($2 AS JSON)) AS n(t BIGINT, uid BIGINT,
            ref_uid BIGINT, store_uid TEXT, kind TEXT, prc TEXT, url TEXT, body TEXT,
            max_attempts BIGINT, interval_secs BIGINT, at BIGINT)
        WHERE t IN (SELECT uid FROM applied)
    ), noticed AS (
        INSERT INTO notices (uid, ref_uid, store_uid, kind, prc, url, status, max_attempts,
            interval_secs, next_attempt_at, created_at)
        SELECT uid, ref_uid, store_uid, kind, prc, url, 'pending', max_attempts,
            interval_secs, at, at FROM n
        ON CONFLICT (uid, kind, prc, ref_uid) DO NOTHING
        RETURNING id, uid, kind, prc, ref_uid
    ), bodies AS (
        INSERT INTO notice_bodies (notice_id, body)
        SELECT noticed.id, n.body FROM noticed JOIN n USING (uid, kind, prc, ref_uid)
    ), timed AS (
        INSERT INTO timers (kind, uid, due_at, payload, store_uid)
        SELECT kind, uid, due_at, payload, store_uid
        FROM json_to_recordset(CAST($3 AS JSON)) AS m(t BIGINT, kind TEXT, uid BIGINT,
            due_at BIGINT, payload TEXT, store_uid TEXT)
        WHERE t IN (SELECT uid FROM applied)
        ON CONFLICT (kind, uid, payload) DO NOTHING
    ), closed AS (
        UPDATE timers SET done_at = v.at FROM v
        WHERE timers.id = v.completes_timer AND timers.done_at IS NULL
            AND v.t IN (SELECT uid FROM applied)
    ), cleared AS (
        DELETE FROM challenges WHERE uid IN (SELECT uid FROM applied)
    )
    SELECT uid FROM applied";

/// Record scheduled attempts as `record_attempts` records each: the attempt's log row
/// (numbered after the notice's last) and its notice's schedule moved on, while `holder`
/// still holds the notice. The notices' rows are locked first, in one order, so the
/// numbering reads every attempt committed before. `false` (nothing written) when the
/// batch has a shape it does not handle: a resend, an alert to send, or two attempts of
/// one notice.
pub(in crate::store) async fn record_scheduled(
    tx: &mut impl Exec,
    batch: &[AttemptRecord],
    holder: &str,
) -> StoreResult<bool> {
    let mut ids = HashSet::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for a in batch {
        if a.trigger != Trigger::Scheduled || a.alert.is_some() || !ids.insert(a.notice.id) {
            return Ok(false);
        }
        rows.push(json!({
            "id": a.notice.id,
            "at": micros(a.at),
            "http_status": a.http_status,
            "reply": a.reply,
            "elapsed_ms": a.elapsed_ms,
            "outcome": a.outcome(),
            "url": a.url,
            "status": a.status_after(),
            "next_at": micros(a.notice.next_scheduled()),
        }));
    }
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    let ids = Value::from(ids).to_string();
    tx.fetch_planned_now(
        "SELECT 1 FROM notices
         WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($1 AS JSON)))
         ORDER BY id FOR UPDATE",
        &[ids.as_str().into()],
    )
    .await?;
    let rows = Value::Array(rows).to_string();
    tx.fetch_planned_now(RECORD_SCHEDULED, &[rows.as_str().into(), holder.into()])
        .await?;
    Ok(true)
}

const RECORD_SCHEDULED: &str = "WITH v AS (
        SELECT * FROM json_to_recordset(CAST($1 AS JSON)) AS v(id BIGINT, at BIGINT,
            http_status BIGINT, reply TEXT, elapsed_ms BIGINT, outcome TEXT, url TEXT,
            status TEXT, next_at BIGINT)
    ), logged AS (
        INSERT INTO notice_attempts
            (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url)
        SELECT v.id, COALESCE((SELECT MAX(a.attempt) FROM notice_attempts a
                               WHERE a.notice_id = v.id), 0) + 1,
            v.at, v.http_status, v.reply, v.elapsed_ms, v.outcome, 'scheduled', v.url
        FROM v
    )
    UPDATE notices n SET attempts = n.attempts + 1, status = v.status,
        next_attempt_at = v.next_at, url = v.url, lease_until = 0, leased_by = NULL,
        delivered_at = CASE WHEN v.status = 'delivered' THEN v.at ELSE n.delivered_at END
    FROM v WHERE n.id = v.id AND n.status = 'pending' AND n.leased_by = $2";

//! Orders, their state changes, 3-D Secure challenges and timers.
//!
//! A state change is one transaction: the guarded `UPDATE … WHERE prc = from` (so two
//! racing requests cannot both move the order), its event row, the notices it owes and
//! the timers it starts. Either all of it is written or none.

use super::direct::Columns;
use super::notices::{NewNotice, insert_notice};
use super::reversals::{NewReversal, insert_reversal};
use super::{Store, StoreError, StoreResult, micros, timestamp};
use jiff::Timestamp;
use mypay_protocol::Prc;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub uid: u64,
    pub store_uid: String,
    pub order_id: String,
    pub token: String,
    pub request: String,
    pub pfn: String,
    pub cost: i64,
    pub currency: String,
    pub authorise_only: bool,
    pub prc: Prc,
    pub paid_pfn: Option<String>,
    pub cardno: Option<String>,
    pub card_type: Option<i64>,
    pub issuing_bank: Option<String>,
    pub issuing_bank_uid: Option<String>,
    pub acode: Option<String>,
    pub supplier_code: Option<String>,
    pub actual_cost: Option<i64>,
    pub retmsg: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Refunded or queued for refund (not cancelled), in the order's currency.
    pub refunded: i64,
    /// The amount captured from an authorisation (`api/authorizedrequestpayment`).
    pub captured: Option<i64>,
    /// Pay-later tools: the last moment to pay, and what the consumer was given.
    pub pay_deadline: Option<Timestamp>,
    pub result_content_type: Option<String>,
    pub result_content: Option<String>,
    pub bank_id: Option<String>,
    /// 『交易類型定義』: 1 normal, 2 instalments, 3 bonus points.
    pub trans_type: i64,
    pub installment: Option<String>,
    pub redeem: Option<String>,
    /// `YYYYMMDD` a settled (`600`) order is paid out.
    pub appropriation_date: Option<String>,
}

impl OrderRow {
    /// The columns [`OrderRow::from_row`] reads, in its order: select exactly these.
    pub(super) const COLUMNS: &'static str = "uid, store_uid, order_id, token, request, pfn, \
        cost, currency, authorise_only, prc, paid_pfn, cardno, card_type, issuing_bank, \
        issuing_bank_uid, acode, supplier_code, actual_cost, retmsg, created_at, updated_at, \
        finished_at, refunded, captured, pay_deadline, result_content_type, result_content, \
        bank_id, trans_type, installment, redeem, appropriation_date";

    /// Decode a row of [`OrderRow::COLUMNS`]. By position: looking columns up by name
    /// was a visible part of a query's cost.
    pub(super) fn from_row(r: &impl Columns) -> StoreResult<OrderRow> {
        let prc = r.text(9)?;
        Ok(OrderRow {
            uid: r.int(0)? as u64,
            store_uid: r.text(1)?,
            order_id: r.text(2)?,
            token: r.text(3)?,
            request: r.text(4)?,
            pfn: r.text(5)?,
            cost: r.int(6)?,
            currency: r.text(7)?,
            authorise_only: r.int(8)? != 0,
            prc: Prc::parse(&prc).ok_or_else(|| StoreError::Corrupt(format!("prc {prc:?}")))?,
            paid_pfn: r.opt_text(10)?,
            cardno: r.opt_text(11)?,
            card_type: r.opt_int(12)?,
            issuing_bank: r.opt_text(13)?,
            issuing_bank_uid: r.opt_text(14)?,
            acode: r.opt_text(15)?,
            supplier_code: r.opt_text(16)?,
            actual_cost: r.opt_int(17)?,
            retmsg: r.text(18)?,
            created_at: timestamp(r.int(19)?),
            updated_at: timestamp(r.int(20)?),
            finished_at: r.opt_int(21)?.map(timestamp),
            refunded: r.int(22)?,
            captured: r.opt_int(23)?,
            pay_deadline: r.opt_int(24)?.map(timestamp),
            result_content_type: r.opt_text(25)?,
            result_content: r.opt_text(26)?,
            bank_id: r.opt_text(27)?,
            trans_type: r.int(28)?,
            installment: r.opt_text(29)?,
            redeem: r.opt_text(30)?,
            appropriation_date: r.opt_text(31)?,
        })
    }
}

/// What a payment attempt learned, written with the state change.
#[derive(Debug, Clone, Default)]
pub struct PaymentFacts {
    pub paid_pfn: Option<String>,
    pub cardno: Option<String>,
    pub card_type: Option<i64>,
    pub issuing_bank: Option<String>,
    pub issuing_bank_uid: Option<String>,
    pub acode: Option<String>,
    pub supplier_code: Option<String>,
    pub actual_cost: Option<i64>,
    pub captured: Option<i64>,
    pub pay_deadline: Option<Timestamp>,
    pub result_content_type: Option<String>,
    pub result_content: Option<String>,
    pub bank_id: Option<String>,
    pub trans_type: Option<i64>,
    pub installment: Option<String>,
    pub redeem: Option<String>,
    pub appropriation_date: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewTimer {
    pub kind: String,
    pub due_at: Timestamp,
    pub payload: String,
}

#[derive(Debug, Clone)]
pub struct TimerRow {
    pub id: i64,
    pub kind: String,
    pub uid: u64,
    pub due_at: Timestamp,
    pub payload: String,
}

/// One state change of one order.
#[derive(Debug, Clone)]
pub struct Transition {
    pub uid: u64,
    pub from: Prc,
    pub to: Prc,
    pub cause: String,
    pub retmsg: String,
    pub at: Timestamp,
    /// Whether this change is the order's final result (sets `finished_at`).
    pub finishes: bool,
    pub facts: PaymentFacts,
    pub notices: Vec<NewNotice>,
    pub timers: Vec<NewTimer>,
    /// A timer this change completes (the one that triggered it).
    pub completes_timer: Option<i64>,
    /// Records of money taken back that this change creates (a cancelled authorisation).
    pub reversals: Vec<NewReversal>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderEvent {
    pub from_prc: Option<String>,
    pub to_prc: String,
    pub at: String,
    pub cause: String,
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub uid: u64,
    pub pfn: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
    pub password: String,
    pub answer: String,
    pub failures: i64,
}

impl Store {
    pub async fn order(&self, uid: u64) -> StoreResult<Option<OrderRow>> {
        let Ok(uid) = i64::try_from(uid) else {
            return Ok(None);
        };
        let sql = format!("SELECT {} FROM orders WHERE uid = ?", OrderRow::COLUMNS);
        let row = sqlx::query(&sql)
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(OrderRow::from_row).transpose()
    }

    /// An order's history, oldest first, starting with its creation. New orders have no
    /// creation row in `order_events` (their row records it); orders created before that
    /// have one, and it is used as it is.
    pub async fn events(&self, uid: u64) -> StoreResult<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT from_prc, to_prc, at, cause FROM order_events WHERE uid = ? ORDER BY id",
        )
        .bind(uid as i64)
        .fetch_all(&self.pool)
        .await?;
        let recorded_creation = rows
            .first()
            .map(|r| r.try_get::<Option<String>, _>("from_prc"))
            .transpose()?
            .is_some_and(|from| from.is_none());
        let mut events = Vec::with_capacity(rows.len() + 1);
        if !recorded_creation && let Some(order) = self.order(uid).await? {
            events.push(OrderEvent {
                from_prc: None,
                to_prc: Prc::Created.code().to_owned(),
                at: crate::clock::taipei::display(order.created_at),
                cause: "api/orders".to_owned(),
            });
        }
        for r in &rows {
            events.push(OrderEvent {
                from_prc: r.try_get("from_prc")?,
                to_prc: r.try_get("to_prc")?,
                at: crate::clock::taipei::display(timestamp(r.try_get("at")?)),
                cause: r.try_get("cause")?,
            });
        }
        Ok(events)
    }

    /// Apply one state change atomically; [`StoreError::Conflict`] when the order is no
    /// longer in `from`.
    pub async fn apply(&self, t: &Transition) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let at = micros(t.at);
        let f = &t.facts;
        let done = sqlx::query(
            "UPDATE orders SET prc = ?, retmsg = ?, updated_at = ?,
                 finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
                 paid_pfn = COALESCE(?, paid_pfn), cardno = COALESCE(?, cardno),
                 card_type = COALESCE(?, card_type), issuing_bank = COALESCE(?, issuing_bank),
                 issuing_bank_uid = COALESCE(?, issuing_bank_uid), acode = COALESCE(?, acode),
                 supplier_code = COALESCE(?, supplier_code), actual_cost = COALESCE(?, actual_cost),
                 captured = COALESCE(?, captured), pay_deadline = COALESCE(?, pay_deadline),
                 result_content_type = COALESCE(?, result_content_type),
                 result_content = COALESCE(?, result_content), bank_id = COALESCE(?, bank_id),
                 trans_type = COALESCE(?, trans_type), installment = COALESCE(?, installment),
                 redeem = COALESCE(?, redeem),
                 appropriation_date = COALESCE(?, appropriation_date)
             WHERE uid = ? AND prc = ?",
        )
        .bind(t.to.code())
        .bind(&t.retmsg)
        .bind(at)
        .bind(t.finishes)
        .bind(at)
        .bind(&f.paid_pfn)
        .bind(&f.cardno)
        .bind(f.card_type)
        .bind(&f.issuing_bank)
        .bind(&f.issuing_bank_uid)
        .bind(&f.acode)
        .bind(&f.supplier_code)
        .bind(f.actual_cost)
        .bind(f.captured)
        .bind(f.pay_deadline.map(micros))
        .bind(&f.result_content_type)
        .bind(&f.result_content)
        .bind(&f.bank_id)
        .bind(f.trans_type)
        .bind(&f.installment)
        .bind(&f.redeem)
        .bind(&f.appropriation_date)
        .bind(t.uid as i64)
        .bind(t.from.code())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        sqlx::query(
            "INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(t.uid as i64)
        .bind(t.from.code())
        .bind(t.to.code())
        .bind(at)
        .bind(&t.cause)
        .execute(&mut *tx)
        .await?;
        for notice in &t.notices {
            insert_notice(&mut tx, notice, t.at).await?;
        }
        for reversal in &t.reversals {
            insert_reversal(&mut tx, t.uid, reversal, t.at).await?;
        }
        for timer in &t.timers {
            sqlx::query("INSERT INTO timers (kind, uid, due_at, payload) VALUES (?, ?, ?, ?) ON CONFLICT (kind, uid) DO NOTHING")
                .bind(&timer.kind)
                .bind(t.uid as i64)
                .bind(micros(timer.due_at))
                .bind(&timer.payload)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(id) = t.completes_timer {
            sqlx::query("UPDATE timers SET done_at = ? WHERE id = ?")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM challenges WHERE uid = ?")
            .bind(t.uid as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Timers due at `now`, oldest first.
    pub async fn due_timers(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<TimerRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, uid, due_at, payload FROM timers WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimerRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    uid: r.try_get::<i64, _>("uid")? as u64,
                    due_at: timestamp(r.try_get("due_at")?),
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Close a timer whose work no longer applies (the order moved on by itself).
    pub async fn close_timer(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE timers SET done_at = ? WHERE id = ? AND done_at IS NULL")
            .bind(micros(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn put_challenge(&self, c: &Challenge, now: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO challenges (uid, pfn, cardno, card_type, issuing_bank, issuing_bank_uid, password, answer, failures, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
             ON CONFLICT (uid) DO UPDATE SET pfn = excluded.pfn, cardno = excluded.cardno,
                 card_type = excluded.card_type, issuing_bank = excluded.issuing_bank,
                 issuing_bank_uid = excluded.issuing_bank_uid, password = excluded.password,
                 answer = excluded.answer, failures = 0, created_at = excluded.created_at",
        )
        .bind(c.uid as i64)
        .bind(&c.pfn)
        .bind(&c.cardno)
        .bind(c.card_type)
        .bind(&c.issuing_bank)
        .bind(&c.issuing_bank_uid)
        .bind(&c.password)
        .bind(&c.answer)
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn challenge(&self, uid: u64) -> StoreResult<Option<Challenge>> {
        let row = sqlx::query("SELECT * FROM challenges WHERE uid = ?")
            .bind(uid as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Challenge {
                uid,
                pfn: r.try_get("pfn")?,
                cardno: r.try_get("cardno")?,
                card_type: r.try_get("card_type")?,
                issuing_bank: r.try_get("issuing_bank")?,
                issuing_bank_uid: r.try_get("issuing_bank_uid")?,
                password: r.try_get("password")?,
                answer: r.try_get("answer")?,
                failures: r.try_get("failures")?,
            })
        })
        .transpose()
    }

    /// Count a wrong 3D password; returns the failures so far.
    pub async fn fail_challenge(&self, uid: u64) -> StoreResult<i64> {
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE challenges SET failures = failures + 1 WHERE uid = ? RETURNING failures",
        )
        .bind(uid as i64)
        .fetch_optional(&self.pool)
        .await?;
        failures.ok_or(StoreError::NotFound)
    }
}

/// A claim older than this (real time) was left by a process that died mid-attempt.
const STALE_CLAIM: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

impl Store {
    /// Claim order `uid`, still in state `prc`, for the payment attempt `attempt`: true
    /// when this attempt may ask the acquirer, false when another attempt holds the order
    /// (or its state moved on). `real_now` is the real time.
    pub async fn claim_charge(
        &self,
        uid: u64,
        prc: mypay_protocol::Prc,
        attempt: &str,
        real_now: Timestamp,
    ) -> StoreResult<bool> {
        let stale = real_now.checked_sub(STALE_CLAIM).unwrap_or(Timestamp::MIN);
        let done = sqlx::query(
            "INSERT INTO charge_claims (uid, attempt, claimed_at)
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM orders WHERE uid = ?1 AND prc = ?4)
             ON CONFLICT (uid) DO UPDATE SET attempt = excluded.attempt, claimed_at = excluded.claimed_at
             WHERE charge_claims.claimed_at < ?5",
        )
        .bind(uid as i64)
        .bind(attempt)
        .bind(micros(real_now))
        .bind(prc.code())
        .bind(micros(stale))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give back the claim of `attempt` once its answer is recorded.
    pub async fn release_charge(&self, uid: u64, attempt: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM charge_claims WHERE uid = ? AND attempt = ?")
            .bind(uid as i64)
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

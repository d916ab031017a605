//! Orders, their state changes, 3-D Secure challenges and timers.
//!
//! A state change is one transaction: the guarded `UPDATE … WHERE prc = from` (so two
//! racing requests cannot both move the order), its event row, the notices it owes and
//! the timers it starts. Either all of it is written or none.

use super::notices::insert_notice;
use super::reversals::insert_reversal;
use super::{PgStore, signal};
use crate::clock::Reading;
use crate::store::shared;
use crate::store::storage::{Orders, Timers};
use crate::store::{
    Challenge, Created, NewOrderRow, OrderEvent, OrderRow, STALE_CHARGE_CLAIM, StoreError,
    StoreResult, TimerRow, Transition, WorkLease, micros, timestamp,
};
use jiff::Timestamp;
use mypay_protocol::Prc;
use sqlx::Row;

#[async_trait::async_trait]
impl Orders for PgStore {
    async fn create_order(&self, order: NewOrderRow) -> StoreResult<Created> {
        self.writer.create(order).await
    }

    async fn order(&self, uid: u64) -> StoreResult<Option<OrderRow>> {
        let Ok(uid) = i64::try_from(uid) else {
            return Ok(None);
        };
        self.reader.order(uid).await
    }

    async fn order_uids(&self, store_uid: &str, order_id: &str) -> StoreResult<Vec<u64>> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM orders WHERE store_uid = $1 AND order_id = $2 ORDER BY uid",
        )
        .bind(store_uid)
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(uids.into_iter().map(|u| u as u64).collect())
    }

    /// An order's history, oldest first, starting with its creation. New orders have no
    /// creation row in `order_events` (their row records it); orders created before that
    /// have one, and it is used as it is.
    async fn events(&self, uid: u64) -> StoreResult<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT from_prc, to_prc, at, cause FROM order_events WHERE uid = $1 ORDER BY id",
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
    async fn apply(&self, t: &Transition) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let at = micros(t.at);
        let f = &t.facts;
        let done = sqlx::query(
            "UPDATE orders SET prc = $1, retmsg = $2, updated_at = $3,
                 finished_at = CASE WHEN $4 THEN $5 ELSE finished_at END,
                 paid_pfn = COALESCE($6, paid_pfn), cardno = COALESCE($7, cardno),
                 card_type = COALESCE($8, card_type), issuing_bank = COALESCE($9, issuing_bank),
                 issuing_bank_uid = COALESCE($10, issuing_bank_uid), acode = COALESCE($11, acode),
                 supplier_code = COALESCE($12, supplier_code), actual_cost = COALESCE($13, actual_cost),
                 captured = COALESCE($14, captured), pay_deadline = COALESCE($15, pay_deadline),
                 result_content_type = COALESCE($16, result_content_type),
                 result_content = COALESCE($17, result_content), bank_id = COALESCE($18, bank_id),
                 trans_type = COALESCE($19, trans_type), installment = COALESCE($20, installment),
                 redeem = COALESCE($21, redeem),
                 appropriation_date = COALESCE($22, appropriation_date),
                 group_id = COALESCE($23, group_id), nois = COALESCE($24, nois)
             WHERE uid = $25 AND prc = $26",
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
        .bind(&f.group_id)
        .bind(f.nois)
        .bind(t.uid as i64)
        .bind(t.from.code())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        sqlx::query(
            "INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES ($1, $2, $3, $4, $5)",
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
        if !t.notices.is_empty() || !t.timers.is_empty() || t.series.is_some() {
            signal(&mut tx, "work").await?;
        }
        for timer in &t.timers {
            sqlx::query("INSERT INTO timers (kind, uid, due_at, payload, store_uid) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, uid, payload) DO NOTHING")
                .bind(&timer.kind)
                .bind(t.uid as i64)
                .bind(micros(timer.due_at))
                .bind(&timer.payload)
                .bind(&timer.store_uid)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(series) = &t.series {
            shared::write_series::<sqlx::Postgres>(&mut tx, series, t.at).await?;
        }
        if let Some(id) = t.completes_timer {
            sqlx::query("UPDATE timers SET done_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM challenges WHERE uid = $1")
            .bind(t.uid as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_challenge(&self, c: &Challenge, now: Timestamp) -> StoreResult<()> {
        shared::On(&self.pool).put_challenge(c, now).await
    }

    async fn challenge(&self, uid: u64) -> StoreResult<Option<Challenge>> {
        shared::On(&self.pool).challenge(uid).await
    }

    /// Count a wrong 3D password; returns the failures so far.
    async fn fail_challenge(&self, uid: u64) -> StoreResult<i64> {
        shared::On(&self.pool).fail_challenge(uid).await
    }
    /// Claim order `uid`, still in state `prc`, for the payment attempt `attempt`: true
    /// when this attempt may ask the acquirer, false when another attempt holds the order
    /// (or its state moved on). `real_now` is the real time.
    async fn claim_charge(
        &self,
        uid: u64,
        prc: mypay_protocol::Prc,
        attempt: &str,
        real_now: Timestamp,
    ) -> StoreResult<bool> {
        let stale = real_now
            .checked_sub(STALE_CHARGE_CLAIM)
            .unwrap_or(Timestamp::MIN);
        let done = sqlx::query(
            "INSERT INTO charge_claims (uid, attempt, claimed_at)
             SELECT $1::bigint, $2::text, $3::bigint
             WHERE EXISTS (SELECT 1 FROM orders WHERE uid = $1 AND prc = $4)
             ON CONFLICT (uid) DO UPDATE SET attempt = excluded.attempt, claimed_at = excluded.claimed_at
             WHERE charge_claims.claimed_at < $5",
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
    async fn release_charge(&self, uid: u64, attempt: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM charge_claims WHERE uid = $1 AND attempt = $2")
            .bind(uid as i64)
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Timers for PgStore {
    /// Timers due at `now`, oldest first, that no live node holds: locked rows are
    /// skipped, and each taken is leased to `lease.holder` until the lease ends (a node
    /// that dies holding it leaves it due again then).
    async fn claim_timers(
        &self,
        now: Reading,
        limit: i64,
        lease: &WorkLease,
    ) -> StoreResult<Vec<TimerRow>> {
        let mut timers = Vec::new();
        let clocks = shared::On(&self.pool).any_merchant_clock().await?;
        for (part, at) in shared::timers_due_parts(now, clocks) {
            let rows = sqlx::query(&format!(
                "WITH picked AS (
                     SELECT t.id {part} AND t.lease_until < $3
                     ORDER BY t.due_at, t.id LIMIT $2
                     FOR UPDATE OF t SKIP LOCKED)
                 UPDATE timers t SET lease_until = $4, leased_by = $5
                 FROM picked WHERE t.id = picked.id
                 RETURNING t.id, t.kind, t.uid, t.due_at, t.payload, t.store_uid"
            ))
            .bind(at)
            .bind(limit)
            .bind(micros(lease.now))
            .bind(micros(lease.until))
            .bind(&*lease.holder)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                timers.push(TimerRow::decode(r)?);
            }
        }
        timers.sort_by_key(|t| (t.due_at, t.id));
        Ok(timers)
    }

    async fn timers_due(&self, now: Reading) -> StoreResult<bool> {
        shared::On(&self.pool).timers_due(now).await
    }

    /// Close a timer whose work no longer applies (the order moved on by itself).
    async fn close_timer(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE timers SET done_at = $1 WHERE id = $2 AND done_at IS NULL")
            .bind(micros(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

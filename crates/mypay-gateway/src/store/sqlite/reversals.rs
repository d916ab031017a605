//! Money taken back from orders: refunds and cancelled authorisations (`reversals`).
//!
//! The order row keeps the running total (`refunded`), and every refund changes it in one
//! guarded `UPDATE … WHERE refunded + cost <= paid`: two refunds racing for the same
//! balance cannot both pass, on SQLite or PostgreSQL, whatever the isolation level.

use super::SqliteStore;
use super::notices::insert_notice;
use crate::store::shared;
use crate::store::storage::{RefundEffectsFn, RefundNoticeFn, Reversals};
use crate::store::{
    NewReversal, ReversalRow, StoreError, StoreResult, micros, refund_queue_move, refundable_states,
};
use jiff::Timestamp;

pub(super) async fn insert_reversal(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    uid: u64,
    r: &NewReversal,
    at: Timestamp,
) -> StoreResult<ReversalRow> {
    let sql = format!(
        "INSERT INTO reversals (uid, kind, cost, prc, retmsg, refund_type, expected_refund_date,
             invoice_state, items, created_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {}",
        ReversalRow::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(uid as i64)
        .bind(r.kind.as_str())
        .bind(r.cost)
        .bind(r.prc.code())
        .bind(&r.retmsg)
        .bind(r.refund_type)
        .bind(&r.expected_refund_date)
        .bind(r.invoice_state)
        .bind(&r.items)
        .bind(micros(at))
        .bind(r.finished.then(|| micros(at)))
        .fetch_one(&mut **tx)
        .await?;
    ReversalRow::from_row(&row)
}

#[async_trait::async_trait]
impl Reversals for SqliteStore {
    /// Record a refund of `uid` if it still fits: the order is in a refundable state
    /// (`250`, `600`, `290`) and the refunds so far plus this one do not exceed what was
    /// paid. [`StoreError::Conflict`] when it does not (the caller re-reads and explains).
    async fn refund(
        &self,
        uid: u64,
        refund: &NewReversal,
        at: Timestamp,
        effects: RefundEffectsFn<'_>,
    ) -> StoreResult<ReversalRow> {
        let mut tx = self.begin_write().await?;
        let fits = sqlx::query(&format!(
            "UPDATE orders SET refunded = refunded + ?1, updated_at = ?2
             WHERE uid = ?3 AND prc IN ({})
               AND refunded + ?1 <= COALESCE(actual_cost, cost)",
            refundable_states()
        ))
        .bind(refund.cost)
        .bind(micros(at))
        .bind(uid as i64)
        .execute(&mut *tx)
        .await?;
        if fits.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        let row = insert_reversal(&mut tx, uid, refund, at).await?;
        let effects = effects(&row);
        if let Some(notice) = &effects.notice {
            insert_notice(&mut tx, notice, at).await?;
        }
        if let Some(timer) = &effects.timer {
            sqlx::query(
                "INSERT INTO timers (kind, uid, due_at, payload, store_uid) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&timer.kind)
            .bind(row.id as i64)
            .bind(micros(timer.due_at))
            .bind(&timer.payload)
            .bind(&timer.store_uid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Cancel every refund of `uid` still queued for the batch (`api/refundcancel`),
    /// giving the amounts back to the refundable balance. Returns the cancelled records
    /// (none: nothing was queued).
    async fn cancel_queued_refunds(
        &self,
        uid: u64,
        at: Timestamp,
    ) -> StoreResult<Vec<ReversalRow>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE reversals SET prc = ?, retmsg = '取消退款成功', finished_at = ?
             WHERE uid = ? AND kind = 'refund' AND prc = ? RETURNING {}",
            ReversalRow::COLUMNS
        );
        let (from, to) = refund_queue_move(false)?;
        let rows = sqlx::query(&sql)
            .bind(to.code())
            .bind(micros(at))
            .bind(uid as i64)
            .bind(from.code())
            .fetch_all(&mut *tx)
            .await?;
        let cancelled = rows
            .iter()
            .map(ReversalRow::from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let total: i64 = cancelled.iter().map(|r| r.cost).sum();
        if total > 0 {
            sqlx::query("UPDATE orders SET refunded = refunded - ?, updated_at = ? WHERE uid = ?")
                .bind(total)
                .bind(micros(at))
                .bind(uid as i64)
                .execute(&mut *tx)
                .await?;
        }
        for r in &cancelled {
            sqlx::query(
                "UPDATE timers SET done_at = ? WHERE kind = ? AND uid = ? AND done_at IS NULL",
            )
            .bind(micros(at))
            .bind(crate::ledger::timers::TimerKind::RefundBatch.as_str())
            .bind(r.id as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    /// Complete a queued refund at the batch, with its notice, closing the batch timer.
    /// `None` when it was no longer queued (cancelled meanwhile): the timer is closed.
    async fn complete_refund(
        &self,
        id: u64,
        timer_id: i64,
        expected_refund_date: &str,
        at: Timestamp,
        notice: RefundNoticeFn<'_>,
    ) -> StoreResult<Option<ReversalRow>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE reversals SET prc = ?, retmsg = '退款完成', finished_at = ?,
                 expected_refund_date = ?
             WHERE id = ? AND kind = 'refund' AND prc = ? RETURNING {}",
            ReversalRow::COLUMNS
        );
        let (from, to) = refund_queue_move(true)?;
        let row = sqlx::query(&sql)
            .bind(to.code())
            .bind(micros(at))
            .bind(expected_refund_date)
            .bind(id as i64)
            .bind(from.code())
            .fetch_optional(&mut *tx)
            .await?;
        let row = row.as_ref().map(ReversalRow::from_row).transpose()?;
        if let Some(done) = &row
            && let Some(n) = notice(done)
        {
            insert_notice(&mut tx, &n, at).await?;
        }
        sqlx::query("UPDATE timers SET done_at = ? WHERE id = ? AND done_at IS NULL")
            .bind(micros(at))
            .bind(timer_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn reversal(&self, id: u64) -> StoreResult<Option<ReversalRow>> {
        shared::On(&self.pool).reversal(id).await
    }

    /// The refunds and cancellations of an order, oldest first.
    async fn reversals(&self, uid: u64) -> StoreResult<Vec<ReversalRow>> {
        shared::On(&self.pool).reversals(uid).await
    }
}

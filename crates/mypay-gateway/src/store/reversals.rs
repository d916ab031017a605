//! Money taken back from orders: refunds and cancelled authorisations (`reversals`).
//!
//! The order row keeps the running total (`refunded`), and every refund changes it in one
//! guarded `UPDATE … WHERE refunded + cost <= paid`: two refunds racing for the same
//! balance cannot both pass, on SQLite or PostgreSQL, whatever the isolation level.

use super::notices::{self, NewNotice};
use super::sql::{Backend, Exec, Signal, Write};
use super::storage::{RefundEffectsFn, RefundNoticeFn, Reversals};
use super::timers::{self, NewTimer};
use super::{Columns, StoreError, StoreResult, micros, prc, timestamp};
use crate::ledger::timers::TimerKind;
use jiff::Timestamp;
use mypay_protocol::Prc;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalKind {
    Refund,
    /// A cancelled authorisation (`cancel_order`).
    Cancel,
}

impl ReversalKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ReversalKind::Refund => "refund",
            ReversalKind::Cancel => "cancel",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewReversal {
    pub kind: ReversalKind,
    pub cost: i64,
    pub prc: Prc,
    pub retmsg: String,
    pub refund_type: i64,
    pub expected_refund_date: String,
    pub invoice_state: Option<i64>,
    /// The request's items, JSON.
    pub items: Option<String>,
    /// Whether it is complete at once (sets `finished_at`).
    pub finished: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReversalRow {
    /// `refund_uid` (or the cancellation's uid).
    pub id: u64,
    pub uid: u64,
    pub kind: ReversalKind,
    pub cost: i64,
    pub prc: Prc,
    pub retmsg: String,
    pub refund_type: i64,
    pub expected_refund_date: String,
    pub invoice_state: Option<i64>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl ReversalRow {
    /// The columns [`ReversalRow::from_row`] reads, in its order.
    const COLUMNS: &'static str = "id, uid, kind, cost, prc, retmsg, refund_type, \
        expected_refund_date, invoice_state, created_at, finished_at";

    fn from_row(r: &impl Columns) -> StoreResult<ReversalRow> {
        Ok(ReversalRow {
            id: r.int(0)? as u64,
            uid: r.int(1)? as u64,
            kind: if r.text(2)? == "cancel" {
                ReversalKind::Cancel
            } else {
                ReversalKind::Refund
            },
            cost: r.int(3)?,
            prc: prc(&r.text(4)?)?,
            retmsg: r.text(5)?,
            refund_type: r.int(6)?,
            expected_refund_date: r.text(7)?,
            invoice_state: r.opt_int(8)?,
            created_at: timestamp(r.int(9)?),
            finished_at: r.opt_int(10)?.map(timestamp),
        })
    }
}

/// What a refund writes besides its record, once its `refund_uid` is known.
pub struct RefundEffects {
    pub notice: Option<NewNotice>,
    pub timer: Option<NewTimer>,
}

/// The move a queued refund makes when the batch completes it (`true`) or the merchant
/// cancels it: from the queue's state to the table's next.
fn queue_move(completed: bool) -> StoreResult<(Prc, Prc)> {
    let from = Prc::Created;
    crate::ledger::state::refund_next(from, completed)
        .map(|to| (from, to))
        .ok_or_else(|| StoreError::Corrupt("the refund state table has no such move".into()))
}

/// `ledger::state::REFUNDABLE` as an SQL list of literals (`'250', '600', '290'`): the
/// refund guard checks the state table's own list.
fn refundable_states() -> String {
    crate::ledger::state::REFUNDABLE
        .iter()
        .map(|p| format!("'{}'", p.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

static REFUND_GUARD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET refunded = refunded + $1, updated_at = $2
         WHERE uid = $3 AND prc IN ({}) AND refunded + $1 <= COALESCE(actual_cost, cost)",
        refundable_states()
    )
});

/// Record a reversal of order `uid` in the caller's transaction.
pub(super) async fn insert(
    tx: &mut impl Exec,
    uid: u64,
    r: &NewReversal,
    at: Timestamp,
) -> StoreResult<ReversalRow> {
    let sql = format!(
        "INSERT INTO reversals (uid, kind, cost, prc, retmsg, refund_type, expected_refund_date,
             invoice_state, items, created_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {}",
        ReversalRow::COLUMNS
    );
    let row = tx
        .one(
            &sql,
            &[
                uid.into(),
                r.kind.as_str().into(),
                r.cost.into(),
                r.prc.code().into(),
                (&r.retmsg).into(),
                r.refund_type.into(),
                (&r.expected_refund_date).into(),
                r.invoice_state.into(),
                (&r.items).into(),
                micros(at).into(),
                r.finished.then(|| micros(at)).into(),
            ],
        )
        .await?;
    ReversalRow::from_row(&row)
}

#[async_trait::async_trait]
impl<B: Backend> Reversals for B {
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
        let mut tx = self.begin().await?;
        let fits = tx
            .execute(
                &REFUND_GUARD,
                &[refund.cost.into(), micros(at).into(), uid.into()],
            )
            .await?;
        if fits != 1 {
            return Err(StoreError::Conflict);
        }
        let row = insert(&mut tx, uid, refund, at).await?;
        let effects = effects(&row);
        if let Some(notice) = &effects.notice {
            notices::insert(&mut tx, notice, at).await?;
        }
        if let Some(timer) = &effects.timer {
            timers::insert(&mut tx, row.id, timer).await?;
        }
        if effects.notice.is_some() || effects.timer.is_some() {
            tx.signal(Signal::Work).await?;
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
        let mut tx = self.begin().await?;
        let (from, to) = queue_move(false)?;
        let rows = tx
            .fetch(
                &format!(
                    "UPDATE reversals SET prc = $1, retmsg = '取消退款成功', finished_at = $2
                     WHERE uid = $3 AND kind = 'refund' AND prc = $4 RETURNING {}",
                    ReversalRow::COLUMNS
                ),
                &[
                    to.code().into(),
                    micros(at).into(),
                    uid.into(),
                    from.code().into(),
                ],
            )
            .await?;
        let cancelled = rows
            .iter()
            .map(ReversalRow::from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let total: i64 = cancelled.iter().map(|r| r.cost).sum();
        if total > 0 {
            tx.execute(
                "UPDATE orders SET refunded = refunded - $1, updated_at = $2 WHERE uid = $3",
                &[total.into(), micros(at).into(), uid.into()],
            )
            .await?;
        }
        for r in &cancelled {
            tx.execute(
                "UPDATE timers SET done_at = $1 WHERE kind = $2 AND uid = $3 AND done_at IS NULL",
                &[
                    micros(at).into(),
                    TimerKind::RefundBatch.as_str().into(),
                    r.id.into(),
                ],
            )
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
        let mut tx = self.begin().await?;
        let (from, to) = queue_move(true)?;
        let row = tx
            .optional(
                &format!(
                    "UPDATE reversals SET prc = $1, retmsg = '退款完成', finished_at = $2,
                         expected_refund_date = $3
                     WHERE id = $4 AND kind = 'refund' AND prc = $5 RETURNING {}",
                    ReversalRow::COLUMNS
                ),
                &[
                    to.code().into(),
                    micros(at).into(),
                    expected_refund_date.into(),
                    id.into(),
                    from.code().into(),
                ],
            )
            .await?;
        let row = row.as_ref().map(ReversalRow::from_row).transpose()?;
        if let Some(done) = &row
            && let Some(n) = notice(done)
        {
            notices::insert(&mut tx, &n, at).await?;
            tx.signal(Signal::Work).await?;
        }
        timers::close(&mut tx, timer_id, at).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn reversal(&self, id: u64) -> StoreResult<Option<ReversalRow>> {
        let row = self
            .pool()
            .optional(
                &format!(
                    "SELECT {} FROM reversals WHERE id = $1",
                    ReversalRow::COLUMNS
                ),
                &[id.into()],
            )
            .await?;
        row.as_ref().map(ReversalRow::from_row).transpose()
    }

    /// The refunds and cancellations of an order, oldest first.
    async fn reversals(&self, uid: u64) -> StoreResult<Vec<ReversalRow>> {
        let rows = self
            .fetch(
                &format!(
                    "SELECT {} FROM reversals WHERE uid = $1 ORDER BY id",
                    ReversalRow::COLUMNS
                ),
                &[uid.into()],
            )
            .await?;
        rows.iter().map(ReversalRow::from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refund_guard_lists_the_state_tables_refundable_states() {
        assert_eq!(super::refundable_states(), "'250', '600', '290'");
    }
}

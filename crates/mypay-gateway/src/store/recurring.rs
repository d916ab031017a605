//! Recurring series (定期定額). A series is started by the state change that binds its
//! card (`Transition::series`); its charges are recorded here before the acquirer is
//! asked, and their outcomes are ordinary state changes of their transactions.

use super::sql::{Backend, Exec, Write, item_begin, item_done, refused_alone};
use super::storage::Recurring;
use super::timers::{self, NewTimer};
use super::{Columns, StoreError, StoreResult, micros};
use jiff::Timestamp;

/// A recurring series' part of a state change: the series a bound card starts, and the
/// timer of its next charge.
#[derive(Debug, Clone)]
pub struct SeriesWrite {
    pub series_uid: u64,
    /// The series this change starts (the order `series_uid` bound the card).
    pub create: Option<NewSeries>,
    /// The next charge's timer (its `uid` is the series').
    pub next_charge: Option<NewTimer>,
}

#[derive(Debug, Clone)]
pub struct NewSeries {
    pub store_uid: String,
    /// The series' id in notices and queries: the merchant's, or ours.
    pub group_id: String,
    /// The merchant's own id, or empty.
    pub store_group_id: String,
    pub tool: String,
    /// The acquirer's token for the card (never the PAN).
    pub card_token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
}

/// A stored series.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    /// The order that bound the card (period 1's transaction).
    pub uid: u64,
    pub store_uid: String,
    pub group_id: String,
    pub store_group_id: String,
    pub tool: String,
    pub card_token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
    /// `YYYYMMDD`: no charge on or after it.
    pub stop_date: Option<String>,
    pub stop_reason: String,
    pub decline_next: bool,
}

impl SeriesRow {
    const COLUMNS: &'static str = "uid, store_uid, group_id, store_group_id, tool, \
        card_token, cardno, card_type, issuing_bank, issuing_bank_uid, stop_date, stop_reason, \
        decline_next";

    fn from_row(r: &impl Columns) -> StoreResult<SeriesRow> {
        Ok(SeriesRow {
            uid: r.int(0)? as u64,
            store_uid: r.text(1)?,
            group_id: r.text(2)?,
            store_group_id: r.text(3)?,
            tool: r.text(4)?,
            card_token: r.text(5)?,
            cardno: r.text(6)?,
            card_type: r.int(7)?,
            issuing_bank: r.text(8)?,
            issuing_bank_uid: r.text(9)?,
            stop_date: r.opt_text(10)?,
            stop_reason: r.text(11)?,
            decline_next: r.int(12)? != 0,
        })
    }
}

/// What a charge of a series is about to pay: the series' own order (period 1 of a card
/// bound for a later date), or a new transaction.
#[derive(Debug, Clone)]
pub enum ChargeTarget {
    BoundOrder,
    /// A new transaction of the series' `order_id`, with this `key`, for `period`.
    NewTransaction {
        token: String,
    },
}

/// One charge of a series (period, attempt) as recorded before the acquirer is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesCharge {
    pub idempotency_key: String,
    /// The sandbox's "decline the next charge" was taken by this charge.
    pub forced_decline: bool,
    /// The transaction this charge pays.
    pub uid: u64,
}

/// Write a state change's part of a series (`t.series`), in the change's transaction.
pub(super) async fn write_series(
    tx: &mut impl Exec,
    w: &SeriesWrite,
    at: Timestamp,
) -> StoreResult<()> {
    if let Some(s) = &w.create {
        tx.execute(
            "INSERT INTO series (uid, store_uid, group_id, store_group_id, tool, card_token,
                 cardno, card_type, issuing_bank, issuing_bank_uid, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                w.series_uid.into(),
                (&s.store_uid).into(),
                (&s.group_id).into(),
                (&s.store_group_id).into(),
                (&s.tool).into(),
                (&s.card_token).into(),
                (&s.cardno).into(),
                s.card_type.into(),
                (&s.issuing_bank).into(),
                (&s.issuing_bank_uid).into(),
                micros(at).into(),
            ],
        )
        .await?;
    }
    if let Some(timer) = &w.next_charge {
        timers::insert(tx, w.series_uid, timer).await?;
    }
    Ok(())
}

/// A charge (`period`, `attempt`) of series `series_uid` to record before its upstream is
/// asked: with `key` if it is new, paying `target`, its transaction's first event caused
/// by `cause`, at `at`.
#[derive(Debug, Clone)]
pub struct SeriesChargeAsk {
    pub series_uid: u64,
    pub period: u32,
    pub attempt: u32,
    pub key: String,
    pub target: ChargeTarget,
    pub cause: String,
    pub at: Timestamp,
}

/// Record a charge before its upstream is asked, in the caller's transaction: the
/// charge's row (its primary key makes a charge once), its transaction (`A0001` until the
/// answer is recorded) and the sandbox's pending decline, taken. A charge recorded before
/// is answered as it was: the same key, the same transaction, never a second one.
async fn begin_charge(tx: &mut impl Exec, ask: &SeriesChargeAsk) -> StoreResult<SeriesCharge> {
    let SeriesChargeAsk {
        series_uid,
        period,
        attempt,
        ref key,
        ref target,
        ref cause,
        at: now,
    } = *ask;
    let (period, attempt) = (i64::from(period), i64::from(attempt));
    let recorded = tx
        .optional(
            "SELECT idempotency_key, forced_decline, uid FROM series_charges
             WHERE series_uid = $1 AND period = $2 AND attempt = $3",
            &[series_uid.into(), period.into(), attempt.into()],
        )
        .await?;
    if let Some(r) = recorded {
        return Ok(SeriesCharge {
            idempotency_key: r.text(0)?,
            forced_decline: r.int(1)? != 0,
            uid: r.int(2)? as u64,
        });
    }
    let series = tx
        .optional(
            "SELECT decline_next, group_id FROM series WHERE uid = $1",
            &[series_uid.into()],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("series {series_uid} is gone")))?;
    let forced_decline = series.int(0)? != 0;
    let group_id = series.text(1)?;
    let at = micros(now);
    let uid = match target {
        ChargeTarget::BoundOrder => series_uid,
        ChargeTarget::NewTransaction { token } => {
            let row = tx
                .one(
                    "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency,
                         authorise_only, prc, created_at, updated_at, group_id, nois, user_id)
                     SELECT store_uid, order_id, $1, request, pfn, cost, currency, 0, 'A0001',
                         $2, $2, $3, $4, user_id
                     FROM orders WHERE uid = $5
                     RETURNING uid",
                    &[
                        token.into(),
                        at.into(),
                        (&group_id).into(),
                        period.into(),
                        series_uid.into(),
                    ],
                )
                .await?;
            let uid = row.int(0)?;
            tx.execute(
                "INSERT INTO order_events (uid, from_prc, to_prc, at, cause)
                 VALUES ($1, NULL, 'A0001', $2, $3)",
                &[uid.into(), at.into(), cause.into()],
            )
            .await?;
            uid as u64
        }
    };
    tx.execute(
        "INSERT INTO series_charges (series_uid, period, attempt, idempotency_key,
             forced_decline, uid, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            series_uid.into(),
            period.into(),
            attempt.into(),
            key.into(),
            i64::from(forced_decline).into(),
            uid.into(),
            at.into(),
        ],
    )
    .await?;
    if forced_decline {
        tx.execute(
            "UPDATE series SET decline_next = 0 WHERE uid = $1",
            &[series_uid.into()],
        )
        .await?;
    }
    Ok(SeriesCharge {
        idempotency_key: key.to_owned(),
        forced_decline,
        uid,
    })
}

#[async_trait::async_trait]
impl<B: Backend> Recurring for B {
    async fn series(&self, uid: u64) -> StoreResult<Option<SeriesRow>> {
        let sql = format!("SELECT {} FROM series WHERE uid = $1", SeriesRow::COLUMNS);
        let row = self.pool().optional(&sql, &[uid.into()]).await?;
        row.as_ref().map(SeriesRow::from_row).transpose()
    }

    /// The series with `group_id`: of `store_uid`, or of any merchant. Two statements,
    /// so that each is one index probe (an `OR` on the merchant made SQLite scan).
    async fn series_by_group(
        &self,
        store_uid: Option<&str>,
        group_id: &str,
    ) -> StoreResult<Vec<SeriesRow>> {
        let rows = match store_uid {
            Some(store_uid) => {
                let sql = format!(
                    "SELECT {} FROM series WHERE store_uid = $1 AND group_id = $2",
                    SeriesRow::COLUMNS
                );
                self.fetch(&sql, &[store_uid.into(), group_id.into()])
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM series WHERE group_id = $1 ORDER BY uid",
                    SeriesRow::COLUMNS
                );
                self.fetch(&sql, &[group_id.into()]).await?
            }
        };
        rows.iter().map(SeriesRow::from_row).collect()
    }

    /// Set the stop date of series `uid`, unless a stop already set is on or before
    /// `today` (a stop that has taken effect is never moved). True when set.
    async fn stop_series(
        &self,
        uid: u64,
        stop_date: &str,
        reason: &str,
        today: &str,
    ) -> StoreResult<bool> {
        let stopped = self
            .execute(
                "UPDATE series SET stop_date = $1, stop_reason = $2
                 WHERE uid = $3 AND (stop_date IS NULL OR stop_date > $4)",
                &[stop_date.into(), reason.into(), uid.into(), today.into()],
            )
            .await?;
        Ok(stopped > 0)
    }

    async fn decline_next_charge(&self, uid: u64, decline: bool) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE series SET decline_next = $1 WHERE uid = $2",
                &[i64::from(decline).into(), uid.into()],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn begin_series_charges(
        &self,
        asks: &[SeriesChargeAsk],
    ) -> StoreResult<Vec<StoreResult<SeriesCharge>>> {
        let mut tx = self.begin().await?;
        if let [ask] = asks {
            // Alone, a charge needs no savepoint: refused, its transaction is not committed.
            let done = begin_charge(&mut tx, ask).await;
            if done.is_ok() {
                tx.commit().await?;
            }
            return Ok(vec![refused_alone(done)?]);
        }
        if B::WRITES_IN_BATCHES {
            match super::postgres::batched::begin_charges(&mut tx, asks).await {
                Ok(Some(charges)) => {
                    tx.commit().await?;
                    return Ok(charges.into_iter().map(Ok).collect());
                }
                // A series or its first order gone, or a charge recorded by another node
                // meanwhile: the batch is rolled back and each charge is recorded on its
                // own below, with its own answer.
                Ok(None) | Err(StoreError::Duplicate) => {
                    drop(tx);
                    tx = self.begin().await?;
                }
                Err(e) => return Err(e),
            }
        }
        let mut answers = Vec::with_capacity(asks.len());
        for ask in asks {
            item_begin(&mut tx).await?;
            let done = begin_charge(&mut tx, ask).await;
            answers.push(item_done(&mut tx, done).await?);
        }
        tx.commit().await?;
        Ok(answers)
    }
}

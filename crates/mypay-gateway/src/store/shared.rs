//! Statements both backends run as they are, written once: the same text (both drivers
//! take `$N` placeholders) and rows decoded through [`Columns`]. What differs between
//! the databases (writes, leases, locking) stays in each backend.

use super::model::{Backlog, Columns, ReversalRow, Totals};
use super::{StoreResult, micros};
use jiff::Timestamp;
use sqlx::{Database, Executor, IntoArguments, Pool};
use std::sync::LazyLock;

static REVERSAL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM reversals WHERE id = $1",
        ReversalRow::COLUMNS
    )
});

static REVERSALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM reversals WHERE uid = $1 ORDER BY id",
        ReversalRow::COLUMNS
    )
});

const BACKLOG: &str = "SELECT
     (SELECT COUNT(*) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1),
     (SELECT MIN(next_attempt_at) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1),
     (SELECT COUNT(*) FROM timers WHERE done_at IS NULL AND due_at <= $1),
     (SELECT MIN(due_at) FROM timers WHERE done_at IS NULL AND due_at <= $1)";

const TOTALS: &str = "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM notices),
     (SELECT COUNT(*) FROM notice_attempts), (SELECT COUNT(*) FROM timers),
     (SELECT COUNT(*) FROM timers WHERE done_at IS NULL),
     (SELECT COUNT(*) FROM reversals), (SELECT COUNT(*) FROM emails),
     (SELECT COUNT(*) FROM challenges)";

/// One refund or cancellation record.
pub(super) async fn reversal<DB>(pool: &Pool<DB>, id: u64) -> StoreResult<Option<ReversalRow>>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let row = sqlx::query(&REVERSAL)
        .bind(id as i64)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(ReversalRow::from_row).transpose()
}

/// The refunds and cancellations of an order, oldest first.
pub(super) async fn reversals<DB>(pool: &Pool<DB>, uid: u64) -> StoreResult<Vec<ReversalRow>>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let rows = sqlx::query(&REVERSALS)
        .bind(uid as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(ReversalRow::from_row).collect()
}

/// Work waiting at `now`.
pub(super) async fn backlog<DB>(pool: &Pool<DB>, now: Timestamp) -> StoreResult<Backlog>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let row = sqlx::query(BACKLOG)
        .bind(micros(now))
        .fetch_one(pool)
        .await?;
    Ok(Backlog::from_parts(
        now,
        row.int(0)?,
        row.opt_int(1)?,
        row.int(2)?,
        row.opt_int(3)?,
    ))
}

/// How much is stored.
pub(super) async fn totals<DB>(pool: &Pool<DB>) -> StoreResult<Totals>
where
    DB: Database,
    DB::Row: Columns,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let row = sqlx::query(TOTALS).fetch_one(pool).await?;
    Ok(Totals {
        orders: row.int(0)?,
        notices: row.int(1)?,
        notice_attempts: row.int(2)?,
        timers: row.int(3)?,
        timers_open: row.int(4)?,
        reversals: row.int(5)?,
        emails: row.int(6)?,
        challenges: row.int(7)?,
    })
}

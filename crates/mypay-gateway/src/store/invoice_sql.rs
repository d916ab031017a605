//! E-invoices' statements, the same on both backends, each function on the caller's
//! connection inside the caller's transaction (the backends begin and commit).

use super::model::{
    Columns, InvoiceAllowance, InvoiceFields, InvoiceRow, InvoiceTrack, Issued, NewInvoice,
};
use super::{StoreError, StoreResult, micros};
use jiff::Timestamp;
use sqlx::{Database, Executor, IntoArguments};

fn decode_fields(text: &str) -> StoreResult<InvoiceFields> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("an invoice's fields: {e}")))
}

fn encode_fields(fields: &InvoiceFields) -> StoreResult<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) async fn add_track<DB>(conn: &mut DB::Connection, t: &InvoiceTrack) -> StoreResult<()>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let overlapping = sqlx::query(
        "SELECT COUNT(*) FROM invoice_tracks
             WHERE store_uid = $1 AND period = $2 AND track = $3
               AND NOT (last_number < $4 OR first_number > $5)",
    )
    .bind(t.store_uid.as_str())
    .bind(t.period.as_str())
    .bind(t.track.as_str())
    .bind(t.first_number)
    .bind(t.last_number)
    .fetch_one(&mut *conn)
    .await?;
    if overlapping.int(0)? > 0 {
        return Err(StoreError::Duplicate);
    }
    sqlx::query(
        "INSERT INTO invoice_tracks
                 (store_uid, period, track, first_number, last_number, next_number)
             VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.store_uid.as_str())
    .bind(t.period.as_str())
    .bind(t.track.as_str())
    .bind(t.first_number)
    .bind(t.last_number)
    .bind(t.first_number)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn tracks<DB>(
    conn: &mut DB::Connection,
    store_uid: &str,
) -> StoreResult<Vec<InvoiceTrack>>
where
    DB: Database,
    DB::Row: Columns,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let rows = sqlx::query(
        "SELECT store_uid, period, track, first_number, last_number, next_number
             FROM invoice_tracks WHERE store_uid = $1 ORDER BY period, track, first_number",
    )
    .bind(store_uid)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InvoiceTrack {
                store_uid: r.text(0)?,
                period: r.text(1)?,
                track: r.text(2)?,
                first_number: r.int(3)?,
                last_number: r.int(4)?,
                next_number: r.int(5)?,
            })
        })
        .collect()
}

pub(super) async fn invoice<DB>(
    conn: &mut DB::Connection,
    uid: u64,
) -> StoreResult<Option<InvoiceRow>>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let Some(r) = sqlx::query(
        "SELECT uid, store_uid, state, period, total, allowed, fields FROM invoices WHERE uid = $1",
    )
    .bind(uid as i64)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    // Only an allowed invoice (state 6) has allowances: the others need no second read.
    let state = r.int(2)?;
    let allowances = if state == 6 {
        sqlx::query(
            "SELECT refund_uid, amount, order_detail FROM invoice_allowances
                 WHERE invoice_uid = $1 ORDER BY created_at, refund_uid",
        )
        .bind(uid as i64)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|a| {
            Ok(InvoiceAllowance {
                uid: a.int(0)? as u64,
                amount: a.int(1)?,
                order_detail: a.text(2)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok(Some(InvoiceRow {
        uid: r.int(0)? as u64,
        store_uid: r.text(1)?,
        state,
        period: r.text(3)?,
        total: r.int(4)?,
        allowed: r.int(5)?,
        fields: decode_fields(&r.text(6)?)?,
        allowances,
    }))
}

/// The next number of `store_uid`'s ranges for `period`: (track, number). Under
/// concurrency another transaction may use up the range picked first; then the next
/// range is tried.
async fn take_number<DB>(
    conn: &mut DB::Connection,
    store_uid: &str,
    period: &str,
) -> StoreResult<Option<(String, i64)>>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    for _ in 0..8 {
        let taken = sqlx::query(
            "UPDATE invoice_tracks SET next_number = next_number + 1
                 WHERE store_uid = $1 AND period = $2 AND next_number <= last_number
                   AND (track, first_number) IN (
                       SELECT track, first_number FROM invoice_tracks
                       WHERE store_uid = $1 AND period = $2 AND next_number <= last_number
                       ORDER BY track, first_number LIMIT 1)
                 RETURNING track, next_number - 1",
        )
        .bind(store_uid)
        .bind(period)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = taken {
            return Ok(Some((row.text(0)?, row.int(1)?)));
        }
        let left = sqlx::query(
            "SELECT COUNT(*) FROM invoice_tracks
                 WHERE store_uid = $1 AND period = $2 AND next_number <= last_number",
        )
        .bind(store_uid)
        .bind(period)
        .fetch_one(&mut *conn)
        .await?;
        if left.int(0)? == 0 {
            return Ok(None);
        }
    }
    Err(StoreError::Conflict)
}

pub(super) async fn issue<DB>(conn: &mut DB::Connection, new: NewInvoice) -> StoreResult<Issued>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let existing = invoice::<DB>(conn, new.uid).await?;
    if let Some(row) = existing.clone().filter(|r| matches!(r.state, 2 | 4 | 6)) {
        return Ok(Issued::Already(row));
    }
    let taken = take_number::<DB>(conn, &new.store_uid, &new.period).await?;
    let (state, number, fields) = match taken {
        Some((track, n)) => {
            let digits = format!("{n:08}");
            let fields = (new.build)(&track, &digits);
            (2, Some(format!("{track}{digits}")), fields)
        }
        None => (5, None, new.unnumbered),
    };
    let text = encode_fields(&fields)?;
    let at = micros(new.at);
    if existing.is_some() {
        sqlx::query(
            "UPDATE invoices SET state = $1, number = $2, fields = $3, period = $4,
                     updated_at = $5 WHERE uid = $6",
        )
        .bind(state)
        .bind(number.as_deref())
        .bind(text.as_str())
        .bind(new.period.as_str())
        .bind(at)
        .bind(new.uid as i64)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(
                "INSERT INTO invoices
                     (uid, store_uid, state, period, number, total, allowed, fields, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)",
            )
            .bind(new.uid as i64)
            .bind(new.store_uid.as_str())
            .bind(state)
            .bind(new.period.as_str())
            .bind(number.as_deref())
            .bind(new.total)
            .bind(text.as_str())
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    let row = invoice::<DB>(conn, new.uid)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(if state == 2 {
        Issued::Issued(row)
    } else {
        Issued::NoNumber(row)
    })
}

pub(super) async fn hold<DB>(
    conn: &mut DB::Connection,
    uid: u64,
    store_uid: &str,
    state: i64,
    total: i64,
    fields: &InvoiceFields,
    at: Timestamp,
) -> StoreResult<()>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let text = encode_fields(fields)?;
    sqlx::query(
            "INSERT INTO invoices
                 (uid, store_uid, state, period, number, total, allowed, fields, created_at, updated_at)
             VALUES ($1, $2, $3, '', NULL, $4, 0, $5, $6, $6)
             ON CONFLICT (uid) DO UPDATE SET state = excluded.state, fields = excluded.fields,
                 updated_at = excluded.updated_at
             WHERE invoices.state IN (1, 3, 5)",
        )
        .bind(uid as i64)
        .bind(store_uid)
        .bind(state)
        .bind(total)
        .bind(text.as_str())
        .bind(micros(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn void<DB>(
    conn: &mut DB::Connection,
    uid: u64,
    at: Timestamp,
) -> StoreResult<bool>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let done = sqlx::query(
        "UPDATE invoices SET state = 4, updated_at = $1 WHERE uid = $2 AND state = 2
             RETURNING uid",
    )
    .bind(micros(at))
    .bind(uid as i64)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(done.is_some())
}

pub(super) async fn allow<DB>(
    conn: &mut DB::Connection,
    uid: u64,
    a: &InvoiceAllowance,
    at: Timestamp,
) -> StoreResult<bool>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let added = sqlx::query(
        "INSERT INTO invoice_allowances (invoice_uid, refund_uid, amount, order_detail, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (invoice_uid, refund_uid) DO NOTHING RETURNING refund_uid",
    )
    .bind(uid as i64)
    .bind(a.uid as i64)
    .bind(a.amount)
    .bind(a.order_detail.as_str())
    .bind(micros(at))
    .fetch_optional(&mut *conn)
    .await?;
    if added.is_none() {
        // This refund's allowance is made already.
        return Ok(true);
    }
    let done = sqlx::query(
        "UPDATE invoices SET state = 6, allowed = allowed + $1, updated_at = $2
             WHERE uid = $3 AND state IN (2, 6) AND allowed + $1 <= total RETURNING uid",
    )
    .bind(a.amount)
    .bind(micros(at))
    .bind(uid as i64)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(done.is_some())
}

/// The [`Invoices`](super::storage::Invoices) part of a backend: each method one
/// transaction around the statements above. `$begin` opens the backend's write
/// transaction.
macro_rules! invoices_part {
    ($store:ty, $db:ty, $begin:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::storage::Invoices for $store {
            async fn add_invoice_track(
                &self,
                track: &$crate::store::InvoiceTrack,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = $begin(self).await?;
                $crate::store::invoice_sql::add_track::<$db>(&mut tx, track).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn invoice_tracks(
                &self,
                store_uid: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::InvoiceTrack>> {
                let mut conn = self.pool.acquire().await?;
                $crate::store::invoice_sql::tracks::<$db>(&mut conn, store_uid).await
            }

            async fn issue_invoice(
                &self,
                new: $crate::store::NewInvoice,
            ) -> $crate::store::StoreResult<$crate::store::Issued> {
                let mut tx = $begin(self).await?;
                let issued = $crate::store::invoice_sql::issue::<$db>(&mut tx, new).await?;
                tx.commit().await?;
                Ok(issued)
            }

            async fn hold_invoice(
                &self,
                uid: u64,
                store_uid: &str,
                state: i64,
                total: i64,
                fields: &$crate::store::InvoiceFields,
                at: jiff::Timestamp,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = $begin(self).await?;
                $crate::store::invoice_sql::hold::<$db>(
                    &mut tx, uid, store_uid, state, total, fields, at,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn invoice(
                &self,
                uid: u64,
            ) -> $crate::store::StoreResult<Option<$crate::store::InvoiceRow>> {
                let mut conn = self.pool.acquire().await?;
                $crate::store::invoice_sql::invoice::<$db>(&mut conn, uid).await
            }

            async fn void_invoice(
                &self,
                uid: u64,
                at: jiff::Timestamp,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = $begin(self).await?;
                let done = $crate::store::invoice_sql::void::<$db>(&mut tx, uid, at).await?;
                tx.commit().await?;
                Ok(done)
            }

            async fn allow_invoice(
                &self,
                uid: u64,
                allowance: &$crate::store::InvoiceAllowance,
                at: jiff::Timestamp,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = $begin(self).await?;
                let done =
                    $crate::store::invoice_sql::allow::<$db>(&mut tx, uid, allowance, at).await?;
                // Refused: the allowance row written above goes with the transaction.
                if done {
                    tx.commit().await?;
                }
                Ok(done)
            }
        }
    };
}
pub(super) use invoices_part;

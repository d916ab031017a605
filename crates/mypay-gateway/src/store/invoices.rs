//! E-invoices (電子發票): the merchants' word-track ranges, the invoices and their
//! allowances. An invoice's number is taken from its merchant's ranges in the
//! transaction that writes the invoice, so numbers are never reused and never skipped.

use super::sql::{Backend, Exec, Write};
use super::storage::Invoices;
use super::{Columns, StoreError, StoreResult, micros};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A merchant's word-track range for one period (`merchant invoice-track`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTrack {
    pub store_uid: String,
    /// `yyyMM` (ROC year, even month).
    pub period: String,
    pub track: String,
    pub first_number: i64,
    pub last_number: i64,
    /// The next number to give; past `last_number` when the range is used up.
    pub next_number: i64,
}

/// What an invoice says, as the queries answer it (stored whole, as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceFields {
    /// When it was issued, `YYYYMMDDHHmmss` (Taipei); empty until then.
    pub issued: String,
    pub wordtrack: String,
    /// 8 digits.
    pub number: String,
    pub rand_code: String,
    pub seller_ban: String,
    pub buyer_ban: String,
    pub left_qrcode: String,
    pub middle_barcode: String,
    pub right_qrcode: String,
    pub title_type: i64,
    pub title: String,
    pub print_type: i64,
    pub print_device: i64,
    pub amount: i64,
    pub sales_amount: i64,
    pub tax_amount: i64,
    pub order_detail: String,
    pub ratetype: i64,
    pub input_type: i64,
    pub cloud_type: String,
    pub mobile_code: String,
    pub tax_id: String,
    pub natural_person: String,
    pub love_code: String,
    pub b2b_title: String,
    pub b2b_id: String,
    pub b2b_post_zone: String,
    pub b2b_address: String,
    /// Why it is not issued (states 3 and 5).
    pub state_msg: String,
}

/// One invoice: of one transaction (`uid`), in one state of 『電子發票開立狀態類型』.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub uid: u64,
    pub store_uid: String,
    pub state: i64,
    /// `yyyMM`: the period it was issued in (voiding is allowed within it only).
    pub period: String,
    pub total: i64,
    /// The sum of its allowances.
    pub allowed: i64,
    pub fields: InvoiceFields,
    pub allowances: Vec<InvoiceAllowance>,
}

/// 『電子發票折讓資訊』: one allowance (折讓), made by a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceAllowance {
    /// The refund that made it.
    pub uid: u64,
    pub amount: i64,
    pub order_detail: String,
}

/// Builds an issued invoice's fields from its word track and number (8 digits).
pub type InvoiceFieldsFn = Box<dyn FnOnce(&str, &str) -> InvoiceFields + Send>;

/// An invoice to issue: its transaction, period and the fields of everything but the
/// number, which the store takes from the merchant's ranges in the same transaction.
pub struct NewInvoice {
    pub uid: u64,
    pub store_uid: String,
    pub period: String,
    pub total: i64,
    pub at: Timestamp,
    /// Builds the issued invoice's fields from its word track and 8 digits.
    pub build: InvoiceFieldsFn,
    /// The fields stored when no number is left (state 5).
    pub unnumbered: InvoiceFields,
}

/// How issuing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    Issued(InvoiceRow),
    /// The merchant has no number left for the period: stored as state 5.
    NoNumber(InvoiceRow),
    /// The transaction has an issued (or voided, or allowed) invoice already.
    Already(InvoiceRow),
}

fn decode_fields(text: &str) -> StoreResult<InvoiceFields> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("an invoice's fields: {e}")))
}

fn encode_fields(fields: &InvoiceFields) -> StoreResult<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Invoice `uid` with its allowances, read by `db` (inside a transaction, or not).
async fn read(db: &mut impl Exec, uid: u64) -> StoreResult<Option<InvoiceRow>> {
    let Some(r) = db
        .optional(
            "SELECT uid, store_uid, state, period, total, allowed, fields FROM invoices
             WHERE uid = $1",
            &[uid.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    // Only an allowed invoice (state 6) has allowances: the others need no second read.
    let state = r.int(2)?;
    let allowances = if state == 6 {
        db.fetch(
            "SELECT refund_uid, amount, order_detail FROM invoice_allowances
             WHERE invoice_uid = $1 ORDER BY created_at, refund_uid",
            &[uid.into()],
        )
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
async fn take_number(
    tx: &mut impl Exec,
    store_uid: &str,
    period: &str,
) -> StoreResult<Option<(String, i64)>> {
    for _ in 0..8 {
        let taken = tx
            .optional(
                "UPDATE invoice_tracks SET next_number = next_number + 1
                 WHERE store_uid = $1 AND period = $2 AND next_number <= last_number
                   AND (track, first_number) IN (
                       SELECT track, first_number FROM invoice_tracks
                       WHERE store_uid = $1 AND period = $2 AND next_number <= last_number
                       ORDER BY track, first_number LIMIT 1)
                 RETURNING track, next_number - 1",
                &[store_uid.into(), period.into()],
            )
            .await?;
        if let Some(row) = taken {
            return Ok(Some((row.text(0)?, row.int(1)?)));
        }
        let left = tx
            .one(
                "SELECT COUNT(*) FROM invoice_tracks
                 WHERE store_uid = $1 AND period = $2 AND next_number <= last_number",
                &[store_uid.into(), period.into()],
            )
            .await?;
        if left.int(0)? == 0 {
            return Ok(None);
        }
    }
    Err(StoreError::Conflict)
}

#[async_trait::async_trait]
impl<B: Backend> Invoices for B {
    async fn add_invoice_track(&self, t: &InvoiceTrack) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let overlapping = tx
            .one(
                "SELECT COUNT(*) FROM invoice_tracks
                 WHERE store_uid = $1 AND period = $2 AND track = $3
                   AND NOT (last_number < $4 OR first_number > $5)",
                &[
                    (&t.store_uid).into(),
                    (&t.period).into(),
                    (&t.track).into(),
                    t.first_number.into(),
                    t.last_number.into(),
                ],
            )
            .await?;
        if overlapping.int(0)? > 0 {
            return Err(StoreError::Duplicate);
        }
        tx.execute(
            "INSERT INTO invoice_tracks
                 (store_uid, period, track, first_number, last_number, next_number)
             VALUES ($1, $2, $3, $4, $5, $4)",
            &[
                (&t.store_uid).into(),
                (&t.period).into(),
                (&t.track).into(),
                t.first_number.into(),
                t.last_number.into(),
            ],
        )
        .await?;
        tx.commit().await
    }

    async fn invoice_tracks(&self, store_uid: &str) -> StoreResult<Vec<InvoiceTrack>> {
        let rows = self
            .fetch(
                "SELECT store_uid, period, track, first_number, last_number, next_number
                 FROM invoice_tracks WHERE store_uid = $1 ORDER BY period, track, first_number",
                &[store_uid.into()],
            )
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

    async fn issue_invoice(&self, new: NewInvoice) -> StoreResult<Issued> {
        let mut tx = self.begin().await?;
        let existing = read(&mut tx, new.uid).await?;
        if let Some(row) = existing.clone().filter(|r| matches!(r.state, 2 | 4 | 6)) {
            return Ok(Issued::Already(row));
        }
        let (state, number, fields): (i64, _, _) =
            match take_number(&mut tx, &new.store_uid, &new.period).await? {
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
            tx.execute(
                "UPDATE invoices SET state = $1, number = $2, fields = $3, period = $4,
                     updated_at = $5 WHERE uid = $6",
                &[
                    state.into(),
                    number.as_deref().into(),
                    text.as_str().into(),
                    (&new.period).into(),
                    at.into(),
                    new.uid.into(),
                ],
            )
            .await?;
        } else {
            tx.execute(
                "INSERT INTO invoices (uid, store_uid, state, period, number, total, allowed,
                     fields, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)",
                &[
                    new.uid.into(),
                    (&new.store_uid).into(),
                    state.into(),
                    (&new.period).into(),
                    number.as_deref().into(),
                    new.total.into(),
                    text.as_str().into(),
                    at.into(),
                ],
            )
            .await?;
        }
        let row = read(&mut tx, new.uid).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(if state == 2 {
            Issued::Issued(row)
        } else {
            Issued::NoNumber(row)
        })
    }

    async fn hold_invoice(
        &self,
        uid: u64,
        store_uid: &str,
        state: i64,
        total: i64,
        fields: &InvoiceFields,
        at: Timestamp,
    ) -> StoreResult<()> {
        let text = encode_fields(fields)?;
        self.execute(
            "INSERT INTO invoices (uid, store_uid, state, period, number, total, allowed,
                 fields, created_at, updated_at)
             VALUES ($1, $2, $3, '', NULL, $4, 0, $5, $6, $6)
             ON CONFLICT (uid) DO UPDATE SET state = excluded.state, fields = excluded.fields,
                 updated_at = excluded.updated_at
             WHERE invoices.state IN (1, 3, 5)",
            &[
                uid.into(),
                store_uid.into(),
                state.into(),
                total.into(),
                text.as_str().into(),
                micros(at).into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn invoice(&self, uid: u64) -> StoreResult<Option<InvoiceRow>> {
        read(&mut self.pool(), uid).await
    }

    async fn void_invoice(&self, uid: u64, at: Timestamp) -> StoreResult<bool> {
        let voided = self
            .execute(
                "UPDATE invoices SET state = 4, updated_at = $1 WHERE uid = $2 AND state = 2",
                &[micros(at).into(), uid.into()],
            )
            .await?;
        Ok(voided > 0)
    }

    async fn allow_invoice(
        &self,
        uid: u64,
        a: &InvoiceAllowance,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let added = tx
            .execute(
                "INSERT INTO invoice_allowances (invoice_uid, refund_uid, amount, order_detail,
                     created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (invoice_uid, refund_uid) DO NOTHING",
                &[
                    uid.into(),
                    a.uid.into(),
                    a.amount.into(),
                    (&a.order_detail).into(),
                    micros(at).into(),
                ],
            )
            .await?;
        if added == 0 {
            // This refund's allowance is made already.
            return Ok(true);
        }
        let allowed = tx
            .execute(
                "UPDATE invoices SET state = 6, allowed = allowed + $1, updated_at = $2
                 WHERE uid = $3 AND state IN (2, 6) AND allowed + $1 <= total",
                &[a.amount.into(), micros(at).into(), uid.into()],
            )
            .await?;
        // Refused: the allowance row written above goes with the transaction.
        if allowed > 0 {
            tx.commit().await?;
        }
        Ok(allowed > 0)
    }
}

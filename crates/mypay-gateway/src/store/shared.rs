//! Statements both backends run as they are, written once: the same text (both drivers
//! take `$N` placeholders) and rows decoded through [`Columns`]. What differs between
//! the databases (writes, leases, locking) stays in each backend.

use super::model::{
    Backlog, Challenge, Columns, Credential, CredentialOwner, MerchantSummary, NoticeAttempt,
    ReversalRow, Totals,
};
use super::{StoreError, StoreResult, micros, timestamp};
use crate::ledger::merchant::MerchantSettings;
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

/// The shared statements on a backend's pool.
pub(super) struct On<'p, DB: Database>(pub &'p Pool<DB>);

impl<DB> On<'_, DB>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Every key of `owner_uid`, past and future ones too, newest first: whether one is
    /// valid depends on the clock at the moment of use.
    pub(super) async fn credentials(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
    ) -> StoreResult<Vec<Credential>> {
        let rows = sqlx::query(
            "SELECT secret, valid_from, valid_until FROM credentials
             WHERE owner_kind = $1 AND owner_uid = $2
             ORDER BY valid_from DESC",
        )
        .bind(owner.as_str())
        .bind(owner_uid)
        .fetch_all(self.0)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Credential {
                    secret: r.text(0)?,
                    valid_from: timestamp(r.int(1)?),
                    valid_until: timestamp(r.int(2)?),
                })
            })
            .collect()
    }

    /// Every merchant with its name and when each of its keys still valid at `now`
    /// expires (never the keys themselves).
    pub(super) async fn merchant_summaries(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<MerchantSummary>> {
        let rows = sqlx::query("SELECT store_uid, settings FROM merchants ORDER BY store_uid")
            .fetch_all(self.0)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let store_uid = r.text(0)?;
            let name = serde_json::from_str::<MerchantSettings>(&r.text(1)?)
                .map(|s| s.name)
                .unwrap_or_default();
            let keys_valid_until = self
                .credentials(CredentialOwner::Store, &store_uid)
                .await?
                .into_iter()
                .filter(|c| c.valid_from <= now && now < c.valid_until)
                .map(|c| c.valid_until.to_string())
                .collect();
            out.push(MerchantSummary {
                store_uid,
                name,
                keys_valid_until,
            });
        }
        Ok(out)
    }

    /// The attempts made of a notice, first first.
    pub(super) async fn notice_attempts(&self, notice_id: i64) -> StoreResult<Vec<NoticeAttempt>> {
        let rows = sqlx::query(
            "SELECT attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url
             FROM notice_attempts WHERE notice_id = $1 ORDER BY attempt",
        )
        .bind(notice_id)
        .fetch_all(self.0)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NoticeAttempt {
                    attempt: r.int(0)?,
                    at: timestamp(r.int(1)?).to_string(),
                    http_status: r.opt_int(2)?,
                    reply: r.text(3)?,
                    elapsed_ms: r.int(4)?,
                    outcome: r.text(5)?,
                    trigger: r.text(6)?,
                    url: r.text(7)?,
                })
            })
            .collect()
    }

    /// Put an e-mail in the outbox.
    pub(super) async fn queue_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO emails (to_addr, subject, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(micros(at))
        .execute(self.0)
        .await?;
        Ok(())
    }

    pub(super) async fn email_count(&self) -> StoreResult<i64> {
        sqlx::query("SELECT COUNT(*) FROM emails")
            .fetch_one(self.0)
            .await?
            .int(0)
    }

    /// Keep the 3-D Secure step of order `c.uid` (a new one replaces the old).
    pub(super) async fn put_challenge(&self, c: &Challenge, now: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO challenges (uid, pfn, cardno, card_type, issuing_bank, issuing_bank_uid, password, answer, failures, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)
             ON CONFLICT (uid) DO UPDATE SET pfn = excluded.pfn, cardno = excluded.cardno,
                 card_type = excluded.card_type, issuing_bank = excluded.issuing_bank,
                 issuing_bank_uid = excluded.issuing_bank_uid, password = excluded.password,
                 answer = excluded.answer, failures = 0, created_at = excluded.created_at",
        )
        .bind(c.uid as i64)
        .bind(c.pfn.as_str())
        .bind(c.cardno.as_str())
        .bind(c.card_type)
        .bind(c.issuing_bank.as_str())
        .bind(c.issuing_bank_uid.as_str())
        .bind(c.password.as_str())
        .bind(c.answer.as_str())
        .bind(micros(now))
        .execute(self.0)
        .await?;
        Ok(())
    }

    pub(super) async fn challenge(&self, uid: u64) -> StoreResult<Option<Challenge>> {
        let row = sqlx::query(
            "SELECT pfn, cardno, card_type, issuing_bank, issuing_bank_uid, password, answer,
                 failures FROM challenges WHERE uid = $1",
        )
        .bind(uid as i64)
        .fetch_optional(self.0)
        .await?;
        row.map(|r| {
            Ok(Challenge {
                uid,
                pfn: r.text(0)?,
                cardno: r.text(1)?,
                card_type: r.int(2)?,
                issuing_bank: r.text(3)?,
                issuing_bank_uid: r.text(4)?,
                password: r.text(5)?,
                answer: r.text(6)?,
                failures: r.int(7)?,
            })
        })
        .transpose()
    }

    /// Count a wrong 3D password; returns the failures so far.
    pub(super) async fn fail_challenge(&self, uid: u64) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE challenges SET failures = failures + 1 WHERE uid = $1 RETURNING failures",
        )
        .bind(uid as i64)
        .fetch_optional(self.0)
        .await?;
        row.ok_or(StoreError::NotFound)?.int(0)
    }

    /// One refund or cancellation record.
    pub(super) async fn reversal(&self, id: u64) -> StoreResult<Option<ReversalRow>> {
        let row = sqlx::query(&REVERSAL)
            .bind(id as i64)
            .fetch_optional(self.0)
            .await?;
        row.as_ref().map(ReversalRow::from_row).transpose()
    }

    /// The refunds and cancellations of an order, oldest first.
    pub(super) async fn reversals(&self, uid: u64) -> StoreResult<Vec<ReversalRow>> {
        let rows = sqlx::query(&REVERSALS)
            .bind(uid as i64)
            .fetch_all(self.0)
            .await?;
        rows.iter().map(ReversalRow::from_row).collect()
    }

    /// Work waiting at `now`.
    pub(super) async fn backlog(&self, now: Timestamp) -> StoreResult<Backlog> {
        let row = sqlx::query(BACKLOG)
            .bind(micros(now))
            .fetch_one(self.0)
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
    pub(super) async fn totals(&self) -> StoreResult<Totals> {
        let row = sqlx::query(TOTALS).fetch_one(self.0).await?;
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
}

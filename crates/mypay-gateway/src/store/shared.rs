//! Statements both backends run as they are, written once: the same text (both drivers
//! take `$N` placeholders) and rows decoded through [`Columns`]. What differs between
//! the databases (writes, leases, locking) stays in each backend.

use super::model::{
    Backlog, Challenge, ChargeTarget, Columns, Credential, CredentialOwner, MerchantSummary,
    NoticeAttempt, ReversalRow, SeriesCharge, SeriesRow, SeriesWrite, StoredCard, Totals,
    WalletRow,
};
use super::{StoreError, StoreResult, micros, timestamp};
use crate::clock::Reading;
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

/// Work overdue on the shared clock (merchants with a clock of their own keep their own
/// time, behind or ahead of it: their work is not counted).
const BACKLOG: &str = "SELECT
     (SELECT COUNT(*) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1
          AND store_uid NOT IN (SELECT store_uid FROM merchant_clocks)),
     (SELECT MIN(next_attempt_at) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1
          AND store_uid NOT IN (SELECT store_uid FROM merchant_clocks)),
     (SELECT COUNT(*) FROM timers WHERE done_at IS NULL AND due_at <= $1
          AND store_uid NOT IN (SELECT store_uid FROM merchant_clocks)),
     (SELECT MIN(due_at) FROM timers WHERE done_at IS NULL AND due_at <= $1
          AND store_uid NOT IN (SELECT store_uid FROM merchant_clocks))";

/// Pending notices due at `$1`, in the same two parts as [`TIMERS_DUE_SHARED`] and
/// [`TIMERS_DUE_OWN`].
const NOTICES_DUE_SHARED: &str = "FROM notices n
     WHERE n.status = 'pending' AND n.next_attempt_at <= $1
       AND n.store_uid NOT IN (SELECT store_uid FROM merchant_clocks)";
const NOTICES_DUE_OWN: &str = "FROM merchant_clocks c CROSS JOIN notices n
     WHERE n.store_uid = c.store_uid
       AND n.status = 'pending' AND n.next_attempt_at <= $1 + c.offset_us";

/// Open timers due at `$1`, in two parts, each an index range: those of merchants on
/// the shared clock (`$1` its reading), and those of merchants with a clock of their own
/// (`$1` the time base, to which each such clock adds its stored offset). Timers stored
/// with no merchant (before merchants had clocks) are the shared clock's.
const TIMERS_DUE_SHARED: &str = "FROM timers t
     WHERE t.done_at IS NULL AND t.due_at <= $1
       AND t.store_uid NOT IN (SELECT store_uid FROM merchant_clocks)";
///
/// The own part reads merchant by merchant (`CROSS JOIN` keeps SQLite's planner from
/// reading every open timer in due order instead; PostgreSQL plans it as any join).
const TIMERS_DUE_OWN: &str = "FROM merchant_clocks c CROSS JOIN timers t
     WHERE t.store_uid = c.store_uid
       AND t.done_at IS NULL AND t.due_at <= $1 + c.offset_us";

/// Each part of the timers due at `now` with the instant it compares due times with;
/// the own clocks' part only when some merchant has one (`clocks`): without statistics of
/// the empty table, PostgreSQL would join it by reading every open timer.
pub(super) fn timers_due_parts(now: Reading, clocks: bool) -> Vec<(&'static str, i64)> {
    let mut parts = vec![(TIMERS_DUE_SHARED, micros(now.shared))];
    if clocks {
        parts.push((TIMERS_DUE_OWN, now.base_micros()));
    }
    parts
}

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

    pub(super) async fn adopt_merchant(&self, agent_uid: &str, store_uid: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE merchants SET agent_uid = $1 WHERE store_uid = $2 AND agent_uid IS NULL",
        )
        .bind(agent_uid)
        .bind(store_uid)
        .execute(self.0)
        .await?;
        Ok(())
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

    /// Whether any merchant has a clock of its own (one index probe).
    pub(super) async fn any_merchant_clock(&self) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM merchant_clocks) THEN 1 ELSE 0 END AS BIGINT)",
        )
        .fetch_one(self.0)
        .await?;
        Ok(row.int(0)? != 0)
    }

    /// Whether any open timer is due by its merchant's clock.
    pub(super) async fn timers_due(&self, now: Reading) -> StoreResult<bool> {
        let clocks = self.any_merchant_clock().await?;
        self.any_due(timers_due_parts(now, clocks)).await
    }

    /// Whether any notice's scheduled attempt is due by its merchant's clock, being
    /// delivered or not: `false` means every attempt that fell due has been made and
    /// recorded. (Index seeks, not counts: a clock advance asks after every batch.)
    pub(super) async fn notices_due(&self, now: Reading) -> StoreResult<bool> {
        let mut parts = vec![(NOTICES_DUE_SHARED, micros(now.shared))];
        if self.any_merchant_clock().await? {
            parts.push((NOTICES_DUE_OWN, now.base_micros()));
        }
        self.any_due(parts).await
    }

    async fn any_due(&self, parts: Vec<(&str, i64)>) -> StoreResult<bool> {
        for (part, at) in parts {
            // As a number: PostgreSQL's EXISTS is a boolean, SQLite's an integer.
            let row = sqlx::query(&format!(
                "SELECT CAST(CASE WHEN EXISTS (SELECT 1 {part}) THEN 1 ELSE 0 END AS BIGINT)"
            ))
            .bind(at)
            .fetch_one(self.0)
            .await?;
            if row.int(0)? != 0 {
                return Ok(true);
            }
        }
        Ok(false)
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

/// Recurring series: reads and single-statement writes, on the pool.
impl<DB> On<'_, DB>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(super) async fn series(&self, uid: u64) -> StoreResult<Option<SeriesRow>> {
        let sql = format!("SELECT {} FROM series WHERE uid = $1", SeriesRow::COLUMNS);
        sqlx::query(&sql)
            .bind(uid as i64)
            .fetch_optional(self.0)
            .await?
            .map(|r| SeriesRow::from_row(&r))
            .transpose()
    }

    /// The series with `group_id`: of `store_uid`, or of any merchant. Two statements,
    /// so that each is one index probe (an `OR` on the merchant made SQLite scan).
    pub(super) async fn series_by_group(
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
                sqlx::query(&sql)
                    .bind(store_uid)
                    .bind(group_id)
                    .fetch_all(self.0)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM series WHERE group_id = $1 ORDER BY uid",
                    SeriesRow::COLUMNS
                );
                sqlx::query(&sql).bind(group_id).fetch_all(self.0).await?
            }
        };
        rows.iter().map(SeriesRow::from_row).collect()
    }

    /// Set the stop date of series `uid`, unless a stop already set is on or before
    /// `today` (a stop that has taken effect is never moved). True when set.
    pub(super) async fn stop_series(
        &self,
        uid: u64,
        stop_date: &str,
        reason: &str,
        today: &str,
    ) -> StoreResult<bool> {
        // RETURNING tells whether a row changed, the same way on both databases.
        let done = sqlx::query(
            "UPDATE series SET stop_date = $1, stop_reason = $2
             WHERE uid = $3 AND (stop_date IS NULL OR stop_date > $4) RETURNING uid",
        )
        .bind(stop_date)
        .bind(reason)
        .bind(uid as i64)
        .bind(today)
        .fetch_optional(self.0)
        .await?;
        Ok(done.is_some())
    }

    pub(super) async fn decline_next_charge(&self, uid: u64, decline: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE series SET decline_next = $1 WHERE uid = $2 RETURNING uid")
            .bind(i64::from(decline))
            .bind(uid as i64)
            .fetch_optional(self.0)
            .await?;
        Ok(done.is_some())
    }
}

/// Write a state change's part of a series (`t.series`), in the change's transaction.
pub(super) async fn write_series<DB>(
    conn: &mut DB::Connection,
    w: &SeriesWrite,
    at: Timestamp,
) -> StoreResult<()>
where
    DB: Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if let Some(s) = &w.create {
        sqlx::query(
            "INSERT INTO series (uid, store_uid, group_id, store_group_id, tool, card_token,
                 cardno, card_type, issuing_bank, issuing_bank_uid, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(w.series_uid as i64)
        .bind(s.store_uid.as_str())
        .bind(s.group_id.as_str())
        .bind(s.store_group_id.as_str())
        .bind(s.tool.as_str())
        .bind(s.card_token.as_str())
        .bind(s.cardno.as_str())
        .bind(s.card_type)
        .bind(s.issuing_bank.as_str())
        .bind(s.issuing_bank_uid.as_str())
        .bind(micros(at))
        .execute(&mut *conn)
        .await?;
    }
    if let Some(timer) = &w.next_charge {
        sqlx::query(
            "INSERT INTO timers (kind, uid, due_at, payload, store_uid) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, uid, payload) DO NOTHING",
        )
        .bind(timer.kind.as_str())
        .bind(w.series_uid as i64)
        .bind(micros(timer.due_at))
        .bind(timer.payload.as_str())
        .bind(timer.store_uid.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Record charge (`period`, `attempt`) of series `series_uid` before its acquirer is
/// asked, in the caller's transaction: the charge's row (its primary key makes a
/// charge once), its transaction (`A0001` until the answer is recorded) and the
/// sandbox's pending decline, taken. A charge recorded before is answered as it was:
/// the same key, the same transaction, never a second one.
#[allow(clippy::too_many_arguments)]
pub(super) async fn begin_series_charge<DB>(
    conn: &mut DB::Connection,
    series_uid: u64,
    period: u32,
    attempt: u32,
    key: &str,
    target: &ChargeTarget,
    cause: &str,
    now: Timestamp,
) -> StoreResult<SeriesCharge>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let recorded = sqlx::query(
        "SELECT idempotency_key, forced_decline, uid FROM series_charges
         WHERE series_uid = $1 AND period = $2 AND attempt = $3",
    )
    .bind(series_uid as i64)
    .bind(i64::from(period))
    .bind(i64::from(attempt))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = recorded {
        return Ok(SeriesCharge {
            idempotency_key: r.text(0)?,
            forced_decline: r.int(1)? != 0,
            uid: r.int(2)? as u64,
        });
    }
    let series = sqlx::query("SELECT decline_next, group_id FROM series WHERE uid = $1")
        .bind(series_uid as i64)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("series {series_uid} is gone")))?;
    let forced_decline = series.int(0)? != 0;
    let group_id = series.text(1)?;
    let at = micros(now);
    let uid = match target {
        ChargeTarget::BoundOrder => series_uid,
        ChargeTarget::NewTransaction { token } => {
            let row = sqlx::query(
                "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency,
                     authorise_only, prc, created_at, updated_at, group_id, nois)
                 SELECT store_uid, order_id, $1, request, pfn, cost, currency, 0, 'A0001',
                     $2, $2, $3, $4
                 FROM orders WHERE uid = $5
                 RETURNING uid",
            )
            .bind(token.as_str())
            .bind(at)
            .bind(group_id.as_str())
            .bind(i64::from(period))
            .bind(series_uid as i64)
            .fetch_one(&mut *conn)
            .await?;
            let uid = row.int(0)?;
            sqlx::query(
                "INSERT INTO order_events (uid, from_prc, to_prc, at, cause)
                 VALUES ($1, NULL, 'A0001', $2, $3)",
            )
            .bind(uid)
            .bind(at)
            .bind(cause)
            .execute(&mut *conn)
            .await?;
            uid as u64
        }
    };
    sqlx::query(
        "INSERT INTO series_charges (series_uid, period, attempt, idempotency_key,
             forced_decline, uid, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(series_uid as i64)
    .bind(i64::from(period))
    .bind(i64::from(attempt))
    .bind(key)
    .bind(i64::from(forced_decline))
    .bind(uid as i64)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    if forced_decline {
        sqlx::query("UPDATE series SET decline_next = 0 WHERE uid = $1")
            .bind(series_uid as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(SeriesCharge {
        idempotency_key: key.to_owned(),
        forced_decline,
        uid,
    })
}

/// E-wallet bind requests: reads and single-statement writes, on the pool.
impl<DB> On<'_, DB>
where
    DB: Database,
    DB::Row: Columns,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(super) async fn create_wallet_bind(
        &self,
        store_uid: &str,
        user_id: &str,
        pfn: &str,
        request: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let row = sqlx::query(
            "INSERT INTO wallets (store_uid, user_id, pfn, request, status, created_at)
             VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
        )
        .bind(store_uid)
        .bind(user_id)
        .bind(pfn)
        .bind(request)
        .bind(micros(now))
        .fetch_one(self.0)
        .await?;
        Ok(row.int(0)? as u64)
    }

    pub(super) async fn wallet(&self, id: u64) -> StoreResult<Option<WalletRow>> {
        let sql = format!("SELECT {} FROM wallets WHERE id = $1", WalletRow::COLUMNS);
        sqlx::query(&sql)
            .bind(id as i64)
            .fetch_optional(self.0)
            .await?
            .map(|r| WalletRow::from_row(&r))
            .transpose()
    }

    pub(super) async fn wallet_by_pan(
        &self,
        store_uid: &str,
        virtual_pan: &str,
    ) -> StoreResult<Option<WalletRow>> {
        let sql = format!(
            "SELECT {} FROM wallets WHERE virtual_pan = $1 AND store_uid = $2",
            WalletRow::COLUMNS
        );
        sqlx::query(&sql)
            .bind(virtual_pan)
            .bind(store_uid)
            .fetch_optional(self.0)
            .await?
            .map(|r| WalletRow::from_row(&r))
            .transpose()
    }

    /// An open bind request waits for its card's 3-D Secure password. False when the
    /// request is no longer open.
    pub(super) async fn challenge_wallet(
        &self,
        id: u64,
        card: &StoredCard,
        password: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE wallets SET status = 'challenged', card_token = $1, cardno = $2,
                 card_type = $3, issuing_bank = $4, issuing_bank_uid = $5,
                 pending_password = $6, otp_failures = 0
             WHERE id = $7 AND status IN ('open', 'challenged') RETURNING id",
        )
        .bind(card.token.as_str())
        .bind(card.cardno.as_str())
        .bind(card.card_type)
        .bind(card.issuing_bank.as_str())
        .bind(card.issuing_bank_uid.as_str())
        .bind(password)
        .bind(id as i64)
        .fetch_optional(self.0)
        .await?;
        Ok(done.is_some())
    }

    /// Remember the card `user_id` of `store_uid` paid with (quick checkout).
    pub(super) async fn remember_card(
        &self,
        store_uid: &str,
        user_id: &str,
        tool: &str,
        card: &StoredCard,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO quick_cards (store_uid, user_id, tool, card_token, cardno, card_type,
                 issuing_bank, issuing_bank_uid, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (store_uid, user_id) DO UPDATE SET tool = excluded.tool,
                 card_token = excluded.card_token, cardno = excluded.cardno,
                 card_type = excluded.card_type, issuing_bank = excluded.issuing_bank,
                 issuing_bank_uid = excluded.issuing_bank_uid, updated_at = excluded.updated_at",
        )
        .bind(store_uid)
        .bind(user_id)
        .bind(tool)
        .bind(card.token.as_str())
        .bind(card.cardno.as_str())
        .bind(card.card_type)
        .bind(card.issuing_bank.as_str())
        .bind(card.issuing_bank_uid.as_str())
        .bind(micros(at))
        .execute(self.0)
        .await?;
        Ok(())
    }

    /// The card `user_id` of `store_uid` last paid with, and its tool.
    pub(super) async fn remembered_card(
        &self,
        store_uid: &str,
        user_id: &str,
    ) -> StoreResult<Option<(String, StoredCard)>> {
        let row = sqlx::query(
            "SELECT tool, card_token, cardno, card_type, issuing_bank, issuing_bank_uid
             FROM quick_cards WHERE store_uid = $1 AND user_id = $2",
        )
        .bind(store_uid)
        .bind(user_id)
        .fetch_optional(self.0)
        .await?;
        row.map(|r| {
            Ok((
                r.text(0)?,
                StoredCard {
                    token: r.text(1)?,
                    cardno: r.text(2)?,
                    card_type: r.int(3)?,
                    issuing_bank: r.text(4)?,
                    issuing_bank_uid: r.text(5)?,
                },
            ))
        })
        .transpose()
    }

    /// Count a wrong 3-D Secure password of a challenged bind; the failures so far.
    pub(super) async fn fail_wallet_otp(&self, id: u64) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE wallets SET otp_failures = otp_failures + 1
             WHERE id = $1 AND status = 'challenged' RETURNING otp_failures",
        )
        .bind(id as i64)
        .fetch_optional(self.0)
        .await?;
        row.map_or(Ok(i64::MAX), |r| r.int(0))
    }
}

/// End a bind request in the caller's transaction: bound with `card` and `virtual_pan`,
/// or failed (`None`). False when it had ended already (nothing is written).
pub(super) async fn finish_wallet_bind<DB>(
    conn: &mut DB::Connection,
    id: u64,
    bound: Option<(&StoredCard, &str)>,
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
    let done = match bound {
        Some((card, virtual_pan)) => {
            sqlx::query(
                "UPDATE wallets SET status = 'bound', card_token = $1, cardno = $2,
                     card_type = $3, issuing_bank = $4, issuing_bank_uid = $5,
                     pending_password = NULL, virtual_pan = $6, bound_at = $7
                 WHERE id = $8 AND status IN ('open', 'challenged') RETURNING id",
            )
            .bind(card.token.as_str())
            .bind(card.cardno.as_str())
            .bind(card.card_type)
            .bind(card.issuing_bank.as_str())
            .bind(card.issuing_bank_uid.as_str())
            .bind(virtual_pan)
            .bind(micros(at))
            .bind(id as i64)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(
                "UPDATE wallets SET status = 'failed', pending_password = NULL,
                     card_token = NULL
                 WHERE id = $1 AND status IN ('open', 'challenged') RETURNING id",
            )
            .bind(id as i64)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    Ok(done.is_some())
}

/// Merchants' own clocks: the same statements on both backends, on the caller's
/// connection (PostgreSQL signals the other nodes in the same transaction).
pub(super) mod merchant_clocks {
    use super::*;
    use crate::store::model::MerchantClock;

    fn decode<R: Columns>(r: &R) -> StoreResult<MerchantClock> {
        Ok(MerchantClock {
            store_uid: r.text(0)?,
            offset_us: r.int(1)?,
            high_water_us: r.int(2)?,
        })
    }

    pub(in crate::store) async fn all<DB>(
        conn: &mut DB::Connection,
    ) -> StoreResult<Vec<MerchantClock>>
    where
        DB: Database,
        DB::Row: Columns,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let rows = sqlx::query(
            "SELECT store_uid, offset_us, high_water_us FROM merchant_clocks ORDER BY store_uid",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub(in crate::store) async fn add<DB>(
        conn: &mut DB::Connection,
        store_uid: &str,
        offset_us: i64,
    ) -> StoreResult<()>
    where
        DB: Database,
        i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let added = sqlx::query(
            "INSERT INTO merchant_clocks (store_uid, offset_us, high_water_us) VALUES ($1, $2, $3)
             ON CONFLICT (store_uid) DO NOTHING RETURNING store_uid",
        )
        .bind(store_uid)
        .bind(offset_us)
        .bind(i64::MIN)
        .fetch_optional(&mut *conn)
        .await?;
        if added.is_some() {
            Ok(())
        } else {
            Err(StoreError::Duplicate)
        }
    }

    /// Two moves at once both count: each adds to what is stored (or to the caller's
    /// offset, when that is ahead), in one statement.
    pub(in crate::store) async fn advance<DB>(
        conn: &mut DB::Connection,
        store_uid: &str,
        by_us: i64,
        local_offset_us: i64,
        base_us: i64,
    ) -> StoreResult<Option<MerchantClock>>
    where
        DB: Database,
        DB::Row: Columns,
        i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let row = sqlx::query(
            "UPDATE merchant_clocks SET
                 offset_us = CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2,
                 high_water_us = CASE
                     WHEN high_water_us > $4 + CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2
                     THEN high_water_us
                     ELSE $4 + CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2 END
             WHERE store_uid = $1
             RETURNING store_uid, offset_us, high_water_us",
        )
        .bind(store_uid)
        .bind(by_us)
        .bind(local_offset_us)
        .bind(base_us)
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref().map(decode).transpose()
    }
}

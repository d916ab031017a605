//! The notification outbox. A notice is written in the same transaction as the state
//! change that owes it; the worker claims due notices with a lease, posts them, and
//! records every attempt.
//!
//! Leases run on real time, not on the test clock: a lease guards an HTTP request in
//! flight, and moving the business clock forward must not hand the same notice to a
//! second worker while the first is still waiting for the merchant.

use super::{Store, StoreResult, micros, timestamp};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

#[derive(Debug, Clone)]
pub struct NewNotice {
    pub uid: u64,
    /// Tells apart notices of one order with the same kind and state: the refund's
    /// `refund_uid` for refund notices, 0 for the order's own.
    pub ref_uid: u64,
    pub store_uid: String,
    pub kind: String,
    pub prc: String,
    pub url: String,
    pub body: String,
    pub max_attempts: i64,
    pub interval_secs: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeRow {
    pub id: i64,
    pub uid: u64,
    pub store_uid: String,
    pub kind: String,
    pub prc: String,
    pub url: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub interval_secs: i64,
    #[serde(serialize_with = "ser_time")]
    pub next_attempt_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
}

fn ser_time<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

impl NoticeRow {
    fn from_row(r: &SqliteRow) -> StoreResult<NoticeRow> {
        Ok(NoticeRow {
            id: r.try_get("id")?,
            uid: r.try_get::<i64, _>("uid")? as u64,
            store_uid: r.try_get("store_uid")?,
            kind: r.try_get("kind")?,
            prc: r.try_get("prc")?,
            url: r.try_get("url")?,
            body: r.try_get("body")?,
            status: r.try_get("status")?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            interval_secs: r.try_get("interval_secs")?,
            next_attempt_at: timestamp(r.try_get("next_attempt_at")?),
            created_at: timestamp(r.try_get("created_at")?),
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeAttempt {
    pub attempt: i64,
    pub at: String,
    pub http_status: Option<i64>,
    pub reply: String,
    pub elapsed_ms: i64,
    pub outcome: String,
}

#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    pub store_uid: Option<String>,
    pub uid: Option<u64>,
}

pub(super) async fn insert_notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    n: &NewNotice,
    now: Timestamp,
) -> StoreResult<()> {
    // UNIQUE (uid, kind, prc, ref_uid): a state is notified once, however often it is reached.
    sqlx::query(
        "INSERT INTO notices (uid, ref_uid, store_uid, kind, prc, url, body, status, max_attempts, interval_secs, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
         ON CONFLICT (uid, kind, prc, ref_uid) DO NOTHING",
    )
    .bind(n.uid as i64)
    .bind(n.ref_uid as i64)
    .bind(&n.store_uid)
    .bind(&n.kind)
    .bind(&n.prc)
    .bind(&n.url)
    .bind(&n.body)
    .bind(n.max_attempts)
    .bind(n.interval_secs)
    .bind(micros(now))
    .bind(micros(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Claim one notice due at `now` (business clock) whose lease has run out at
    /// `real_now`, leasing it until `lease_until`.
    pub async fn claim_notice(
        &self,
        now: Timestamp,
        real_now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<NoticeRow>> {
        // Look before taking the write lock: the workers poll often and mostly find nothing.
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM notices WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ? LIMIT 1",
        )
        .bind(micros(now))
        .bind(micros(real_now))
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(None);
        }
        let row = sqlx::query(
            "UPDATE notices SET lease_until = ?
             WHERE id = (SELECT id FROM notices
                         WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?
                         ORDER BY next_attempt_at, id LIMIT 1)
               AND lease_until <= ?
             RETURNING *",
        )
        .bind(micros(lease_until))
        .bind(micros(now))
        .bind(micros(real_now))
        .bind(micros(real_now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(NoticeRow::from_row).transpose()
    }

    /// Notices due at `now` that another worker is delivering right now (leased past
    /// `real_now`).
    pub async fn notices_in_flight(&self, now: Timestamp, real_now: Timestamp) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until > ?",
        )
        .bind(micros(now))
        .bind(micros(real_now))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Record one delivery attempt and its consequence, releasing the lease.
    /// `next_attempt_at` `None` means the notice is finished (`delivered` or `failed`).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
        &self,
        notice: &NoticeRow,
        at: Timestamp,
        http_status: Option<i64>,
        reply: &str,
        elapsed_ms: i64,
        outcome: &str,
        status: &str,
        next_attempt_at: Timestamp,
        alert: Option<(&str, &str, &str)>,
    ) -> StoreResult<()> {
        let attempt = notice.attempts + 1;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO notice_attempts (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(notice.id)
        .bind(attempt)
        .bind(micros(at))
        .bind(http_status)
        .bind(reply)
        .bind(elapsed_ms)
        .bind(outcome)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE notices SET attempts = ?, status = ?, next_attempt_at = ?, lease_until = 0,
                 delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
             WHERE id = ?",
        )
        .bind(attempt)
        .bind(status)
        .bind(micros(next_attempt_at))
        .bind(status)
        .bind(micros(at))
        .bind(notice.id)
        .execute(&mut *tx)
        .await?;
        if let Some((to, subject, body)) = alert {
            sqlx::query(
                "INSERT INTO emails (to_addr, subject, body, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(to)
            .bind(subject)
            .bind(body)
            .bind(micros(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn notices(&self, filter: &NoticeFilter) -> StoreResult<Vec<NoticeRow>> {
        let rows = sqlx::query(
            "SELECT * FROM notices
             WHERE (?1 IS NULL OR store_uid = ?1) AND (?2 IS NULL OR uid = ?2)
             ORDER BY id",
        )
        .bind(&filter.store_uid)
        .bind(filter.uid.map(|u| u as i64))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(NoticeRow::from_row).collect()
    }

    pub async fn notice_attempts(&self, notice_id: i64) -> StoreResult<Vec<NoticeAttempt>> {
        let rows = sqlx::query(
            "SELECT attempt, at, http_status, reply, elapsed_ms, outcome FROM notice_attempts WHERE notice_id = ? ORDER BY attempt",
        )
        .bind(notice_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NoticeAttempt {
                    attempt: r.try_get("attempt")?,
                    at: timestamp(r.try_get("at")?).to_string(),
                    http_status: r.try_get("http_status")?,
                    reply: r.try_get("reply")?,
                    elapsed_ms: r.try_get("elapsed_ms")?,
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect()
    }

    /// Send a notice once more, now: one extra attempt beyond those already made.
    pub async fn resend_notice(&self, id: i64, now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE notices SET status = 'pending', next_attempt_at = ?, max_attempts = attempts + 1 WHERE id = ?",
        )
        .bind(micros(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn email_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM emails")
            .fetch_one(&self.pool)
            .await?)
    }
}

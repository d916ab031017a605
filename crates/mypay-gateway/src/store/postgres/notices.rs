//! The notification outbox. A notice is written in the same transaction as the state
//! change that owes it; the worker claims due notices, posts them, and records every
//! attempt ([`NoticeLedger`]).

use super::PgStore;
use crate::clock::Reading;
use crate::store::shared;
use crate::store::storage::Notices;
use crate::store::{
    AttemptRecord, NOTICE_SELECT, NewNotice, NoticeAttempt, NoticeClaim, NoticeFilter, NoticeRow,
    StoreResult, Trigger, WorkLease, micros,
};
use jiff::Timestamp;
use sqlx::Row;

/// Due notices that no live node holds, merchants in turn (each merchant's earliest
/// first, then each one's second, …), skipping orders with a notice in flight anywhere
/// so one order's notices arrive in order (notices of no order, `uid` 0, such as the
/// e-wallet's, keep no order among themselves). A candidate list: leasing them decides.
///
/// The merchants with pending notices are found by a skip-scan of
/// `notices_pending_by_merchant` (one probe per merchant), and each merchant's first `$3`
/// due by a scan of the same index that stops there: a claim costs the merchants and
/// their turns, not the notices pending (a window over all of them did, 100,000 at once).
const CANDIDATES: &str = "WITH RECURSIVE m(store_uid) AS (
        SELECT MIN(store_uid) FROM notices WHERE status = 'pending'
        UNION ALL
        SELECT (SELECT MIN(store_uid) FROM notices
                WHERE status = 'pending' AND store_uid > m.store_uid)
        FROM m WHERE m.store_uid IS NOT NULL)
    SELECT c.id, c.uid, c.store_uid FROM m
    CROSS JOIN LATERAL (
        SELECT n.id, n.uid, n.store_uid, n.next_attempt_at,
               row_number() OVER (ORDER BY n.next_attempt_at, n.id) AS turn
        FROM (SELECT * FROM notices n
              WHERE n.store_uid = m.store_uid AND n.status = 'pending'
                AND n.next_attempt_at <= COALESCE(
                    (SELECT $5 + mc.offset_us FROM merchant_clocks mc
                     WHERE mc.store_uid = m.store_uid), $1)
                AND n.lease_until < $2
                AND (n.uid = 0 OR NOT EXISTS (
                    SELECT 1 FROM notices o WHERE o.uid = n.uid AND o.id <> n.id
                        AND o.status = 'pending' AND o.lease_until >= $2))
              ORDER BY n.next_attempt_at, n.id
              LIMIT $3) n
    ) c
    WHERE m.store_uid IS NOT NULL
    ORDER BY c.turn, c.next_attempt_at, c.id LIMIT $4";

/// Lease the chosen notices: rows another node is leasing right now are skipped, and
/// rows leased meanwhile no longer qualify.
const LEASE: &str = "WITH leased AS (
        UPDATE notices SET lease_until = $3, leased_by = $4
        WHERE id IN (SELECT id FROM notices
                     WHERE id = ANY($1) AND status = 'pending' AND lease_until < $2
                     FOR UPDATE SKIP LOCKED)
        RETURNING id)";

pub(super) async fn insert_notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    n: &NewNotice,
    now: Timestamp,
) -> StoreResult<()> {
    // UNIQUE (uid, kind, prc, ref_uid): a state is notified once, however often it is reached.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notices (uid, ref_uid, store_uid, kind, prc, url, status, max_attempts, interval_secs, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10)
         ON CONFLICT (uid, kind, prc, ref_uid) DO NOTHING
         RETURNING id",
    )
    .bind(n.uid as i64)
    .bind(n.ref_uid as i64)
    .bind(&n.store_uid)
    .bind(&n.kind)
    .bind(&n.prc)
    .bind(&n.url)
    .bind(n.max_attempts)
    .bind(n.interval_secs)
    .bind(micros(now))
    .bind(micros(now))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = id {
        sqlx::query("INSERT INTO notice_bodies (notice_id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(&n.body)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Notices for PgStore {
    async fn claim_notices(
        &self,
        claim: NoticeClaim,
        lease: &WorkLease,
    ) -> StoreResult<Vec<NoticeRow>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let candidates = sqlx::query(CANDIDATES)
            .bind(micros(claim.now.shared))
            .bind(micros(lease.now))
            .bind(claim.default_room.max(1) as i64)
            .bind((claim.limit * 2) as i64)
            .bind(claim.now.base_micros())
            .fetch_all(&self.pool)
            .await?;
        let mut chosen: Vec<i64> = Vec::new();
        let mut taken_by: std::collections::HashMap<String, usize> = Default::default();
        let mut orders = std::collections::HashSet::new();
        for row in &candidates {
            let (id, uid, store_uid): (i64, i64, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let uid = uid as u64;
            let room = claim.room(&store_uid);
            let taken = taken_by.entry(store_uid).or_default();
            if *taken >= room
                || claim.leased.contains(&id)
                || (uid != 0 && (claim.busy_orders.contains(&uid) || !orders.insert(uid)))
            {
                continue;
            }
            *taken += 1;
            chosen.push(id);
            if chosen.len() == claim.limit {
                break;
            }
        }
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "{LEASE} {NOTICE_SELECT} JOIN leased l ON l.id = n.id ORDER BY n.next_attempt_at, n.id"
        ))
        .bind(&chosen)
        .bind(micros(lease.now))
        .bind(micros(lease.until))
        .bind(&*lease.holder)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(NoticeRow::decode).collect()
    }

    /// Each attempt in the batch is logged; a scheduled one moves its notice's schedule
    /// on only while this node still holds the notice (a node whose lease ran out while
    /// it waited on a slow merchant leaves the schedule to the node that took over).
    async fn record_attempts(
        &self,
        batch: Vec<AttemptRecord>,
        lease: &WorkLease,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for a in &batch {
            let at = micros(a.at);
            // The notice's row lock orders concurrent records of one notice, so attempt
            // numbers never collide.
            sqlx::query("SELECT 1 FROM notices WHERE id = $1 FOR UPDATE")
                .bind(a.notice.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO notice_attempts
                     (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url)
                 SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, $3, $4, $5, $6, $7, $8
                 FROM notice_attempts WHERE notice_id = $1",
            )
            .bind(a.notice.id)
            .bind(at)
            .bind(a.http_status)
            .bind(&a.reply)
            .bind(a.elapsed_ms)
            .bind(if a.acknowledged {
                "acknowledged"
            } else {
                "failed"
            })
            .bind(a.trigger.as_str())
            .bind(&a.url)
            .execute(&mut *tx)
            .await?;
            let changed = match a.trigger {
                Trigger::Scheduled => {
                    let status = if a.acknowledged {
                        "delivered"
                    } else if a.exhausts_schedule() {
                        "failed"
                    } else {
                        "pending"
                    };
                    sqlx::query(
                        "UPDATE notices SET attempts = attempts + 1, status = $1,
                             next_attempt_at = $2, url = $3, lease_until = 0, leased_by = NULL,
                             delivered_at = CASE WHEN $1 = 'delivered' THEN $4 ELSE delivered_at END
                         WHERE id = $5 AND status = 'pending' AND leased_by = $6",
                    )
                    .bind(status)
                    .bind(micros(a.notice.next_scheduled()))
                    .bind(&a.url)
                    .bind(at)
                    .bind(a.notice.id)
                    .bind(&*lease.holder)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                }
                Trigger::Resend if a.acknowledged => sqlx::query(
                    "UPDATE notices SET status = 'delivered', delivered_at = $1, url = $2
                     WHERE id = $3 AND status <> 'delivered'",
                )
                .bind(at)
                .bind(&a.url)
                .bind(a.notice.id)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Trigger::Resend => 0,
            };
            // A notice a resend delivered meanwhile owes no alert.
            if changed == 1
                && let Some((to, subject, body)) = &a.alert
            {
                sqlx::query(
                    "INSERT INTO emails (to_addr, subject, body, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(to)
                .bind(subject)
                .bind(body)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_leases(&self, lease: &WorkLease) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for table in ["notices", "timers"] {
            sqlx::query(&format!(
                "UPDATE {table} SET lease_until = 0, leased_by = NULL WHERE leased_by = $1"
            ))
            .bind(&*lease.holder)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn notice(&self, id: i64) -> StoreResult<Option<NoticeRow>> {
        let row = sqlx::query(&format!("{NOTICE_SELECT} WHERE n.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(NoticeRow::decode).transpose()
    }

    /// Whether any notice's scheduled attempt is due at `now`, being delivered or not:
    /// `false` means every attempt that fell due has been made and recorded. (An index
    /// seek, not a count: a clock advance asks after every recorded batch.)
    async fn notices_due(&self, now: Reading) -> StoreResult<bool> {
        shared::On(&self.pool).notices_due(now).await
    }

    async fn notices(&self, filter: &NoticeFilter) -> StoreResult<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "{NOTICE_SELECT}
             WHERE ($1::text IS NULL OR n.store_uid = $1) AND ($2::bigint IS NULL OR n.uid = $2)
             ORDER BY n.id"
        ))
        .bind(&filter.store_uid)
        .bind(filter.uid.map(|u| u as i64))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(NoticeRow::decode).collect()
    }

    async fn notice_attempts(&self, notice_id: i64) -> StoreResult<Vec<NoticeAttempt>> {
        shared::On(&self.pool).notice_attempts(notice_id).await
    }

    /// Send a notice once more, now: one extra attempt beyond those already made.
    async fn resend_notice(&self, id: i64, now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE notices SET status = 'pending', next_attempt_at = $1, max_attempts = attempts + 1 WHERE id = $2",
        )
        .bind(micros(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Put an e-mail in the outbox.
    async fn queue_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        shared::On(&self.pool)
            .queue_email(to, subject, body, at)
            .await
    }

    async fn email_count(&self) -> StoreResult<i64> {
        shared::On(&self.pool).email_count().await
    }
}

//! The notification outbox. A notice is written in the same transaction as the state
//! change that owes it; the worker claims due notices, posts them, and records every
//! attempt ([`NoticeLedger`]).

use super::{SqliteStore, blocking};
use crate::clock::Reading;
use crate::store::shared;
use crate::store::storage::Notices;
use crate::store::{
    AttemptRecord, NOTICE_SELECT, NewNotice, NoticeAttempt, NoticeClaim, NoticeFilter, NoticeRow,
    StoreError, StoreResult, Trigger, WorkLease, micros,
};
use jiff::Timestamp;
use std::path::Path;

/// Dedicated connections for finding due notices and recording attempts, in batches: the
/// delivery workers make thousands of each per second when many notices fall due at
/// once, and sqlx's per-statement thread hand-offs would cap them (see [`super::direct`]).
/// Finding reads on a connection of its own, so it never waits for a batch's fsync.
///
/// On SQLite one process delivers, so a notice being delivered is marked in that
/// process's memory ([`NoticeClaim::leased`]), not in the database: a crash forgets the marks,
/// and the notices are due again at once.
#[derive(Clone)]
pub(super) struct NoticeLedger {
    writer: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
    reader: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
    /// Where the next claim starts in the list of merchants, so that when there is room
    /// for fewer notices than are due, merchants take turns.
    turn: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn locked(
    conn: &std::sync::Mutex<rusqlite::Connection>,
) -> StoreResult<std::sync::MutexGuard<'_, rusqlite::Connection>> {
    conn.lock()
        .map_err(|_| StoreError::Corrupt("a notice ledger's lock was poisoned".into()))
}

impl NoticeLedger {
    pub(super) fn open(path: &Path) -> StoreResult<NoticeLedger> {
        let writer = super::direct::open(path, false)?;
        let reader = super::direct::open(path, true)?;
        // A burst of due notices touches thousands of rows of notices and attempts: keep
        // their pages in memory (32 MiB each, instead of SQLite's 2 MiB) rather than
        // reading them back from the file.
        for conn in [&writer, &reader] {
            conn.pragma_update(None, "cache_size", -32_768)?;
        }
        Ok(NoticeLedger {
            writer: std::sync::Arc::new(std::sync::Mutex::new(writer)),
            reader: std::sync::Arc::new(std::sync::Mutex::new(reader)),
            turn: Default::default(),
        })
    }

    /// Due notices to deliver, merchants taking turns: each merchant with a notice
    /// pending is found by an index seek (not by reading every due row), and gets as many
    /// of its earliest due notices as it has room for.
    fn claim(&self, claim: &NoticeClaim) -> StoreResult<Vec<NoticeRow>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let conn = locked(&self.reader)?;
        let merchants: Vec<String> = {
            // A skip-scan of the (status, store_uid, …) index: one seek per merchant.
            let mut distinct = conn.prepare_cached(
                "WITH RECURSIVE m(store_uid) AS (
                     SELECT MIN(store_uid) FROM notices WHERE status = 'pending'
                     UNION ALL
                     SELECT (SELECT MIN(store_uid) FROM notices
                             WHERE status = 'pending' AND store_uid > m.store_uid)
                     FROM m WHERE m.store_uid IS NOT NULL)
                 SELECT store_uid FROM m WHERE store_uid IS NOT NULL",
            )?;
            let rows = distinct.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if merchants.is_empty() {
            return Ok(Vec::new());
        }
        let start = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % merchants.len();
        // Candidates by their keys only (leased ones are skipped, and may be many);
        // whole rows only for those taken.
        let mut due = conn.prepare_cached(
            "SELECT id, uid FROM notices
             WHERE status = 'pending' AND store_uid = ?1
               AND next_attempt_at <= COALESCE(
                   (SELECT ?4 + offset_us FROM merchant_clocks WHERE store_uid = ?1), ?2)
             ORDER BY next_attempt_at, id LIMIT ?3",
        )?;
        let mut chosen = Vec::new();
        let mut orders = std::collections::HashSet::new();
        for m in merchants[start..].iter().chain(&merchants[..start]) {
            let room = claim.room(m).min(claim.limit - chosen.len());
            if room == 0 {
                continue;
            }
            let look = (room + claim.leased.len()) as i64;
            let mut rows = due.query(rusqlite::params![
                m,
                micros(claim.now.shared),
                look,
                claim.now.base_micros()
            ])?;
            let mut taken = 0;
            while taken < room
                && let Some(row) = rows.next()?
            {
                let (id, uid): (i64, i64) = (row.get(0)?, row.get(1)?);
                let uid = uid as u64;
                // Notices of no order (`uid` 0: the e-wallet's) keep no order among
                // themselves; an order's are sent one at a time.
                if claim.leased.contains(&id)
                    || (uid != 0 && (claim.busy_orders.contains(&uid) || !orders.insert(uid)))
                {
                    continue;
                }
                taken += 1;
                chosen.push(id);
            }
            if chosen.len() == claim.limit {
                break;
            }
        }
        let mut one = conn.prepare_cached(&format!(
            "{NOTICE_SELECT} WHERE n.id = ?1 AND n.status = 'pending'"
        ))?;
        let mut claimed = Vec::with_capacity(chosen.len());
        for id in chosen {
            let mut rows = one.query([id])?;
            if let Some(row) = rows.next()? {
                claimed.push(NoticeRow::decode(row)?);
            }
        }
        Ok(claimed)
    }

    /// Record attempts in one transaction (one fsync for the batch), each with its
    /// consequence: a scheduled attempt moves the schedule on or finishes the notice; a
    /// resend changes the notice only when it was acknowledged.
    fn record(&self, batch: &[AttemptRecord]) -> StoreResult<()> {
        let mut conn = locked(&self.writer)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut log = tx.prepare_cached(
                "INSERT INTO notice_attempts
                     (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url)
                 SELECT ?1, COALESCE(MAX(attempt), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                 FROM notice_attempts WHERE notice_id = ?1",
            )?;
            let mut scheduled = tx.prepare_cached(
                "UPDATE notices SET attempts = attempts + 1, status = ?1, next_attempt_at = ?2,
                     url = ?3,
                     delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE delivered_at END
                 WHERE id = ?5 AND status = 'pending'",
            )?;
            let mut resent = tx.prepare_cached(
                "UPDATE notices SET status = 'delivered', delivered_at = ?1, url = ?2
                 WHERE id = ?3 AND status <> 'delivered'",
            )?;
            let mut email = tx.prepare_cached(
                "INSERT INTO emails (to_addr, subject, body, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for a in batch {
                let at = micros(a.at);
                log.execute(rusqlite::params![
                    a.notice.id,
                    at,
                    a.http_status,
                    a.reply,
                    a.elapsed_ms,
                    if a.acknowledged {
                        "acknowledged"
                    } else {
                        "failed"
                    },
                    a.trigger.as_str(),
                    a.url,
                ])?;
                let changed = match a.trigger {
                    Trigger::Scheduled => {
                        let status = if a.acknowledged {
                            "delivered"
                        } else if a.exhausts_schedule() {
                            "failed"
                        } else {
                            "pending"
                        };
                        scheduled.execute(rusqlite::params![
                            status,
                            micros(a.notice.next_scheduled()),
                            a.url,
                            at,
                            a.notice.id
                        ])?
                    }
                    Trigger::Resend if a.acknowledged => {
                        resent.execute(rusqlite::params![at, a.url, a.notice.id])?
                    }
                    Trigger::Resend => 0,
                };
                // A notice a resend delivered meanwhile owes no alert.
                if changed == 1
                    && let Some((to, subject, body)) = &a.alert
                {
                    email.execute(rusqlite::params![to, subject, body, at])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

pub(super) async fn insert_notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    n: &NewNotice,
    now: Timestamp,
) -> StoreResult<()> {
    // UNIQUE (uid, kind, prc, ref_uid): a state is notified once, however often it is reached.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notices (uid, ref_uid, store_uid, kind, prc, url, status, max_attempts, interval_secs, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
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
        sqlx::query("INSERT INTO notice_bodies (notice_id, body) VALUES (?, ?)")
            .bind(id)
            .bind(&n.body)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Notices for SqliteStore {
    async fn claim_notices(
        &self,
        claim: NoticeClaim,
        _lease: &WorkLease,
    ) -> StoreResult<Vec<NoticeRow>> {
        let ledger = self.ledger.clone();
        blocking(move || ledger.claim(&claim)).await
    }

    async fn record_attempts(
        &self,
        batch: Vec<AttemptRecord>,
        _lease: &WorkLease,
    ) -> StoreResult<()> {
        let ledger = self.ledger.clone();
        blocking(move || ledger.record(&batch)).await
    }

    /// Leases live in the worker's memory: nothing stored to give back.
    async fn release_leases(&self, _lease: &WorkLease) -> StoreResult<()> {
        Ok(())
    }

    /// One notice by its id.
    async fn notice(&self, id: i64) -> StoreResult<Option<NoticeRow>> {
        let row = sqlx::query(&format!("{NOTICE_SELECT} WHERE n.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(NoticeRow::decode).transpose()
    }

    async fn notices_due(&self, now: Reading) -> StoreResult<bool> {
        shared::On(&self.pool).notices_due(now).await
    }

    async fn notices(&self, filter: &NoticeFilter) -> StoreResult<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "{NOTICE_SELECT}
             WHERE (?1 IS NULL OR n.store_uid = ?1) AND (?2 IS NULL OR n.uid = ?2)
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
            "UPDATE notices SET status = 'pending', next_attempt_at = ?, max_attempts = attempts + 1 WHERE id = ?",
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

//! Background work on SQLite: due timers and due notices, and the notices' attempts.
//!
//! One process delivers and runs timers, so what it is working on is marked in its
//! memory ([`NoticeClaim::leased`]), not in the database: a crash forgets the marks, and
//! the work is due again at once. A timer taken twice at once (the scheduler and a clock
//! advance) is applied once by its guarded state change.

use super::{SqliteStore, WriteHealth, blocking};
use crate::clock::Reading;
use crate::store::notices::NOTICE_SELECT;
use crate::store::sql::WriteGate;
use crate::store::storage::Work;
use crate::store::timers::{self, TimerRow};
use crate::store::{
    AttemptRecord, NoticeClaim, NoticeRow, StoreError, StoreResult, Trigger, WorkLease, micros,
};
use std::path::Path;
use std::sync::Arc;

/// Dedicated connections for finding due notices and recording attempts, in batches: the
/// delivery workers make thousands of each per second when many notices fall due at
/// once, and sqlx's per-statement thread hand-offs would cap them (see [`super::direct`]).
/// Finding reads on a connection of its own, so it never waits for a batch's fsync.
#[derive(Clone)]
pub(super) struct NoticeLedger {
    writer: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
    reader: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
    /// Where the next claim starts in the list of merchants, so that when there is room
    /// for fewer notices than are due, merchants take turns.
    turn: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Told how each record of attempts went.
    health: Arc<WriteHealth>,
    /// The process's queue of writes.
    gate: WriteGate,
}

fn locked(
    conn: &std::sync::Mutex<rusqlite::Connection>,
) -> StoreResult<std::sync::MutexGuard<'_, rusqlite::Connection>> {
    conn.lock()
        .map_err(|_| StoreError::Corrupt("a notice ledger's lock was poisoned".into()))
}

impl NoticeLedger {
    pub(super) fn open(
        path: &Path,
        health: Arc<WriteHealth>,
        gate: WriteGate,
    ) -> StoreResult<NoticeLedger> {
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
            health,
            gate,
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
        let _turn = self.gate.turn_blocking();
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
                "INSERT INTO emails (to_addr, subject, body, created_at, order_uid) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for a in batch {
                let at = micros(a.at);
                log.execute(rusqlite::params![
                    a.notice.id,
                    at,
                    a.http_status,
                    a.reply,
                    a.elapsed_ms,
                    a.outcome(),
                    a.trigger.as_str(),
                    a.url,
                ])?;
                let changed = match a.trigger {
                    Trigger::Scheduled => scheduled.execute(rusqlite::params![
                        a.status_after(),
                        micros(a.notice.next_scheduled()),
                        a.url,
                        at,
                        a.notice.id
                    ])?,
                    Trigger::Resend if a.acknowledged => {
                        resent.execute(rusqlite::params![at, a.url, a.notice.id])?
                    }
                    Trigger::Resend => 0,
                };
                // A notice a resend delivered meanwhile owes no alert.
                if changed == 1
                    && let Some((to, subject, body)) = &a.alert
                {
                    email.execute(rusqlite::params![
                        to,
                        subject,
                        body,
                        at,
                        a.notice.uid as i64
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The timers of one part due at `$1`, oldest first, at most `$2`: nothing to lease, the
/// worker marks them in memory.
fn due_timers(part: &str) -> String {
    format!(
        "SELECT {} {part} ORDER BY t.due_at, t.id LIMIT $2",
        TimerRow::COLUMNS
    )
}

#[async_trait::async_trait]
impl Work for SqliteStore {
    async fn claim_timers(
        &self,
        now: Reading,
        limit: i64,
        _: &WorkLease,
    ) -> StoreResult<Vec<TimerRow>> {
        timers::claim(self, now, limit, due_timers, &[]).await
    }

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
        blocking(move || {
            let recorded = ledger.record(&batch);
            ledger.health.noted(&recorded);
            recorded
        })
        .await
    }

    /// Marks live in the worker's memory: nothing stored to give back.
    async fn release_leases(&self, _lease: &WorkLease) -> StoreResult<()> {
        Ok(())
    }
}

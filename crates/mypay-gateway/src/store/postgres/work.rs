//! Background work on PostgreSQL, shared by every node: due timers and due notices are
//! leased row by row (`FOR UPDATE SKIP LOCKED`, until a real-time expiry), so two nodes
//! never work on one; a node that dies holding a lease leaves the work due again when it
//! ends, and a node shut down gives its leases back at once.

use super::PgStore;
use crate::clock::Reading;
use crate::store::notices::{NOTICE_SELECT, insert_email};
use crate::store::sql::{Backend, Exec, Write};
use crate::store::storage::Work;
use crate::store::timers::{self, TimerRow};
use crate::store::{
    AttemptRecord, NoticeClaim, NoticeRow, StoreResult, Trigger, WorkLease, micros,
};
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
/// A candidate whose order has another notice under lease waits (one delivery per order
/// at a time); that probe is by the order's notices (`notices_by_order`, a few rows).
/// "Not delivered nor failed" is "pending" (the column's check), written so that the
/// planner cannot match the pending-only indexes: it combined one of them, all the
/// notices pending, with the order's (measured: 0.08 ms a probe with 6,000 pending, the
/// claim 8–50 ms while recurring charges' notices piled up).
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
                        AND o.status NOT IN ('delivered', 'failed') AND o.lease_until >= $2))
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

#[async_trait::async_trait]
impl Work for PgStore {
    /// Timers due at `now`, oldest first, that no live node holds: locked rows are
    /// skipped, and each taken is leased to `lease.holder` until the lease ends (a node
    /// that dies holding it leaves it due again then).
    async fn claim_timers(
        &self,
        now: Reading,
        limit: i64,
        lease: &WorkLease,
    ) -> StoreResult<Vec<TimerRow>> {
        let statement = |part: &str| {
            format!(
                "WITH picked AS (
                     SELECT t.id {part} AND t.lease_until < $3
                     ORDER BY t.due_at, t.id LIMIT $2
                     FOR UPDATE OF t SKIP LOCKED)
                 UPDATE timers t SET lease_until = $4, leased_by = $5
                 FROM picked WHERE t.id = picked.id
                 RETURNING {}",
                TimerRow::COLUMNS
            )
        };
        let extra = [
            micros(lease.now).into(),
            micros(lease.until).into(),
            (&*lease.holder).into(),
        ];
        timers::claim(self, now, limit, statement, &extra).await
    }

    async fn claim_notices(
        &self,
        claim: NoticeClaim,
        lease: &WorkLease,
    ) -> StoreResult<Vec<NoticeRow>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        // Planned for each claim's own values (an unnamed statement): the plan kept for
        // any values walked the pending notices' index far longer while a backlog of due
        // notices was being leased (measured: ~20 ms a claim during 100,000 recurring
        // charges' notices).
        let candidates = sqlx::query(CANDIDATES)
            .persistent(false)
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
        // Planned for each lease too: a plan kept from when the notices' tables were small
        // joined the leased rows to their bodies by scanning every notice (measured: 37 ms
        // a lease against 2 ms, 100,000 notices written in a minute).
        let rows = sqlx::query(&format!(
            "{LEASE} {NOTICE_SELECT} JOIN leased l ON l.id = n.id ORDER BY n.next_attempt_at, n.id"
        ))
        .persistent(false)
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
        let mut tx = self.begin().await?;
        if batch.len() > 1
            && super::batched::record_scheduled(&mut tx, &batch, &lease.holder).await?
        {
            return tx.commit().await;
        }
        for a in &batch {
            let at = micros(a.at);
            // The notice's row lock orders concurrent records of one notice, so attempt
            // numbers never collide.
            tx.execute(
                "SELECT 1 FROM notices WHERE id = $1 FOR UPDATE",
                &[a.notice.id.into()],
            )
            .await?;
            tx.execute(
                "INSERT INTO notice_attempts
                     (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url)
                 SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, $3, $4, $5, $6, $7, $8
                 FROM notice_attempts WHERE notice_id = $1",
                &[
                    a.notice.id.into(),
                    at.into(),
                    a.http_status.into(),
                    (&a.reply).into(),
                    a.elapsed_ms.into(),
                    a.outcome().into(),
                    a.trigger.as_str().into(),
                    (&a.url).into(),
                ],
            )
            .await?;
            let changed = match a.trigger {
                Trigger::Scheduled => {
                    tx.execute(
                        "UPDATE notices SET attempts = attempts + 1, status = $1,
                             next_attempt_at = $2, url = $3, lease_until = 0, leased_by = NULL,
                             delivered_at = CASE WHEN $1 = 'delivered' THEN $4 ELSE delivered_at END
                         WHERE id = $5 AND status = 'pending' AND leased_by = $6",
                        &[
                            a.status_after().into(),
                            micros(a.notice.next_scheduled()).into(),
                            (&a.url).into(),
                            at.into(),
                            a.notice.id.into(),
                            (&*lease.holder).into(),
                        ],
                    )
                    .await?
                }
                Trigger::Resend if a.acknowledged => {
                    tx.execute(
                        "UPDATE notices SET status = 'delivered', delivered_at = $1, url = $2
                         WHERE id = $3 AND status <> 'delivered'",
                        &[at.into(), (&a.url).into(), a.notice.id.into()],
                    )
                    .await?
                }
                Trigger::Resend => 0,
            };
            // A notice a resend delivered meanwhile owes no alert.
            if changed == 1
                && let Some((to, subject, body)) = &a.alert
            {
                insert_email(&mut tx, to, subject, body, a.at, Some(a.notice.uid)).await?;
            }
        }
        tx.commit().await
    }

    async fn release_leases(&self, lease: &WorkLease) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for table in ["notices", "timers"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET lease_until = 0, leased_by = NULL WHERE leased_by = $1"
                ),
                &[(&*lease.holder).into()],
            )
            .await?;
        }
        tx.commit().await
    }
}

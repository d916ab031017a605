//! The notification outbox and the e-mail outbox. A notice is written in the same
//! transaction as the state change that owes it; the delivery worker claims due notices,
//! posts them, and records every attempt. (Claiming and recording are each backend's own:
//! [`super::storage::Work`].)

use super::sql::{Backend, Exec};
use super::storage::Notices;
use super::{Columns, StoreResult, micros, timestamp};
use crate::clock::Reading;
use jiff::Timestamp;

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

/// The columns of a notice row, in the order [`NoticeRow::decode`] reads them.
/// The body lives in a table of its own: every attempt rewrites the notice's row, and a
/// row without its kilobyte of body is a tenth of the pages to write (and sync).
pub(super) const NOTICE_SELECT: &str = "SELECT n.id, n.uid, n.store_uid, n.kind, n.prc, n.url, b.body, n.status, \
     n.attempts, n.max_attempts, n.interval_secs, n.next_attempt_at, n.created_at \
     FROM notices n JOIN notice_bodies b ON b.notice_id = n.id";

impl NoticeRow {
    pub(super) fn decode(r: &impl Columns) -> StoreResult<NoticeRow> {
        Ok(NoticeRow {
            id: r.int(0)?,
            uid: r.int(1)? as u64,
            store_uid: r.text(2)?,
            kind: r.text(3)?,
            prc: r.text(4)?,
            url: r.text(5)?,
            body: r.text(6)?,
            status: r.text(7)?,
            attempts: r.int(8)?,
            max_attempts: r.int(9)?,
            interval_secs: r.int(10)?,
            next_attempt_at: timestamp(r.int(11)?),
            created_at: timestamp(r.int(12)?),
        })
    }

    /// When the attempt after this one is due: on the schedule of the first attempt
    /// (first, +interval, +2 × interval, …), never "an interval after whenever this one
    /// ran", so a clock jump runs every attempt that fell due, in order.
    pub fn next_scheduled(&self) -> Timestamp {
        self.next_attempt_at
            .checked_add(jiff::SignedDuration::from_secs(self.interval_secs.max(1)))
            .unwrap_or(Timestamp::MAX)
    }
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Due on the notice's schedule; its outcome moves the schedule on.
    Scheduled,
    /// Asked for (sandbox, dashboard): one extra attempt, now, that never shortens the
    /// schedule; its success ends it.
    Resend,
}

impl Trigger {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Resend => "resend",
        }
    }
}

/// One delivery attempt made, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The notice as it was claimed.
    pub notice: NoticeRow,
    pub trigger: Trigger,
    pub at: Timestamp,
    /// Where it was sent (the merchant's URL of the moment), or would have been.
    pub url: String,
    pub http_status: Option<i64>,
    pub reply: String,
    pub elapsed_ms: i64,
    pub acknowledged: bool,
    /// The alert to the technical contact when this was the last scheduled attempt and it
    /// failed: (to, subject, body).
    pub alert: Option<(String, String, String)>,
}

impl AttemptRecord {
    /// Whether this attempt leaves the notice finished without delivery.
    pub fn exhausts_schedule(&self) -> bool {
        self.trigger == Trigger::Scheduled
            && !self.acknowledged
            && self.notice.attempts + 1 >= self.notice.max_attempts
    }

    /// The attempt log's outcome.
    pub(super) fn outcome(&self) -> &'static str {
        if self.acknowledged {
            "acknowledged"
        } else {
            "failed"
        }
    }

    /// A scheduled attempt's notice status after it.
    pub(super) fn status_after(&self) -> &'static str {
        if self.acknowledged {
            "delivered"
        } else if self.exhausts_schedule() {
            "failed"
        } else {
            "pending"
        }
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
    /// `scheduled` or `resend`.
    pub trigger: String,
    pub url: String,
}

#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    pub store_uid: Option<String>,
    pub uid: Option<u64>,
    /// `pending`, `delivered` or `failed`.
    pub status: Option<&'static str>,
    /// Newest first, below this id, at most `limit` (the back office's pages); else
    /// every one, oldest first.
    pub page: Option<(i64, i64)>,
    /// Oldest first, above this id, at most `limit` (a merchant's feed of its notices).
    pub since: Option<(i64, i64)>,
}

/// Which due notices a delivery worker may take now.
#[derive(Debug, Clone, Default)]
pub struct NoticeClaim {
    /// Due at or before now on each merchant's clock.
    pub now: crate::clock::Reading,
    /// At most this many in all.
    pub limit: usize,
    /// How many more each merchant may have in flight; merchants not named may have
    /// [`NoticeClaim::default_room`].
    pub merchant_room: std::collections::HashMap<String, usize>,
    pub default_room: usize,
    /// Notices this process is delivering already (their attempt not yet recorded).
    pub leased: std::collections::HashSet<i64>,
    /// Orders with a notice in flight in this process: their next notice waits, so one
    /// order's notices arrive in order.
    pub busy_orders: std::collections::HashSet<u64>,
}

impl NoticeClaim {
    pub(super) fn room(&self, store_uid: &str) -> usize {
        self.merchant_room
            .get(store_uid)
            .copied()
            .unwrap_or(self.default_room)
    }
}

/// Pending notices due at `$1`, in the same two parts as the timers due
/// (see [`super::timers::due_parts`]).
const DUE_SHARED: &str = "FROM notices n
     WHERE n.status = 'pending' AND n.next_attempt_at <= $1
       AND n.store_uid NOT IN (SELECT store_uid FROM merchant_clocks)";
const DUE_OWN: &str = "FROM merchant_clocks c CROSS JOIN notices n
     WHERE n.store_uid = c.store_uid
       AND n.status = 'pending' AND n.next_attempt_at <= $1 + c.offset_us";

/// Write a notice in the caller's transaction. UNIQUE (uid, kind, prc, ref_uid): a state
/// is notified once, however often it is reached.
pub(super) async fn insert(tx: &mut impl Exec, n: &NewNotice, now: Timestamp) -> StoreResult<()> {
    let at = micros(now);
    let id = tx
        .optional(
            "INSERT INTO notices (uid, ref_uid, store_uid, kind, prc, url, status, max_attempts,
                 interval_secs, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $9)
             ON CONFLICT (uid, kind, prc, ref_uid) DO NOTHING
             RETURNING id",
            &[
                n.uid.into(),
                n.ref_uid.into(),
                (&n.store_uid).into(),
                (&n.kind).into(),
                (&n.prc).into(),
                (&n.url).into(),
                n.max_attempts.into(),
                n.interval_secs.into(),
                at.into(),
            ],
        )
        .await?;
    if let Some(row) = id {
        tx.execute(
            "INSERT INTO notice_bodies (notice_id, body) VALUES ($1, $2)",
            &[row.int(0)?.into(), (&n.body).into()],
        )
        .await?;
    }
    Ok(())
}

/// Put an e-mail in the outbox, in the caller's transaction.
pub(super) async fn insert_email(
    tx: &mut impl Exec,
    to: &str,
    subject: &str,
    body: &str,
    at: Timestamp,
    order_uid: Option<u64>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO emails (to_addr, subject, body, created_at, order_uid)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            to.into(),
            subject.into(),
            body.into(),
            micros(at).into(),
            order_uid.map(|u| u as i64).into(),
        ],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend> Notices for B {
    async fn notice(&self, id: i64) -> StoreResult<Option<NoticeRow>> {
        let row = self
            .pool()
            .optional(&format!("{NOTICE_SELECT} WHERE n.id = $1"), &[id.into()])
            .await?;
        row.as_ref().map(NoticeRow::decode).transpose()
    }

    /// Whether any notice's scheduled attempt is due at `now`, being delivered or not:
    /// `false` means every attempt that fell due has been made and recorded. (Index
    /// seeks, not counts: a clock advance asks after every recorded batch.)
    async fn notices_due(&self, now: Reading) -> StoreResult<bool> {
        let mut db = self.pool();
        let mut parts = vec![(DUE_SHARED, micros(now.shared))];
        if super::timers::any_merchant_clock(&mut db).await? {
            parts.push((DUE_OWN, now.base_micros()));
        }
        super::timers::any_due(&mut db, parts).await
    }

    async fn notices(&self, filter: &NoticeFilter) -> StoreResult<Vec<NoticeRow>> {
        let rows = self
            .fetch(
                &format!(
                    "{NOTICE_SELECT}
                     WHERE (CAST($1 AS TEXT) IS NULL OR n.store_uid = $1)
                       AND (CAST($2 AS BIGINT) IS NULL OR n.uid = $2)
                       AND (CAST($3 AS TEXT) IS NULL OR n.status = $3)
                       AND n.id < $4 AND n.id > $6
                     ORDER BY {order} LIMIT $5",
                    order = if filter.page.is_some() {
                        "n.id DESC"
                    } else {
                        "n.id"
                    },
                ),
                &[
                    (&filter.store_uid).into(),
                    filter.uid.map(|u| u as i64).into(),
                    filter.status.into(),
                    filter.page.map_or(i64::MAX, |(before, _)| before).into(),
                    filter
                        .page
                        .map(|(_, limit)| limit)
                        .or(filter.since.map(|(_, limit)| limit))
                        .unwrap_or(i64::MAX)
                        .into(),
                    filter.since.map_or(0, |(after, _)| after).into(),
                ],
            )
            .await?;
        rows.iter().map(NoticeRow::decode).collect()
    }

    /// The attempts made of a notice, first first.
    async fn notice_attempts(&self, notice_id: i64) -> StoreResult<Vec<NoticeAttempt>> {
        let rows = self
            .fetch(
                "SELECT attempt, at, http_status, reply, elapsed_ms, outcome, trigger, url
                 FROM notice_attempts WHERE notice_id = $1 ORDER BY attempt",
                &[notice_id.into()],
            )
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

    /// Send a notice once more, now: one extra attempt beyond those already made.
    async fn resend_notice(&self, id: i64, now: Timestamp) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE notices SET status = 'pending', next_attempt_at = $1,
                     max_attempts = attempts + 1
                 WHERE id = $2",
                &[micros(now).into(), id.into()],
            )
            .await?;
        Ok(done == 1)
    }

    async fn queue_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        at: Timestamp,
        order_uid: Option<u64>,
    ) -> StoreResult<()> {
        insert_email(&mut self.pool(), to, subject, body, at, order_uid).await
    }

    async fn email_count(&self) -> StoreResult<i64> {
        self.pool()
            .one("SELECT COUNT(*) FROM emails", &[])
            .await?
            .int(0)
    }
}

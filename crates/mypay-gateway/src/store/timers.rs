//! Timers: timed work, each stored with its merchant and due on that merchant's clock.
//! They are written in the transaction of the change that starts them and closed in the
//! transaction of the change they cause, so each takes effect once. (Claiming due timers
//! is each backend's own: [`super::storage::Work`].)

use super::sql::{Arg, Backend, Exec, flag};
use super::storage::Timers;
use super::{Columns, StoreError, StoreResult, micros, timestamp};
use crate::clock::Reading;
use crate::ledger::timers::TimerKind;
use jiff::Timestamp;

#[derive(Debug, Clone)]
pub struct NewTimer {
    pub kind: TimerKind,
    /// On the clock of this merchant (its own, or the shared one).
    pub due_at: Timestamp,
    pub payload: String,
    /// The merchant whose work it is: whose clock it falls due on.
    pub store_uid: String,
}

#[derive(Debug, Clone)]
pub struct TimerRow {
    pub id: i64,
    pub kind: TimerKind,
    pub uid: u64,
    pub due_at: Timestamp,
    pub payload: String,
    /// The merchant whose clock it runs on (empty for timers stored before merchants had
    /// clocks of their own: the shared clock's).
    pub store_uid: String,
}

impl TimerRow {
    /// The columns [`TimerRow::decode`] reads, of a table aliased `t`.
    pub(super) const COLUMNS: &'static str =
        "t.id, t.kind, t.uid, t.due_at, t.payload, t.store_uid";

    pub(super) fn decode<R: Columns>(r: &R) -> StoreResult<TimerRow> {
        let kind = r.text(1)?;
        Ok(TimerRow {
            id: r.int(0)?,
            // The database refuses any other kind (its triggers or constraint).
            kind: TimerKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("timer kind {kind:?}")))?,
            uid: r.int(2)? as u64,
            due_at: timestamp(r.int(3)?),
            payload: r.text(4)?,
            store_uid: r.text(5)?,
        })
    }
}

/// Open timers due at `$1`, in two parts, each an index range: those of merchants on
/// the shared clock (`$1` its reading), and those of merchants with a clock of their own
/// (`$1` the time base, to which each such clock adds its stored offset). Timers stored
/// with no merchant (before merchants had clocks) are the shared clock's.
const DUE_SHARED: &str = "FROM timers t
     WHERE t.done_at IS NULL AND t.due_at <= $1
       AND t.store_uid NOT IN (SELECT store_uid FROM merchant_clocks)";
///
/// The own part reads merchant by merchant (`CROSS JOIN` keeps SQLite's planner from
/// reading every open timer in due order instead; PostgreSQL plans it as any join).
const DUE_OWN: &str = "FROM merchant_clocks c CROSS JOIN timers t
     WHERE t.store_uid = c.store_uid
       AND t.done_at IS NULL AND t.due_at <= $1 + c.offset_us";

/// Each part of the timers due at `now` with the instant it compares due times with;
/// the own clocks' part only when some merchant has one (`clocks`): without statistics of
/// the empty table, PostgreSQL would join it by reading every open timer.
pub(super) fn due_parts(now: Reading, clocks: bool) -> Vec<(&'static str, i64)> {
    let mut parts = vec![(DUE_SHARED, micros(now.shared))];
    if clocks {
        parts.push((DUE_OWN, now.base_micros()));
    }
    parts
}

/// Claim the timers due at `now`, oldest first: `statement` is the backend's statement
/// around each part of the due timers (a `FROM … WHERE` with `$1`, its instant), with
/// `$2` the limit and `extra` after it.
pub(super) async fn claim<B: Backend>(
    backend: &B,
    now: Reading,
    limit: i64,
    statement: impl Fn(&str) -> String + Send,
    extra: &[Arg<'_>],
) -> StoreResult<Vec<TimerRow>> {
    let mut timers = Vec::new();
    let clocks = any_merchant_clock(&mut backend.pool()).await?;
    for (part, at) in due_parts(now, clocks) {
        let mut args = vec![Arg::from(at), Arg::from(limit)];
        args.extend_from_slice(extra);
        for r in backend.fetch(&statement(part), &args).await? {
            timers.push(TimerRow::decode(&r)?);
        }
    }
    timers.sort_by_key(|t| (t.due_at, t.id));
    Ok(timers)
}

/// Whether any merchant has a clock of its own (one index probe).
pub(super) async fn any_merchant_clock(db: &mut impl Exec) -> StoreResult<bool> {
    let row = db
        .one(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM merchant_clocks) THEN 1 ELSE 0 END AS BIGINT)",
            &[],
        )
        .await?;
    flag(&row)
}

/// Whether any of `parts` (each a `FROM … WHERE` with `$1`, and its instant) has a row.
pub(super) async fn any_due(db: &mut impl Exec, parts: Vec<(&str, i64)>) -> StoreResult<bool> {
    for (part, at) in parts {
        let row = db
            .one(
                &format!(
                    "SELECT CAST(CASE WHEN EXISTS (SELECT 1 {part}) THEN 1 ELSE 0 END AS BIGINT)"
                ),
                &[at.into()],
            )
            .await?;
        if flag(&row)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Write a timer of `uid` in the caller's transaction. The same timer (kind, subject,
/// payload) written twice is one timer.
pub(super) async fn insert(tx: &mut impl Exec, uid: u64, timer: &NewTimer) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO timers (kind, uid, due_at, payload, store_uid) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, uid, payload) DO NOTHING",
        &[
            timer.kind.as_str().into(),
            uid.into(),
            micros(timer.due_at).into(),
            (&timer.payload).into(),
            (&timer.store_uid).into(),
        ],
    )
    .await?;
    Ok(())
}

/// Close timer `id` (done at `at`), if it is open.
pub(super) async fn close(tx: &mut impl Exec, id: i64, at: Timestamp) -> StoreResult<()> {
    tx.execute(
        "UPDATE timers SET done_at = $1 WHERE id = $2 AND done_at IS NULL",
        &[micros(at).into(), Arg::from(id)],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend> Timers for B {
    async fn timers_due(&self, now: Reading) -> StoreResult<bool> {
        let mut db = self.pool();
        let clocks = any_merchant_clock(&mut db).await?;
        any_due(&mut db, due_parts(now, clocks)).await
    }

    /// Close a timer whose work no longer applies (the order moved on by itself).
    async fn close_timer(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        close(&mut self.pool(), id, now).await
    }
}

//! What operators ask of the store: whether it is ready, how much work waits, how much
//! is stored.

use super::sql::{Backend, Driver, Exec};
use super::storage::Operations;
use super::{Columns, StoreError, StoreResult, micros};
use jiff::Timestamp;

/// How much work is waiting, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Backlog {
    /// Notices with an attempt due now.
    pub notices_due: i64,
    /// The oldest due attempt's lateness, in seconds of the business clock.
    pub oldest_notice_secs: i64,
    /// Timers due now and not yet run.
    pub timers_due: i64,
    /// The oldest due timer's lateness, in seconds.
    pub oldest_timer_secs: i64,
}

/// Counts of what is stored, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub orders: i64,
    pub notices: i64,
    pub notice_attempts: i64,
    pub timers: i64,
    pub timers_open: i64,
    pub reversals: i64,
    pub emails: i64,
    pub challenges: i64,
}

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

const TOTALS: &str = "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM notices),
     (SELECT COUNT(*) FROM notice_attempts), (SELECT COUNT(*) FROM timers),
     (SELECT COUNT(*) FROM timers WHERE done_at IS NULL),
     (SELECT COUNT(*) FROM reversals), (SELECT COUNT(*) FROM emails),
     (SELECT COUNT(*) FROM challenges)";

#[async_trait::async_trait]
impl<B: Backend> Operations for B {
    fn backend(&self) -> &'static str {
        <B::Db as Driver>::NAME
    }

    /// Whether the database answers and carries every migration this build knows.
    async fn ready(&self) -> StoreResult<()> {
        let applied = self
            .pool()
            .one("SELECT COUNT(*) FROM _sqlx_migrations WHERE success", &[])
            .await?
            .int(0)?;
        if applied < <B::Db as Driver>::migrator().iter().count() as i64 {
            return Err(StoreError::Unavailable("migrations are missing".into()));
        }
        self.writable().await
    }

    async fn checkpoint(&self) -> StoreResult<()> {
        self.execute(<B::Db as Driver>::CHECKPOINT, &[]).await?;
        Ok(())
    }

    async fn backlog(&self, now: Timestamp) -> StoreResult<Backlog> {
        let row = self.pool().one(BACKLOG, &[micros(now).into()]).await?;
        let lag = |oldest: Option<i64>| {
            oldest.map_or(0, |us| (now.as_microsecond() - us).max(0) / 1_000_000)
        };
        Ok(Backlog {
            notices_due: row.int(0)?,
            oldest_notice_secs: lag(row.opt_int(1)?),
            timers_due: row.int(2)?,
            oldest_timer_secs: lag(row.opt_int(3)?),
        })
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let row = self.pool().one(TOTALS, &[]).await?;
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

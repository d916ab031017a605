//! Health, backlog and totals of the PostgreSQL backend.

use super::{MIGRATOR, PgStore};
use crate::store::storage::Operations;
use crate::store::{Backlog, StoreError, StoreResult, Totals, micros};
use jiff::Timestamp;
use sqlx::Row;

#[async_trait::async_trait]
impl Operations for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ready(&self) -> StoreResult<()> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        if applied < MIGRATOR.iter().count() as i64 {
            return Err(StoreError::Unavailable("migrations are missing".into()));
        }
        Ok(())
    }

    async fn checkpoint(&self) -> StoreResult<()> {
        sqlx::query("CHECKPOINT").execute(&self.pool).await?;
        Ok(())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn backlog(&self, now: Timestamp) -> StoreResult<Backlog> {
        let row = sqlx::query(
            "SELECT
                 (SELECT COUNT(*) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1),
                 (SELECT MIN(next_attempt_at) FROM notices WHERE status = 'pending' AND next_attempt_at <= $1),
                 (SELECT COUNT(*) FROM timers WHERE done_at IS NULL AND due_at <= $1),
                 (SELECT MIN(due_at) FROM timers WHERE done_at IS NULL AND due_at <= $1)",
        )
        .bind(micros(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog::from_parts(
            now,
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        ))
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM notices),
                 (SELECT COUNT(*) FROM notice_attempts), (SELECT COUNT(*) FROM timers),
                 (SELECT COUNT(*) FROM timers WHERE done_at IS NULL),
                 (SELECT COUNT(*) FROM reversals), (SELECT COUNT(*) FROM emails),
                 (SELECT COUNT(*) FROM challenges)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Totals {
            orders: row.try_get(0)?,
            notices: row.try_get(1)?,
            notice_attempts: row.try_get(2)?,
            timers: row.try_get(3)?,
            timers_open: row.try_get(4)?,
            reversals: row.try_get(5)?,
            emails: row.try_get(6)?,
            challenges: row.try_get(7)?,
        })
    }
}

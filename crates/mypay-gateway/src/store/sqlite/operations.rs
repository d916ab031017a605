//! Health, backlog and totals of the SQLite backend.

use super::{MIGRATOR, SqliteStore};
use crate::store::shared;
use crate::store::storage::Operations;
use crate::store::{Backlog, StoreError, StoreResult, Totals};
use jiff::Timestamp;

#[async_trait::async_trait]
impl Operations for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
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
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn backlog(&self, now: Timestamp) -> StoreResult<Backlog> {
        shared::On(&self.pool).backlog(now).await
    }

    async fn totals(&self) -> StoreResult<Totals> {
        shared::On(&self.pool).totals().await
    }
}

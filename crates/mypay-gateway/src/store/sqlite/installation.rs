//! Values of the installation as a whole: its signing secret, the sandbox clock's offset.
//! Both are written with "insert, or keep what is there", so nodes starting at once agree.

use super::SqliteStore;
use crate::store::installation_keys::{CLOCK_HIGH_WATER, CLOCK_OFFSET, SECRET};
use crate::store::shared;
use crate::store::storage::Installation;
use crate::store::{MerchantClock, StoreResult, fresh_secret, stored_secret};

impl SqliteStore {
    async fn installation_value(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM installation WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl Installation for SqliteStore {
    /// The installation's secret (32 random bytes, made on first use and kept), which
    /// signs PayPage tickets and CSRF tokens.
    async fn installation_secret(&self) -> StoreResult<[u8; 32]> {
        let hex = fresh_secret()?;
        sqlx::query(
            "INSERT INTO installation (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET)
        .bind(hex)
        .execute(&self.pool)
        .await?;
        stored_secret(self.installation_value(SECRET).await?)
    }

    /// The sandbox clock as stored: its offset and the latest instant it has shown
    /// (microseconds), if it was ever moved.
    async fn clock_state(&self) -> StoreResult<Option<(i64, i64)>> {
        let read = async |name| -> StoreResult<Option<i64>> {
            Ok(self
                .installation_value(name)
                .await?
                .and_then(|v| v.parse().ok()))
        };
        Ok(
            match (read(CLOCK_OFFSET).await?, read(CLOCK_HIGH_WATER).await?) {
                (Some(offset), high) => Some((offset, high.unwrap_or(i64::MIN))),
                _ => None,
            },
        )
    }

    async fn advance_clock(&self, by_us: i64, local_offset_us: i64) -> StoreResult<i64> {
        let value: String = sqlx::query_scalar(
            "INSERT INTO installation (name, value) VALUES (?1, CAST(?3 + ?2 AS TEXT))
             ON CONFLICT (name) DO UPDATE
                 SET value = CAST(MAX(CAST(installation.value AS INTEGER), ?3) + ?2 AS TEXT)
             RETURNING value",
        )
        .bind(CLOCK_OFFSET)
        .bind(by_us)
        .bind(local_offset_us)
        .fetch_one(&self.pool)
        .await?;
        value
            .parse()
            .map_err(|_| crate::store::StoreError::Corrupt("the stored clock offset".into()))
    }

    /// Store the sandbox clock's offset and the instant it shows; neither ever goes back.
    async fn save_clock_state(&self, offset_us: i64, now_us: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for (name, value) in [(CLOCK_OFFSET, offset_us), (CLOCK_HIGH_WATER, now_us)] {
            sqlx::query(
                "INSERT INTO installation (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value
                 WHERE CAST(excluded.value AS INTEGER) > CAST(installation.value AS INTEGER)",
            )
            .bind(name)
            .bind(value.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn merchant_clocks(&self) -> StoreResult<Vec<MerchantClock>> {
        let mut conn = self.pool.acquire().await?;
        shared::merchant_clocks::all::<sqlx::Sqlite>(&mut conn).await
    }

    async fn add_merchant_clock(&self, store_uid: &str, offset_us: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        shared::merchant_clocks::add::<sqlx::Sqlite>(&mut tx, store_uid, offset_us).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn advance_merchant_clock(
        &self,
        store_uid: &str,
        by_us: i64,
        local_offset_us: i64,
        base_us: i64,
    ) -> StoreResult<Option<MerchantClock>> {
        let mut tx = self.begin_write().await?;
        let clock = shared::merchant_clocks::advance::<sqlx::Sqlite>(
            &mut tx,
            store_uid,
            by_us,
            local_offset_us,
            base_us,
        )
        .await?;
        tx.commit().await?;
        Ok(clock)
    }
}

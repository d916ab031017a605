//! Values of the installation as a whole, shared by every node: the signing secret and
//! the sandbox clock. Written with "insert, or keep what is there" (the secret) and
//! "only ever raised" (the clock), so nodes starting or advancing at once agree.

use super::{PgStore, signal};
use crate::store::installation_keys::{CLOCK_HIGH_WATER, CLOCK_OFFSET, SECRET};
use crate::store::shared;
use crate::store::storage::Installation;
use crate::store::{MerchantClock, StoreResult, fresh_secret, stored_secret};

impl PgStore {
    async fn installation_value(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM installation WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl Installation for PgStore {
    async fn installation_secret(&self) -> StoreResult<[u8; 32]> {
        sqlx::query(
            "INSERT INTO installation (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET)
        .bind(fresh_secret()?)
        .execute(&self.pool)
        .await?;
        stored_secret(self.installation_value(SECRET).await?)
    }

    async fn clock_state(&self) -> StoreResult<Option<(i64, i64)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, value FROM installation WHERE name = $1 OR name = $2")
                .bind(CLOCK_OFFSET)
                .bind(CLOCK_HIGH_WATER)
                .fetch_all(&self.pool)
                .await?;
        let value = |wanted: &str| {
            rows.iter()
                .find(|(name, _)| name == wanted)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        Ok(value(CLOCK_OFFSET).map(|offset| (offset, value(CLOCK_HIGH_WATER).unwrap_or(i64::MIN))))
    }

    async fn advance_clock(&self, by_us: i64, local_offset_us: i64) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let value: String = sqlx::query_scalar(
            "INSERT INTO installation (name, value) VALUES ($1, ($3::bigint + $2::bigint)::text)
             ON CONFLICT (name) DO UPDATE
                 SET value = (GREATEST(installation.value::bigint, $3::bigint) + $2::bigint)::text
             RETURNING value",
        )
        .bind(CLOCK_OFFSET)
        .bind(by_us)
        .bind(local_offset_us)
        .fetch_one(&mut *tx)
        .await?;
        signal(&mut tx, "clock").await?;
        tx.commit().await?;
        value
            .parse()
            .map_err(|_| crate::store::StoreError::Corrupt("the stored clock offset".into()))
    }

    /// Every node follows the stored clock: the change is signalled to them.
    async fn save_clock_state(&self, offset_us: i64, now_us: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (name, value) in [(CLOCK_OFFSET, offset_us), (CLOCK_HIGH_WATER, now_us)] {
            sqlx::query(
                "INSERT INTO installation (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value
                 WHERE excluded.value::bigint > installation.value::bigint",
            )
            .bind(name)
            .bind(value.to_string())
            .execute(&mut *tx)
            .await?;
        }
        signal(&mut tx, "clock").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn merchant_clocks(&self) -> StoreResult<Vec<MerchantClock>> {
        let mut conn = self.pool.acquire().await?;
        shared::merchant_clocks::all::<sqlx::Postgres>(&mut conn).await
    }

    async fn add_merchant_clock(&self, store_uid: &str, offset_us: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        shared::merchant_clocks::add::<sqlx::Postgres>(&mut tx, store_uid, offset_us).await?;
        signal(&mut tx, "clock").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every node follows: the move is signalled to them.
    async fn advance_merchant_clock(
        &self,
        store_uid: &str,
        by_us: i64,
        local_offset_us: i64,
        base_us: i64,
    ) -> StoreResult<Option<MerchantClock>> {
        let mut tx = self.pool.begin().await?;
        let clock = shared::merchant_clocks::advance::<sqlx::Postgres>(
            &mut tx,
            store_uid,
            by_us,
            local_offset_us,
            base_us,
        )
        .await?;
        signal(&mut tx, "clock").await?;
        tx.commit().await?;
        Ok(clock)
    }
}

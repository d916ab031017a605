//! Values of the installation as a whole: its signing secret, the sandbox clock's offset.
//! Both are written with "insert, or keep what is there", so nodes starting at once agree.

use super::{Store, StoreError, StoreResult};

const SECRET: &str = "secret";
const CLOCK_OFFSET: &str = "clock_offset_us";
const CLOCK_HIGH_WATER: &str = "clock_high_water_us";

impl Store {
    async fn installation_value(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM installation WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The installation's secret (32 random bytes, made on first use and kept), which
    /// signs PayPage tickets and CSRF tokens.
    pub async fn installation_secret(&self) -> StoreResult<[u8; 32]> {
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh)
            .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
        let hex = crate::hex::hex(&fresh);
        sqlx::query(
            "INSERT INTO installation (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET)
        .bind(hex)
        .execute(&self.pool)
        .await?;
        let stored = self
            .installation_value(SECRET)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the installation secret is missing".into()))?;
        let bytes = crate::hex::unhex(&stored).unwrap_or_default();
        bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("the installation secret is malformed".into()))
    }

    /// The sandbox clock as stored: its offset and the latest instant it has shown
    /// (microseconds), if it was ever moved.
    pub async fn clock_state(&self) -> StoreResult<Option<(i64, i64)>> {
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

    /// Store the sandbox clock's offset and the instant it shows; neither ever goes back.
    pub async fn save_clock_state(&self, offset_us: i64, now_us: i64) -> StoreResult<()> {
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
}

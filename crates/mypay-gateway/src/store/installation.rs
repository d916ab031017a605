//! Values of the installation as a whole, shared by every node: the signing secret and
//! the sandbox's test clocks. Written with "insert, or keep what is there" (the secret)
//! and "only ever raised" (the clocks), so nodes starting or advancing at once agree;
//! a clock's move is signalled to the other nodes.

use super::sql::{Backend, Exec, Signal, Write};
use super::storage::Installation;
use super::{Columns, StoreError, StoreResult};

/// Names of the installation's values.
const SECRET: &str = "secret";
const CLOCK_OFFSET: &str = "clock_offset_us";
const CLOCK_HIGH_WATER: &str = "clock_high_water_us";

/// A merchant's own clock as stored (`merchant_clocks`): its offset from the time base
/// and the latest instant it has shown, in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantClock {
    pub store_uid: String,
    pub offset_us: i64,
    pub high_water_us: i64,
}

impl MerchantClock {
    const COLUMNS: &'static str = "store_uid, offset_us, high_water_us";

    fn decode(r: &impl Columns) -> StoreResult<MerchantClock> {
        Ok(MerchantClock {
            store_uid: r.text(0)?,
            offset_us: r.int(1)?,
            high_water_us: r.int(2)?,
        })
    }
}

/// 32 fresh random bytes, hex-encoded: an installation secret if none is stored yet.
fn fresh_secret() -> StoreResult<String> {
    let mut fresh = [0u8; 32];
    getrandom::getrandom(&mut fresh)
        .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
    Ok(crate::hex::hex(&fresh))
}

/// The stored installation secret, decoded.
fn stored_secret(stored: &str) -> StoreResult<[u8; 32]> {
    crate::hex::unhex(stored)
        .unwrap_or_default()
        .try_into()
        .map_err(|_| StoreError::Corrupt("the installation secret is malformed".into()))
}

/// A stored value as a number: the clock's values are stored as text.
fn number(text: &str) -> StoreResult<i64> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("an installation value {text:?}")))
}

#[async_trait::async_trait]
impl<B: Backend> Installation for B {
    /// The installation's secret (32 random bytes, made on first use and kept), which
    /// signs PayPage tickets and CSRF tokens.
    async fn installation_secret(&self) -> StoreResult<[u8; 32]> {
        let fresh = fresh_secret()?;
        self.execute(
            "INSERT INTO installation (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[SECRET.into(), fresh.as_str().into()],
        )
        .await?;
        let stored = self
            .pool()
            .optional(
                "SELECT value FROM installation WHERE name = $1",
                &[SECRET.into()],
            )
            .await?
            .ok_or_else(|| StoreError::Corrupt("the installation secret is missing".into()))?;
        stored_secret(&stored.text(0)?)
    }

    /// The shared test clock as stored: its offset and the latest instant it has shown
    /// (microseconds), if it was ever moved.
    async fn clock_state(&self) -> StoreResult<Option<(i64, i64)>> {
        let rows = self
            .fetch(
                "SELECT name, value FROM installation WHERE name = $1 OR name = $2",
                &[CLOCK_OFFSET.into(), CLOCK_HIGH_WATER.into()],
            )
            .await?;
        let mut offset = None;
        let mut high_water = i64::MIN;
        for r in &rows {
            let value = number(&r.text(1)?)?;
            if r.text(0)? == CLOCK_OFFSET {
                offset = Some(value);
            } else {
                high_water = value;
            }
        }
        Ok(offset.map(|offset| (offset, high_water)))
    }

    /// Two nodes advancing at once both count: each adds to what is stored (or to its
    /// own offset, when that is ahead), in one statement.
    async fn advance_clock(&self, by_us: i64, local_offset_us: i64) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let row = tx
            .one(
                "INSERT INTO installation (name, value)
                 VALUES ($1, CAST(CAST($3 AS BIGINT) + CAST($2 AS BIGINT) AS TEXT))
                 ON CONFLICT (name) DO UPDATE SET value = CAST(
                     CASE WHEN CAST(installation.value AS BIGINT) > CAST($3 AS BIGINT)
                          THEN CAST(installation.value AS BIGINT)
                          ELSE CAST($3 AS BIGINT) END + CAST($2 AS BIGINT) AS TEXT)
                 RETURNING value",
                &[CLOCK_OFFSET.into(), by_us.into(), local_offset_us.into()],
            )
            .await?;
        tx.signal(Signal::Clock).await?;
        tx.commit().await?;
        number(&row.text(0)?)
    }

    /// Store the shared clock's offset and the instant it shows; neither ever goes back.
    async fn save_clock_state(&self, offset_us: i64, now_us: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (name, value) in [(CLOCK_OFFSET, offset_us), (CLOCK_HIGH_WATER, now_us)] {
            tx.execute(
                "INSERT INTO installation (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value
                 WHERE CAST(excluded.value AS BIGINT) > CAST(installation.value AS BIGINT)",
                &[name.into(), value.to_string().as_str().into()],
            )
            .await?;
        }
        tx.signal(Signal::Clock).await?;
        tx.commit().await
    }

    async fn merchant_clocks(&self) -> StoreResult<Vec<MerchantClock>> {
        let rows = self
            .fetch(
                &format!(
                    "SELECT {} FROM merchant_clocks ORDER BY store_uid",
                    MerchantClock::COLUMNS
                ),
                &[],
            )
            .await?;
        rows.iter().map(MerchantClock::decode).collect()
    }

    async fn add_merchant_clock(&self, store_uid: &str, offset_us: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let added = tx
            .execute(
                "INSERT INTO merchant_clocks (store_uid, offset_us, high_water_us)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (store_uid) DO NOTHING",
                &[store_uid.into(), offset_us.into(), i64::MIN.into()],
            )
            .await?;
        if added == 0 {
            return Err(StoreError::Duplicate);
        }
        tx.signal(Signal::Clock).await?;
        tx.commit().await
    }

    /// Two moves at once both count: each adds to what is stored (or to the caller's
    /// offset, when that is ahead), in one statement.
    async fn advance_merchant_clock(
        &self,
        store_uid: &str,
        by_us: i64,
        local_offset_us: i64,
        base_us: i64,
    ) -> StoreResult<Option<MerchantClock>> {
        let mut tx = self.begin().await?;
        let row = tx
            .optional(
                &format!(
                    "UPDATE merchant_clocks SET
                         offset_us = CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2,
                         high_water_us = CASE
                             WHEN high_water_us > $4 + CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2
                             THEN high_water_us
                             ELSE $4 + CASE WHEN offset_us > $3 THEN offset_us ELSE $3 END + $2 END
                     WHERE store_uid = $1
                     RETURNING {}",
                    MerchantClock::COLUMNS
                ),
                &[
                    store_uid.into(),
                    by_us.into(),
                    local_offset_us.into(),
                    base_us.into(),
                ],
            )
            .await?;
        let clock = row.as_ref().map(MerchantClock::decode).transpose()?;
        tx.signal(Signal::Clock).await?;
        tx.commit().await?;
        Ok(clock)
    }
}

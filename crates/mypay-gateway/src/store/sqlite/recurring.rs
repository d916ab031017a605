//! Recurring series: the statements are shared (`store/shared.rs`); this backend
//! gives them its pool and its write transactions.

use super::SqliteStore;
use crate::store::shared;
use crate::store::storage::Recurring;
use crate::store::{ChargeTarget, SeriesCharge, SeriesRow, StoreResult};
use jiff::Timestamp;

#[async_trait::async_trait]
impl Recurring for SqliteStore {
    async fn series(&self, uid: u64) -> StoreResult<Option<SeriesRow>> {
        shared::On(&self.pool).series(uid).await
    }

    async fn series_by_group(
        &self,
        store_uid: Option<&str>,
        group_id: &str,
    ) -> StoreResult<Vec<SeriesRow>> {
        shared::On(&self.pool)
            .series_by_group(store_uid, group_id)
            .await
    }

    async fn stop_series(
        &self,
        uid: u64,
        stop_date: &str,
        reason: &str,
        today: &str,
    ) -> StoreResult<bool> {
        shared::On(&self.pool)
            .stop_series(uid, stop_date, reason, today)
            .await
    }

    async fn decline_next_charge(&self, uid: u64, decline: bool) -> StoreResult<bool> {
        shared::On(&self.pool)
            .decline_next_charge(uid, decline)
            .await
    }

    async fn begin_series_charge(
        &self,
        series_uid: u64,
        period: u32,
        attempt: u32,
        key: &str,
        target: &ChargeTarget,
        cause: &str,
        now: Timestamp,
    ) -> StoreResult<SeriesCharge> {
        let mut tx = self.begin_write().await?;
        let charge = shared::begin_series_charge::<sqlx::Sqlite>(
            &mut tx, series_uid, period, attempt, key, target, cause, now,
        )
        .await?;
        tx.commit().await?;
        Ok(charge)
    }
}

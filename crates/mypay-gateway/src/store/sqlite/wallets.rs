//! E-wallet bind requests: the statements are shared (`store/shared.rs`); this backend
//! gives them its pool, its write transactions and its outbox.

use super::SqliteStore;
use super::notices::insert_notice;
use crate::store::shared;
use crate::store::storage::Wallets;
use crate::store::{NewNotice, StoreResult, StoredCard, WalletRow};
use jiff::Timestamp;

#[async_trait::async_trait]
impl Wallets for SqliteStore {
    async fn create_wallet_bind(
        &self,
        store_uid: &str,
        user_id: &str,
        pfn: &str,
        request: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        shared::On(&self.pool)
            .create_wallet_bind(store_uid, user_id, pfn, request, now)
            .await
    }

    async fn wallet(&self, id: u64) -> StoreResult<Option<WalletRow>> {
        shared::On(&self.pool).wallet(id).await
    }

    async fn wallet_by_pan(
        &self,
        store_uid: &str,
        virtual_pan: &str,
    ) -> StoreResult<Option<WalletRow>> {
        shared::On(&self.pool)
            .wallet_by_pan(store_uid, virtual_pan)
            .await
    }

    async fn challenge_wallet(
        &self,
        id: u64,
        card: &StoredCard,
        password: &str,
    ) -> StoreResult<bool> {
        shared::On(&self.pool)
            .challenge_wallet(id, card, password)
            .await
    }

    async fn fail_wallet_otp(&self, id: u64) -> StoreResult<i64> {
        shared::On(&self.pool).fail_wallet_otp(id).await
    }

    async fn remember_card(
        &self,
        store_uid: &str,
        user_id: &str,
        tool: &str,
        card: &StoredCard,
        at: Timestamp,
    ) -> StoreResult<()> {
        shared::On(&self.pool)
            .remember_card(store_uid, user_id, tool, card, at)
            .await
    }

    async fn remembered_card(
        &self,
        store_uid: &str,
        user_id: &str,
    ) -> StoreResult<Option<(String, StoredCard)>> {
        shared::On(&self.pool)
            .remembered_card(store_uid, user_id)
            .await
    }

    async fn finish_wallet_bind(
        &self,
        id: u64,
        bound: Option<(&StoredCard, &str)>,
        notice: Option<&NewNotice>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !shared::finish_wallet_bind::<sqlx::Sqlite>(&mut tx, id, bound, at).await? {
            return Ok(false);
        }
        if let Some(notice) = notice {
            insert_notice(&mut tx, notice, at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

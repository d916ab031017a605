//! Merchants, dealers and their credentials.

use super::SqliteStore;
use crate::ledger::merchant::MerchantSettings;
use crate::store::shared;
use crate::store::storage::Merchants;
use crate::store::{
    Credential, CredentialOwner, KEY_OVERLAP_DAYS, Merchant, MerchantSummary, StoreError,
    StoreResult, micros,
};
use jiff::Timestamp;
use sqlx::Row;

#[async_trait::async_trait]
impl Merchants for SqliteStore {
    async fn merchant(&self, store_uid: &str) -> StoreResult<Option<Merchant>> {
        let row =
            sqlx::query("SELECT store_uid, agent_uid, settings FROM merchants WHERE store_uid = ?")
                .bind(store_uid)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            let settings: String = r.try_get("settings")?;
            Ok(Merchant {
                store_uid: r.try_get("store_uid")?,
                agent_uid: r.try_get("agent_uid")?,
                settings: serde_json::from_str(&settings)
                    .map_err(|e| StoreError::Corrupt(format!("merchant settings: {e}")))?,
            })
        })
        .transpose()
    }

    /// Create a merchant with one key valid for a year from `now`.
    async fn create_merchant(
        &self,
        store_uid: &str,
        agent_uid: Option<&str>,
        settings: &MerchantSettings,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO merchants (store_uid, agent_uid, settings, created_at) VALUES (?, ?, ?, ?)")
            .bind(store_uid)
            .bind(agent_uid)
            .bind(json)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        insert_credential(&mut tx, CredentialOwner::Store, store_uid, key, now).await?;
        tx.commit().await?;
        self.bump_generation();
        Ok(())
    }

    async fn create_dealer(
        &self,
        agent_uid: &str,
        name: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO dealers (agent_uid, name, created_at) VALUES (?, ?, ?)")
            .bind(agent_uid)
            .bind(name)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        insert_credential(&mut tx, CredentialOwner::Agent, agent_uid, key, now).await?;
        tx.commit().await?;
        self.bump_generation();
        Ok(())
    }

    async fn adopt_merchant(&self, agent_uid: &str, store_uid: &str) -> StoreResult<()> {
        shared::On(&self.pool)
            .adopt_merchant(agent_uid, store_uid)
            .await?;
        self.bump_generation();
        Ok(())
    }

    async fn add_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        secret: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_credential(&mut tx, owner, owner_uid, secret, now).await?;
        tx.commit().await?;
        self.bump_generation();
        Ok(())
    }

    /// Give `store_uid` a new key valid for a year from `now`. The old keys stay valid
    /// for the overlap of SPEC §3 (7 days, or until they expire if sooner), or stop at once
    /// with `revoke_old`.
    async fn rotate_key(
        &self,
        store_uid: &str,
        key: &str,
        now: Timestamp,
        revoke_old: bool,
    ) -> StoreResult<()> {
        let until = if revoke_old {
            now
        } else {
            now.checked_add(jiff::SignedDuration::from_hours(24 * KEY_OVERLAP_DAYS))
                .unwrap_or(Timestamp::MAX)
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE credentials SET valid_until = MIN(valid_until, ?)
             WHERE owner_kind = 'store' AND owner_uid = ?",
        )
        .bind(micros(until))
        .bind(store_uid)
        .execute(&mut *tx)
        .await?;
        insert_credential(&mut tx, CredentialOwner::Store, store_uid, key, now).await?;
        tx.commit().await?;
        self.bump_generation();
        Ok(())
    }

    async fn merchant_summaries(&self, now: Timestamp) -> StoreResult<Vec<MerchantSummary>> {
        shared::On(&self.pool).merchant_summaries(now).await
    }

    async fn save_settings(&self, store_uid: &str, settings: &MerchantSettings) -> StoreResult<()> {
        let json =
            serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query("UPDATE merchants SET settings = ? WHERE store_uid = ?")
            .bind(json)
            .bind(store_uid)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.bump_generation();
        Ok(())
    }

    async fn credentials(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
    ) -> StoreResult<Vec<Credential>> {
        shared::On(&self.pool).credentials(owner, owner_uid).await
    }
}

async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    owner: CredentialOwner,
    owner_uid: &str,
    secret: &str,
    now: Timestamp,
) -> StoreResult<()> {
    // Keys live one year (SPEC §3).
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(24 * 365))
        .unwrap_or(Timestamp::MAX);
    sqlx::query(
        "INSERT INTO credentials (owner_kind, owner_uid, secret, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(owner.as_str())
    .bind(owner_uid)
    .bind(secret)
    .bind(micros(now))
    .bind(micros(until))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

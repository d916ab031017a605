//! Merchants, dealers and their credentials.
//!
//! Every change of these rows bumps the directory's generation in the database itself
//! (triggers, in the same transaction), so a process that caches them sees any change,
//! whichever process wrote it (see `crate::directory`).

use super::sql::{Backend, Exec, Tx, Write};
use super::storage::Merchants;
use super::{Columns, StoreError, StoreResult, micros, timestamp};
use crate::ledger::merchant::MerchantSettings;
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone)]
pub struct Merchant {
    pub store_uid: String,
    pub agent_uid: Option<String>,
    pub settings: MerchantSettings,
}

/// Whose key a request is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialOwner {
    Store,
    Agent,
    Client,
}

impl CredentialOwner {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CredentialOwner::Store => "store",
            CredentialOwner::Agent => "agent",
            CredentialOwner::Client => "client",
        }
    }
}

/// How long a key lives (SPEC §3), on its owner's clock.
pub const KEY_LIFE: SignedDuration = SignedDuration::from_hours(24 * 365);
/// How long the old keys keep working after a rotation (SPEC §3).
pub const KEY_OVERLAP_DAYS: i64 = 7;

#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: String,
    pub valid_from: Timestamp,
    /// At [`never()`] for a key that never expires (the sandbox's published keys).
    pub valid_until: Timestamp,
}

impl Credential {
    pub fn valid_at(&self, now: Timestamp) -> bool {
        self.valid_from <= now && now < self.valid_until
    }

    /// When it expires; `None` when never.
    pub fn expires(&self) -> Option<Timestamp> {
        (self.valid_until < never()).then_some(self.valid_until)
    }
}

/// The end of a key that never expires: the latest whole second a timestamp can be
/// (stored as microseconds, and read back as itself).
pub fn never() -> Timestamp {
    Timestamp::from_second(Timestamp::MAX.as_second()).unwrap_or(Timestamp::MAX)
}

/// A key as operators see it: its validity, never the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyValidity {
    pub valid_from: Timestamp,
    /// `None`: never expires.
    pub valid_until: Option<Timestamp>,
}

impl KeyValidity {
    /// The validity of each of `credentials` valid at `now`, in their order.
    pub fn of_valid(credentials: Vec<Credential>, now: Timestamp) -> Vec<KeyValidity> {
        credentials
            .into_iter()
            .filter(|c| c.valid_at(now))
            .map(|c| KeyValidity {
                valid_from: c.valid_from,
                valid_until: c.expires(),
            })
            .collect()
    }
}

/// A merchant as `merchant list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MerchantSummary {
    pub store_uid: String,
    pub name: String,
    /// Its keys valid now, newest first.
    pub keys: Vec<KeyValidity>,
}

fn decode_settings(text: &str) -> StoreResult<MerchantSettings> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("merchant settings: {e}")))
}

fn encode_settings(settings: &MerchantSettings) -> StoreResult<String> {
    serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Write a credential of `owner_uid`, valid for [`KEY_LIFE`] from `now`, in the caller's
/// transaction.
async fn insert_credential(
    tx: &mut impl Exec,
    owner: CredentialOwner,
    owner_uid: &str,
    secret: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let until = now.checked_add(KEY_LIFE).unwrap_or_else(|_| never());
    tx.execute(
        "INSERT INTO credentials (owner_kind, owner_uid, secret, valid_from, valid_until)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            owner.as_str().into(),
            owner_uid.into(),
            secret.into(),
            micros(now).into(),
            micros(until).into(),
        ],
    )
    .await?;
    Ok(())
}

/// Commit a change of merchants or credentials, and tell this process the generation it
/// made (another node learns it from the database).
async fn commit_change<B: Backend>(backend: &B, mut tx: Tx<B::Db>) -> StoreResult<()> {
    let generation = read_generation(&mut tx).await?;
    tx.commit().await?;
    backend.directory_changed(generation);
    Ok(())
}

async fn read_generation(db: &mut impl Exec) -> StoreResult<u64> {
    let row = db
        .one("SELECT value FROM directory_generation WHERE id = 1", &[])
        .await?;
    Ok(row.int(0)? as u64)
}

#[async_trait::async_trait]
impl<B: Backend> Merchants for B {
    async fn merchant(&self, store_uid: &str) -> StoreResult<Option<Merchant>> {
        let row = self
            .pool()
            .optional(
                "SELECT store_uid, agent_uid, settings FROM merchants WHERE store_uid = $1",
                &[store_uid.into()],
            )
            .await?;
        row.map(|r| {
            Ok(Merchant {
                store_uid: r.text(0)?,
                agent_uid: r.opt_text(1)?,
                settings: decode_settings(&r.text(2)?)?,
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
        let json = encode_settings(settings)?;
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO merchants (store_uid, agent_uid, settings, created_at)
             VALUES ($1, $2, $3, $4)",
            &[
                store_uid.into(),
                agent_uid.into(),
                json.as_str().into(),
                micros(now).into(),
            ],
        )
        .await?;
        insert_credential(&mut tx, CredentialOwner::Store, store_uid, key, now).await?;
        commit_change(self, tx).await
    }

    async fn create_dealer(
        &self,
        agent_uid: &str,
        name: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO dealers (agent_uid, name, created_at) VALUES ($1, $2, $3)",
            &[agent_uid.into(), name.into(), micros(now).into()],
        )
        .await?;
        insert_credential(&mut tx, CredentialOwner::Agent, agent_uid, key, now).await?;
        commit_change(self, tx).await
    }

    async fn adopt_merchant(&self, agent_uid: &str, store_uid: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE merchants SET agent_uid = $1 WHERE store_uid = $2 AND agent_uid IS NULL",
            &[agent_uid.into(), store_uid.into()],
        )
        .await?;
        commit_change(self, tx).await
    }

    async fn add_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        secret: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_credential(&mut tx, owner, owner_uid, secret, now).await?;
        commit_change(self, tx).await
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
            now.checked_add(SignedDuration::from_hours(24 * KEY_OVERLAP_DAYS))
                .unwrap_or_else(|_| never())
        };
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE credentials
             SET valid_until = CASE WHEN valid_until < $1 THEN valid_until ELSE $1 END
             WHERE owner_kind = 'store' AND owner_uid = $2",
            &[micros(until).into(), store_uid.into()],
        )
        .await?;
        insert_credential(&mut tx, CredentialOwner::Store, store_uid, key, now).await?;
        commit_change(self, tx).await
    }

    /// Make the key `secret` of `owner_uid` never expire, unless an operator has ended
    /// it (a rotation or a revocation changed its end): the sandbox's published keys.
    async fn exempt_key(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        secret: &str,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE credentials SET valid_until = $1
             WHERE owner_kind = $2 AND owner_uid = $3 AND secret = $4
               AND valid_until = valid_from + $5",
            &[
                micros(never()).into(),
                owner.as_str().into(),
                owner_uid.into(),
                secret.into(),
                i64::try_from(KEY_LIFE.as_micros())
                    .unwrap_or(i64::MAX)
                    .into(),
            ],
        )
        .await?;
        commit_change(self, tx).await
    }

    /// Every merchant with its name and the validity of each of its keys still valid at
    /// `now` (never the keys themselves).
    async fn merchant_summaries(&self, now: Timestamp) -> StoreResult<Vec<MerchantSummary>> {
        let rows = self
            .fetch(
                "SELECT store_uid, settings FROM merchants ORDER BY store_uid",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let store_uid = r.text(0)?;
            let name = decode_settings(&r.text(1)?)
                .map(|s| s.name)
                .unwrap_or_default();
            let credentials = self.credentials(CredentialOwner::Store, &store_uid).await?;
            let keys = KeyValidity::of_valid(credentials, now);
            out.push(MerchantSummary {
                store_uid,
                name,
                keys,
            });
        }
        Ok(out)
    }

    async fn save_settings(&self, store_uid: &str, settings: &MerchantSettings) -> StoreResult<()> {
        let json = encode_settings(settings)?;
        let mut tx = self.begin().await?;
        let done = tx
            .execute(
                "UPDATE merchants SET settings = $1 WHERE store_uid = $2",
                &[json.as_str().into(), store_uid.into()],
            )
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        commit_change(self, tx).await
    }

    /// Every key of `owner_uid`, past and future ones too, newest first: whether one is
    /// valid depends on the clock at the moment of use.
    async fn credentials(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
    ) -> StoreResult<Vec<Credential>> {
        let rows = self
            .fetch(
                "SELECT secret, valid_from, valid_until FROM credentials
                 WHERE owner_kind = $1 AND owner_uid = $2
                 ORDER BY valid_from DESC",
                &[owner.as_str().into(), owner_uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Credential {
                    secret: r.text(0)?,
                    valid_from: timestamp(r.int(1)?),
                    valid_until: timestamp(r.int(2)?),
                })
            })
            .collect()
    }

    async fn directory_generation(&self) -> StoreResult<u64> {
        let generation = read_generation(&mut self.pool()).await?;
        self.directory_generation_seen(generation);
        Ok(generation)
    }
}

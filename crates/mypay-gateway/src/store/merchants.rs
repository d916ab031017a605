//! Merchants, dealers and their credentials.
//!
//! Every change of these rows bumps the directory's generation in the database itself
//! (triggers, in the same transaction), so a process that caches them sees any change,
//! whichever process wrote it (see `crate::directory`).

use super::sql::{Backend, Exec, Write};
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
    pub id: i64,
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

/// A dealer as the back office shows it, with the merchants it acts for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DealerSummary {
    pub agent_uid: String,
    pub name: String,
    pub merchants: Vec<String>,
}

/// What attaching a merchant to a dealer, or detaching it, came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealerLink {
    Done,
    NoDealer,
    NoMerchant,
    /// Attaching a merchant another dealer acts for: that dealer.
    OtherDealer(String),
    /// Detaching a merchant the dealer does not act for.
    NotAttached,
}

/// A merchant's newest key with an end, on its way there (SPEC §3's key life).
#[derive(Debug, Clone)]
pub struct AgingKey {
    pub id: i64,
    pub store_uid: String,
    pub valid_until: Timestamp,
    pub life_stage: i64,
}

/// One step of a key's life, written at once: the stage moved (only from `from_stage`,
/// so it happens once), its e-mail queued and, at the last step, its successor made.
#[derive(Debug, Clone)]
pub struct KeyStep<'a> {
    pub id: i64,
    pub store_uid: &'a str,
    pub from_stage: i64,
    pub to_stage: i64,
    /// `(to, subject, body)`.
    pub mail: Option<(&'a str, &'a str, &'a str)>,
    pub successor: Option<&'a str>,
    pub now: Timestamp,
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
) -> StoreResult<i64> {
    let until = now.checked_add(KEY_LIFE).unwrap_or_else(|_| never());
    insert_credential_until(tx, owner, owner_uid, secret, now, until).await
}

/// Write a credential of `owner_uid` valid from `now` until `until`; its id.
async fn insert_credential_until(
    tx: &mut impl Exec,
    owner: CredentialOwner,
    owner_uid: &str,
    secret: &str,
    now: Timestamp,
    until: Timestamp,
) -> StoreResult<i64> {
    tx.one(
        "INSERT INTO credentials (owner_kind, owner_uid, secret, valid_from, valid_until)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[
            owner.as_str().into(),
            owner_uid.into(),
            secret.into(),
            micros(now).into(),
            micros(until).into(),
        ],
    )
    .await?
    .int(0)
}

/// Commit a change of merchants or credentials, and tell this process the generation it
/// made (another node learns it from the database).
async fn commit_change<B: Backend>(backend: &B, mut tx: B::Tx) -> StoreResult<()> {
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
                "SELECT id, secret, valid_from, valid_until FROM credentials
                 WHERE owner_kind = $1 AND owner_uid = $2
                 ORDER BY valid_from DESC, id DESC",
                &[owner.as_str().into(), owner_uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Credential {
                    id: r.int(0)?,
                    secret: r.text(1)?,
                    valid_from: timestamp(r.int(2)?),
                    valid_until: timestamp(r.int(3)?),
                })
            })
            .collect()
    }

    async fn add_client_code(
        &self,
        store_uid: &str,
        code: &str,
        now: Timestamp,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_credential_until(
            &mut tx,
            CredentialOwner::Client,
            store_uid,
            code,
            now,
            never(),
        )
        .await?;
        commit_change(self, tx).await?;
        Ok(id)
    }

    async fn end_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        id: i64,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = tx
            .execute(
                "UPDATE credentials SET valid_until = $1
                 WHERE id = $2 AND owner_kind = $3 AND owner_uid = $4 AND valid_until > $1",
                &[
                    micros(at).into(),
                    id.into(),
                    owner.as_str().into(),
                    owner_uid.into(),
                ],
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        commit_change(self, tx).await?;
        Ok(true)
    }

    async fn extend_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        id: i64,
        old_until: Timestamp,
        new_until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = tx
            .execute(
                "UPDATE credentials SET valid_until = $1, life_stage = 0
                 WHERE id = $2 AND owner_kind = $3 AND owner_uid = $4 AND valid_until = $5",
                &[
                    micros(new_until).into(),
                    id.into(),
                    owner.as_str().into(),
                    owner_uid.into(),
                    micros(old_until).into(),
                ],
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        commit_change(self, tx).await?;
        Ok(true)
    }

    async fn credential_owner(&self, id: i64) -> StoreResult<Option<(CredentialOwner, String)>> {
        let row = self
            .pool()
            .optional(
                "SELECT owner_kind, owner_uid FROM credentials WHERE id = $1",
                &[id.into()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let owner = match row.text(0)?.as_str() {
            "store" => CredentialOwner::Store,
            "agent" => CredentialOwner::Agent,
            _ => CredentialOwner::Client,
        };
        Ok(Some((owner, row.text(1)?)))
    }

    async fn dealers(&self) -> StoreResult<Vec<DealerSummary>> {
        let rows = self
            .fetch(
                "SELECT d.agent_uid, d.name, m.store_uid FROM dealers d
                 LEFT JOIN merchants m ON m.agent_uid = d.agent_uid
                 ORDER BY d.agent_uid, m.store_uid",
                &[],
            )
            .await?;
        let mut out: Vec<DealerSummary> = Vec::new();
        for r in rows {
            let agent_uid = r.text(0)?;
            if out.last().map(|d| d.agent_uid.as_str()) != Some(agent_uid.as_str()) {
                out.push(DealerSummary {
                    agent_uid,
                    name: r.text(1)?,
                    merchants: Vec::new(),
                });
            }
            if let (Some(d), Some(m)) = (out.last_mut(), r.opt_text(2)?) {
                d.merchants.push(m);
            }
        }
        Ok(out)
    }

    async fn link_dealer(
        &self,
        agent_uid: &str,
        store_uid: &str,
        attach: bool,
    ) -> StoreResult<DealerLink> {
        let mut tx = self.begin().await?;
        if tx
            .optional(
                "SELECT 1 FROM dealers WHERE agent_uid = $1",
                &[agent_uid.into()],
            )
            .await?
            .is_none()
        {
            return Ok(DealerLink::NoDealer);
        }
        let Some(row) = tx
            .optional(
                "SELECT agent_uid FROM merchants WHERE store_uid = $1",
                &[store_uid.into()],
            )
            .await?
        else {
            return Ok(DealerLink::NoMerchant);
        };
        let current = row.opt_text(0)?;
        let sql = match (&current, attach) {
            (Some(a), true) if a == agent_uid => return Ok(DealerLink::Done),
            (Some(other), true) => return Ok(DealerLink::OtherDealer(other.clone())),
            (None, true) => {
                "UPDATE merchants SET agent_uid = $1 WHERE store_uid = $2 AND agent_uid IS NULL"
            }
            (Some(a), false) if a == agent_uid => {
                "UPDATE merchants SET agent_uid = NULL WHERE store_uid = $2 AND agent_uid = $1"
            }
            (_, false) => return Ok(DealerLink::NotAttached),
        };
        let done = tx
            .execute(sql, &[agent_uid.into(), store_uid.into()])
            .await?;
        if done == 0 {
            // Another writer changed it between the read and the write.
            return Err(StoreError::Conflict);
        }
        commit_change(self, tx).await?;
        Ok(DealerLink::Done)
    }

    /// Each merchant's newest key that has an end and a step of life still to go.
    async fn aging_keys(&self) -> StoreResult<Vec<AgingKey>> {
        let rows = self
            .fetch(
                "SELECT c.id, c.owner_uid, c.valid_until, c.life_stage FROM credentials c
                 WHERE c.owner_kind = 'store' AND c.life_stage < 4 AND c.valid_until < $1
                   AND NOT EXISTS (SELECT 1 FROM credentials n
                                   WHERE n.owner_kind = 'store' AND n.owner_uid = c.owner_uid
                                     AND (n.valid_from > c.valid_from
                                          OR (n.valid_from = c.valid_from AND n.id > c.id)))",
                &[micros(never()).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AgingKey {
                    id: r.int(0)?,
                    store_uid: r.text(1)?,
                    valid_until: timestamp(r.int(2)?),
                    life_stage: r.int(3)?,
                })
            })
            .collect()
    }

    async fn age_key(&self, step: &KeyStep<'_>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let moved = tx
            .execute(
                "UPDATE credentials SET life_stage = $1
                 WHERE id = $2 AND owner_kind = 'store' AND owner_uid = $3 AND life_stage = $4",
                &[
                    step.to_stage.into(),
                    step.id.into(),
                    step.store_uid.into(),
                    step.from_stage.into(),
                ],
            )
            .await?;
        if moved == 0 {
            return Ok(false);
        }
        if let Some((to, subject, body)) = step.mail {
            super::notices::insert_email(&mut tx, to, subject, body, step.now, None).await?;
        }
        if let Some(key) = step.successor {
            insert_credential(
                &mut tx,
                CredentialOwner::Store,
                step.store_uid,
                key,
                step.now,
            )
            .await?;
        }
        commit_change(self, tx).await?;
        Ok(true)
    }

    async fn directory_generation(&self) -> StoreResult<u64> {
        let generation = read_generation(&mut self.pool()).await?;
        self.directory_generation_seen(generation);
        Ok(generation)
    }
}

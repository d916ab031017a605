//! The operator's hold on credentials: merchants' keys listed, extended and revoked;
//! dealers made and given merchants to act for; client-mode verification codes (驗證碼)
//! issued and revoked. Every write goes to the audit log as its actor's.

use super::keys::{RENEWAL_DAYS, extendable};
use super::merchants::{Operator, OperatorError, new_key};
use crate::store::{
    Credential, CredentialOwner, DealerLink, DealerSummary, KEY_LIFE, StoreError, never,
};
use jiff::Timestamp;
use serde_json::json;

/// A credential as the back office lists it: its id and validity, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    pub id: i64,
    pub valid_from: Timestamp,
    /// `None`: it never ends.
    pub valid_until: Option<Timestamp>,
    /// `valid`, `ended` or `not_yet`, on its owner's clock.
    pub state: &'static str,
}

impl KeyRecord {
    fn of(c: &Credential, now: Timestamp) -> KeyRecord {
        KeyRecord {
            id: c.id,
            valid_from: c.valid_from,
            valid_until: c.expires(),
            state: if c.valid_at(now) {
                "valid"
            } else if now < c.valid_from {
                "not_yet"
            } else {
                "ended"
            },
        }
    }
}

/// A dealer's id and key, the key shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DealerCredentials {
    pub agent_uid: String,
    pub key: String,
}

/// A client-mode verification code, shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientCode {
    pub id: i64,
    pub store_uid: String,
    pub code: String,
}

impl Operator {
    /// Every key of `store_uid`, newest first, with its state on the merchant's clock.
    pub async fn key_records(&self, store_uid: &str) -> Result<Vec<KeyRecord>, OperatorError> {
        self.existing(store_uid).await?;
        self.records_of(CredentialOwner::Store, store_uid).await
    }

    async fn records_of(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
    ) -> Result<Vec<KeyRecord>, OperatorError> {
        let now = self.clocks.now_for(owner_uid);
        let credentials = self.store.credentials(owner, owner_uid).await?;
        Ok(credentials.iter().map(|c| KeyRecord::of(c, now)).collect())
    }

    /// Extend key `id` of `store_uid` (its newest valid key when `None`) by a year, while
    /// more than 7 days remain of it (SPEC §3).
    pub async fn extend_key(
        &self,
        store_uid: &str,
        id: Option<i64>,
    ) -> Result<KeyRecord, OperatorError> {
        self.existing(store_uid).await?;
        let now = self.clocks.now_for(store_uid);
        let credentials = self
            .store
            .credentials(CredentialOwner::Store, store_uid)
            .await?;
        let key = match id {
            Some(id) => credentials.iter().find(|c| c.id == id),
            None => credentials.iter().find(|c| c.valid_at(now)),
        };
        let Some(key) = key else {
            return Err(OperatorError::Missing(match id {
                Some(id) => format!("id: merchant {store_uid} has no key {id}"),
                None => format!("store_uid: merchant {store_uid} has no valid key"),
            }));
        };
        if !key.valid_at(now) {
            return Err(OperatorError::Conflict(format!(
                "id: key {} is not valid now; only a valid key is extended",
                key.id
            )));
        }
        if key.valid_until >= never() {
            return Err(OperatorError::Conflict(format!(
                "id: key {} never ends; there is nothing to extend",
                key.id
            )));
        }
        if !extendable(key.valid_until, now) {
            return Err(OperatorError::Conflict(format!(
                "id: key {} ends within {RENEWAL_DAYS} days: it can no longer be extended \
                 (its successor is made {RENEWAL_DAYS} days before its end; or rotate it)",
                key.id
            )));
        }
        let until = key
            .valid_until
            .checked_add(KEY_LIFE)
            .unwrap_or_else(|_| never());
        let extended = self
            .store
            .extend_credential(
                CredentialOwner::Store,
                store_uid,
                key.id,
                key.valid_until,
                until,
            )
            .await?;
        if !extended {
            return Err(OperatorError::Store(StoreError::Conflict));
        }
        let before = KeyRecord::of(key, now);
        let after = KeyRecord {
            valid_until: Some(until),
            ..before.clone()
        };
        self.record("key.extend", store_uid, json!(before), json!(after))
            .await;
        Ok(after)
    }

    /// End key `id` of `store_uid` now (on the merchant's clock).
    pub async fn revoke_key(&self, store_uid: &str, id: i64) -> Result<KeyRecord, OperatorError> {
        self.existing(store_uid).await?;
        self.end(CredentialOwner::Store, store_uid, id, "key.revoke", "key")
            .await
    }

    async fn end(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        id: i64,
        action: &str,
        what: &str,
    ) -> Result<KeyRecord, OperatorError> {
        let now = self.clocks.now_for(owner_uid);
        let credentials = self.store.credentials(owner, owner_uid).await?;
        let Some(before) = credentials.iter().find(|c| c.id == id) else {
            return Err(OperatorError::Missing(format!(
                "id: {owner_uid} has no {what} {id}"
            )));
        };
        if !self.store.end_credential(owner, owner_uid, id, now).await? {
            return Err(OperatorError::Conflict(format!(
                "id: {what} {id} has already ended"
            )));
        }
        let before = KeyRecord::of(before, now);
        let after = KeyRecord {
            valid_until: Some(now),
            state: "ended",
            ..before.clone()
        };
        self.record(action, owner_uid, json!(before), json!(after))
            .await;
        Ok(after)
    }

    /// A new dealer (`/api/agent`) with a key of its own; it acts for no merchant until
    /// one is attached.
    pub async fn create_dealer(&self, name: &str) -> Result<DealerCredentials, OperatorError> {
        let name = name.trim();
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(OperatorError::Refused(crate::ledger::merchant::Refused {
                field: "name",
                problem: "at most 100 characters, none of them control characters".into(),
            }));
        }
        let key = new_key()?;
        let now = self.clocks.shared().now();
        for _ in 0..20 {
            let agent_uid = super::merchants::new_uid()?;
            match self.store.create_dealer(&agent_uid, name, &key, now).await {
                Ok(()) => {
                    self.record(
                        "dealer.create",
                        &agent_uid,
                        serde_json::Value::Null,
                        json!({"agent_uid": agent_uid, "name": name}),
                    )
                    .await;
                    return Ok(DealerCredentials { agent_uid, key });
                }
                Err(StoreError::Duplicate) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    pub async fn dealers(&self) -> Result<Vec<DealerSummary>, OperatorError> {
        Ok(self.store.dealers().await?)
    }

    /// Attach `store_uid` to dealer `agent_uid` (or detach it): `/api/agent` then acts for
    /// exactly the merchants attached.
    pub async fn link_dealer(
        &self,
        agent_uid: &str,
        store_uid: &str,
        attach: bool,
    ) -> Result<(), OperatorError> {
        match self.store.link_dealer(agent_uid, store_uid, attach).await? {
            DealerLink::Done => {}
            DealerLink::NoDealer => {
                return Err(OperatorError::Missing(format!(
                    "agent_uid: no dealer {agent_uid}"
                )));
            }
            DealerLink::NoMerchant => return Err(OperatorError::NoMerchant(store_uid.into())),
            DealerLink::OtherDealer(other) => {
                return Err(OperatorError::Conflict(format!(
                    "store_uid: merchant {store_uid} is attached to dealer {other}; detach it there first"
                )));
            }
            DealerLink::NotAttached => {
                return Err(OperatorError::Missing(format!(
                    "store_uid: merchant {store_uid} is not attached to dealer {agent_uid}"
                )));
            }
        }
        let (action, before, after) = if attach {
            (
                "dealer.attach",
                json!({"agent_uid": null}),
                json!({"agent_uid": agent_uid}),
            )
        } else {
            (
                "dealer.detach",
                json!({"agent_uid": agent_uid}),
                json!({"agent_uid": null}),
            )
        };
        self.record(action, store_uid, before, after).await;
        Ok(())
    }

    /// A new client-mode verification code of `store_uid` (the AES key of its `/api/open`
    /// envelopes), valid until revoked.
    pub async fn issue_client_code(&self, store_uid: &str) -> Result<ClientCode, OperatorError> {
        self.existing(store_uid).await?;
        let code = new_key()?;
        let now = self.clocks.now_for(store_uid);
        let id = self.store.add_client_code(store_uid, &code, now).await?;
        self.record(
            "client_code.issue",
            store_uid,
            serde_json::Value::Null,
            json!({"id": id}),
        )
        .await;
        Ok(ClientCode {
            id,
            store_uid: store_uid.to_owned(),
            code,
        })
    }

    pub async fn client_codes(&self, store_uid: &str) -> Result<Vec<KeyRecord>, OperatorError> {
        self.existing(store_uid).await?;
        self.records_of(CredentialOwner::Client, store_uid).await
    }

    /// Revoke client code `id`, of `store_uid` when one is named (else of whichever
    /// merchant it is).
    pub async fn revoke_client_code(
        &self,
        store_uid: Option<&str>,
        id: i64,
    ) -> Result<KeyRecord, OperatorError> {
        let owner = match self.store.credential_owner(id).await? {
            Some((CredentialOwner::Client, owner)) if store_uid.is_none_or(|s| s == owner) => owner,
            _ => {
                return Err(OperatorError::Missing(format!("id: no client code {id}")));
            }
        };
        self.end(
            CredentialOwner::Client,
            &owner,
            id,
            "client_code.revoke",
            "client code",
        )
        .await
    }
}

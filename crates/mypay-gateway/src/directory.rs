//! The API's view of merchants and their keys, cached in memory.
//!
//! Every API request needs the keys of its sender and the merchant's settings; reading and
//! parsing them from the database each time cost more than the AES and JSON work together.
//! An entry is trusted only while the directory's generation is the one it was loaded at:
//! the database bumps the generation with every change of merchants, dealers or keys, in
//! the change's own transaction, whichever process made it (this one, the `merchant`
//! command, another node). Each use asks the store for the generation now, which it knows
//! cheaply (see `store::storage::Changes`), so a change is seen by the next
//! request: there is no window in which an old URL or a revoked key is used.
//!
//! Key validity is judged against the owner's clock at each use, not at load time.

use crate::store::{Credential, CredentialOwner, Merchant, Store, StoreError};
use jiff::Timestamp;
use mypay_protocol::MerchantKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A credential owner's keys, and the merchant it names (none for a dealer).
pub struct Entry {
    generation: u64,
    keys: Vec<(MerchantKey, Credential)>,
    pub merchant: Option<Arc<Merchant>>,
}

impl Entry {
    /// The keys valid at `now`, newest first.
    pub fn keys_at(&self, now: Timestamp) -> Vec<MerchantKey> {
        self.keys
            .iter()
            .filter(|(_, c)| c.valid_at(now))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

type Key = (CredentialOwner, String);

#[derive(Clone)]
pub struct Directory {
    store: Store,
    entries: Arc<RwLock<HashMap<Key, Arc<Entry>>>>,
}

/// Entries kept at most: unknown uids sent by anyone must not grow the cache without end.
const MAX_ENTRIES: usize = 100_000;

impl Directory {
    pub fn new(store: Store) -> Directory {
        Directory {
            store,
            entries: Arc::default(),
        }
    }

    /// The directory's generation now: what the store knows at once, else read.
    pub async fn generation(&self) -> Result<u64, StoreError> {
        match self.store.known_directory_generation() {
            Some(generation) => Ok(generation),
            None => self.store.directory_generation().await,
        }
    }

    /// The keys and merchant of `uid`, as they are at `generation` or later. (Read the
    /// generation first, then the rows: an entry is never newer than its label.)
    pub async fn entry_at(
        &self,
        generation: u64,
        owner: CredentialOwner,
        uid: &str,
    ) -> Result<Arc<Entry>, StoreError> {
        let key = (owner, uid.to_owned());
        if let Ok(map) = self.entries.read()
            && let Some(e) = map.get(&key)
            && e.generation >= generation
        {
            return Ok(e.clone());
        }
        let keys = self
            .store
            .credentials(owner, uid)
            .await?
            .into_iter()
            .filter_map(|c| Some((MerchantKey::parse(&c.secret).ok()?, c)))
            .collect();
        let merchant = match owner {
            CredentialOwner::Store | CredentialOwner::Client => {
                self.store.merchant(uid).await?.map(Arc::new)
            }
            CredentialOwner::Agent => None,
        };
        let entry = Arc::new(Entry {
            generation,
            keys,
            merchant,
        });
        if let Ok(mut map) = self.entries.write() {
            // Entries of older generations are never used again: drop them first.
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, e| e.generation >= generation);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            map.insert(key, entry.clone());
        }
        Ok(entry)
    }

    /// The keys and merchant of `uid`, current.
    pub async fn entry(&self, owner: CredentialOwner, uid: &str) -> Result<Arc<Entry>, StoreError> {
        let generation = self.generation().await?;
        self.entry_at(generation, owner, uid).await
    }

    /// Merchant `store_uid` as it is now.
    pub async fn merchant(&self, store_uid: &str) -> Result<Option<Arc<Merchant>>, StoreError> {
        Ok(self
            .entry(CredentialOwner::Store, store_uid)
            .await?
            .merchant
            .clone())
    }
}

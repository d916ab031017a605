//! The API's view of merchants and their keys, cached in memory.
//!
//! Every API request needs the keys of its sender and the merchant's settings; reading and
//! parsing them from the database each time cost more than the AES and JSON work together.
//! An entry is reloaded when this process changed merchants or keys (the store's
//! generation), and at the latest [`MAX_AGE`] after it was loaded, so a change made by
//! another process (the `merchant set` command, another node) takes effect within that.
//! Key validity is judged against the clock at each use, not at load time.

use crate::store::{CredentialOwner, Merchant, Store, StoreError};
use jiff::Timestamp;
use mypay_protocol::MerchantKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub const MAX_AGE: Duration = Duration::from_secs(2);

struct Entry {
    loaded: Instant,
    generation: u64,
    keys: Vec<(MerchantKey, Timestamp, Timestamp)>,
    merchant: Option<Arc<Merchant>>,
}

type Key = (CredentialOwner, String);

#[derive(Clone)]
pub struct Directory {
    store: Store,
    entries: Arc<RwLock<HashMap<Key, Arc<Entry>>>>,
}

impl Directory {
    pub fn new(store: Store) -> Directory {
        Directory {
            store,
            entries: Arc::default(),
        }
    }

    async fn entry(&self, owner: CredentialOwner, uid: &str) -> Result<Arc<Entry>, StoreError> {
        let generation = self.store.generation();
        let key = (owner, uid.to_owned());
        if let Ok(map) = self.entries.read()
            && let Some(e) = map.get(&key)
            && e.generation == generation
            && e.loaded.elapsed() < MAX_AGE
        {
            return Ok(e.clone());
        }
        let keys = self
            .store
            .credentials(owner, uid)
            .await?
            .into_iter()
            .filter_map(|c| {
                Some((
                    MerchantKey::parse(&c.secret).ok()?,
                    c.valid_from,
                    c.valid_until,
                ))
            })
            .collect();
        let merchant = match owner {
            CredentialOwner::Store | CredentialOwner::Client => {
                self.store.merchant(uid).await?.map(Arc::new)
            }
            CredentialOwner::Agent => None,
        };
        let entry = Arc::new(Entry {
            loaded: Instant::now(),
            generation,
            keys,
            merchant,
        });
        if let Ok(mut map) = self.entries.write() {
            // A bounded cache: unknown uids sent by anyone must not grow it without end.
            if map.len() > 100_000 {
                map.clear();
            }
            map.insert(key, entry.clone());
        }
        Ok(entry)
    }

    /// The keys of `uid` valid at `now`, newest first.
    pub async fn keys(
        &self,
        owner: CredentialOwner,
        uid: &str,
        now: Timestamp,
    ) -> Result<Vec<MerchantKey>, StoreError> {
        let entry = self.entry(owner, uid).await?;
        Ok(entry
            .keys
            .iter()
            .filter(|(_, from, until)| *from <= now && now < *until)
            .map(|(k, _, _)| k.clone())
            .collect())
    }

    pub async fn merchant(&self, store_uid: &str) -> Result<Option<Arc<Merchant>>, StoreError> {
        Ok(self
            .entry(CredentialOwner::Store, store_uid)
            .await?
            .merchant
            .clone())
    }
}

//! Creating merchants: a random `store_uid` and key (the operator's `merchant create`),
//! and sandbox merchants with a test clock of their own (`POST /sandbox/merchants`).

use super::Gateway;
use crate::ledger::merchant::MerchantSettings;
use crate::ledger::notify_url::NotifyPolicy;
use crate::store::{Store, StoreError, StoreResult};

/// A new 32-character key of letters and digits, as MYPAY hands them out.
pub fn new_key() -> StoreResult<String> {
    random_text(
        32,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
}

fn random_text(len: usize, alphabet: &[u8]) -> StoreResult<String> {
    let mut out = String::with_capacity(len);
    // Rejection sampling: every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    while out.len() < len {
        let mut bytes = [0u8; 64];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
        for b in bytes {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// Create a merchant under a new random 12-digit `store_uid`, its key valid from `now`.
pub async fn create(
    store: &Store,
    settings: &MerchantSettings,
    key: &str,
    now: jiff::Timestamp,
) -> StoreResult<String> {
    for _ in 0..20 {
        let digits = random_text(11, b"0123456789")?;
        // Never a leading zero: some merchants' systems store it as a number.
        let first = digits.bytes().next().map_or(1, |d| 1 + (d - b'0') % 9);
        let store_uid = format!("{first}{digits}");
        match store
            .create_merchant(&store_uid, None, settings, key, now)
            .await
        {
            Ok(()) => return Ok(store_uid),
            Err(StoreError::Duplicate) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

/// Check every notice URL of `settings` as far as it can be judged without resolving
/// its host (the scheme, the port, an address literal in any spelling); names are
/// judged at delivery. The error names the URL and what is wrong.
pub fn check_notify_urls(settings: &MerchantSettings, policy: &NotifyPolicy) -> Result<(), String> {
    let n = &settings.notify;
    for url in [
        &n.completed,
        &n.non_real_time,
        &n.confirmation,
        &n.refund,
        &n.ewallet,
    ]
    .into_iter()
    .flatten()
    .filter(|u| !u.is_empty())
    {
        policy.check(url)?;
    }
    Ok(())
}

/// A merchant created in the sandbox with a clock of its own.
#[derive(Debug, Clone)]
pub struct SandboxMerchant {
    pub store_uid: String,
    pub key: String,
}

/// Create a sandbox merchant with `settings` and a test clock of its own, which starts
/// where the shared clock stands and from then on moves only when it is moved by name.
/// Its key is valid from that instant.
pub async fn create_with_own_clock(
    gateway: &Gateway,
    settings: &MerchantSettings,
) -> StoreResult<SandboxMerchant> {
    let shared = gateway.clocks.shared();
    let key = new_key()?;
    let store_uid = create(&gateway.store, settings, &key, shared.now()).await?;
    // Stored before it is answered: every node, and a restart, finds the clock. (A
    // crash between the two leaves a merchant nobody has the key of, on the shared clock.)
    let offset = shared.offset_micros();
    gateway.store.add_merchant_clock(&store_uid, offset).await?;
    gateway.clocks.follow(&store_uid, offset, i64::MIN);
    Ok(SandboxMerchant { store_uid, key })
}

//! The gateway's core: every payment flow (create, pay with each tool family, capture,
//! cancel, refund, refund-cancel, timed work) over the clock, the store, the upstream
//! connectors and the outbox. The HTTP layers (`api`, `paypage`, `sandbox`) and the
//! workers call it; it knows nothing of HTTP, routers or the sandbox's helpers (the
//! sandbox's simulated acquirer is just the connector the sandbox mode plugs in).

pub mod admins;
mod applications;
mod authorisations;
pub mod callbacks;
mod cards;
mod charge;
mod checkout;
pub mod credentials;
pub mod ewallet;
pub mod invoices;
pub mod keys;
pub mod merchants;
pub mod orders;
mod pay_later;
pub mod recurring;
mod refunds;
pub mod resolve;
pub mod saved_cards;
pub mod timers;
mod wallets;

pub use applications::*;
pub use authorisations::*;
pub use cards::*;
pub use checkout::*;
pub use pay_later::*;
pub use refunds::*;
pub use wallets::*;

use crate::clock::Clocks;
use crate::config::Settings;
use crate::directory::Directory;
use crate::ledger::connector::CardAcquirer;
use crate::store::{Leases, Store};
use std::sync::Arc;
use tokio::sync::Notify;

/// The core: what every flow needs, cloned freely (a handful of reference counts).
#[derive(Clone)]
pub struct Gateway {
    pub settings: Arc<Settings>,
    pub store: Store,
    /// The shared clock and merchants' own: every rule reads the clock of the merchant it
    /// acts for ([`Gateway::now_for`]).
    pub clocks: Clocks,
    /// Merchants and their keys, cached.
    pub directory: Directory,
    /// The upstream that moves card money (the sandbox's simulation in sandbox mode).
    pub acquirer: Arc<dyn CardAcquirer>,
    /// Production: the upstreams that move every other payment (collections, wallets,
    /// applications) and every follow-up (captures, voids, refunds). `None` in the
    /// sandbox, whose rules decide them.
    pub movements: Option<Arc<dyn crate::ledger::connector::Movements>>,
    /// Wakes the notification worker when a notice is written (the outbox's waker).
    pub notices_waiting: Arc<Notify>,
    /// This node's claims on background work.
    pub leases: Leases,
}

impl Gateway {
    /// Now, on the clock of merchant `store_uid` (its own, or the shared one).
    pub fn now_for(&self, store_uid: &str) -> jiff::Timestamp {
        self.clocks.now_for(store_uid)
    }

    /// Whether time is a test clock (the sandbox's), which the sandbox moves.
    pub fn on_test_clock(&self) -> bool {
        self.clocks.shared().is_advanceable()
    }

    /// Follow the stored test clocks (see [`follow_stored_clocks`]).
    pub async fn follow_stored_clocks(&self) -> Result<(), crate::store::StoreError> {
        follow_stored_clocks(&self.store, &self.clocks).await
    }
}

/// Set this process's test clocks (the shared one and merchants' own) to the stored ones
/// where those are ahead (another node or process moved them), and learn of merchants'
/// clocks made elsewhere. Production clocks do not move.
pub async fn follow_stored_clocks(
    store: &Store,
    clocks: &Clocks,
) -> Result<(), crate::store::StoreError> {
    if !clocks.shared().is_advanceable() {
        return Ok(());
    }
    if let Some((offset, high_water)) = store.clock_state().await? {
        clocks.shared().restore(offset, high_water);
    }
    for c in store.merchant_clocks().await? {
        clocks.follow(&c.store_uid, c.offset_us, c.high_water_us);
    }
    Ok(())
}

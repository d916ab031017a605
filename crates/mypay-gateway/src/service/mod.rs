//! The gateway's core: every payment flow (create, pay with each tool family, capture,
//! cancel, refund, refund-cancel, timed work) over the clock, the store, the upstream
//! connectors and the outbox. The HTTP layers (`api`, `paypage`, `sandbox`) and the
//! workers call it; it knows nothing of HTTP, routers or the sandbox's helpers (the
//! sandbox's simulated acquirer is just the connector the sandbox mode plugs in).

mod applications;
mod authorisations;
mod cards;
mod checkout;
pub mod ewallet;
mod pay_later;
pub mod recurring;
mod refunds;
pub mod timers;
mod wallets;

pub use applications::*;
pub use authorisations::*;
pub use cards::*;
pub use checkout::*;
pub use pay_later::*;
pub use refunds::*;
pub use wallets::*;

use crate::clock::Clock;
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
    pub clock: Clock,
    /// Merchants and their keys, cached.
    pub directory: Directory,
    /// The upstream that moves card money (the sandbox's simulation in sandbox mode).
    pub acquirer: Arc<dyn CardAcquirer>,
    /// Wakes the notification worker when a notice is written (the outbox's waker).
    pub notices_waiting: Arc<Notify>,
    /// This node's claims on background work.
    pub leases: Leases,
}

//! What every request handler and worker is given: the core, and what only HTTP needs.
//! A leaf: it knows no router and no handler.

use std::sync::Arc;

/// The HTTP layers' state. Cloned for every request, so it is one reference count, not
/// one per field.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// The payment flows, the clock, the store, the connectors, the outbox.
    pub core: crate::service::Gateway,
    /// The notification worker: deliveries, resends, draining after a clock advance.
    pub deliveries: Arc<crate::notify::worker::Deliveries>,
    /// Signs PayPage tickets and CSRF tokens.
    pub tickets: crate::tickets::Tickets,
    /// Counts API requests that do not open, per sender and address.
    pub throttle: crate::http::throttle::FailureThrottle,
    pub metrics: crate::http::metrics::Metrics,
    /// Where consumers reach the PayPage, without a trailing slash.
    pub base_url: Arc<str>,
}

/// Handlers reach the core's parts (`state.store`, `state.clocks`) and pass `&state`
/// where a flow takes the core.
impl std::ops::Deref for Shared {
    type Target = crate::service::Gateway;
    fn deref(&self) -> &crate::service::Gateway {
        &self.core
    }
}

impl Shared {
    /// Cookies are `Secure` when consumers reach the gateway over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    pub fn sandbox(&self) -> bool {
        self.settings.mode == crate::config::Mode::Sandbox
    }
}

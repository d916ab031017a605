//! Where requests go: MYPAY's own endpoints from the document (介接網址), or any gateway's.

/// MYPAY's test area (測試區), merchant mode.
pub const MYPAY_TEST: &str = "https://pay.usecase.cc/api/init";
/// MYPAY's test area, client mode (`/api/open`, sealed with a verification code).
pub const MYPAY_TEST_OPEN: &str = "https://pay.usecase.cc/api/open";
/// MYPAY's test area, dealer mode.
pub const MYPAY_TEST_AGENT: &str = "https://pay.usecase.cc/api/agent";
/// MYPAY's production (正式區), merchant mode.
pub const MYPAY_PRODUCTION: &str = "https://ka.mypay.tw/api/init";
/// MYPAY's production, client mode.
pub const MYPAY_PRODUCTION_OPEN: &str = "https://ka.mypay.tw/api/open";
/// MYPAY's production, dealer mode.
pub const MYPAY_PRODUCTION_AGENT: &str = "https://ka.mypay.tw/api/agent";

/// The three endpoints of one gateway.
///
/// ```
/// use mypay_client::Endpoints;
/// let local = Endpoints::gateway("http://127.0.0.1:8080");
/// assert_eq!(local.store, "http://127.0.0.1:8080/api/init");
/// assert_eq!(Endpoints::mypay_test().client, "https://pay.usecase.cc/api/open");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Merchant mode (特約商店模式): `…/api/init`.
    pub store: String,
    /// Dealer mode: `…/api/agent`.
    pub agent: String,
    /// Client mode (Client模式): `…/api/open`.
    pub client: String,
}

impl Endpoints {
    /// A gateway at `base` (scheme, host and port, e.g. `http://127.0.0.1:8080`).
    pub fn gateway(base: &str) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            store: format!("{base}/api/init"),
            agent: format!("{base}/api/agent"),
            client: format!("{base}/api/open"),
        }
    }

    /// The endpoints of the gateway whose merchant endpoint (`…/api/init`, as the
    /// document's samples take it) is `url`.
    pub fn of_store_url(url: &str) -> Endpoints {
        let base = url
            .trim_end_matches('/')
            .strip_suffix("/api/init")
            .unwrap_or(url);
        Endpoints::gateway(base)
    }

    /// MYPAY's test area.
    pub fn mypay_test() -> Endpoints {
        Endpoints {
            store: MYPAY_TEST.into(),
            agent: MYPAY_TEST_AGENT.into(),
            client: MYPAY_TEST_OPEN.into(),
        }
    }

    /// MYPAY's production.
    pub fn mypay_production() -> Endpoints {
        Endpoints {
            store: MYPAY_PRODUCTION.into(),
            agent: MYPAY_PRODUCTION_AGENT.into(),
            client: MYPAY_PRODUCTION_OPEN.into(),
        }
    }
}

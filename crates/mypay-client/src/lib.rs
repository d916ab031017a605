//! mypay-client: a typed Rust client for the MYPAY LINK merchant API, for MYPAY's own
//! endpoints and for any mypay-gateway, and what a merchant needs to receive its notices.
//!
//! Every command of the document has a method, with the document's request and answer
//! types (from [`protocol::messages`]); a refusal is [`ClientError::Refused`] with the
//! document's code. Requests are sealed (AES-256-CBC, 附錄四) with the merchant's key,
//! a dealer's key ([`Client::dealer`], `/api/agent`) or a client-mode verification code
//! ([`Client::client_mode`], `/api/open`).
//!
//! ```
//! # mypay_client::doc_support::run(|gateway| async move {
//! use mypay_client::{Client, SAMPLE_STORE_UID, SAMPLE_STORE_KEY};
//! // `gateway.store_url()` is `http://127.0.0.1:PORT/api/init`; MYPAY's test area is
//! // `mypay_client::MYPAY_TEST`.
//! let client = Client::new(&gateway.store_url(), SAMPLE_STORE_UID, SAMPLE_STORE_KEY)?;
//! let tools = client.payment_modes(1000, "TWD").await?;
//! assert!(tools.iter().any(|t| t == "CREDITCARD"));
//! # Ok(()) });
//! ```
//!
//! Retries: only reads (`api/queryorder`, `api/invoice`, `api/paymentsupportpaymode`) are
//! asked again, twice at most, when the gateway could not be reached or did not answer in
//! time. A command that moves money or makes something is never sent twice by this client:
//! when its answer is lost ([`ClientError::is_transport`]), look the order up with
//! [`Client::query_order`] before deciding.

#![warn(missing_docs)]

mod commands;
#[doc(hidden)]
pub mod doc_support;
mod endpoint;
mod error;
pub mod feed;
pub mod notices;

pub use endpoint::{
    Endpoints, MYPAY_PRODUCTION, MYPAY_PRODUCTION_AGENT, MYPAY_PRODUCTION_OPEN, MYPAY_TEST,
    MYPAY_TEST_AGENT, MYPAY_TEST_OPEN,
};
pub use error::ClientError;
pub use mypay_protocol as protocol;
pub use mypay_protocol::notice::{ACKNOWLEDGEMENT, TransactionNotice};
pub use notices::{Notice, verify_notice};

use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::messages::CodeMsg;
use mypay_protocol::outer::OuterRequest;
use mypay_protocol::{Command, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The document's sample merchant (its `store_uid`), present in every mypay-gateway sandbox.
pub const SAMPLE_STORE_UID: &str = "289151880002";
/// The sample merchant's published key.
pub const SAMPLE_STORE_KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";

/// Whose credentials seal the requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A merchant (特約商店模式) with its key, on `…/api/init`.
    Store {
        /// The merchant.
        store_uid: String,
    },
    /// A dealer with its key, on `…/api/agent`; each request names its merchant in
    /// `store_uid`.
    Dealer {
        /// The dealer.
        agent_uid: String,
    },
    /// A merchant in client mode (Client模式), sealed with a verification code, on
    /// `…/api/open`: `api/orders` and `api/ewalletbind` only.
    ClientMode {
        /// The merchant.
        store_uid: String,
    },
}

/// A client of one endpoint with one set of credentials. Cheap to clone (one connection
/// pool is shared).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    mode: Mode,
    key: MerchantKey,
    timeout: Duration,
    read_retries: u32,
}

/// How long a request may take unless [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    fn with_mode(url: &str, mode: Mode, key: &str) -> Result<Client, ClientError> {
        Ok(Client {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            mode,
            key: MerchantKey::parse(key).map_err(|_| ClientError::Key)?,
            timeout: DEFAULT_TIMEOUT,
            read_retries: 2,
        })
    }

    /// A merchant's client: `url` is the full endpoint (`…/api/init`, as the document's
    /// samples take it; [`MYPAY_TEST`], [`MYPAY_PRODUCTION`] or a gateway's).
    pub fn new(url: &str, store_uid: &str, key: &str) -> Result<Client, ClientError> {
        let mode = Mode::Store {
            store_uid: store_uid.to_owned(),
        };
        Client::with_mode(url, mode, key)
    }

    /// A dealer's client (`…/api/agent`); requests name the merchant in `store_uid`.
    pub fn dealer(url: &str, agent_uid: &str, key: &str) -> Result<Client, ClientError> {
        let mode = Mode::Dealer {
            agent_uid: agent_uid.to_owned(),
        };
        Client::with_mode(url, mode, key)
    }

    /// A merchant's client in client mode (`…/api/open`), sealed with a verification code
    /// (驗證碼) instead of the merchant's key.
    pub fn client_mode(url: &str, store_uid: &str, code: &str) -> Result<Client, ClientError> {
        let mode = Mode::ClientMode {
            store_uid: store_uid.to_owned(),
        };
        Client::with_mode(url, mode, code)
    }

    /// The same client with another time limit per request (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The same client asking reads again at most `retries` times (default 2) when the
    /// gateway could not be reached or did not answer in time.
    pub fn with_read_retries(mut self, retries: u32) -> Client {
        self.read_retries = retries;
        self
    }

    /// Whose credentials this client seals with.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The endpoint it posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The merchant this client acts for, when it is one merchant's (not a dealer's).
    pub fn store_uid(&self) -> Option<&str> {
        match &self.mode {
            Mode::Store { store_uid } | Mode::ClientMode { store_uid } => Some(store_uid),
            Mode::Dealer { .. } => None,
        }
    }

    /// Seal `payload` for `command` and post it as a form, once; the raw JSON answer.
    pub async fn call_raw<T: Serialize>(
        &self,
        command: Command,
        payload: &T,
    ) -> Result<serde_json::Value, ClientError> {
        let service = serde_json::to_vec(&Service::api(command))
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let data = serde_json::to_vec(payload).map_err(|e| ClientError::Request(e.to_string()))?;
        let (store_uid, agent_uid) = match &self.mode {
            Mode::Store { store_uid } | Mode::ClientMode { store_uid } => {
                (Some(store_uid.clone()), None)
            }
            Mode::Dealer { agent_uid } => (None, Some(agent_uid.clone())),
        };
        let outer = OuterRequest {
            store_uid,
            agent_uid,
            service: Some(envelope::seal(&self.key, &service)),
            encry_data: Some(envelope::seal(&self.key, &data)),
        };
        let body = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(outer.to_form())
            .send()
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| ClientError::Answer(format!("{e}: {}", String::from_utf8_lossy(&body))))
    }

    /// A read, asked again while the gateway cannot be reached (never after an answer).
    async fn read_raw<T: Serialize>(
        &self,
        command: Command,
        payload: &T,
    ) -> Result<serde_json::Value, ClientError> {
        let mut attempt = 0;
        loop {
            match self.call_raw(command, payload).await {
                Err(e) if e.is_transport() && attempt < self.read_retries => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Send `command` (once, or as a read), and read the answer as `R` when its code is
    /// `ok_code` (or when it carries no refusal's code, with `ok_code` `None`).
    async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        command: Command,
        payload: &T,
        ok_code: Option<&str>,
        read: bool,
    ) -> Result<R, ClientError> {
        let value = if read {
            self.read_raw(command, payload).await?
        } else {
            self.call_raw(command, payload).await?
        };
        // A record (a query's, an invoice's) carries no `code`; an answer that carries
        // one other than the command's success code is a refusal.
        if let Some(code) = value.get("code").and_then(|c| c.as_str())
            && ok_code != Some(code)
        {
            let msg = value
                .get("msg")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned();
            return Err(ClientError::Refused {
                code: code.to_owned(),
                msg,
            });
        }
        serde_json::from_value(value).map_err(|e| ClientError::Answer(e.to_string()))
    }
}

/// The `{code, msg}` of a refusal, when an answer is one.
pub fn refusal(value: &serde_json::Value) -> Option<CodeMsg> {
    serde_json::from_value(value.clone()).ok()
}

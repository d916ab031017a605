//! mypay-client: a typed Rust client for the MYPAY LINK merchant API, usable against
//! mypay-gateway and against MYPAY's own endpoints, plus helpers for receiving notices.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mypay_client::ClientError> {
//! use mypay_client::Client;
//! let client = Client::new("http://127.0.0.1:8080/api/init", "289151880002", "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx")?;
//! let modes = client.payment_modes(1000, "TWD").await?;
//! # Ok(()) }
//! ```

use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::messages::{
    CodeMsg, InvoiceRecord, IssueInvoiceRequest, IssueInvoiceResponse, OrderRequest, OrderResponse,
    QueryRecord, SupportPayModeResponse,
};
use mypay_protocol::outer::OuterRequest;
use mypay_protocol::{Command, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use mypay_protocol as protocol;
pub use mypay_protocol::notice::{ACKNOWLEDGEMENT, TransactionNotice};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the key is not 32 bytes")]
    Key,
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the gateway answered {code}: {msg}")]
    Refused { code: String, msg: String },
    #[error("unexpected answer: {0}")]
    Answer(String),
}

/// Whose credentials seal the requests.
#[derive(Debug, Clone)]
enum Identity {
    Store(String),
    Agent(String),
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    identity: Identity,
    key: MerchantKey,
}

impl Client {
    /// A merchant's client: `url` is the full endpoint (`…/api/init`, or `…/api/open` with a
    /// client-mode verification code as `key`).
    pub fn new(url: &str, store_uid: &str, key: &str) -> Result<Client, ClientError> {
        Ok(Client {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            identity: Identity::Store(store_uid.to_owned()),
            key: MerchantKey::parse(key).map_err(|_| ClientError::Key)?,
        })
    }

    /// A dealer's client (`…/api/agent`); requests name the merchant in `store_uid`.
    pub fn dealer(url: &str, agent_uid: &str, key: &str) -> Result<Client, ClientError> {
        let mut c = Client::new(url, "", key)?;
        c.identity = Identity::Agent(agent_uid.to_owned());
        Ok(c)
    }

    /// Seal `payload` for `command` and post it as a form; the raw JSON answer.
    pub async fn call_raw<T: Serialize>(
        &self,
        command: Command,
        payload: &T,
    ) -> Result<serde_json::Value, ClientError> {
        let service = serde_json::to_vec(&Service::api(command))
            .map_err(|e| ClientError::Answer(e.to_string()))?;
        let data = serde_json::to_vec(payload).map_err(|e| ClientError::Answer(e.to_string()))?;
        let (store_uid, agent_uid) = match &self.identity {
            Identity::Store(s) => (Some(s.clone()), None),
            Identity::Agent(a) => (None, Some(a.clone())),
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
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(outer.to_form())
            .send()
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| ClientError::Answer(format!("{e}: {}", String::from_utf8_lossy(&body))))
    }

    async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        command: Command,
        payload: &T,
        ok_code: Option<&str>,
    ) -> Result<R, ClientError> {
        let value = self.call_raw(command, payload).await?;
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

    /// `api/orders`.
    pub async fn create_order(&self, order: &OrderRequest) -> Result<OrderResponse, ClientError> {
        self.call(Command::Orders, order, Some("200")).await
    }

    /// `api/queryorder`.
    pub async fn query_order(&self, uid: u64, key: &str) -> Result<QueryRecord, ClientError> {
        let payload = serde_json::json!({ "uid": uid.to_string(), "key": key });
        self.call(Command::QueryOrder, &payload, None).await
    }

    /// `api/issueinvoice`: issue the e-invoice of a paid transaction (its `uid` and `key`
    /// set in `request`); a refusal (`B500`) is an error naming why.
    pub async fn issue_invoice(
        &self,
        request: &IssueInvoiceRequest,
    ) -> Result<IssueInvoiceResponse, ClientError> {
        self.call(Command::IssueInvoice, request, Some("B200"))
            .await
    }

    /// `api/invoice`: a transaction's e-invoice (`state` 0 when it has none).
    pub async fn invoice(&self, uid: u64, key: &str) -> Result<InvoiceRecord, ClientError> {
        let payload = serde_json::json!({ "uid": uid.to_string(), "key": key });
        self.call(Command::Invoice, &payload, None).await
    }

    /// `api/paymentsupportpaymode`: the tool codes.
    pub async fn payment_modes(
        &self,
        cost: i64,
        currency: &str,
    ) -> Result<Vec<String>, ClientError> {
        let mut payload = serde_json::json!({ "cost": cost.to_string(), "currency": currency });
        if let Identity::Store(s) = &self.identity {
            payload["store_uid"] = serde_json::Value::String(s.clone());
        }
        let answer: SupportPayModeResponse = self
            .call(Command::PaymentSupportPayMode, &payload, Some("B200"))
            .await?;
        Ok(answer.content)
    }
}

/// Read a posted notice and check it belongs to the transaction `uid` with `key` (the
/// merchant's own record). Answer the gateway with [`ACKNOWLEDGEMENT`] when it does.
pub fn verify_notice(body: &[u8], uid: u64, key: &str) -> Option<TransactionNotice> {
    let notice = TransactionNotice::from_form(body);
    (notice.uid == uid.to_string() && notice.key == key).then_some(notice)
}

/// The `{code, msg}` of a refusal, when an answer is one.
pub fn refusal(value: &serde_json::Value) -> Option<CodeMsg> {
    serde_json::from_value(value.clone()).ok()
}

//! Receiving notices: what the gateway POSTs to a merchant's URLs (form bodies, not
//! encrypted), read into the document's types, checked, and acknowledged with `8888`.
//!
//! Notices are not signed: check each against what you know. A transaction or refund
//! notice names a transaction by `uid` and `key` (the pair `api/orders` answered): compare
//! them with your records ([`verify_notice`]), or ask the gateway itself
//! ([`Client::confirm`](crate::Client::confirm)). An e-wallet notice names the consumer
//! (`user_id`). Answer [`ACKNOWLEDGEMENT`] only once the notice is safely yours: the
//! gateway sends it again until then.

use crate::{Client, ClientError};
use mypay_protocol::messages::{QueryRecord, RefundRow};
use mypay_protocol::notice::{EwalletNotice, TransactionNotice};

pub use mypay_protocol::notice::ACKNOWLEDGEMENT;

/// A notice of any kind, as posted.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// 交易完成回傳資訊, 非即時交易回傳資訊 or 訂單確認回傳資訊: one form, sent to the URL
    /// of its kind (tell them apart by the URL it came to, or by `prc`).
    Transaction(Box<TransactionNotice>),
    /// 退款完成回傳資訊: a refund finished (`refund_uid`), sent to the refund URL.
    Refund(Box<RefundRow>),
    /// 電子錢包虛擬卡號回傳資訊: a card bound to (or removed from) a consumer's e-wallet.
    Ewallet(EwalletNotice),
}

/// Whether the form body names field `name`.
fn has_field(body: &[u8], name: &str) -> bool {
    body.split(|&b| b == b'&')
        .any(|pair| pair.split(|&b| b == b'=').next() == Some(name.as_bytes()))
}

impl Notice {
    /// Read a posted body: a refund notice carries `refund_uid`, an e-wallet notice
    /// `virtual_pan`; anything else is read as a transaction notice. Unknown fields are
    /// ignored.
    ///
    /// ```
    /// use mypay_client::Notice;
    /// let notice = Notice::parse(b"uid=42&key=abc&prc=250&order_id=A-1&cost=100");
    /// let Notice::Transaction(t) = notice else { panic!("a transaction notice") };
    /// assert_eq!((t.uid.as_str(), t.prc.as_str()), ("42", "250"));
    /// let wallet = Notice::parse(b"pfn=CREDITCARD&user_id=u1&virtual_pan=5599000000000001&enable=1");
    /// assert!(matches!(wallet, Notice::Ewallet(w) if w.user_id == "u1"));
    /// ```
    pub fn parse(body: &[u8]) -> Notice {
        if has_field(body, "refund_uid") {
            Notice::Refund(Box::new(RefundRow::from_form(body)))
        } else if has_field(body, "virtual_pan") {
            Notice::Ewallet(EwalletNotice::from_form(body))
        } else {
            Notice::Transaction(Box::new(TransactionNotice::from_form(body)))
        }
    }

    /// The transaction it is about (`uid`, `key`); `None` for an e-wallet notice.
    pub fn transaction(&self) -> Option<(u64, &str)> {
        match self {
            Notice::Transaction(t) => Some((t.uid.parse().ok()?, t.key.as_str())),
            Notice::Refund(r) => Some((r.uid, r.key.as_str())),
            Notice::Ewallet(_) => None,
        }
    }

    /// Whether it is about transaction `uid` with `key` (your own record of the pair
    /// `api/orders` answered). An e-wallet notice is about no transaction: false.
    pub fn is_about(&self, uid: u64, key: &str) -> bool {
        self.transaction() == Some((uid, key))
    }
}

/// Read a posted transaction notice and check that it is about transaction `uid` with
/// `key` (the merchant's own record). Answer [`ACKNOWLEDGEMENT`] when it is.
///
/// ```
/// use mypay_client::verify_notice;
/// assert!(verify_notice(b"uid=42&key=abc&prc=250", 42, "abc").is_some());
/// assert!(verify_notice(b"uid=42&key=forged&prc=250", 42, "abc").is_none());
/// ```
pub fn verify_notice(body: &[u8], uid: u64, key: &str) -> Option<TransactionNotice> {
    let notice = TransactionNotice::from_form(body);
    (notice.uid == uid.to_string() && notice.key == key).then_some(notice)
}

impl Client {
    /// Check a transaction or refund notice with the gateway: its `uid` and `key` are
    /// asked back with `api/queryorder`, and the record must agree with the notice (a
    /// transaction notice's state and amount; a refund notice's refund among the
    /// record's). The record, when it does. A notice no gateway would vouch for is
    /// [`ClientError::Answer`].
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-CONFIRM-1", 700).await?;
    /// use mypay_client::Notice;
    /// let posted = format!("uid={uid}&key={key}&prc=250&cost=700");
    /// let record = client.confirm(&Notice::parse(posted.as_bytes())).await?;
    /// assert_eq!(record.prc, "250");
    /// let forged = format!("uid={uid}&key={key}&prc=250&cost=1");
    /// assert!(client.confirm(&Notice::parse(forged.as_bytes())).await.is_err());
    /// # Ok(()) });
    /// ```
    pub async fn confirm(&self, notice: &Notice) -> Result<QueryRecord, ClientError> {
        let Some((uid, key)) = notice.transaction() else {
            return Err(ClientError::Answer(
                "an e-wallet notice names no transaction to confirm".into(),
            ));
        };
        let record = self.query_order(uid, key).await?;
        let agrees = match notice {
            Notice::Transaction(t) => {
                t.prc == record.prc && (t.cost.is_empty() || t.cost == record.cost.to_string())
            }
            // Each refund of the record: `uid` its refund number, `cost` as text.
            Notice::Refund(r) => record.refund_order.iter().any(|row| {
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text(&row["uid"]) == r.refund_uid.to_string()
                    && text(&row["cost"]) == r.cost.to_string()
            }),
            Notice::Ewallet(_) => false,
        };
        if agrees {
            Ok(record)
        } else {
            Err(ClientError::Answer(format!(
                "the gateway's record of transaction {uid} does not agree with the notice"
            )))
        }
    }
}

/// An axum route (`POST`) that reads each notice, hands it to `on_notice`, and answers
/// [`ACKNOWLEDGEMENT`] only when `on_notice` succeeded; otherwise `500` with the error, so
/// the gateway sends the notice again later.
///
/// ```
/// use mypay_client::Notice;
/// let app: axum::Router = axum::Router::new().route(
///     "/mypay/notify",
///     mypay_client::notices::handler(|notice: Notice| async move {
///         // Store it (in your database, in the same transaction as the order's state).
///         let _ = notice;
///         Ok::<(), std::io::Error>(())
///     }),
/// );
/// # let _ = app;
/// ```
#[cfg(feature = "axum")]
pub fn handler<F, Fut, E>(on_notice: F) -> axum::routing::MethodRouter
where
    F: Fn(Notice) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    use axum::http::StatusCode;
    axum::routing::post(move |body: axum::body::Bytes| {
        let on_notice = on_notice.clone();
        async move {
            match on_notice(Notice::parse(&body)).await {
                Ok(()) => (StatusCode::OK, ACKNOWLEDGEMENT.to_owned()),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("not taken: {e}")),
            }
        }
    })
}

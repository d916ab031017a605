//! A mypay-gateway sandbox's feed of a merchant's own notices (`POST
//! /sandbox/notifications/feed`): what `mypay listen` follows to forward a shared
//! sandbox's notices to a laptop. Not part of MYPAY's API.

use crate::{Client, ClientError, Mode};
use mypay_protocol::envelope;
use mypay_protocol::outer::OuterRequest;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One notice as the feed gives it: the exact body the gateway posts, with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FedNotice {
    /// The notice's id: the feed's cursor.
    pub id: i64,
    /// The transaction it is about.
    pub uid: u64,
    /// `completed`, `non_real_time`, `confirmation`, `refund` or `ewallet`.
    pub kind: String,
    /// The transaction's state it tells.
    pub prc: String,
    /// `pending`, `acknowledged` or `failed`, at the gateway.
    pub state: String,
    /// The body's media type (`application/x-www-form-urlencoded`).
    pub content_type: String,
    /// The body, exactly as the gateway posts it.
    pub body: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFeed {
    /// The notices after the cursor asked for, oldest first.
    pub notices: Vec<FedNotice>,
    /// The cursor to ask with next.
    pub last: i64,
}

/// The sandbox path beside the client's API endpoint.
fn feed_url(api_url: &str) -> String {
    let base = ["/api/init", "/api/open", "/api/agent"]
        .iter()
        .find_map(|p| api_url.trim_end_matches('/').strip_suffix(p))
        .unwrap_or(api_url);
    format!("{base}/sandbox/notifications/feed")
}

impl Client {
    /// The merchant's notices after `after` (0: from the first; -1: none, only the
    /// newest id as `last`), held open up to `wait` when there are none. A merchant's
    /// client only.
    pub async fn notice_feed(&self, after: i64, wait: Duration) -> Result<NoticeFeed, ClientError> {
        let Mode::Store { store_uid } = &self.mode else {
            return Err(ClientError::Request(
                "the notice feed is a merchant's: use its store_uid and key".into(),
            ));
        };
        let data = serde_json::json!({"after": after, "wait_secs": wait.as_secs()});
        let outer = OuterRequest {
            store_uid: Some(store_uid.clone()),
            agent_uid: None,
            service: None,
            encry_data: Some(envelope::seal(&self.key, data.to_string().as_bytes())),
        };
        let response = self
            .http
            .post(feed_url(&self.url))
            .timeout(wait + self.timeout)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(outer.to_form())
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            let why = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(ClientError::Refused {
                code: status.as_u16().to_string(),
                msg: why,
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Answer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_feed_is_beside_the_api_endpoint() {
        assert_eq!(
            super::feed_url("http://127.0.0.1:8080/api/init"),
            "http://127.0.0.1:8080/sandbox/notifications/feed"
        );
        assert_eq!(
            super::feed_url("https://sandbox.example/mypay/api/init/"),
            "https://sandbox.example/mypay/sandbox/notifications/feed"
        );
    }
}

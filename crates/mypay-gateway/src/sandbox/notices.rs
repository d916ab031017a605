//! The notification inspector: every notice with its fields and attempts, and a resend.

use crate::http::page_error::PageError;
use crate::state::AppState;
use crate::store::NoticeFilter;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/notifications", get(notifications))
        .route("/sandbox/notifications/{id}/resend", post(resend))
        .route("/sandbox/notifications/feed", post(feed))
}

/// At most this many notices in one answer of the feed.
const FEED_PAGE: i64 = 100;
/// The longest a feed request is held open waiting for a notice.
const FEED_MAX_WAIT_SECS: u64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedRequest {
    /// The last notice id already seen (0: from the start; -1: none, only the newest id
    /// as `last`, to start following from now).
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    after: Option<i64>,
    /// How long to wait when there is nothing newer (capped at 30 s).
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    wait_secs: Option<i64>,
}

/// `POST /sandbox/notifications/feed`: the merchant's own notices after `after`, oldest
/// first, for `mypay listen` to forward to a laptop. Sealed like an API request: the
/// merchant's `store_uid` and `encry_data` of `{"after": ID, "wait_secs": N}` under its
/// key (any valid key; nobody reads another merchant's notices). With nothing newer the
/// request is held open up to `wait_secs`: a notice is answered within a fifth of a second
/// of its being written, on any node.
async fn feed(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    use crate::store::CredentialOwner;
    use mypay_protocol::envelope;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let outer = mypay_protocol::outer::OuterRequest::from_body(content_type, &body)
        .map_err(|e| PageError::bad_request(format!("request body: {e}")))?;
    let store_uid = outer
        .store_uid
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PageError::bad_request("store_uid: is required"))?
        .to_owned();
    let sealed = outer
        .encry_data
        .as_deref()
        .ok_or_else(|| PageError::bad_request("encry_data: is required"))?;
    // Every way of failing to open it is answered alike.
    let unopened = || {
        PageError::refused(
            axum::http::StatusCode::UNAUTHORIZED,
            "encry_data: cannot be opened with a key of this store_uid",
        )
    };
    let raw = envelope::decode_base64(sealed).map_err(|_| unopened())?;
    let entry = state
        .directory
        .entry(CredentialOwner::Store, &store_uid)
        .await?;
    let now = state.now_for(&store_uid);
    let plain = entry
        .keys_at(now)
        .iter()
        .find_map(|key| envelope::open_bytes(key, &raw).ok())
        .ok_or_else(unopened)?;
    let request: FeedRequest = serde_json::from_slice(&plain).map_err(|e| {
        PageError::bad_request(format!(
            "encry_data: {{\"after\": ID, \"wait_secs\": N}} expected ({e})"
        ))
    })?;
    if request.after.is_some_and(|a| a < 0) {
        let newest = state
            .store
            .notices(&NoticeFilter {
                store_uid: Some(store_uid),
                page: Some((i64::MAX, 1)),
                ..NoticeFilter::default()
            })
            .await?;
        let last = newest.first().map_or(0, |n| n.id);
        return Ok(Json(json!({ "notices": [], "last": last })).into_response());
    }
    let after = request.after.unwrap_or(0).max(0);
    let wait = std::time::Duration::from_secs(
        request
            .wait_secs
            .unwrap_or(0)
            .clamp(0, FEED_MAX_WAIT_SECS as i64) as u64,
    );
    let deadline = tokio::time::Instant::now() + wait;
    let filter = NoticeFilter {
        store_uid: Some(store_uid),
        since: Some((after, FEED_PAGE)),
        ..NoticeFilter::default()
    };
    // Looked for every 200 ms: a notice written on any node shows within that. (The
    // outbox's waker is the delivery worker's alone: a waiter here would take its turn.)
    let rows = loop {
        let rows = state.store.notices(&filter).await?;
        let now = tokio::time::Instant::now();
        if !rows.is_empty() || now >= deadline {
            break rows;
        }
        tokio::time::sleep_until(deadline.min(now + std::time::Duration::from_millis(200))).await;
    };
    let last = rows.last().map_or(after, |n| n.id);
    let notices: Vec<Value> = rows
        .into_iter()
        .map(|n| {
            json!({
                "id": n.id,
                "uid": n.uid,
                "kind": n.kind,
                "prc": n.prc,
                "state": match n.status.as_str() {
                    "delivered" => "acknowledged",
                    "failed" => "failed",
                    _ => "pending",
                },
                "content_type": "application/x-www-form-urlencoded",
                "body": n.body,
                "created_at": n.created_at.to_string(),
            })
        })
        .collect();
    Ok(Json(json!({ "notices": notices, "last": last })).into_response())
}

#[derive(Deserialize)]
struct NoticeQuery {
    store_uid: Option<String>,
    uid: Option<u64>,
}

async fn notifications(
    State(state): State<AppState>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let filter = NoticeFilter {
        store_uid: q.store_uid,
        uid: q.uid,
        ..NoticeFilter::default()
    };
    let notices = state.store.notices(&filter).await?;
    let mut out = Vec::with_capacity(notices.len());
    for n in notices {
        let attempts = state.store.notice_attempts(n.id).await?;
        let mut v = serde_json::to_value(&n).unwrap_or(Value::Null);
        v["fields"] = serde_json::to_value(mypay_protocol::notice::TransactionNotice::from_form(
            n.body.as_bytes(),
        ))
        .unwrap_or(Value::Null);
        v["attempt_log"] = serde_json::to_value(attempts).unwrap_or(Value::Null);
        out.push(v);
    }
    Ok(Json(json!({ "notifications": out })).into_response())
}

/// One extra attempt, now, to the merchant's current URL for the notice's kind. It never
/// shortens what is left of the notice's schedule; its success ends it.
async fn resend(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, PageError> {
    match state.deliveries.resend(id).await? {
        Some(acknowledged) => Ok(Json(
            json!({ "resent": id, "notice_attempts": 1, "acknowledged": acknowledged }),
        )
        .into_response()),
        None => Err(PageError::not_found(format!("id: no notification {id}"))),
    }
}

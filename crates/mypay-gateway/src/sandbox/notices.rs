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

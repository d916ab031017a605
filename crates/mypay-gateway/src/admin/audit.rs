//! The audit log of every admin write: read a page at a time, checked, exported.

use super::{ErrorBody, Reader, internal};
use crate::service::admins;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/audit", get(audit))
        .route("/admin/api/v1/audit/verify", get(verify))
        .route("/admin/api/v1/audit/export", get(export))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Page {
    /// The `next` of the page before.
    after: Option<i64>,
}

const PAGE: i64 = 100;

/// `GET /admin/api/v1/audit?after=ID`: every admin write, newest first, 100 a page;
/// `next` is the `after` of the next page.
#[utoipa::path(
    get,
    path = "/admin/api/v1/audit",
    tag = "audit",
    summary = "Admin writes, newest first, 100 a page",
    params(Page),
    responses(
        (status = 200, description = "entries and next", body = Object),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody),
        (status = 401, description = "no live bearer token or session", body = ErrorBody)
    )
)]
pub(super) async fn audit(
    State(state): State<AppState>,
    _: Reader,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(page)) = page else {
        return super::error(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "after: the `next` of the page before",
        );
    };
    match state.store.audit(page.after, PAGE).await {
        Ok(entries) => {
            let next = (entries.len() as i64 == PAGE)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            Json(json!({"entries": entries, "next": next})).into_response()
        }
        Err(e) => internal(e),
    }
}

/// `GET /admin/api/v1/audit/verify`: `{"ok": true}` or `{"ok": false, "broken_at": ID}`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/audit/verify",
    tag = "audit",
    summary = "Check the hash chain",
    responses(
        (status = 200, description = "{ok} or {ok, broken_at}", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody)
    )
)]
pub(super) async fn verify(State(state): State<AppState>, _: Reader) -> Response {
    match admins::verify_audit(&state.store).await {
        Ok(None) => Json(json!({"ok": true})).into_response(),
        Ok(Some(id)) => Json(json!({"ok": false, "broken_at": id})).into_response(),
        Err(e) => internal(e),
    }
}

/// `GET /admin/api/v1/audit/export`: every entry, oldest first, one JSON object a line
/// (with each entry's `prev_hash` and `hash`, so the chain can be checked elsewhere).
#[utoipa::path(
    get,
    path = "/admin/api/v1/audit/export",
    tag = "audit",
    summary = "Every entry as JSON lines, oldest first",
    responses(
        (status = 200, description = "one JSON object a line", body = String, content_type = "application/jsonl"),
        (status = 401, description = "no live bearer token or session", body = ErrorBody)
    )
)]
pub(super) async fn export(State(state): State<AppState>, _: Reader) -> Response {
    let mut out = String::new();
    let mut after = 0;
    loop {
        let entries = match state.store.audit_from(after, 1000).await {
            Ok(entries) => entries,
            Err(e) => return internal(e),
        };
        let Some(last) = entries.last() else { break };
        after = last.id;
        for entry in &entries {
            out.push_str(&serde_json::to_string(entry).unwrap_or_default());
            out.push('\n');
        }
    }
    (
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}

//! Merchants, their keys and their client-mode verification codes.

use super::{ErrorBody, Reader, Writer, body, error, once, refused};
use crate::ledger::merchant::{RetrySchedule, SettingsChange, ToolSetting};
use crate::service::merchants::{Operator, redacted};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/merchants", get(list).post(create))
        .route(
            "/admin/api/v1/merchants/{store_uid}",
            get(show).patch(change),
        )
        .route("/admin/api/v1/merchants/{store_uid}/keys", get(keys))
        .route(
            "/admin/api/v1/merchants/{store_uid}/notify-test",
            post(notify_test),
        )
        .route(
            "/admin/api/v1/merchants/{store_uid}/keys/rotate",
            post(rotate),
        )
        .route(
            "/admin/api/v1/merchants/{store_uid}/keys/{id}/extend",
            post(extend),
        )
        .route(
            "/admin/api/v1/merchants/{store_uid}/keys/{id}/revoke",
            post(revoke),
        )
        .route(
            "/admin/api/v1/merchants/{store_uid}/client-codes",
            get(client_codes).post(issue_client_code),
        )
        .route(
            "/admin/api/v1/merchants/{store_uid}/client-codes/{id}",
            delete(revoke_client_code),
        )
}

/// `GET /admin/api/v1/merchants`: every merchant with its keys' validity on its own
/// clock (never a key).
#[utoipa::path(
    get,
    path = "/admin/api/v1/merchants",
    tag = "merchants",
    summary = "Every merchant with its keys' validity",
    responses(
        (status = 200, description = "merchants", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody)
    )
)]
pub(super) async fn list(State(state): State<AppState>, _: Reader) -> Response {
    match Operator::of(&state.core).merchants().await {
        Ok(list) => Json(json!({"merchants": list})).into_response(),
        Err(e) => refused(e),
    }
}

async fn view(state: &AppState, store_uid: &str) -> Response {
    let operator = Operator::of(&state.core);
    let view = match operator.merchant(store_uid).await {
        Ok(view) => view,
        Err(e) => return refused(e),
    };
    let agent_uid = match state.store.merchant(store_uid).await {
        Ok(m) => m.and_then(|m| m.agent_uid),
        Err(e) => return super::internal(e),
    };
    Json(json!({
        "store_uid": view.store_uid,
        "name": view.settings.name,
        "agent_uid": agent_uid,
        "keys": view.keys,
        // A secret of the merchant's e-invoices: that one is set, never what it is.
        "settings": redacted(&view.settings),
    }))
    .into_response()
}

/// `GET /admin/api/v1/merchants/{store_uid}`: its settings and keys' validity.
#[utoipa::path(
    get,
    path = "/admin/api/v1/merchants/{store_uid}",
    tag = "merchants",
    summary = "A merchant's settings and keys' validity",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 200, description = "the merchant", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    _: Reader,
) -> Response {
    view(&state, &store_uid).await
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMerchant {
    #[serde(default)]
    name: String,
}

/// `POST /admin/api/v1/merchants` `{"name": …}`: answers `store_uid` and `key`, once.
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants",
    tag = "merchants",
    summary = "A new merchant; its key is answered once",
    request_body = NewMerchant,
    responses(
        (status = 201, description = "store_uid and key", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn create(State(state): State<AppState>, who: Writer, bytes: Bytes) -> Response {
    let request: NewMerchant = match body(&bytes) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    match who.operator(&state).create_merchant(&request.name).await {
        Ok(made) => once(
            StatusCode::CREATED,
            json!({"store_uid": made.store_uid, "key": made.key}),
        ),
        Err(e) => refused(e),
    }
}

/// What `PATCH /admin/api/v1/merchants/{store_uid}` may change: only what is given.
/// An empty string unsets a URL or the contact e-mail.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Change {
    name: Option<String>,
    notify_url: Option<String>,
    completed_url: Option<String>,
    non_real_time_url: Option<String>,
    confirmation_url: Option<String>,
    refund_url: Option<String>,
    ewallet_url: Option<String>,
    success_returl: Option<String>,
    failure_returl: Option<String>,
    /// Each enabled tool with its limits and supplier:
    /// `[{"tool": "CREDITCARD", "min_amount": 1, "max_amount": 200000, "supplier": "…"}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    tools: Option<Vec<ToolSetting>>,
    strict_order_id: Option<bool>,
    /// `{"attempts": 5, "interval_secs": 300}`.
    #[schema(value_type = Option<Object>)]
    notice_retry: Option<RetrySchedule>,
    recurring_retry_days: Option<i64>,
    contact_email: Option<String>,
    invoice_ban: Option<String>,
    invoice_qr_key: Option<String>,
    invoice_by_default: Option<bool>,
}

/// `PATCH /admin/api/v1/merchants/{store_uid}`: change its settings; every value is
/// checked before anything is written. Answers the merchant as it now is.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/merchants/{store_uid}",
    tag = "merchants",
    summary = "Change a merchant's settings",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    request_body = Change,
    responses(
        (status = 200, description = "the merchant as it now is", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn change(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    who: Writer,
    bytes: Bytes,
) -> Response {
    let c: Change = match body(&bytes) {
        Ok(c) => c,
        Err(refusal) => return refusal.into_response(),
    };
    let change = SettingsChange {
        name: c.name,
        notify_url: c.notify_url,
        completed_url: c.completed_url,
        non_real_time_url: c.non_real_time_url,
        confirmation_url: c.confirmation_url,
        refund_url: c.refund_url,
        ewallet_url: c.ewallet_url,
        success_returl: c.success_returl,
        failure_returl: c.failure_returl,
        tools: None,
        tool_settings: c.tools,
        notice_retry: c.notice_retry,
        strict_order_id: c.strict_order_id,
        contact_email: c.contact_email,
        recurring_retry_days: c.recurring_retry_days,
        invoice_ban: c.invoice_ban,
        invoice_qr_key: c.invoice_qr_key,
        invoice_by_default: c.invoice_by_default,
    };
    if let Err(e) = who.operator(&state).change(&store_uid, &change).await {
        return refused(e);
    }
    view(&state, &store_uid).await
}

/// `GET /admin/api/v1/merchants/{store_uid}/keys`: every key's id and validity, never
/// the key.
#[utoipa::path(
    get,
    path = "/admin/api/v1/merchants/{store_uid}/keys",
    tag = "keys",
    summary = "Every key's id and validity, never a key",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 200, description = "keys", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn keys(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    _: Reader,
) -> Response {
    match Operator::of(&state.core).key_records(&store_uid).await {
        Ok(keys) => Json(json!({"keys": keys})).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rotate {
    #[serde(default)]
    revoke_old: bool,
}

/// `POST /admin/api/v1/merchants/{store_uid}/keys/rotate` `{"revoke_old": bool}`: a new
/// key, answered once; the old ones keep working 7 days, or stop now.
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants/{store_uid}/keys/rotate",
    tag = "keys",
    summary = "A new key, answered once",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    request_body = Rotate,
    responses(
        (status = 201, description = "the new key", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn rotate(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    who: Writer,
    bytes: Bytes,
) -> Response {
    let r: Rotate = match body(&bytes) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let operator = who.operator(&state);
    let made = match operator.rotate_key(&store_uid, r.revoke_old).await {
        Ok(made) => made,
        Err(e) => return refused(e),
    };
    let id = match operator.key_records(&store_uid).await {
        Ok(keys) => keys.first().map(|k| k.id),
        Err(e) => return refused(e),
    };
    once(
        StatusCode::CREATED,
        json!({"store_uid": made.store_uid, "id": id, "key": made.key}),
    )
}

fn key_id(text: &str) -> Result<i64, super::Refusal> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| super::refusal(StatusCode::NOT_FOUND, "id: not a key id"))
}

/// `POST /admin/api/v1/merchants/{store_uid}/keys/{id}/extend`: one more year, while
/// more than 7 days remain (409 after).
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants/{store_uid}/keys/{id}/extend",
    tag = "keys",
    summary = "Extend a key by a year while more than 7 days remain",
    params(("store_uid" = String, Path, description = "the merchant's store_uid"), ("id" = i64, Path, description = "the key's id")),
    responses(
        (status = 200, description = "the key", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 409, description = "refused as things stand", body = ErrorBody)
    )
)]
pub(super) async fn extend(
    State(state): State<AppState>,
    Path((store_uid, id)): Path<(String, String)>,
    who: Writer,
) -> Response {
    let id = match key_id(&id) {
        Ok(id) => id,
        Err(refusal) => return refusal.into_response(),
    };
    match who.operator(&state).extend_key(&store_uid, Some(id)).await {
        Ok(key) => Json(json!({"key": key})).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /admin/api/v1/merchants/{store_uid}/keys/{id}/revoke`: the key ends now.
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants/{store_uid}/keys/{id}/revoke",
    tag = "keys",
    summary = "End a key now",
    params(("store_uid" = String, Path, description = "the merchant's store_uid"), ("id" = i64, Path, description = "the key's id")),
    responses(
        (status = 200, description = "the key", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 409, description = "refused as things stand", body = ErrorBody)
    )
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path((store_uid, id)): Path<(String, String)>,
    who: Writer,
) -> Response {
    let id = match key_id(&id) {
        Ok(id) => id,
        Err(refusal) => return refusal.into_response(),
    };
    match who.operator(&state).revoke_key(&store_uid, id).await {
        Ok(key) => Json(json!({"key": key})).into_response(),
        Err(e) => refused(e),
    }
}

/// `GET /admin/api/v1/merchants/{store_uid}/client-codes`: ids and validity, no codes.
#[utoipa::path(
    get,
    path = "/admin/api/v1/merchants/{store_uid}/client-codes",
    tag = "client codes",
    summary = "Client-mode codes' ids and validity, never a code",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 200, description = "codes", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn client_codes(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    _: Reader,
) -> Response {
    match Operator::of(&state.core).client_codes(&store_uid).await {
        Ok(codes) => Json(json!({"client_codes": codes})).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /admin/api/v1/merchants/{store_uid}/client-codes`: a new verification code for
/// `/api/open`, answered once with its `id`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants/{store_uid}/client-codes",
    tag = "client codes",
    summary = "A new verification code for /api/open, answered once",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 201, description = "id and code", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn issue_client_code(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    who: Writer,
) -> Response {
    match who.operator(&state).issue_client_code(&store_uid).await {
        Ok(made) => once(
            StatusCode::CREATED,
            json!({"id": made.id, "store_uid": made.store_uid, "code": made.code}),
        ),
        Err(e) => refused(e),
    }
}

/// `DELETE /admin/api/v1/merchants/{store_uid}/client-codes/{id}`: the code is refused
/// from now on.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/merchants/{store_uid}/client-codes/{id}",
    tag = "client codes",
    summary = "Revoke a verification code",
    params(("store_uid" = String, Path, description = "the merchant's store_uid"), ("id" = i64, Path, description = "the code's id")),
    responses(
        (status = 200, description = "the code", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 409, description = "refused as things stand", body = ErrorBody)
    )
)]
pub(super) async fn revoke_client_code(
    State(state): State<AppState>,
    Path((store_uid, id)): Path<(String, String)>,
    who: Writer,
) -> Response {
    let id = match key_id(&id) {
        Ok(id) => id,
        Err(refusal) => return refusal.into_response(),
    };
    match who
        .operator(&state)
        .revoke_client_code(Some(&store_uid), id)
        .await
    {
        Ok(code) => Json(json!({"client_code": code})).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NotifyTest {
    kind: String,
}

/// `POST /admin/api/v1/merchants/{store_uid}/notify-test` `{"kind": …}`: a test notice
/// to the merchant's URL for that kind (`completed`, `non_real_time`, `confirmation`,
/// `refund`, `ewallet`; `non-real-time` too), sent once now; answers its attempt.
#[utoipa::path(
    post,
    path = "/admin/api/v1/merchants/{store_uid}/notify-test",
    tag = "merchants",
    summary = "Send a test notice to the merchant's URL for a kind",
    params(("store_uid" = String, Path, description = "the merchant's store_uid")),
    request_body = NotifyTest,
    responses(
        (status = 200, description = "the attempt", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn notify_test(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    who: Writer,
    bytes: Bytes,
) -> Response {
    let t: NotifyTest = match body(&bytes) {
        Ok(t) => t,
        Err(refusal) => return refusal.into_response(),
    };
    let kind = t.kind.trim().replace('-', "_");
    if ![
        "completed",
        "non_real_time",
        "confirmation",
        "refund",
        "ewallet",
    ]
    .contains(&kind.as_str())
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind: completed, non_real_time, confirmation, refund or ewallet",
        );
    }
    match state.deliveries.test_notice(&store_uid, &kind).await {
        Ok(Some(attempt)) => {
            who.operator(&state)
                .record(
                    "merchant.notify_test",
                    &store_uid,
                    serde_json::Value::Null,
                    json!({"kind": kind, "url": attempt.url, "acknowledged": attempt.acknowledged}),
                )
                .await;
            Json(json!({"attempt": attempt})).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "store_uid: no such merchant"),
        Err(e) => super::internal(e),
    }
}

//! The back office's HTTP layer, served on a listener of its own (`--admin-listen`), so
//! it is never exposed with the public gateway by accident. Every route needs a bearer
//! token (`mypay-gateway admin token LABEL --role …`); JSON in and out.
//!
//! So far: `GET|POST /admin/api/v1/merchants`, `GET /admin/api/v1/merchants/{store_uid}`,
//! `GET /admin/api/v1/audit` and `GET /admin/api/v1/audit/verify`. Every write is in the
//! audit log.

use crate::service::admins;
use crate::service::merchants::{Operator, OperatorError};
use crate::state::AppState;
use crate::store::AdminRole;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/admin/api/v1/merchants",
            get(merchants).post(create_merchant),
        )
        .route("/admin/api/v1/audit", get(audit))
        .route("/admin/api/v1/audit/verify", get(verify_audit))
        .route("/admin/api/v1/merchants/{store_uid}", get(merchant))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such admin path") })
        .with_state(state)
}

fn error(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": text})),
    )
        .into_response()
}

/// Who is asking: a live bearer token's label and role, or the answer refusing them.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<(String, AdminRole), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return Err(error(StatusCode::UNAUTHORIZED, "a bearer token is needed"));
    };
    match admins::authenticate(&state.store, token).await {
        Ok(Some(who)) => Ok(who),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            "the token is not a live admin token",
        )),
        Err(e) => {
            tracing::error!(error = %e, "checking an admin token");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, "please retry"))
        }
    }
}

/// A caller who may act (an operator), or the answer refusing a viewer.
async fn operator(state: &AppState, headers: &HeaderMap) -> Result<String, Response> {
    let (label, role) = caller(state, headers).await?;
    if role != AdminRole::Operator {
        return Err(error(StatusCode::FORBIDDEN, "viewers read only"));
    }
    Ok(format!("token:{label}"))
}

fn internal(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "admin API");
    error(StatusCode::SERVICE_UNAVAILABLE, "please retry")
}

/// What an operator's command failed on, as the admin API answers it.
fn refused(e: OperatorError) -> Response {
    match e {
        OperatorError::Refused(r) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{}: {}", r.field, r.problem),
        ),
        OperatorError::NoMerchant(_) => error(StatusCode::NOT_FOUND, "store_uid: no such merchant"),
        OperatorError::Store(e) => internal(e),
    }
}

/// `GET /admin/api/v1/merchants`: every merchant with its keys' validity on its own
/// clock (never a key).
async fn merchants(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = caller(&state, &headers).await {
        return refused;
    }
    match Operator::of(&state.core).merchants().await {
        Ok(list) => Json(json!({"merchants": list})).into_response(),
        Err(e) => refused(e),
    }
}

/// `GET /admin/api/v1/merchants/{store_uid}`: its settings and keys' validity.
async fn merchant(
    State(state): State<AppState>,
    Path(store_uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = caller(&state, &headers).await {
        return refused;
    }
    let mut view = match Operator::of(&state.core).merchant(&store_uid).await {
        Ok(view) => view,
        Err(e) => return refused(e),
    };
    // A secret of the merchant's e-invoices: that one is set, never what it is.
    if view.settings.invoice.qr_key.is_some() {
        view.settings.invoice.qr_key = Some("(set)".into());
    }
    Json(json!({
        "store_uid": view.store_uid,
        "name": view.settings.name,
        "keys": view.keys,
        "settings": view.settings,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMerchant {
    #[serde(default)]
    name: String,
}

/// `POST /admin/api/v1/merchants` `{"name": …}`: answers `store_uid` and `key`, once.
async fn create_merchant(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let actor = match operator(&state, &headers).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let request: NewMerchant = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("body: {e}")),
    };
    let made = match Operator::of(&state.core)
        .create_merchant(&request.name)
        .await
    {
        Ok(made) => made,
        Err(e) => return refused(e),
    };
    let after = json!({"store_uid": made.store_uid, "name": request.name});
    if let Err(e) = admins::audit(
        &state.store,
        &actor,
        "merchant.create",
        &made.store_uid,
        &serde_json::Value::Null,
        &after,
        jiff::Timestamp::now(),
    )
    .await
    {
        tracing::error!(error = %e, "recording an admin write");
    }
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"store_uid": made.store_uid, "key": made.key})),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Page {
    after: Option<i64>,
}

/// `GET /admin/api/v1/audit?after=ID`: every admin write, newest first, 100 a page.
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(page): axum::extract::Query<Page>,
) -> Response {
    if let Err(refused) = caller(&state, &headers).await {
        return refused;
    }
    match state.store.audit(page.after, 100).await {
        Ok(entries) => {
            let next = (entries.len() == 100)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            Json(json!({"entries": entries, "next": next})).into_response()
        }
        Err(e) => internal(e),
    }
}

/// `GET /admin/api/v1/audit/verify`: `{"ok": true}` or `{"ok": false, "broken_at": ID}`.
async fn verify_audit(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = caller(&state, &headers).await {
        return refused;
    }
    match admins::verify_audit(&state.store).await {
        Ok(None) => Json(json!({"ok": true})).into_response(),
        Ok(Some(id)) => Json(json!({"ok": false, "broken_at": id})).into_response(),
        Err(e) => internal(e),
    }
}

//! The back office's HTTP layer, served on a listener of its own (`--admin-listen`), so
//! it is never exposed with the public gateway by accident. Every route needs a bearer
//! token (`mypay-gateway admin token LABEL --role …`); JSON in and out.
//!
//! So far: `GET /admin/api/v1/merchants` and `GET /admin/api/v1/merchants/{store_uid}`.

use crate::service::admins;
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
        .route("/admin/api/v1/merchants", get(merchants))
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

fn internal(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "admin API");
    error(StatusCode::SERVICE_UNAVAILABLE, "please retry")
}

/// `GET /admin/api/v1/merchants`: every merchant with its keys' validity (never a key).
async fn merchants(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = caller(&state, &headers).await {
        return refused;
    }
    match state.store.merchant_summaries(jiff::Timestamp::now()).await {
        Ok(list) => Json(json!({"merchants": list})).into_response(),
        Err(e) => internal(e),
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
    let found = match state.store.merchant_summaries(jiff::Timestamp::now()).await {
        Ok(list) => list.into_iter().find(|m| m.store_uid == store_uid),
        Err(e) => return internal(e),
    };
    let settings = match state.store.merchant(&store_uid).await {
        Ok(m) => m.map(|m| m.settings),
        Err(e) => return internal(e),
    };
    match (found, settings) {
        (Some(summary), Some(mut settings)) => {
            // A secret of the merchant's e-invoices: that one is set, never what it is.
            if settings.invoice.qr_key.is_some() {
                settings.invoice.qr_key = Some("(set)".into());
            }
            Json(json!({
            "store_uid": summary.store_uid,
            "name": summary.name,
            "keys": summary.keys,
            "settings": settings,
            }))
            .into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "store_uid: no such merchant"),
    }
}

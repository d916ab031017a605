//! `POST /upstream/{name}/callback`: an upstream's signed callback. 401 for a missing,
//! wrong or stale signature (or no such upstream), 409 for a `webhook-id` seen before;
//! neither changes anything.

use crate::service::callbacks::{Received, receive};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Callbacks larger than this are refused unread: an outcome is a few hundred bytes.
pub const MAX_CALLBACK: usize = 64 * 1024;

pub async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(upstreams) = state.settings.upstreams.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if body.len() > MAX_CALLBACK {
        return (StatusCode::PAYLOAD_TOO_LARGE, "callback too large").into_response();
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    match receive(&state.core, &upstreams, &name, header, &body).await {
        Ok(Received::Applied | Received::Recorded) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"received": true})),
        )
            .into_response(),
        Ok(Received::Replayed) => {
            (StatusCode::CONFLICT, "this webhook-id was received before").into_response()
        }
        Ok(Received::Refused) => (
            StatusCode::UNAUTHORIZED,
            "signature missing, wrong or stale",
        )
            .into_response(),
        Ok(Received::Malformed) => (
            StatusCode::BAD_REQUEST,
            "body: not a callback of protocol v1",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, upstream = name, "recording an upstream callback");
            // Not recorded: the upstream sends it again.
            (StatusCode::SERVICE_UNAVAILABLE, "please retry").into_response()
        }
    }
}

//! The sandbox's test clocks, read and moved from the back office (the shared clock or a
//! merchant's own). In production there is no test clock: these paths answer 404.

use super::{Reader, Writer, body};
use crate::config::Mode;
use crate::sandbox::clocks::{Advance, advance_clock, read_clock};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/clock", get(clock))
        .route("/admin/api/v1/clock/advance", post(advance))
}

fn sandbox_only(state: &AppState) -> Result<(), super::Refusal> {
    if state.settings.mode == Mode::Sandbox {
        Ok(())
    } else {
        Err(super::refusal(
            StatusCode::NOT_FOUND,
            "the test clock exists in sandbox mode only",
        ))
    }
}

#[derive(serde::Deserialize)]
struct ClockQuery {
    store_uid: Option<String>,
}

/// `GET /admin/api/v1/clock[?store_uid=…]`.
async fn clock(State(state): State<AppState>, _: Reader, Query(q): Query<ClockQuery>) -> Response {
    if let Err(refusal) = sandbox_only(&state) {
        return refusal.into_response();
    }
    match read_clock(&state, q.store_uid.as_deref()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /admin/api/v1/clock/advance` `{"seconds": N, "store_uid": …}`: moves the clock and
/// runs everything that fell due before answering.
async fn advance(State(state): State<AppState>, who: Writer, bytes: Bytes) -> Response {
    if let Err(refusal) = sandbox_only(&state) {
        return refusal.into_response();
    }
    let req: Advance = match body(&bytes) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let before = match read_clock(&state, req.store_uid.as_deref()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match advance_clock(&state, &req).await {
        Ok(after) => {
            let subject = req.store_uid.as_deref().unwrap_or("shared");
            who.operator(&state)
                .record("clock.advance", subject, before, after.clone())
                .await;
            Json(after).into_response()
        }
        Err(e) => e.into_response(),
    }
}

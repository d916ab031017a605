//! The sandbox's test clocks, read and moved from the back office (the shared clock or a
//! merchant's own). In production there is no test clock: these paths answer 404.

use super::{ErrorBody, Reader, Writer, body};
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

/// A sandbox clock's refusal as the admin API answers refusals: a value refused is 422.
fn refusal_of(e: crate::http::page_error::PageError) -> Response {
    let status = match e.status() {
        StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
        other => other,
    };
    super::error(status, e.message())
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

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ClockQuery {
    /// A merchant with a clock of its own; the shared clock when absent.
    store_uid: Option<String>,
}

/// `{"seconds": N, "store_uid": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes what `Advance` reads.
pub(super) struct AdvanceBody {
    /// Whole seconds ≥ 0; the clock goes at most 100 years ahead.
    seconds: i64,
    /// A merchant's own clock; the shared one when absent.
    store_uid: Option<String>,
}

/// `GET /admin/api/v1/clock[?store_uid=…]`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/clock",
    tag = "clock",
    summary = "The sandbox's shared clock or a merchant's own",
    params(ClockQuery),
    responses(
        (status = 200, description = "the clock", body = Object),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn clock(
    State(state): State<AppState>,
    _: Reader,
    q: Result<Query<ClockQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return super::error(StatusCode::UNPROCESSABLE_ENTITY, "query: store_uid only");
    };
    if let Err(refusal) = sandbox_only(&state) {
        return refusal.into_response();
    }
    match read_clock(&state, q.store_uid.as_deref()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => refusal_of(e),
    }
}

/// `POST /admin/api/v1/clock/advance` `{"seconds": N, "store_uid": …}`: moves the clock and
/// runs everything that fell due before answering.
#[utoipa::path(
    post,
    path = "/admin/api/v1/clock/advance",
    tag = "clock",
    summary = "Move a sandbox clock forward and run what fell due",
    request_body = AdvanceBody,
    responses(
        (status = 200, description = "the clock moved", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn advance(State(state): State<AppState>, who: Writer, bytes: Bytes) -> Response {
    if let Err(refusal) = sandbox_only(&state) {
        return refusal.into_response();
    }
    let req: Advance = match body(&bytes) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let before = match read_clock(&state, req.store_uid.as_deref()).await {
        Ok(v) => v,
        Err(e) => return refusal_of(e),
    };
    match advance_clock(&state, &req).await {
        Ok(after) => {
            let subject = req.store_uid.as_deref().unwrap_or("shared");
            who.operator(&state)
                .record("clock.advance", subject, before, after.clone())
                .await;
            Json(after).into_response()
        }
        Err(e) => refusal_of(e),
    }
}

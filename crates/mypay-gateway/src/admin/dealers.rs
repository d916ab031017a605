//! Dealers (`/api/agent`) and the merchants each acts for.

use super::{ErrorBody, Reader, Writer, body, once, refused};
use crate::service::merchants::Operator;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/dealers", get(list).post(create))
        .route(
            "/admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}",
            put(attach).delete(detach),
        )
}

/// `GET /admin/api/v1/dealers`: every dealer with the merchants it acts for.
#[utoipa::path(
    get,
    path = "/admin/api/v1/dealers",
    tag = "dealers",
    summary = "Dealers with their merchants",
    responses(
        (status = 200, description = "dealers", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody)
    )
)]
pub(super) async fn list(State(state): State<AppState>, _: Reader) -> Response {
    match Operator::of(&state.core).dealers().await {
        Ok(dealers) => Json(json!({"dealers": dealers})).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDealer {
    #[serde(default)]
    name: String,
}

/// `POST /admin/api/v1/dealers` `{"name": …}`: answers `agent_uid` and `key`, once.
#[utoipa::path(
    post,
    path = "/admin/api/v1/dealers",
    tag = "dealers",
    summary = "A new dealer; its key is answered once",
    request_body = NewDealer,
    responses(
        (status = 201, description = "agent_uid and key", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn create(State(state): State<AppState>, who: Writer, bytes: Bytes) -> Response {
    let request: NewDealer = match body(&bytes) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    match who.operator(&state).create_dealer(&request.name).await {
        Ok(made) => once(
            StatusCode::CREATED,
            json!({"agent_uid": made.agent_uid, "key": made.key}),
        ),
        Err(e) => refused(e),
    }
}

async fn link(
    state: &AppState,
    who: &Writer,
    agent_uid: &str,
    store_uid: &str,
    attach: bool,
) -> Response {
    match who
        .operator(state)
        .link_dealer(agent_uid, store_uid, attach)
        .await
    {
        Ok(()) => Json(json!({
            "agent_uid": agent_uid,
            "store_uid": store_uid,
            "attached": attach,
        }))
        .into_response(),
        Err(e) => refused(e),
    }
}

/// `PUT /admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}`: the dealer acts for
/// the merchant from now on (409 when another dealer does).
#[utoipa::path(
    put,
    path = "/admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}",
    tag = "dealers",
    summary = "The dealer acts for the merchant",
    params(("agent_uid" = String, Path, description = "the dealer's agent_uid"), ("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 200, description = "attached", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody),
        (status = 409, description = "refused as things stand", body = ErrorBody)
    )
)]
pub(super) async fn attach(
    State(state): State<AppState>,
    Path((agent_uid, store_uid)): Path<(String, String)>,
    who: Writer,
) -> Response {
    link(&state, &who, &agent_uid, &store_uid, true).await
}

/// `DELETE /admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}`: it no longer does.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/dealers/{agent_uid}/merchants/{store_uid}",
    tag = "dealers",
    summary = "The dealer no longer acts for the merchant",
    params(("agent_uid" = String, Path, description = "the dealer's agent_uid"), ("store_uid" = String, Path, description = "the merchant's store_uid")),
    responses(
        (status = 200, description = "detached", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn detach(
    State(state): State<AppState>,
    Path((agent_uid, store_uid)): Path<(String, String)>,
    who: Writer,
) -> Response {
    link(&state, &who, &agent_uid, &store_uid, false).await
}

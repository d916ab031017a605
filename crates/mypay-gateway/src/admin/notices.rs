//! Notices and e-mails: listed, and sent again (any notice, acknowledged ones too, to
//! the merchant's current URL; any e-mail, as a new one).

use super::orders::notice_state;
use super::{ErrorBody, Reader, Writer, error, internal};
use crate::state::AppState;
use crate::store::NoticeFilter;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/notices", get(notices))
        .route("/admin/api/v1/notices/{id}/resend", post(resend_notice))
        .route("/admin/api/v1/emails", get(emails))
        .route("/admin/api/v1/emails/{id}", get(email))
        .route("/admin/api/v1/emails/{id}/resend", post(resend_email))
}

const PAGE: i64 = 100;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct NoticeQuery {
    store_uid: Option<String>,
    uid: Option<String>,
    /// `pending`, `acknowledged` or `failed`.
    state: Option<String>,
    /// The `next` of the page before.
    after: Option<String>,
}

fn id_of(text: &str, field: &str) -> Result<i64, super::Refusal> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            super::refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("{field}: a whole number ≥ 0"),
            )
        })
}

/// `GET /admin/api/v1/notices?store_uid=&uid=&state=pending|acknowledged|failed&after=`:
/// newest first, 100 a page.
#[utoipa::path(
    get,
    path = "/admin/api/v1/notices",
    tag = "notices",
    summary = "Notices, newest first, 100 a page",
    params(NoticeQuery),
    responses(
        (status = 200, description = "notices and next", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn notices(
    State(state): State<AppState>,
    _: Reader,
    q: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "query: the filters are store_uid, uid, state and after",
        );
    };
    let status = match q.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("pending") => Some("pending"),
        Some("acknowledged") => Some("delivered"),
        Some("failed") => Some("failed"),
        Some(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "state: pending, acknowledged or failed",
            );
        }
    };
    let uid = match q.uid.as_deref().filter(|u| !u.trim().is_empty()) {
        None => None,
        Some(u) => match id_of(u, "uid") {
            Ok(u) => Some(u as u64),
            Err(refusal) => return refusal.into_response(),
        },
    };
    let before = match q.after.as_deref().filter(|a| !a.trim().is_empty()) {
        None => i64::MAX,
        Some(a) => match id_of(a, "after") {
            Ok(a) => a,
            Err(refusal) => return refusal.into_response(),
        },
    };
    let filter = NoticeFilter {
        store_uid: q.store_uid.filter(|s| !s.trim().is_empty()),
        uid,
        status,
        page: Some((before, PAGE)),
        since: None,
    };
    let rows = match state.store.notices(&filter).await {
        Ok(rows) => rows,
        Err(e) => return internal(e),
    };
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|n| n.id))
        .flatten();
    let list: Vec<_> = rows
        .iter()
        .map(|n| {
            json!({
                "id": n.id, "uid": n.uid, "store_uid": n.store_uid, "kind": n.kind,
                "prc": n.prc, "state": notice_state(&n.status), "url": n.url,
                "attempts": n.attempts, "max_attempts": n.max_attempts,
                "next_attempt_at": n.next_attempt_at.to_string(),
                "created_at": n.created_at.to_string(), "body": n.body,
            })
        })
        .collect();
    Json(json!({"notices": list, "next": next})).into_response()
}

/// `POST /admin/api/v1/notices/{id}/resend`: one more attempt now, to the merchant's
/// current URL for the notice's kind; answers that attempt.
#[utoipa::path(
    post,
    path = "/admin/api/v1/notices/{id}/resend",
    tag = "notices",
    summary = "One more attempt now, to the current URL",
    params(("id" = i64, Path, description = "the notice's id")),
    responses(
        (status = 200, description = "the attempt", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn resend_notice(
    State(state): State<AppState>,
    Path(id): Path<String>,
    who: Writer,
) -> Response {
    let Ok(id) = id_of(&id, "id") else {
        return error(StatusCode::NOT_FOUND, "id: no such notice");
    };
    let notice = match state.store.notice(id).await {
        Ok(Some(n)) => n,
        Ok(None) => return error(StatusCode::NOT_FOUND, "id: no such notice"),
        Err(e) => return internal(e),
    };
    let acknowledged = match state.deliveries.resend(id).await {
        Ok(Some(ack)) => ack,
        Ok(None) => return error(StatusCode::NOT_FOUND, "id: no such notice"),
        Err(e) => return internal(e),
    };
    let attempt = match state.store.notice_attempts(id).await {
        Ok(attempts) => attempts.into_iter().last(),
        Err(e) => return internal(e),
    };
    who.operator(&state)
        .record(
            "notice.resend",
            &format!("order:{}", notice.uid),
            json!({"notice_id": id, "state": notice_state(&notice.status)}),
            json!({"notice_id": id, "acknowledged": acknowledged}),
        )
        .await;
    Json(json!({"id": id, "acknowledged": acknowledged, "attempt": attempt})).into_response()
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailQuery {
    uid: Option<String>,
    after: Option<String>,
}

/// `GET /admin/api/v1/emails?uid=&after=`: newest first, 100 a page.
#[utoipa::path(
    get,
    path = "/admin/api/v1/emails",
    tag = "emails",
    summary = "E-mails, newest first, 100 a page",
    params(EmailQuery),
    responses(
        (status = 200, description = "emails and next", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn emails(
    State(state): State<AppState>,
    _: Reader,
    q: Result<Query<EmailQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "query: the filters are uid and after",
        );
    };
    let uid = match q.uid.as_deref().filter(|u| !u.trim().is_empty()) {
        None => None,
        Some(u) => match id_of(u, "uid") {
            Ok(u) => Some(u as u64),
            Err(refusal) => return refusal.into_response(),
        },
    };
    let before = match q.after.as_deref().filter(|a| !a.trim().is_empty()) {
        None => None,
        Some(a) => match id_of(a, "after") {
            Ok(a) => Some(a),
            Err(refusal) => return refusal.into_response(),
        },
    };
    match state.store.emails(before, uid, PAGE).await {
        Ok(rows) => {
            let next = (rows.len() as i64 == PAGE)
                .then(|| rows.last().map(|m| m.id))
                .flatten();
            Json(json!({"emails": rows, "next": next})).into_response()
        }
        Err(e) => internal(e),
    }
}

/// `GET /admin/api/v1/emails/{id}`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/emails/{id}",
    tag = "emails",
    summary = "One e-mail",
    params(("id" = i64, Path, description = "the e-mail's id")),
    responses(
        (status = 200, description = "the e-mail", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn email(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Reader,
) -> Response {
    let Ok(id) = id_of(&id, "id") else {
        return error(StatusCode::NOT_FOUND, "id: no such e-mail");
    };
    match state.store.email(id).await {
        Ok(Some(mail)) => Json(json!({"email": mail})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "id: no such e-mail"),
        Err(e) => internal(e),
    }
}

/// `POST /admin/api/v1/emails/{id}/resend`: the e-mail queued again, as a new one.
#[utoipa::path(
    post,
    path = "/admin/api/v1/emails/{id}/resend",
    tag = "emails",
    summary = "Queue an e-mail again, as a new one",
    params(("id" = i64, Path, description = "the e-mail's id")),
    responses(
        (status = 201, description = "the new e-mail's id", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 403, description = "a viewer, or a session's write without its form token", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn resend_email(
    State(state): State<AppState>,
    Path(id): Path<String>,
    who: Writer,
) -> Response {
    let Ok(id) = id_of(&id, "id") else {
        return error(StatusCode::NOT_FOUND, "id: no such e-mail");
    };
    let original = match state.store.email(id).await {
        Ok(Some(mail)) => mail,
        Ok(None) => return error(StatusCode::NOT_FOUND, "id: no such e-mail"),
        Err(e) => return internal(e),
    };
    let at = state.clocks.shared().now();
    match state.store.resend_email(id, at).await {
        Ok(Some(new_id)) => {
            let subject = original
                .order_uid
                .map_or_else(|| format!("email:{id}"), |u| format!("order:{u}"));
            who.operator(&state)
                .record(
                    "email.resend",
                    &subject,
                    json!({"email_id": id}),
                    json!({"email_id": new_id}),
                )
                .await;
            (
                StatusCode::CREATED,
                Json(json!({"id": new_id, "resent": id})),
            )
                .into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "id: no such e-mail"),
        Err(e) => internal(e),
    }
}

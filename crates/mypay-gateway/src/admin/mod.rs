//! The back office's HTTP layer, served on a listener of its own (`--admin-listen`), so
//! it is never exposed with the public gateway by accident. Every route but the OpenAPI
//! document needs a bearer token (`mypay-gateway admin token LABEL --role …`); JSON in
//! and out, times RFC 3339. Viewers read; operators also act, and every act is in the
//! audit log under their name.

mod audit;
mod clock;
mod dashboard;
mod dealers;
mod merchants;
mod notices;
mod openapi;
mod orders;

use crate::service::admins;
use crate::service::merchants::{Operator, OperatorError};
use crate::state::AppState;
use crate::store::AdminRole;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(merchants::routes())
        .merge(dealers::routes())
        .merge(audit::routes())
        .merge(clock::routes())
        .merge(dashboard::routes())
        .merge(openapi::routes())
        .merge(orders::routes())
        .merge(notices::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such admin path") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), access))
        .with_state(state)
}

/// Every request to the back office, refused ones too: its id, its access line and its
/// count (`admin` in `/metrics`).
async fn access(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let id = crate::http::ops::request_id(&state, request.headers());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let peer = crate::http::serve::peer(request.extensions()).map(|a| a.ip());
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    state
        .metrics
        .answered("admin", crate::http::ops::status_label(status), elapsed);
    crate::http::ops::set_request_id(&mut response, &id);
    span.in_scope(|| {
        crate::http::ops::log_access(method.as_str(), uri.path(), status.as_u16(), elapsed, peer)
    });
    response
}

/// Every refusal's body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the answers `error` makes.
pub(crate) struct ErrorBody {
    /// What was refused, starting with the field's name when one is at fault.
    error: String,
}

/// An answer of the admin API refusing or failing: `{"error": …}`, never cached.
pub(crate) fn error(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": text})),
    )
        .into_response()
}

/// A refusal on its way to becoming an answer (small, so helpers can return it).
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub text: String,
}

pub(crate) fn refusal(status: StatusCode, text: &str) -> Refusal {
    Refusal {
        status,
        text: text.to_owned(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, &self.text)
    }
}

/// An answer carrying a secret shown once (a key, a code): never cached.
pub(crate) fn once(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Anyone signed in: a live bearer token, or a dashboard session (its cookie), with the
/// name the audit log gives them and their role.
pub(crate) struct Reader {
    pub actor: String,
    pub role: AdminRole,
    /// A session's form token; `None` for a bearer token.
    pub csrf: Option<String>,
}

/// The dashboard session's cookie.
pub(crate) const SESSION_COOKIE: &str = "mypay_admin";

/// The value of cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Someone who may act: an operator.
pub(crate) struct Writer {
    pub actor: String,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = token else {
            // No token: a dashboard session, else nothing.
            if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
                match admins::session(&state.store, value, jiff::Timestamp::now()).await {
                    Ok(Some(s)) => {
                        return Ok(Reader {
                            actor: format!("user:{}", s.user),
                            role: s.role,
                            csrf: Some(s.csrf),
                        });
                    }
                    Ok(None) => {}
                    Err(e) => return Err(internal(e)),
                }
            }
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "a bearer token (or a dashboard session) is needed",
            ));
        };
        match admins::authenticate(&state.store, token).await {
            Ok(Some((label, role))) => Ok(Reader {
                actor: format!("token:{label}"),
                role,
                csrf: None,
            }),
            Ok(None) => Err(error(
                StatusCode::UNAUTHORIZED,
                "the token is not a live admin token",
            )),
            Err(e) => Err(internal(e)),
        }
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let reader = Reader::from_request_parts(parts, state).await?;
        if reader.role != AdminRole::Operator {
            return Err(error(StatusCode::FORBIDDEN, "viewers read only"));
        }
        // A write by a session's cookie must carry the session's form token: a cookie
        // alone is what another site could make a browser send.
        if let Some(csrf) = &reader.csrf {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(error(
                    StatusCode::FORBIDDEN,
                    "x-csrf-token: the session's form token is needed for a write",
                ));
            }
        }
        Ok(Writer {
            actor: reader.actor,
        })
    }
}

impl Writer {
    /// The operator's hold on the gateway, its writes recorded as this caller's.
    pub(crate) fn operator(&self, state: &AppState) -> Operator {
        Operator::of(&state.core).acting_as(self.actor.clone())
    }
}

pub(crate) fn internal(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "admin API");
    error(StatusCode::SERVICE_UNAVAILABLE, "please retry")
}

/// What an operator's command failed on, as the admin API answers it.
pub(crate) fn refused(e: OperatorError) -> Response {
    match e {
        OperatorError::Refused(r) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{}: {}", r.field, r.problem),
        ),
        OperatorError::NoMerchant(_) => error(StatusCode::NOT_FOUND, "store_uid: no such merchant"),
        OperatorError::Missing(what) => error(StatusCode::NOT_FOUND, &what),
        OperatorError::Conflict(why) => error(StatusCode::CONFLICT, &why),
        OperatorError::Store(e) => internal(e),
    }
}

/// A JSON body, read as `T`; an empty body reads as `{}` (every field left out).
pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| refusal(StatusCode::UNPROCESSABLE_ENTITY, &format!("body: {e}")))
}

//! The merchant API: `POST /api/init` (store mode), `/api/agent` (dealer mode) and
//! `/api/open` (client mode). Every answer is HTTP 200 with the result in `code`/`msg`
//! (the C# and Java samples lose the body of a 4xx), as `application/json; charset=utf-8`.

mod auth;
mod authorisation;
pub use authorisation::CAPTURE_BATCH;
mod error;
mod lookup;
mod orders;
pub use orders::new_token;
mod paymodes;
mod query;
mod refunds;

pub use error::ApiError;

use crate::app::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mypay_protocol::Command;

/// Which endpoint a request came in on; decides whose key seals it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Init,
    Agent,
    Open,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/init", post(init))
        .route("/api/agent", post(agent))
        .route("/api/open", post(open))
}

async fn init(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::Init, headers, body).await
}

async fn agent(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::Agent, headers, body).await
}

async fn open(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::Open, headers, body).await
}

async fn handle(state: AppState, route: Route, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let answer = match auth::authenticate(&state, route, content_type, &body).await {
        Ok(request) => dispatch(&state, request).await,
        Err(e) => Err(e),
    };
    let json = match answer {
        Ok(json) => json,
        Err(e) => e.into_json(),
    };
    json_response(json)
}

async fn dispatch(state: &AppState, request: auth::Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = request.command;
    match command {
        Command::Orders => orders::create(state, &request).await,
        Command::QueryOrder => query::query(state, &request).await,
        Command::PaymentSupportPayMode => paymodes::list(state, &request).await,
        Command::Refund => refunds::refund(state, &request).await,
        Command::RefundCancel => refunds::cancel(state, &request).await,
        Command::AuthorizedRequestPayment => authorisation::capture(state, &request).await,
        Command::CancelAuthorization => authorisation::cancel(state, &request).await,
        other => Err(ApiError::new(
            command,
            format!("cmd {} is not supported by this gateway yet", other.cmd()),
        )),
    }
}

fn json_response(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

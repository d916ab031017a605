//! The merchant API: `POST /api/init` (store mode), `/api/agent` (dealer mode) and
//! `/api/open` (client mode). Every answer is HTTP 200 with the result in `code`/`msg`
//! (the C# and Java samples lose the body of a 4xx), as `application/json; charset=utf-8`.

mod auth;
mod authorisation;
mod error;
mod ewallet;
mod invoice;
mod lookup;
mod orders;
mod paymodes;
mod query;
mod recurring;
mod refunds;

pub use error::ApiError;

use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
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
        .route("/api/init", post(init).get(init))
        .route("/api/agent", post(agent).get(agent))
        .route("/api/open", post(open).get(open))
}

async fn init(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Init, request).await
}

async fn agent(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Agent, request).await
}

async fn open(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Open, request).await
}

/// The largest request body read (the same as axum's default limit).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

// The request is taken whole rather than through the `HeaderMap` extractor, which copies
// every header of every request to read one of them.
/// One API request: its id, the answer, its metrics and its access-log line. (The API
/// does its own bookkeeping instead of going through the pages' middleware: on the hot
/// path a layer's boxed future and span cost a visible share of a request.)
async fn handle(state: AppState, route: Route, request: Request) -> Response {
    let started = std::time::Instant::now();
    let id = crate::http::ops::request_id(&state, request.headers());
    let span = tracing::info_span!("request", id = %id);
    let path = request.uri().clone();
    let method = request.method().clone();
    let peer = crate::http::serve::peer(request.extensions()).map(|a| a.ip());
    let (command, store_uid, json) =
        tracing::Instrument::instrument(answer(&state, route, request), span.clone()).await;
    let elapsed = started.elapsed();
    let code = crate::http::metrics::answer_code(&json);
    state.metrics.answered(command, code, elapsed);
    span.in_scope(|| {
        // The line an operator looks for: which command, for whom, and what it answered.
        tracing::info!(
            target: "access",
            method = method.as_str(),
            path = path.path(),
            status = 200,
            command,
            store_uid = store_uid.as_deref().unwrap_or("-"),
            code,
            ms = elapsed.as_secs_f64() * 1000.0,
            peer = ?peer,
        );
    });
    let mut response = json_response(json);
    crate::http::ops::set_request_id(&mut response, &id);
    response
}

/// The command (or `unopened`), whose request it was (the merchant's `store_uid`, or
/// the sender it named when it did not open) and the JSON answer of one API request.
async fn answer(
    state: &AppState,
    route: Route,
    request: Request,
) -> (&'static str, Option<String>, Vec<u8>) {
    let mut command = "unopened";
    let mut store_uid = None;
    let (parts, body) = request.into_parts();
    // A browser or a misconfigured client that GETs an API path: the document's `100`,
    // saying what to send instead.
    if parts.method != axum::http::Method::POST {
        let e = ApiError::envelope(
            "request: send a POST with a form (or JSON) of store_uid, service and encry_data; \
             this path takes no GET",
        );
        return (command, store_uid, e.into_json());
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let answer = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => {
            let answer = match auth::authenticate(state, route, content_type, &body).await {
                Ok(request) => {
                    command = request.command.cmd();
                    store_uid = Some(request.merchant.store_uid.clone());
                    dispatch(state, request).await
                }
                Err(e) => Err(e),
            };
            match answer {
                Err(e) if e.unopened => {
                    store_uid = auth::sender(content_type, &body);
                    let peer = crate::http::serve::peer(&parts.extensions).map(|a| a.ip());
                    Err(unopened(state, e, content_type, &body, peer).await)
                }
                other => other,
            }
        }
        Err(e) => Err(ApiError::envelope(format!(
            "request body: cannot be read ({e}); at most {BODY_LIMIT} bytes"
        ))),
    };
    let json = match answer {
        Ok(json) => json,
        Err(e) => e.into_json(),
    };
    (command, store_uid, json)
}

/// A request that did not open: count it against its sender and address; once either is
/// throttled, every such answer is the same. The sender's technical contact hears of a
/// throttle once, when it starts.
async fn unopened(
    state: &AppState,
    error: ApiError,
    content_type: Option<&str>,
    body: &[u8],
    peer: Option<std::net::IpAddr>,
) -> ApiError {
    let sender = auth::sender(content_type, body);
    let failure = state
        .throttle
        .fail(sender.as_deref(), peer, std::time::Instant::now());
    if failure.sender_newly_throttled
        && let Some(uid) = &sender
    {
        tracing::warn!(
            target: "throttle",
            store_uid = %uid,
            peer = ?peer,
            "too many requests that did not open: this sender's failing requests are refused for a while"
        );
        alert_throttled(state, uid).await;
    }
    if failure.throttled {
        ApiError::throttled()
    } else {
        error
    }
}

async fn alert_throttled(state: &AppState, store_uid: &str) {
    let contact = match state.directory.merchant(store_uid).await {
        Ok(Some(m)) => m.settings.contact_email.clone(),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "loading a merchant to alert");
            None
        }
    };
    let Some(to) = contact else { return };
    let body = format!(
        "MYPAY LINK received more than {} requests for {store_uid} within {} seconds that could not be opened with its key. Failing requests are refused for {} minutes; requests sealed with the right key are served as always. If these are not your systems, someone may be probing your integration.",
        crate::http::throttle::LIMIT,
        crate::http::throttle::WINDOW.as_secs(),
        crate::http::throttle::BLOCK.as_secs() / 60
    );
    if let Err(e) = state
        .store
        .queue_email(
            &to,
            "API 解密失敗次數過多 (too many failed requests)",
            &body,
            state.now_for(store_uid),
            None,
        )
        .await
    {
        tracing::error!(error = %e, "queueing a throttle alert");
    }
}

/// Run one command. Each command's future is boxed: held inline, the largest of them
/// sized every request's future (tens of kilobytes, copied when the server boxes the
/// request's future), whichever command it carried.
async fn dispatch(state: &AppState, request: auth::Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = request.command;
    let request = &request;
    match command {
        Command::Orders => Box::pin(orders::create(state, request)).await,
        Command::QueryOrder => Box::pin(query::query(state, request)).await,
        Command::PaymentSupportPayMode => Box::pin(paymodes::list(state, request)).await,
        Command::Refund => Box::pin(refunds::refund(state, request)).await,
        Command::RefundCancel => Box::pin(refunds::cancel(state, request)).await,
        Command::AuthorizedRequestPayment => Box::pin(authorisation::capture(state, request)).await,
        Command::CancelAuthorization => Box::pin(authorisation::cancel(state, request)).await,
        Command::DisableDirectDebit => Box::pin(recurring::disable(state, request)).await,
        Command::EwalletBind => Box::pin(ewallet::bind(state, request)).await,
        Command::IssueInvoice => Box::pin(invoice::issue(state, request)).await,
        Command::Invoice => Box::pin(invoice::query(state, request)).await,
    }
}

/// Serialize an answer into a buffer sized for it up front: growing from serde_json's
/// small default buffer to a query record's ~1.5 KB cost a visible share of a query.
pub(crate) fn to_json(
    answer: &impl serde::Serialize,
    expected_len: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(expected_len);
    serde_json::to_writer(&mut out, answer).map_err(ApiError::internal)?;
    Ok(out)
}

/// The API is served outside the pages' header layer (`router.rs`), so its answers carry
/// their own `nosniff`.
fn json_response(body: Vec<u8>) -> Response {
    let json = HeaderValue::from_static("application/json; charset=utf-8");
    let nosniff = HeaderValue::from_static("nosniff");
    let headers = [
        (header::CONTENT_TYPE, json),
        (header::X_CONTENT_TYPE_OPTIONS, nosniff),
    ];
    (headers, body).into_response()
}

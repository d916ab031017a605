//! What operators and their machines ask of a node: `/healthz` (the process answers),
//! `/readyz` (its database answers and is migrated), `/metrics` (Prometheus), and one
//! access-log line per request, under a request id that every log line of the request
//! carries and the answer echoes (`X-Request-Id`).

use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// `/readyz` answers within this, whatever the database does.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ready()).await {
        Ok(Ok(())) => text(StatusCode::OK, "ready\n".into()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database is unavailable\n".into(),
            )
        }
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database did not answer in time\n".into(),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let backlog = match tokio::time::timeout(
        READY_TIMEOUT,
        state.store.backlog(state.clocks.shared().now()),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading the backlog for /metrics");
            Default::default()
        }
        Err(_) => Default::default(),
    };
    let mut response = text(StatusCode::OK, state.metrics.render(&backlog));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request id: the caller's `X-Request-Id` when it is a plain token (a proxy's),
/// else this node's own (its lease holder name and a counter: unique, and cheap).
pub fn request_id(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    if let Some(given) = headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
    {
        return given.to_owned();
    }
    format!(
        "{}-{}",
        state.leases.holder(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Which part of the gateway a path belongs to, for the access log and the metrics of
/// pages (API requests are counted by command where they are answered).
fn surface(path: &str) -> &'static str {
    if path.starts_with("/api/") {
        "api"
    } else if TICKET_PREFIXES.iter().any(|p| path.starts_with(p)) || path.starts_with("/assets/") {
        "paypage"
    } else if path.starts_with("/sandbox/") {
        "sandbox"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "other"
    }
}

/// An HTTP status as a metrics label (a fixed few, so a label's values stay few).
pub(crate) fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        303 => "303",
        400 => "400",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// The pages whose paths carry a ticket: the PayPage, the e-wallet bind page, the
/// invoice proof.
const TICKET_PREFIXES: [&str; 3] = ["/payment/", "/ewallet/", "/invoice/"];

/// The path as logged: a ticket is a capability, so only its number is.
fn loggable_path(path: &str) -> String {
    for prefix in TICKET_PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (ticket, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let uid: String = ticket
                .split(['-', '.'])
                .next()
                .unwrap_or("")
                .chars()
                .take(20)
                .collect();
            let suffix: String = if tail.is_empty() {
                String::new()
            } else {
                format!("/{}", tail.chars().take(100).collect::<String>())
            };
            return format!("{prefix}{uid}-…{suffix}");
        }
    }
    path.chars().take(200).collect()
}

/// Around every request: its id and span, one access-log line when it is answered, and
/// the page metrics. The body is never logged (it holds card numbers on the PayPage and
/// sealed data on the API), nor the query.
pub async fn access(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&state, request.headers());
    let method = request.method().clone();
    // A clone of the URI shares its bytes: no copy of the path per request.
    let uri = request.uri().clone();
    let path = uri.path();
    let peer = crate::http::serve::peer(request.extensions()).map(|a| a.ip());
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    let part = surface(path);
    if part != "api" {
        state.metrics.answered(part, status_label(status), elapsed);
    }
    set_request_id(&mut response, &id);
    span.in_scope(|| log_access(method.as_str(), path, status.as_u16(), elapsed, peer));
    response
}

/// Echo the request id on the answer.
pub fn set_request_id(response: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
}

/// The access-log line of one request (inside its span, which carries the id).
pub fn log_access(
    method: &str,
    path: &str,
    status: u16,
    elapsed: Duration,
    peer: Option<std::net::IpAddr>,
) {
    tracing::info!(
        target: "access",
        method,
        path = %loggable_path(path),
        status,
        ms = elapsed.as_secs_f64() * 1000.0,
        peer = ?peer,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_never_reach_the_log() {
        assert_eq!(
            loggable_path("/payment/12-0123456789abcdef0123456789abcdef.html"),
            "/payment/12-…"
        );
        assert_eq!(
            loggable_path("/payment/12-0123456789abcdef/pay"),
            "/payment/12-…/pay"
        );
        assert_eq!(
            loggable_path("/invoice/12-0123456789abcdef0123456789abcdef.html"),
            "/invoice/12-…"
        );
        assert_eq!(
            loggable_path("/ewallet/7-0123456789abcdef0123456789abcdef/bind"),
            "/ewallet/7-…/bind"
        );
        assert_eq!(loggable_path("/api/init"), "/api/init");
    }

    #[test]
    fn paths_are_sorted_into_parts() {
        assert_eq!(surface("/api/init"), "api");
        assert_eq!(surface("/payment/1-x.html"), "paypage");
        assert_eq!(surface("/sandbox/clock"), "sandbox");
        assert_eq!(surface("/metrics"), "ops");
        assert_eq!(surface("/wp-admin"), "other");
    }
}

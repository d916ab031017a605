//! The acquirer's HTTP side: protocol v1 (signed, `/v1/…`), the consumer's pages (the
//! 3-D Secure challenge, a wallet's approval), and the test controls (`/_acquirer/…`).

use crate::bank::{Books, ChallengeAnswer, Fault, FaultKind, Refused};
use crate::callbacks::Callbacks;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use mypay_upstream::messages::{self, ErrorBody, Outcome, paths};
use mypay_upstream::signature::{Secret, unix_now};
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub struct Acquirer {
    pub books: Mutex<Books>,
    pub secret: Secret,
    /// Where consumers reach this acquirer (its challenge pages).
    pub public_url: String,
    pub callbacks: Callbacks,
    /// How long a pending card charge waits before it is decided.
    pub pending_after: Duration,
}

impl Acquirer {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock leaves the books as they were at its last
        // complete operation: each operation mutates only after all its checks.
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Set on every request by the connection loop: asks it to drop the connection without
/// an answer (the `drop_after_commit` fault).
#[derive(Clone)]
pub struct Hangup(pub Arc<Notify>);

type Shared = Arc<Acquirer>;

pub fn router(acquirer: Shared) -> Router {
    Router::new()
        .route(paths::CARD_CHARGES, post(card_charge))
        .route(paths::CARD_VERIFICATIONS, post(card_verify))
        .route(paths::CARD_TOKENS, post(card_token))
        .route(paths::CAPTURES, post(capture))
        .route(paths::VOIDS, post(void))
        .route(paths::REFUNDS, post(refund))
        .route(paths::COLLECTIONS, post(collection))
        .route(paths::WALLETS, post(wallet))
        .route(paths::APPLICATIONS, post(application))
        .route("/v1/operations/{reference}", get(status))
        .route(
            "/challenge/{reference}",
            get(challenge_page).post(challenge_answer),
        )
        .route("/wallet/{reference}", get(wallet_page))
        .route("/_acquirer/faults", post(add_fault))
        .route("/_acquirer/ledger", get(ledger))
        .route(
            "/_acquirer/collections/{reference}/pay",
            post(pay_collection),
        )
        .route(
            "/_acquirer/collections/{reference}/expire",
            post(expire_collection),
        )
        .route("/_acquirer/wallets/{reference}/pay", post(decide_wallet))
        .route(
            "/_acquirer/applications/{reference}/review",
            post(review_application),
        )
        .route(
            "/_acquirer/refunds/{reference}/complete",
            post(complete_refund),
        )
        .route(
            "/_acquirer/charges/{reference}/resolve",
            post(resolve_pending),
        )
        .with_state(acquirer)
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    Rejection(status, text.into()).into_response()
}

fn reject(status: StatusCode, text: impl Into<String>) -> Rejection {
    Rejection(status, text.into())
}

/// A request refused before anything was done.
struct Rejection(StatusCode, String);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

/// A signed v1 request: its body parsed, its fault (if any) taken.
struct Signed<T> {
    body: T,
    fault: Option<Fault>,
}

fn open<T: DeserializeOwned>(
    acquirer: &Acquirer,
    op: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Signed<T>, Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if acquirer
        .secret
        .verify_headers(header, body, unix_now())
        .is_err()
    {
        return Err(reject(
            StatusCode::UNAUTHORIZED,
            "signature missing, wrong or stale",
        ));
    }
    let parsed: T = serde_json::from_slice(body)
        .map_err(|e| reject(StatusCode::UNPROCESSABLE_ENTITY, format!("body: {e}")))?;
    let reference = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("reference")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if reference.is_empty() || reference.len() > 128 {
        return Err(reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference: 1 to 128 characters",
        ));
    }
    if let Some(key) = header("idempotency-key")
        && key != reference
    {
        return Err(reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key must equal the body's reference",
        ));
    }
    let fault = acquirer.books().take_fault(op);
    if let Some(f) = &fault
        && f.fault == FaultKind::Error500
    {
        return Err(Rejection(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected failure".into(),
        ));
    }
    Ok(Signed {
        body: parsed,
        fault,
    })
}

/// Answer a performed operation as its fault says: at once, late, or never (the
/// connection dropped).
async fn answer(
    result: Result<Outcome, Refused>,
    fault: Option<Fault>,
    hangup: &Hangup,
) -> Response {
    let outcome = match result {
        Ok(o) => o,
        Err(Refused(why)) => return error(StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    match fault.map(|f| (f.fault, f.delay_ms)) {
        Some((FaultKind::DropAfterCommit, _)) => {
            hangup.0.notify_one();
            // The connection is dropped while this waits: nothing is ever answered.
            return std::future::pending::<Response>().await;
        }
        Some((FaultKind::Delay, ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        _ => {}
    }
    Json(outcome).into_response()
}

fn today() -> (i32, u32) {
    let now = jiff::Zoned::now();
    (
        i32::from(now.year()),
        u32::try_from(now.month()).unwrap_or(1),
    )
}

fn forced_decline(fault: &Option<Fault>) -> bool {
    fault
        .as_ref()
        .is_some_and(|f| f.fault == FaultKind::Decline)
}

async fn card_charge(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::CardChargeRequest>(&a, "charge", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().charge(
        &req.body,
        &a.public_url,
        forced_decline(&req.fault),
        today(),
    );
    if let Ok(o) = &result
        && o.status == messages::Status::Pending
    {
        decide_later(a.clone(), o.reference.clone());
    }
    answer(result, req.fault, &hangup).await
}

/// A pending card charge is decided after a while, and the gateway called back.
fn decide_later(a: Shared, reference: String) {
    tokio::spawn(async move {
        tokio::time::sleep(a.pending_after).await;
        let callback = a.books().resolve_pending(&reference);
        if let Some(c) = callback {
            a.callbacks.send(c);
        }
    });
}

async fn card_verify(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::CardChargeRequest>(&a, "verify", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().verify(&req.body, &a.public_url, today());
    answer(result, req.fault, &hangup).await
}

async fn card_token(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::CardTokenRequest>(&a, "token", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().token(&req.body);
    answer(result, req.fault, &hangup).await
}

async fn capture(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::FollowUpRequest>(&a, "capture", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().capture(&req.body);
    answer(result, req.fault, &hangup).await
}

async fn void(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::FollowUpRequest>(&a, "void", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().void(&req.body);
    answer(result, req.fault, &hangup).await
}

async fn refund(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::RefundRequest>(&a, "refund", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().refund(&req.body);
    answer(result, req.fault, &hangup).await
}

async fn collection(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::CollectionRequest>(&a, "collection", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().collection(&req.body);
    answer(result, req.fault, &hangup).await
}

async fn wallet(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::WalletRequest>(&a, "wallet", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().wallet(&req.body, &a.public_url);
    answer(result, req.fault, &hangup).await
}

async fn application(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match open::<messages::ApplicationRequest>(&a, "application", &headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = a.books().application(&req.body);
    answer(result, req.fault, &hangup).await
}

/// `GET /v1/operations/{reference}`, signed over an empty body. 404: never performed.
async fn status(
    State(a): State<Shared>,
    Extension(hangup): Extension<Hangup>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if a.secret.verify_headers(header, b"", unix_now()).is_err() {
        return error(
            StatusCode::UNAUTHORIZED,
            "signature missing, wrong or stale",
        );
    }
    let fault = a.books().take_fault("status");
    if fault
        .as_ref()
        .is_some_and(|f| f.fault == FaultKind::Error500)
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
    }
    let found = a.books().status(&reference);
    match found {
        Some(o) => answer(Ok(o), fault, &hangup).await,
        None => error(StatusCode::NOT_FOUND, "no operation has this reference"),
    }
}

const PAGE_STYLE: &str = "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}\
input,button{font-size:1.1rem;padding:.5rem;margin:.3rem 0;width:100%;box-sizing:border-box}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn challenge_page(Path(reference): Path<String>) -> Html<String> {
    challenge_form(&reference, None)
}

fn challenge_form(reference: &str, note: Option<&str>) -> Html<String> {
    let note = note
        .map(|n| format!("<p role=\"alert\">{}</p>", escape(n)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>3-D Secure</title>\
         <style>{PAGE_STYLE}</style></head><body><h1>3-D Secure 驗證</h1>{note}\
         <form method=\"post\"><label>驗證密碼 (password)<input name=\"password\" \
         type=\"password\" autocomplete=\"one-time-code\" autofocus></label>\
         <button type=\"submit\">確認</button></form><p><small>{}</small></p></body></html>",
        escape(reference)
    ))
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn challenge_answer(
    State(a): State<Shared>,
    Path(reference): Path<String>,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    let answer = a.books().answer_challenge(&reference, &form.password);
    match answer {
        ChallengeAnswer::Unknown => (
            StatusCode::NOT_FOUND,
            Html("<p>No challenge waits here.</p>"),
        )
            .into_response(),
        ChallengeAnswer::Retry(left) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            challenge_form(&reference, Some(&format!("密碼錯誤，尚可再試 {left} 次"))),
        )
            .into_response(),
        ChallengeAnswer::Decided {
            return_url,
            callback,
        } => {
            a.callbacks.send(*callback);
            match return_url {
                Some(url) => Redirect::to(&url).into_response(),
                None => Html("<p>Done. You may close this page.</p>").into_response(),
            }
        }
    }
}

async fn wallet_page(Path(reference): Path<String>) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Wallet</title>\
         <style>{PAGE_STYLE}</style></head><body><h1>Wallet payment</h1>\
         <p>Payment <code>{}</code> waits for the wallet's approval.</p></body></html>",
        escape(&reference)
    ))
}

async fn add_fault(State(a): State<Shared>, Json(fault): Json<Fault>) -> Response {
    let added = a.books().add_fault(fault);
    match added {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(Refused(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, why),
    }
}

async fn ledger(State(a): State<Shared>) -> Response {
    let lines = a.books().ledger();
    ([(header::CACHE_CONTROL, "no-store")], Json(lines)).into_response()
}

/// A test control's answer: the callback sent, or 404 when nothing waited.
fn decided(a: &Acquirer, callback: Option<messages::Callback>) -> Response {
    match callback {
        Some(c) => {
            let outcome = c.outcome.clone();
            a.callbacks.send(c);
            Json(outcome).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "no such operation waits for this (unknown, or decided already)",
        ),
    }
}

#[derive(serde::Deserialize, Default)]
struct PayBody {
    amount: Option<i64>,
}

#[derive(serde::Deserialize)]
struct Decision {
    approve: bool,
}

fn optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Rejection(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

async fn pay_collection(
    State(a): State<Shared>,
    Path(reference): Path<String>,
    body: Bytes,
) -> Response {
    let pay: PayBody = match optional(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let callback = a.books().pay_collection(&reference, pay.amount);
    decided(&a, callback)
}

async fn expire_collection(State(a): State<Shared>, Path(reference): Path<String>) -> Response {
    let callback = a.books().expire_collection(&reference);
    decided(&a, callback)
}

async fn decide_wallet(
    State(a): State<Shared>,
    Path(reference): Path<String>,
    Json(d): Json<Decision>,
) -> Response {
    let callback = a.books().decide_wallet(&reference, d.approve);
    decided(&a, callback)
}

async fn review_application(
    State(a): State<Shared>,
    Path(reference): Path<String>,
    Json(d): Json<Decision>,
) -> Response {
    let callback = a.books().review_application(&reference, d.approve);
    decided(&a, callback)
}

async fn complete_refund(State(a): State<Shared>, Path(reference): Path<String>) -> Response {
    let callback = a.books().complete_refund(&reference);
    decided(&a, callback)
}

async fn resolve_pending(State(a): State<Shared>, Path(reference): Path<String>) -> Response {
    let callback = a.books().resolve_pending(&reference);
    decided(&a, callback)
}

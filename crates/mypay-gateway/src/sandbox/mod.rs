//! Sandbox helpers (SPEC §12), mounted only in sandbox mode: plain JSON under
//! `/sandbox/`, for tests and for merchants' CI. Errors answer a 4xx status with
//! `{"error": "…"}` (this is our API, not the document's), a [`PageError`].

pub mod cards;
pub(crate) mod clocks;
mod notices;
mod payments;

use crate::http::page_error::PageError;
use crate::service::{CheckoutError, Outcome};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(payments::routes())
        .merge(clocks::routes())
        .merge(notices::routes())
}

/// Read a body as JSON or as a form, by its content type; an empty body is an empty
/// object. A body of any other (or no) content type is refused naming the content type,
/// never guessed at; a field the helper does not take is refused naming it (a typo must
/// not pass for an absent field).
pub(super) fn read_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, PageError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_str("{}")
            .map_err(|e| PageError::bad_request(format!("body: {e}")));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media == "application/json" || media.ends_with("+json") {
        serde_json::from_slice(body).map_err(|e| PageError::bad_request(format!("body: {e}")))
    } else if media == "application/x-www-form-urlencoded" {
        let map: serde_json::Map<String, Value> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map_err(|e| PageError::bad_request(format!("body: {e}")))
    } else {
        let got = if media.is_empty() {
            "none".to_owned()
        } else {
            format!("{media:?}")
        };
        Err(PageError::refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content-type: send application/json or application/x-www-form-urlencoded (got {got})"
            ),
        ))
    }
}

/// The order's state after a helper's step, or the step's error.
pub(super) async fn order_state(
    state: &AppState,
    uid: u64,
    outcome: Result<Outcome, CheckoutError>,
) -> Result<Response, PageError> {
    let outcome = outcome.map_err(|e| match e {
        CheckoutError::NotFound => no_order(uid),
        other => PageError::from(other),
    })?;
    match state.store.order(uid).await? {
        Some(order) => {
            let record = crate::records::query_record(&order);
            Ok(Json(json!({
                "uid": uid,
                "prc": order.prc.code(),
                "retmsg": record.retmsg,
                "needs_otp": outcome == Outcome::NeedsOtp,
                "pfn": record.pfn,
                "expired_date": record.expired_date,
                "result_content_type": record.result_content_type,
                "result_content": record.result_content,
                "bank_id": record.bank_id,
            }))
            .into_response())
        }
        None => Err(no_order(uid)),
    }
}

pub(super) fn no_order(uid: u64) -> PageError {
    PageError::not_found(format!("uid: no order {uid}"))
}

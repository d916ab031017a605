//! The one error of the gateway's pages and helpers: the PayPage (and later the
//! dashboard) and the sandbox's helpers. It holds only what a visitor may read. A failure
//! inside the gateway (storage, above all) is logged once, where it becomes a
//! `PageError`, and shown only as "nothing was changed": its text may name tables, files
//! or hosts.

use crate::service::CheckoutError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt::Display;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// Nothing by that name: an unknown order or notice, a ticket that does not open.
    NotFound(String),
    /// The request was refused; the message names the field or the reason.
    Refused { status: StatusCode, msg: String },
    /// The gateway failed; the cause went to the log.
    Internal,
}

/// What a visitor reads of an internal failure.
pub const INTERNAL_MESSAGE: &str = "internal error; nothing was changed";

impl PageError {
    pub fn not_found(msg: impl Into<String>) -> PageError {
        PageError::NotFound(msg.into())
    }

    pub fn bad_request(msg: impl Into<String>) -> PageError {
        PageError::Refused {
            status: StatusCode::BAD_REQUEST,
            msg: msg.into(),
        }
    }

    pub fn refused(status: StatusCode, msg: impl Into<String>) -> PageError {
        PageError::Refused {
            status,
            msg: msg.into(),
        }
    }

    /// Log `cause` (with what was being done) and keep nothing of it.
    pub fn internal(doing: &'static str, cause: impl Display) -> PageError {
        tracing::error!(error = %cause, doing, "internal error on a page");
        PageError::Internal
    }

    pub fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Refused { status, .. } => *status,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            PageError::NotFound(msg) | PageError::Refused { msg, .. } => msg,
            PageError::Internal => INTERNAL_MESSAGE,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        PageError::internal("storage", e)
    }
}

impl From<CheckoutError> for PageError {
    /// A checkout refusal as a helper answers it (the PayPage shows most of them on its
    /// form instead, in the consumer's language).
    fn from(e: CheckoutError) -> PageError {
        let status = match &e {
            CheckoutError::Store(_) => return PageError::internal("checkout", e),
            CheckoutError::NotFound => return PageError::not_found("uid: no such order"),
            CheckoutError::NotPayable(_) | CheckoutError::ChargeInProgress => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        PageError::refused(status, e.to_string())
    }
}

/// The helpers' form of an error: its status and `{"error": "…"}`. (The PayPage shows it
/// as a page in the visitor's language.)
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(serde_json::json!({ "error": self.message() })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_show_no_storage_text() {
        let e = PageError::from(StoreError::Database(
            "relation \"orders\" at /var/lib/mypay/db".into(),
        ));
        assert_eq!(e, PageError::Internal);
        assert_eq!(e.message(), INTERNAL_MESSAGE);
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let e = PageError::from(CheckoutError::Store(StoreError::Unavailable(
            "pool timed out at 10.0.0.5:5432".into(),
        )));
        assert_eq!(e.message(), INTERNAL_MESSAGE);
    }

    #[test]
    fn refusals_keep_their_words_and_status() {
        let e = PageError::from(CheckoutError::NotFound);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let e = PageError::bad_request("seconds: must be a whole number");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.message(), "seconds: must be a whole number");
    }
}

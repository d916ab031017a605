//! The one error type of the merchant API, turned into the document's `{code, msg}` here
//! and nowhere else. `msg` names the field or step that failed; internal errors are logged
//! and answered with a generic `400` (系統錯誤) that leaks nothing.

use mypay_protocol::messages::CodeMsg;
use mypay_protocol::{Command, Prc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `100`, `B500` or `400` (附錄二).
    pub code: Prc,
    pub msg: String,
    /// A sealed field that could not be opened: counted against the sender by the
    /// failure throttle.
    pub unopened: bool,
}

impl ApiError {
    /// A refusal of bad input: `100`, or `B500` for the commands that answer B-codes.
    pub fn new(command: Command, msg: impl Into<String>) -> ApiError {
        ApiError {
            code: if command.answers_b_codes() {
                Prc::NotDone
            } else {
                Prc::DataError
            },
            msg: msg.into(),
            unopened: false,
        }
    }

    /// Bad input before the command is known (envelope, credentials): always `100`.
    pub fn envelope(msg: impl Into<String>) -> ApiError {
        ApiError {
            code: Prc::DataError,
            msg: msg.into(),
            unopened: false,
        }
    }

    /// `field` (`service` or `encry_data`) could not be opened. One answer for every
    /// reason (base64, length, padding, UTF-8, JSON): telling them apart would be a
    /// padding oracle that lets a client without the key forge requests.
    pub fn unopened(field: &str) -> ApiError {
        ApiError {
            code: Prc::DataError,
            msg: format!("{field}: cannot be opened with this sender's key"),
            unopened: true,
        }
    }

    /// Count this refusal against its sender and address like a field that did not open
    /// (an unknown sender: someone guessing `store_uid`s).
    pub fn counted(mut self) -> ApiError {
        self.unopened = true;
        self
    }

    /// Too many requests from this sender or address failed to open lately. The answer
    /// says how long failing requests are refused, and is the same for every one of them.
    pub fn throttled() -> ApiError {
        use crate::http::throttle::{BLOCK, LIMIT, WINDOW};
        ApiError {
            code: Prc::DataError,
            msg: format!(
                "too many failed requests: more than {LIMIT} in {} seconds from this sender or address, so its requests that fail are refused for {} minutes (requests sealed with the sender's key are served as always)",
                WINDOW.as_secs(),
                BLOCK.as_secs() / 60
            ),
            unopened: true,
        }
    }

    /// Something failed inside the gateway; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error answering an API request");
        ApiError {
            code: Prc::SystemError,
            msg: "系統錯誤 (internal error; nothing was changed, please retry)".to_owned(),
            unopened: false,
        }
    }

    /// Whether the gateway failed (nothing changed), rather than the input.
    pub fn is_internal(&self) -> bool {
        self.code == Prc::SystemError
    }

    pub fn into_json(self) -> Vec<u8> {
        serde_json::to_vec(&CodeMsg {
            code: self.code.code().to_owned(),
            msg: self.msg,
        })
        .unwrap_or_else(|_| br#"{"code":"400","msg":"internal error"}"#.to_vec())
    }
}

//! The one error type of the merchant API, turned into the document's `{code, msg}` here
//! and nowhere else. `msg` names the field or step that failed; internal errors are logged
//! and answered with a generic `400` (系統錯誤) that leaks nothing.

use mypay_protocol::Command;
use mypay_protocol::messages::CodeMsg;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub msg: String,
}

impl ApiError {
    /// A refusal of bad input: `100`, or `B500` for the commands that answer B-codes.
    pub fn new(command: Command, msg: impl Into<String>) -> ApiError {
        ApiError {
            code: if command.answers_b_codes() {
                "B500"
            } else {
                "100"
            },
            msg: msg.into(),
        }
    }

    /// Bad input before the command is known (envelope, credentials): always `100`.
    pub fn envelope(msg: impl Into<String>) -> ApiError {
        ApiError {
            code: "100",
            msg: msg.into(),
        }
    }

    /// Something failed inside the gateway; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error answering an API request");
        ApiError {
            code: "400",
            msg: "系統錯誤 (internal error; nothing was changed, please retry)".to_owned(),
        }
    }

    pub fn into_json(self) -> Vec<u8> {
        serde_json::to_vec(&CodeMsg {
            code: self.code.to_owned(),
            msg: self.msg,
        })
        .unwrap_or_else(|_| br#"{"code":"400","msg":"internal error"}"#.to_vec())
    }
}

//! What can go wrong with a request.

/// Why a request did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The key (or verification code) is not 32 bytes.
    #[error("the key is not 32 bytes")]
    Key,
    /// A value could not be sent as asked (it does not serialise).
    #[error("the request could not be made: {0}")]
    Request(String),
    /// The gateway could not be reached, or it did not answer in time.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The gateway answered with a refusal: the document's code and message (e.g. `B500`,
    /// `100`, `400`).
    #[error("the gateway answered {code}: {msg}")]
    Refused {
        /// The document's answer code.
        code: String,
        /// The gateway's message.
        msg: String,
    },
    /// The answer is not what the document says it should be.
    #[error("unexpected answer: {0}")]
    Answer(String),
}

impl ClientError {
    /// The document's answer code of a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the request may not have reached the gateway, or its answer was lost: a
    /// read is safe to ask again; a money-moving command must be checked (by
    /// `api/queryorder`) before it is sent again.
    pub fn is_transport(&self) -> bool {
        matches!(self, ClientError::Http(_))
    }
}

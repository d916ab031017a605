//! The MYPAY LINK wire protocol, shared by the gateway and the client SDK.
//!
//! # Layout
//! - [`envelope`]: the AES-256-CBC + base64 envelope of 附錄四 (both directions).
//! - [`outer`]: the outer request (`store_uid`/`agent_uid`, `service`, `encry_data`), read
//!   from the form or JSON bodies the document's sample clients send.
//! - [`lenient`]: JSON values that arrive as strings or numbers, as the samples send them.
//! - [`pfn`]: payment tools (附錄一), by number and by code.
//! - [`status`]: transaction status codes (附錄二).
//! - [`command`]: the eleven `cmd` values and the `service` object.
//! - [`messages`]: typed requests and responses of every command.
//! - [`notice`]: the transaction notices posted to merchants (交易回傳).
//! - [`test_cards`]: the test cards of 附錄六 and the outcome cards, as every simulated
//!   acquirer answers them.
//! - [`values`]: the document's small value tables (『…』值內容).

pub mod command;
pub mod envelope;
pub mod lenient;
pub mod messages;
pub mod notice;
pub mod outer;
pub mod pfn;
pub mod status;
pub mod test_cards;
pub mod values;

pub use command::{Command, Service};
pub use envelope::{EnvelopeError, MerchantKey};
pub use pfn::{PaymentTool, Preselection};
pub use status::Prc;

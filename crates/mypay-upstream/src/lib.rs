//! The upstream protocol (v1): what the gateway asks of whoever moves the money (an
//! acquirer, a wallet's provider, a collection bank), and what they call back with.
//! Shared by the gateway's HTTP connector and the reference acquirer.
//!
//! # Layout
//! - [`messages`]: the JSON of every request, answer and callback, and the paths.
//! - [`signature`]: requests and callbacks are signed both ways as Standard Webhooks signs
//!   them (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

pub mod messages;
pub mod signature;

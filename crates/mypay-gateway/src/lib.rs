//! mypay-gateway: a self-hostable, wire-compatible MYPAY LINK gateway.
//!
//! # Layout
//! - [`api`]: the merchant API (`/api/init`, `/api/agent`, `/api/open`): envelope →
//!   credentials → command handlers.
//! - [`paypage`]: the consumer's hosted checkout (`/payment/<uid>.html`).
//! - [`checkout`]: paying an order, shared by the PayPage and the sandbox helpers.
//! - [`ledger`]: the domain — merchants, order validation, the state graph, cards, the
//!   acquirer interface. No HTTP, no SQL.
//! - [`records`]: the query record and the transaction notice, built from one order.
//! - [`notify`]: which notices are owed, and the delivery worker (outbox).
//! - [`jobs`]: the scheduler for timed work on the gateway's clock.
//! - [`sandbox`]: test cards and the `/sandbox/*` helpers.
//! - [`store`]: SQLite storage, migrations, the group-committing order writer.
//! - [`directory`]: merchants and keys cached for the API's hot path.
//! - [`clock`], [`config`], [`app`]: the one clock, settings, and wiring.

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod directory;
pub mod hex;
pub mod http;
pub mod ledger;
pub mod notify;
pub mod paypage;
pub mod records;
pub mod router;
pub mod sandbox;
pub mod service;
pub mod state;
pub mod store;
pub mod tickets;

//! mypay-gateway: a self-hostable, wire-compatible MYPAY LINK gateway.
//!
//! # Layout
//! A core that knows no HTTP, and thin HTTP layers over it; dependencies point inward.
//!
//! The core:
//! - [`service`]: every payment flow (place an order, pay with each tool family, the one
//!   charge path, capture, cancel, refund, recurring periods, the e-wallet, e-invoices,
//!   timed work) and the operator's rules for merchants, over the store, the clocks, the
//!   upstream connector and the outbox ([`service::Gateway`]).
//! - [`ledger`]: the domain's rules, pure: merchants and their settings, order
//!   validation, the state graph, cards, refunds and captures, pay-later codes, recurring
//!   terms, e-invoices, where notices may go, the upstream interface.
//! - [`store`]: the storage interface in parts, each part's SQL written once for SQLite
//!   and PostgreSQL; migrations per backend.
//! - [`notify`]: which notices are owed, their delivery (the outbox worker), and the
//!   resolver that keeps notices off internal addresses.
//! - [`records`]: the query record and the transaction notice, built from one order.
//! - [`directory`]: merchants and keys, cached, and seen fresh on every request.
//! - [`clock`]: the one clock (the sandbox's test clocks move it); [`config`]: settings.
//!
//! The HTTP layers:
//! - [`api`]: the merchant API (`/api/init`, `/api/agent`, `/api/open`).
//! - [`paypage`]: the hosted checkout, the e-wallet's bind page, the invoice proof.
//! - [`sandbox`]: the sandbox's helpers and its simulated acquirer.
//! - [`http`]: the edge all of them share: serving, headers, operations endpoints,
//!   metrics, page errors, the failure throttle.
//! - [`router`]: what each mode mounts; [`state`]: what every handler is given.
//! - [`app`]: building the whole and running it with its workers.
//! - [`tickets`]: PayPage, bind-page and proof tickets and CSRF tokens; [`hex`].

pub mod admin;
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
pub mod upstream;

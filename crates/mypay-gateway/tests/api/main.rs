//! Black-box tests: the gateway on a random loopback port with a fresh database, driven
//! over HTTP like a merchant and a consumer, with notices received on a local receiver.

mod admin;
mod applications;
mod authorisation;
mod back_office;
mod card_plans;
mod changes;
mod connections;
mod dashboard;
mod delivery;
mod durability;
mod edges;
mod envelope;
mod ewallet;
mod feed;
mod helpers;
mod inputs;
mod invoices;
mod logs;
mod mail;
mod merchant_clocks;
mod messages;
mod migrations;
mod modes;
mod nodes;
mod notifications;
mod openapi;
mod operations;
mod operators;
mod oracle;
mod orders;
mod pay_later;
mod paypage;
#[path = "../shared/process.rs"]
mod process;
mod production;
mod recurring;
mod refunds;
mod sample_clients;
mod state_machine;
mod storage;
mod tls;
mod wallets;

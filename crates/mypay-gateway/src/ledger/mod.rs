//! The domain: merchants, orders, the state graph of 附錄二, cards. Pure rules, no HTTP
//! and no SQL: handlers parse into these types, ask them for decisions, and persist.

pub mod applications;
pub mod card;
pub mod connector;
pub mod counter;
pub mod invoice;
pub mod merchant;
pub mod notify_url;
pub mod order;
pub mod plans;
pub mod recurring;
pub mod reversal;
pub mod state;
pub mod timers;

//! The HTTP edge, the same for every part of the gateway: the listener with its
//! connection caps and header timeouts ([`serve`]), the security headers and the
//! not-found page ([`edge`]), what operators ask of a node and the access log ([`ops`],
//! [`metrics`]), the one error of pages and helpers ([`page_error`]), and the throttle of
//! API requests that do not open ([`throttle`]). The layers that speak to merchants and
//! consumers (`api`, `paypage`, `sandbox`) sit above it; `router` puts them together.
//! [`callbacks`] receives upstreams' callbacks in production; [`tls`] is TLS built in.

pub mod callbacks;
pub mod edge;
pub mod metrics;
pub mod ops;
pub mod page_error;
pub mod serve;
pub mod throttle;
pub mod tls;

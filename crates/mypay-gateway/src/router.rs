//! The one place that decides what a gateway serves, by mode. Every mode: the merchant
//! API, the PayPage with the e-wallet bind page and the invoice proof, the operations
//! endpoints. The sandbox only: its helpers (`/sandbox/*`) and the consumer's own answer
//! in a wallet app (the PayPage's "approve"/"decline", which in production would mark an
//! order paid on the consumer's word): production moves money only on its upstream's
//! word, so none of these exists there, not even as a refusal.

use crate::config::Mode;
use crate::state::AppState;
use crate::{api, http, paypage, sandbox};
use axum::Router;

pub fn build(state: AppState) -> Router {
    let mode = state.settings.mode;
    // Pages (and everything else a browser may open) get the security headers from a
    // layer; API answers set theirs where they are made, off the hot path's stack.
    let mut pages = Router::new()
        .merge(paypage::router())
        .route(
            "/assets/paypage.css",
            axum::routing::get(http::edge::stylesheet),
        )
        .route(
            "/assets/invoice.css",
            axum::routing::get(http::edge::invoice_stylesheet),
        );
    if mode == Mode::Sandbox {
        pages = pages
            .merge(paypage::sandbox_router())
            .merge(sandbox::router());
    }
    let sandbox_mode = mode == Mode::Sandbox;
    let pages = pages
        .fallback(move || async move { http::edge::not_found_page(sandbox_mode) })
        .layer(axum::middleware::map_response(http::edge::security_headers));
    // Pages and operations get request ids and access lines from a layer; the API
    // keeps its own (see `api::handle`).
    let pages = Router::new().merge(http::ops::router()).merge(pages).layer(
        axum::middleware::from_fn_with_state(state.clone(), http::ops::access),
    );
    let mut all = Router::new().merge(api::router()).merge(pages);
    if state.settings.upstreams.is_some() && mode == Mode::Production {
        all = all.route(
            "/upstream/{name}/callback",
            axum::routing::post(http::callbacks::callback),
        );
    }
    // Consumers reach it over https: browsers are told to come back only that way.
    if state.secure_cookies() {
        all = all.layer(axum::middleware::map_response(http::edge::strict_transport));
    }
    all.with_state(state)
}

//! `api/orders` (PayPage金流交易): parse the request, place the order, answer the
//! PayPage URL (or, for a background e-wallet payment, its result).

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::ledger::order::items_from_legacy;
use crate::service::orders::{OrderError, Placed};
use crate::state::AppState;
use mypay_protocol::messages::{OrderRequest, OrderResponse};
use mypay_protocol::{Command, Prc};

pub async fn create(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::Orders;
    let order = parse(request)?;
    let placed = crate::service::orders::place(state, &request.merchant, order)
        .await
        .map_err(|e| match e {
            OrderError::Refused(msg) => ApiError::new(command, msg),
            OrderError::Store(e) => ApiError::internal(e),
        })?;
    let answer = match placed {
        Placed::Page { uid, key } => OrderResponse {
            code: Prc::Created.code().to_owned(),
            msg: Prc::Created.description().to_owned(),
            url: format!(
                "{}/payment/{}.html",
                state.base_url,
                state.tickets.ticket(uid)
            ),
            uid,
            key,
        },
        // The answer's `code` is the background payment's result, with no page.
        Placed::Charged { uid, key, prc } => OrderResponse {
            code: prc.code().to_owned(),
            msg: prc.description().to_owned(),
            url: String::new(),
            uid,
            key,
        },
    };
    super::to_json(&answer, 256)
}

/// The request, in either item format: the older one is `item` (a count) with
/// `i_[n]_*` fields (SPEC §4).
fn parse(request: &Authenticated) -> Result<OrderRequest, ApiError> {
    let command = Command::Orders;
    let mut order: OrderRequest = parse_data(command, &request.data)?;
    if order.items.is_none() && order.item.is_some() {
        let raw: serde_json::Map<String, serde_json::Value> = parse_data(command, &request.data)?;
        let items = items_from_legacy(&raw).map_err(|e| ApiError::new(command, e.to_string()))?;
        order.items = Some(items);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_32_lowercase_hex_digits_and_differ() {
        let (a, b) = (
            crate::ledger::order::new_token(),
            crate::ledger::order::new_token(),
        );
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a, b);
    }

    #[test]
    fn keys_stay_distinct_across_pool_refills() {
        // 4 KiB pools give 256 keys each: cross several refills.
        let keys: std::collections::HashSet<String> = (0..1000)
            .map(|_| crate::ledger::order::new_token())
            .collect();
        assert_eq!(keys.len(), 1000);
    }
}
#[cfg(test)]
mod future_size {
    /// Every order's future is allocated and moved per request: it must carry the row to
    /// write, never the request (kilobytes), nor the e-wallet's rare branches inline.
    #[tokio::test]
    async fn an_orders_future_stays_under_a_kilobyte() {
        let dir = std::env::temp_dir().join(format!("mypay-future-{}", std::process::id()));
        let settings = crate::config::Settings {
            listen: "127.0.0.1:0".parse().expect("address"),
            database: crate::store::DatabaseUrl::Sqlite(dir.join("mypay.sqlite")),
            ..Default::default()
        };
        let app = crate::app::Application::build(settings, crate::clock::Clock::test())
            .await
            .expect("gateway");
        let state = app.state().clone();
        let merchant = state
            .store
            .merchant(crate::ledger::merchant::SAMPLE_STORE_UID)
            .await
            .expect("store")
            .expect("the sample merchant");
        let request = super::Authenticated {
            command: mypay_protocol::Command::Orders,
            merchant: std::sync::Arc::new(merchant),
            data: b"{}".to_vec(),
        };
        let order = super::create(&state, &request);
        assert!(
            std::mem::size_of_val(&order) < 1024,
            "{} bytes",
            std::mem::size_of_val(&order)
        );
        drop(order);
        drop(app);
        let _ = std::fs::remove_dir_all(dir);
    }
}

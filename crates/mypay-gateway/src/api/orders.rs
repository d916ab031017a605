//! `api/orders` (PayPage金流交易): validate, store durably, answer the PayPage URL.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::app::AppState;
use crate::ledger::order::new_token;
use crate::ledger::order::{NewOrder, items_from_legacy};
use crate::store::{Created, NewOrderRow};
use mypay_protocol::messages::{OrderRequest, OrderResponse};
use mypay_protocol::{Command, Prc};

pub async fn create(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::Orders;
    // The validated order is handed to the writer before the first await, so this
    // future does not carry it (or the parsed request) while the commit is awaited.
    let new = validate(request, state.clock.now())?;
    let order_id = new.order_id.clone();
    let pending = state.store.create_order(NewOrderRow::new(
        new,
        request.merchant.settings.strict_order_id,
        new_token(),
        state.clock.now(),
    ));
    let created = pending.await.map_err(ApiError::internal)?;
    let (uid, key) = match created {
        Created::New { uid, token } | Created::Retry { uid, token } => (uid, token),
        Created::DuplicateOrderId => {
            return Err(ApiError::new(
                command,
                format!(
                    "order_id: {order_id:?} was used before and this merchant requires unique order ids"
                ),
            ));
        }
    };
    let answer = OrderResponse {
        code: Prc::Created.code().to_owned(),
        msg: Prc::Created.description().to_owned(),
        url: format!(
            "{}/payment/{}.html",
            state.base_url,
            state.tickets.ticket(uid)
        ),
        uid,
        key,
    };
    super::to_json(&answer, 256)
}

/// Parse and validate the request into an order for the merchant it authenticated as.
fn validate(request: &Authenticated, now: jiff::Timestamp) -> Result<NewOrder, ApiError> {
    let command = Command::Orders;
    let mut order: OrderRequest = parse_data(command, &request.data)?;
    if order.items.is_none() && order.item.is_some() {
        // The older format: `item` (count) with `i_[n]_*` fields (SPEC §4).
        let raw: serde_json::Map<String, serde_json::Value> = parse_data(command, &request.data)?;
        let items = items_from_legacy(&raw).map_err(|e| ApiError::new(command, e.to_string()))?;
        order.items = Some(items);
    }
    NewOrder::parse(
        &request.merchant.store_uid,
        order,
        &request.merchant.settings,
        crate::clock::taipei::date(now),
    )
    .map_err(|e| ApiError::new(command, e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_32_lowercase_hex_digits_and_differ() {
        let (a, b) = (super::new_token(), super::new_token());
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
        let keys: std::collections::HashSet<String> =
            (0..1000).map(|_| super::new_token()).collect();
        assert_eq!(keys.len(), 1000);
    }
}

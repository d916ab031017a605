//! `api/orders` (PayPage金流交易): validate, store durably, answer the PayPage URL.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::app::AppState;
use crate::ledger::order::{NewOrder, items_from_legacy};
use crate::store::writer::Created;
use mypay_protocol::Command;
use mypay_protocol::messages::{OrderRequest, OrderResponse};

pub async fn create(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::Orders;
    let mut order: OrderRequest = parse_data(command, &request.data)?;
    if order.items.is_none() && order.item.is_some() {
        // The older format: `item` (count) with `i_[n]_*` fields (SPEC §4).
        let raw: serde_json::Map<String, serde_json::Value> = parse_data(command, &request.data)?;
        let items = items_from_legacy(&raw).map_err(|e| ApiError::new(command, e.to_string()))?;
        order.items = Some(items);
    }
    let settings = &request.merchant.settings;
    let new = NewOrder::parse(&request.merchant.store_uid, order, settings)
        .map_err(|e| ApiError::new(command, e.to_string()))?;
    let order_id = new.order_id.clone();
    let created = state
        .writer
        .create(
            new,
            settings.strict_order_id,
            new_token(),
            state.clock.now(),
        )
        .await
        .map_err(ApiError::internal)?;
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
        code: "200".to_owned(),
        msg: "資料正確".to_owned(),
        url: format!("{}/payment/{uid}.html", state.base_url),
        uid,
        key,
    };
    serde_json::to_vec(&answer).map_err(ApiError::internal)
}

/// A fresh per-order `key`: 32 hex digits from the OS's random source.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the gateway must not hand out keys at all.
    getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(32);
    for b in bytes {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    key
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
}

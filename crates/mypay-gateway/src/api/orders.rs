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
    let new = validate(request, state.now_for(&request.merchant.store_uid))?;
    let order_id = new.order_id.clone();
    // An e-wallet order names a bound card of its consumer (one lookup, only for them).
    // The wallet check and the background payment are boxed: held inline, their futures
    // (a whole payment) would size every order's future at ~11 KB, allocated and copied
    // per request.
    let background_wallet = if new.request.enable_ewallet.is_some_and(|e| e != 0) {
        Box::pin(crate::service::ewallet::check_order_wallet(
            state,
            &request.merchant.store_uid,
            &new.user_id,
            new.request.enable_ewallet,
            new.request.virtual_pan.as_deref(),
            new.request.ewallet_type,
        ))
        .await
        .map_err(|e| match e {
            crate::service::ewallet::WalletError::Refused(msg) => ApiError::new(command, msg),
            crate::service::ewallet::WalletError::Store(e) => ApiError::internal(e),
        })?;
        new.request.ewallet_type == Some(2)
    } else {
        false
    };
    if background_wallet && let Some((uid, key)) = charged_before(state, &new).await? {
        // The same background payment again (a merchant's retry after a timeout): the
        // transaction it made, charged once.
        return Box::pin(background_payment(state, uid, key)).await;
    }
    let pending = state.store.create_order(NewOrderRow::new(
        new,
        request.merchant.settings.strict_order_id,
        new_token(),
        state.now_for(&request.merchant.store_uid),
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
    if background_wallet {
        return Box::pin(background_payment(state, uid, key)).await;
    }
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

/// `ewallet_type` 2 (電子錢包背景交易): the bound card is charged now, with no page; the
/// answer carries the result (`250`, `300`, …) as its `code`, with the order's `uid` and
/// `key`, and a 交易完成 notice follows as for any payment. A retry of the same request
/// answers the state the first reached, and charges nothing.
async fn background_payment(state: &AppState, uid: u64, key: String) -> Result<Vec<u8>, ApiError> {
    use crate::service::{CheckoutError, Outcome};
    let prc = match crate::service::ewallet::pay_with_wallet(state, uid).await {
        Ok(Outcome::Done(prc)) => prc,
        Ok(Outcome::NeedsOtp) => Prc::Failed,
        Err(CheckoutError::NotPayable(_) | CheckoutError::ChargeInProgress) => {
            match state.store.order(uid).await {
                Ok(Some(order)) => order.prc,
                Ok(None) => return Err(ApiError::internal("an answered order is gone")),
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
        Err(CheckoutError::Store(e)) => return Err(ApiError::internal(e)),
        Err(other) => return Err(ApiError::new(Command::Orders, other.to_string())),
    };
    let answer = OrderResponse {
        code: prc.code().to_owned(),
        msg: prc.description().to_owned(),
        url: String::new(),
        uid,
        key,
    };
    super::to_json(&answer, 256)
}

/// A transaction of the same merchant, `order_id` and request that a background e-wallet
/// payment already charged (or failed): SPEC §4 makes a new transaction of an order id
/// once paid, but a merchant retrying a background charge means the same one.
async fn charged_before(
    state: &AppState,
    new: &NewOrder,
) -> Result<Option<(u64, String)>, ApiError> {
    let request = new.request_json();
    let uids = state
        .store
        .order_uids(&new.store_uid, &new.order_id)
        .await
        .map_err(ApiError::internal)?;
    for uid in uids.into_iter().rev() {
        if let Some(order) = state.store.order(uid).await.map_err(ApiError::internal)?
            && order.request == request
            && order.prc != Prc::Created
        {
            return Ok(Some((order.uid, order.token)));
        }
    }
    Ok(None)
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
    crate::service::invoices::check_order_fields(&order).map_err(|e| ApiError::new(command, e))?;
    NewOrder::parse(
        &request.merchant.store_uid,
        order,
        &request.merchant.settings,
        now,
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

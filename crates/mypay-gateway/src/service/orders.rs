//! Placing an order (`api/orders`, PayPage金流交易): checked against the merchant's
//! settings, stored durably (SPEC §4 decides which transaction it is), and, for an
//! e-wallet order in the background (`ewallet_type` 2), charged at once with no page.

use super::Gateway;
use super::checkout::{CheckoutError, Outcome, Tries};
use super::saved_cards;
use crate::ledger::order::{NewOrder, new_token};
use crate::store::{Created, Merchant, NewOrderRow, StoreError};
use mypay_protocol::Prc;
use mypay_protocol::messages::OrderRequest;

/// An order placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// Waiting for its consumer on the PayPage.
    Page { uid: u64, key: String },
    /// Charged in the background (`ewallet_type` 2): its result.
    Charged { uid: u64, key: String, prc: Prc },
}

/// Why an order was not placed; a refusal names the field.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{0}")]
    Refused(String),
    #[error("internal: {0}")]
    Store(#[from] StoreError),
}

impl From<super::ewallet::WalletError> for OrderError {
    fn from(e: super::ewallet::WalletError) -> OrderError {
        match e {
            super::ewallet::WalletError::Refused(msg) => OrderError::Refused(msg),
            super::ewallet::WalletError::Store(e) => OrderError::Store(e),
        }
    }
}

/// Place `merchant`'s order `request`.
pub async fn place(
    state: &Gateway,
    merchant: &Merchant,
    request: OrderRequest,
) -> Result<Placed, OrderError> {
    let now = state.now_for(&merchant.store_uid);
    super::invoices::check_order_fields(&request).map_err(OrderError::Refused)?;
    let new = NewOrder::parse(&merchant.store_uid, request, &merchant.settings, now)
        .map_err(|e| OrderError::Refused(e.to_string()))?;
    // An e-wallet order names a bound card of its consumer (one lookup, only for them).
    // The wallet check and the background payment are boxed: held inline, their futures
    // (a whole payment) would size every order's future at ~11 KB, allocated and copied
    // per request.
    let background = if new.request.enable_ewallet.is_some_and(|e| e != 0) {
        Box::pin(saved_cards::check_order_wallet(
            state,
            &merchant.store_uid,
            &new.user_id,
            new.request.enable_ewallet,
            new.request.virtual_pan.as_deref(),
            new.request.ewallet_type,
        ))
        .await?;
        new.request.ewallet_type == Some(2)
    } else {
        false
    };
    if background && let Some((uid, key)) = charged_before(state, &new).await? {
        // The same background payment again (a merchant's retry after a timeout): the
        // transaction it made, charged once.
        return Box::pin(background_payment(state, uid, key)).await;
    }
    let order_id = new.order_id.clone();
    // The validated order is handed to the writer before the first await of the hot
    // path, so this future does not carry it while the commit is awaited.
    let created = state
        .store
        .create_order(NewOrderRow::new(
            new,
            merchant.settings.strict_order_id,
            new_token(),
            now,
        ))
        .await?;
    let (uid, key) = match created {
        Created::New { uid, token } | Created::Retry { uid, token } => (uid, token),
        Created::DuplicateOrderId => {
            return Err(OrderError::Refused(format!(
                "order_id: {order_id:?} was used before and this merchant requires unique order ids"
            )));
        }
    };
    if background {
        return Box::pin(background_payment(state, uid, key)).await;
    }
    Ok(Placed::Page { uid, key })
}

/// `ewallet_type` 2 (電子錢包背景交易): the bound card is charged now, with no page; the
/// answer is the state reached, and a 交易完成 notice follows as for any payment. A retry
/// of the same request answers the state the first reached, and charges nothing.
async fn background_payment(state: &Gateway, uid: u64, key: String) -> Result<Placed, OrderError> {
    let prc = match saved_cards::pay_with_saved_card(state, uid, Tries::Only).await {
        Ok(Outcome::Done(prc)) => prc,
        // No consumer is there to give a password or another card.
        Ok(Outcome::NeedsOtp | Outcome::Declined { .. }) => Prc::Failed,
        Err(CheckoutError::NotPayable(_) | CheckoutError::ChargeInProgress) => {
            state
                .store
                .order(uid)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("the answered order {uid} is gone")))?
                .prc
        }
        Err(CheckoutError::Store(e)) => return Err(OrderError::Store(e)),
        Err(other) => return Err(OrderError::Refused(other.to_string())),
    };
    Ok(Placed::Charged { uid, key, prc })
}

/// A transaction of the same merchant, `order_id` and request that a background e-wallet
/// payment already charged (or failed): SPEC §4 makes a new transaction of an order id
/// once paid, but a merchant retrying a background charge means the same one.
async fn charged_before(
    state: &Gateway,
    new: &NewOrder,
) -> Result<Option<(u64, String)>, StoreError> {
    let request = new.request_json();
    let uids = state
        .store
        .order_uids(&new.store_uid, &new.order_id)
        .await?;
    for uid in uids.into_iter().rev() {
        if let Some(order) = state.store.order(uid).await?
            && order.request == request
            && order.prc != Prc::Created
        {
            return Ok(Some((order.uid, order.token)));
        }
    }
    Ok(None)
}

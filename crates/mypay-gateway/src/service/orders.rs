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

/// An e-wallet order's fields: the card it names, and whether it is paid now.
struct WalletFields {
    enable_ewallet: Option<i64>,
    virtual_pan: Option<String>,
    ewallet_type: Option<i64>,
    user_id: String,
}

/// Place `merchant`'s order `request`. The request is checked and turned into the row
/// to write before the returned future runs: the future carries that row (a few hundred
/// bytes), not the request (kilobytes), which every order's future would otherwise be
/// sized for, allocated and copied per request.
pub fn place<'a>(
    state: &'a Gateway,
    merchant: &'a Merchant,
    request: OrderRequest,
) -> impl Future<Output = Result<Placed, OrderError>> + Send + 'a {
    let now = state.now_for(&merchant.store_uid);
    let prepared = check(merchant, request, now).map(|new| {
        let wallet = new
            .request
            .enable_ewallet
            .is_some_and(|e| e != 0)
            .then(|| WalletFields {
                enable_ewallet: new.request.enable_ewallet,
                virtual_pan: new.request.virtual_pan.clone(),
                ewallet_type: new.request.ewallet_type,
                user_id: new.user_id.clone(),
            });
        let row = NewOrderRow::new(new, merchant.settings.strict_order_id, new_token(), now);
        (row, wallet)
    });
    async move {
        let (row, wallet) = prepared?;
        // An e-wallet order names a bound card of its consumer (one lookup, only for
        // them). Its branches are boxed, for the same reason as above.
        if let Some(wallet) = wallet {
            return Box::pin(place_ewallet_order(state, merchant, row, wallet)).await;
        }
        let order_id = row.order_id.clone();
        let (uid, key) = created(&order_id, state.store.create_order(row).await?)?;
        Ok(Placed::Page { uid, key })
    }
}

/// The request checked against the merchant's settings.
fn check(
    merchant: &Merchant,
    request: OrderRequest,
    now: jiff::Timestamp,
) -> Result<NewOrder, OrderError> {
    super::invoices::check_order_fields(&request).map_err(OrderError::Refused)?;
    NewOrder::parse(&merchant.store_uid, request, &merchant.settings, now)
        .map_err(|e| OrderError::Refused(e.to_string()))
}

/// Which transaction the store made of the order.
fn created(order_id: &str, created: Created) -> Result<(u64, String), OrderError> {
    match created {
        Created::New { uid, token } | Created::Retry { uid, token } => Ok((uid, token)),
        Created::DuplicateOrderId => Err(OrderError::Refused(format!(
            "order_id: {order_id:?} was used before and this merchant requires unique order ids"
        ))),
    }
}

async fn place_ewallet_order(
    state: &Gateway,
    merchant: &Merchant,
    row: NewOrderRow,
    wallet: WalletFields,
) -> Result<Placed, OrderError> {
    saved_cards::check_order_wallet(
        state,
        &merchant.store_uid,
        &wallet.user_id,
        wallet.enable_ewallet,
        wallet.virtual_pan.as_deref(),
        wallet.ewallet_type,
    )
    .await?;
    let background = wallet.ewallet_type == Some(2);
    if background && let Some((uid, key)) = charged_before(state, &row).await? {
        // The same background payment again (a merchant's retry after a timeout): the
        // transaction it made, charged once.
        return background_payment(state, uid, key).await;
    }
    let order_id = row.order_id.clone();
    let (uid, key) = created(&order_id, state.store.create_order(row).await?)?;
    if background {
        return background_payment(state, uid, key).await;
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
        Ok(Outcome::NeedsOtp | Outcome::Challenge(_) | Outcome::Declined { .. }) => Prc::Failed,
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
    new: &NewOrderRow,
) -> Result<Option<(u64, String)>, StoreError> {
    let uids = state
        .store
        .order_uids(&new.store_uid, &new.order_id)
        .await?;
    for uid in uids.into_iter().rev() {
        if let Some(order) = state.store.order(uid).await?
            && order.request == new.request_json
            && order.prc != Prc::Created
        {
            return Ok(Some((order.uid, order.token)));
        }
    }
    Ok(None)
}

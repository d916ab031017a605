//! Paying with a card the consumer saved: the e-wallet's bound card (`enable_ewallet` 1
//! and its `virtual_pan`: in one click on the PayPage with `ewallet_type` 1, in the
//! background with no page at all with 2), else the card quick checkout remembered of
//! the consumer's last payment at this merchant (`enable_quickpay`). Either is a charge
//! of a card the upstream keeps, by its token.

use super::Gateway;
use super::cards::{CardPlan, Charged, settle};
use super::charge::{self, Payment, Request};
use super::checkout::{CheckoutError, Outcome, Tries, payable_order};
use super::ewallet::WalletError;
use crate::ledger::card::CardSummary;
use crate::store::{OrderRow, StoreError, StoredCard, WalletRow, WalletStatus};
use mypay_protocol::PaymentTool;

/// Whether `wallet` is a bound card of the consumer `user_id`.
fn bound_for(wallet: &WalletRow, user_id: &str) -> bool {
    wallet.status == WalletStatus::Bound && wallet.user_id == user_id
}

/// The bound wallet an order pays with (`enable_ewallet` 1 and its `virtual_pan`), if
/// it is the order's consumer's.
pub async fn wallet_of(state: &Gateway, order: &OrderRow) -> Result<Option<WalletRow>, StoreError> {
    let request = order.stored_request();
    if request.enable_ewallet != Some(1) {
        return Ok(None);
    }
    let Some(pan) = request
        .virtual_pan
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    let wallet = state.store.wallet_by_pan(&order.store_uid, pan).await?;
    let user_id = request.user_id.as_deref().unwrap_or("");
    Ok(wallet.filter(|w| bound_for(w, user_id)))
}

/// Where a saved card comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedKind {
    /// Bound to the consumer's e-wallet (`api/ewalletbind`), named by the order's
    /// `virtual_pan`.
    Ewallet,
    /// Remembered from the consumer's last payment at this merchant (quick checkout).
    QuickCheckout,
}

/// A card an order can pay with in one click.
#[derive(Debug, Clone)]
pub struct SavedCard {
    pub kind: SavedKind,
    pub tool: PaymentTool,
    pub card: StoredCard,
}

/// The card an order can pay with in one click: its bound e-wallet card, else (quick
/// checkout) the card its consumer last paid with at this merchant; with its tool.
pub async fn saved_card(
    state: &Gateway,
    order: &OrderRow,
    settings: &crate::ledger::merchant::MerchantSettings,
) -> Result<Option<SavedCard>, StoreError> {
    if let Some(wallet) = wallet_of(state, order).await? {
        let tool = PaymentTool::parse(&wallet.pfn).unwrap_or(PaymentTool::CreditCard);
        return Ok(wallet.card.map(|card| SavedCard {
            kind: SavedKind::Ewallet,
            tool,
            card,
        }));
    }
    if !crate::ledger::order::quickpay_on(order.stored_request()) {
        return Ok(None);
    }
    let user_id = order.stored_request().user_id.clone().unwrap_or_default();
    let Some((tool, card)) = state
        .store
        .remembered_card(&order.store_uid, &user_id)
        .await?
    else {
        return Ok(None);
    };
    // Only a tool this order may still be paid with.
    let tool = PaymentTool::parse(&tool).unwrap_or(PaymentTool::CreditCard);
    let allowed = super::cards::card_tools(settings, order).contains(&tool);
    Ok(allowed.then_some(SavedCard {
        kind: SavedKind::QuickCheckout,
        tool,
        card,
    }))
}

/// Check an order's e-wallet fields at creation: `100` naming the field when they name
/// no bound wallet of this merchant's consumer.
pub async fn check_order_wallet(
    state: &Gateway,
    store_uid: &str,
    user_id: &str,
    enable_ewallet: Option<i64>,
    virtual_pan: Option<&str>,
    ewallet_type: Option<i64>,
) -> Result<(), WalletError> {
    match enable_ewallet {
        None | Some(0) => return Ok(()),
        Some(1) => {}
        Some(other) => {
            return Err(WalletError::Refused(format!(
                "enable_ewallet: must be 0 or 1, got {other}"
            )));
        }
    }
    if !matches!(ewallet_type, None | Some(1) | Some(2)) {
        return Err(WalletError::Refused(
            "ewallet_type: must be 1 (前景交易) or 2 (背景交易)".into(),
        ));
    }
    let pan = virtual_pan
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            WalletError::Refused("virtual_pan: is required with enable_ewallet 1".into())
        })?;
    match state.store.wallet_by_pan(store_uid, pan).await? {
        Some(w) if bound_for(&w, user_id) => Ok(()),
        _ => Err(WalletError::Refused(
            "virtual_pan: is not a bound e-wallet card of this user_id".into(),
        )),
    }
}

/// Pay order `uid` with its consumer's saved card (the bound e-wallet card, else quick
/// checkout's): the PayPage's one click, or the background payment of `ewallet_type` 2.
pub async fn pay_with_saved_card(
    state: &Gateway,
    uid: u64,
    tries: Tries,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let SavedCard { tool, card, .. } = saved_card(state, &order, &merchant.settings)
        .await?
        .ok_or_else(|| CheckoutError::Tool("this order has no saved card".into()))?;
    let summary = CardSummary {
        masked: card.cardno.clone(),
        card_type: mypay_protocol::values::CardType::from_code(card.card_type),
        issuing_bank: card.issuing_bank.clone(),
        issuing_bank_uid: card.issuing_bank_uid.clone(),
    };
    let request = Request {
        tool,
        amount: order.cost,
        payment: Payment::Stored { token: &card.token },
    };
    let charged = Charged {
        order: &order,
        merchant: &merchant,
        tool,
        card: &summary,
        plan: &CardPlan::default(),
        tries,
    };
    charge::run(state, charged.claim(), request, async |_, answer| {
        settle(state, &charged, answer).await
    })
    .await?
}

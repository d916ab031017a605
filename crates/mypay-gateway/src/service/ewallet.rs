//! The MYPAY e-wallet (電子錢包, SPEC §9): a consumer binds a card once on the bind page
//! (`api/ewalletbind`), the merchant hears its virtual card number by notice, and later
//! orders with `enable_ewallet` 1 and that `virtual_pan` pay with it: in one click on the
//! PayPage (`ewallet_type` 1) or in the background with no page at all (2).

use super::Gateway;
use super::cards::{CardPlan, settle};
use super::checkout::{CheckoutError, Outcome, payable_order};
use crate::ledger::card::{CardInput, CardSummary};
use crate::ledger::connector::{CardAnswer, CardCharge, StoredCardCharge};
use crate::ledger::merchant::check_return_url;
use crate::store::{Merchant, OrderRow, StoreError, StoredCard, WalletRow, WalletStatus};
use mypay_protocol::PaymentTool;
use mypay_protocol::messages::EwalletBindRequest;
use mypay_protocol::notice::EwalletNotice;
use std::net::IpAddr;

/// A wrong 3-D Secure password may be typed this many times before the bind fails.
const OTP_ATTEMPTS: i64 = 3;

/// Why a bind request was refused; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("{0}")]
    Refused(String),
    #[error("internal: {0}")]
    Store(#[from] StoreError),
}

/// Record a bind request of `merchant`'s consumer: the id its bind page opens.
pub async fn open_bind(
    state: &Gateway,
    merchant: &Merchant,
    mut req: EwalletBindRequest,
) -> Result<u64, WalletError> {
    let refused = |msg: String| WalletError::Refused(msg);
    if let Some(inner) = req.store_uid.as_deref()
        && inner != merchant.store_uid
    {
        return Err(refused(format!(
            "store_uid: {inner:?} does not match the credentials' merchant"
        )));
    }
    req.store_uid = Some(merchant.store_uid.clone());
    let user_id = req
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| refused("user_id: is required".into()))?
        .to_owned();
    if user_id.len() > 100 {
        return Err(refused("user_id: must be at most 100 bytes".into()));
    }
    let ip = req.ip.as_deref().map(str::trim).unwrap_or("");
    if ip.is_empty() {
        return Err(refused("ip: is required".into()));
    }
    if ip.parse::<IpAddr>().is_err() {
        return Err(refused(format!(
            "ip: {ip:?} is not an IPv4 or IPv6 address"
        )));
    }
    let tool = match req.pfn.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => PaymentTool::CreditCard,
        Some(text) => PaymentTool::parse(text)
            .filter(|t| matches!(t, PaymentTool::CreditCard | PaymentTool::Abroad))
            .ok_or_else(|| refused(format!("pfn: {text:?} is not CREDITCARD or ABROAD")))?,
    };
    if merchant.settings.tool(tool).is_none() {
        return Err(refused(format!(
            "pfn: {} is not enabled for this merchant",
            tool.code()
        )));
    }
    for (name, url) in [
        ("success_returl", &req.success_returl),
        ("failure_returl", &req.failure_returl),
    ] {
        if let Some(u) = url.as_deref().filter(|u| !u.trim().is_empty())
            && check_return_url(u).is_err()
        {
            return Err(refused(format!(
                "{name}: must be an http:// or https:// URL"
            )));
        }
    }
    for (name, value, max) in [
        ("user_cellphone_code", &req.user_cellphone_code, 4),
        ("user_cellphone", &req.user_cellphone, 20),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty())
            && (v.len() > max || !v.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(refused(format!("{name}: must be at most {max} digits")));
        }
    }
    let request = serde_json::to_string(&req)
        .map_err(|e| WalletError::Store(StoreError::Corrupt(e.to_string())))?;
    Ok(state
        .store
        .create_wallet_bind(
            &merchant.store_uid,
            &user_id,
            tool.code(),
            &request,
            state.now_for(&merchant.store_uid),
        )
        .await?)
}

/// What a bind page's form led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    Failed,
    /// The card's 3-D Secure password is needed.
    NeedsOtp,
}

/// A bind request, by its id.
async fn open_wallet(state: &Gateway, id: u64) -> Result<WalletRow, CheckoutError> {
    state.store.wallet(id).await?.ok_or(CheckoutError::NotFound)
}

/// Whether `wallet` is a bound card of the consumer `user_id`.
fn bound_for(wallet: &WalletRow, user_id: &str) -> bool {
    wallet.status == WalletStatus::Bound && wallet.user_id == user_id
}

/// The consumer gave a card on the bind page (or the sandbox helper): check it with the
/// acquirer, and bind it, fail, or wait for its 3-D Secure password.
pub async fn bind_card(
    state: &Gateway,
    id: u64,
    number: &str,
    expiry: &str,
    cvc: &str,
    otp: Option<&str>,
) -> Result<BindOutcome, CheckoutError> {
    let wallet = open_wallet(state, id).await?;
    if !matches!(wallet.status, WalletStatus::Open | WalletStatus::Challenged) {
        return Err(CheckoutError::Tool("this bind request has ended".into()));
    }
    let tool = PaymentTool::parse(&wallet.pfn).unwrap_or(PaymentTool::CreditCard);
    let card = CardInput::parse(number, expiry, cvc)?;
    let today = crate::clock::taipei::date8(state.now_for(&wallet.store_uid));
    let year = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2000);
    let month = today.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(1);
    let attempt = crate::ledger::order::new_token();
    let answer = state
        .acquirer
        .verify(&CardCharge {
            uid: id,
            attempt: &attempt,
            tool,
            amount: 0,
            card: &card,
            today_year_month: (year, month),
        })
        .await;
    let stored = stored_card(state.acquirer.store_card(&card), &card.summary());
    drop(card);
    match answer {
        CardAnswer::ThreeDSecure { password, then } => match otp {
            Some(given) if given.trim() == password => {
                finish(state, &wallet, &stored, bind_works(&then)).await
            }
            Some(_) => finish(state, &wallet, &stored, false).await,
            None => {
                if !state.store.challenge_wallet(id, &stored, &password).await? {
                    return Err(CheckoutError::Tool("this bind request has ended".into()));
                }
                Ok(BindOutcome::NeedsOtp)
            }
        },
        other => finish(state, &wallet, &stored, bind_works(&other)).await,
    }
}

/// The consumer typed the 3D password of the card being bound.
pub async fn submit_bind_otp(
    state: &Gateway,
    id: u64,
    password: &str,
) -> Result<BindOutcome, CheckoutError> {
    let wallet = open_wallet(state, id).await?;
    let (Some(expected), Some(card), WalletStatus::Challenged) =
        (&wallet.pending_password, &wallet.card, wallet.status)
    else {
        return Err(CheckoutError::NoChallenge);
    };
    if password.trim() == expected {
        return finish(state, &wallet, card, true).await;
    }
    let failures = state.store.fail_wallet_otp(id).await?;
    if failures >= OTP_ATTEMPTS {
        return finish(state, &wallet, card, false).await;
    }
    Err(CheckoutError::WrongOtp(OTP_ATTEMPTS - failures))
}

/// Whether an acquirer's answer to a card check lets the card be kept.
fn bind_works(answer: &CardAnswer) -> bool {
    matches!(
        answer,
        CardAnswer::Approved { .. }
            | CardAnswer::AmountMismatch { .. }
            | CardAnswer::Pending {
                resolves_paid: true
            }
    )
}

fn stored_card(token: String, summary: &CardSummary) -> StoredCard {
    StoredCard {
        token,
        cardno: summary.masked.clone(),
        card_type: summary.card_type.code(),
        issuing_bank: summary.issuing_bank.clone(),
        issuing_bank_uid: summary.issuing_bank_uid.clone(),
    }
}

/// End the bind: bound (with a new virtual card number and the merchant's notice) or
/// failed. A bind that ended meanwhile (a second tab) keeps its first end.
async fn finish(
    state: &Gateway,
    wallet: &WalletRow,
    card: &StoredCard,
    works: bool,
) -> Result<BindOutcome, CheckoutError> {
    let now = state.now_for(&wallet.store_uid);
    if !works {
        state
            .store
            .finish_wallet_bind(wallet.id, None, None, now)
            .await?;
        return Ok(BindOutcome::Failed);
    }
    let merchant = state
        .store
        .merchant(&wallet.store_uid)
        .await?
        .ok_or(CheckoutError::NotFound)?;
    let request: EwalletBindRequest = serde_json::from_str(&wallet.request).unwrap_or_default();
    // Sixteen digits from the random source: a virtual card number names no real card
    // and cannot be guessed from another.
    let token = crate::ledger::order::new_token();
    let virtual_pan: String = std::iter::once('9')
        .chain(token.bytes().take(15).map(|b| char::from(b'0' + (b % 10))))
        .collect();
    let notice = EwalletNotice {
        pfn: wallet.pfn.clone(),
        cardno: card.cardno.clone(),
        user_id: wallet.user_id.clone(),
        cellphone_code: request.user_cellphone_code.clone().unwrap_or_default(),
        cellphone: request.user_cellphone.clone().unwrap_or_default(),
        virtual_pan: virtual_pan.clone(),
        enable: "1".to_owned(),
    };
    let outbox =
        crate::notify::ewallet_notice(&merchant.settings, &wallet.store_uid, wallet.id, &notice);
    let bound = state
        .store
        .finish_wallet_bind(wallet.id, Some((card, &virtual_pan)), outbox.as_ref(), now)
        .await?;
    if bound {
        state.notices_waiting.notify_one();
    }
    Ok(BindOutcome::Bound)
}

/// Where the bind page sends the consumer when done: the request's return URL.
pub fn return_url(wallet: &WalletRow) -> Option<String> {
    let request: EwalletBindRequest = serde_json::from_str(&wallet.request).unwrap_or_default();
    match wallet.status {
        WalletStatus::Bound => request.success_returl,
        WalletStatus::Failed => request.failure_returl,
        _ => None,
    }
    .filter(|u| !u.trim().is_empty())
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

/// Whether an order's consumer gets quick checkout (『啟用快速結帳』: on unless the order
/// says 0, and only for a consumer the merchant names).
pub fn quickpay_on(order: &OrderRow) -> bool {
    let request = order.stored_request();
    request.enable_quickpay != Some(0)
        && request
            .user_id
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
}

/// The card an order can pay with in one click: its bound e-wallet card, else (quick
/// checkout) the card its consumer last paid with at this merchant; with its tool.
pub async fn saved_card(
    state: &Gateway,
    order: &OrderRow,
    settings: &crate::ledger::merchant::MerchantSettings,
) -> Result<Option<(PaymentTool, StoredCard)>, StoreError> {
    if let Some(wallet) = wallet_of(state, order).await? {
        let tool = PaymentTool::parse(&wallet.pfn).unwrap_or(PaymentTool::CreditCard);
        return Ok(wallet.card.map(|c| (tool, c)));
    }
    if !quickpay_on(order) {
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
    Ok(allowed.then_some((tool, card)))
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
pub async fn pay_with_wallet(state: &Gateway, uid: u64) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let (tool, card) = saved_card(state, &order, &merchant.settings)
        .await?
        .ok_or_else(|| CheckoutError::Tool("this order has no saved card".into()))?;
    let attempt = crate::ledger::order::new_token();
    if !state
        .store
        .claim_charge(uid, order.prc, &attempt, jiff::Timestamp::now())
        .await?
    {
        return Err(CheckoutError::ChargeInProgress);
    }
    let answer = state
        .acquirer
        .charge_stored(&StoredCardCharge {
            uid,
            attempt: &attempt,
            tool,
            amount: order.cost,
            token: &card.token,
            forced_decline: false,
        })
        .await;
    let summary = CardSummary {
        masked: card.cardno.clone(),
        card_type: mypay_protocol::values::CardType::from_code(card.card_type),
        issuing_bank: card.issuing_bank.clone(),
        issuing_bank_uid: card.issuing_bank_uid.clone(),
    };
    let outcome = settle(
        state,
        &order,
        &merchant,
        tool,
        &summary,
        &CardPlan::default(),
        answer,
    )
    .await;
    if let Err(e) = state.store.release_charge(uid, &attempt).await {
        tracing::error!(error = %e, uid, "releasing a charge claim");
    }
    outcome
}

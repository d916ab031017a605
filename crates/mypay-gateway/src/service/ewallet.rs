//! The MYPAY e-wallet (電子錢包, SPEC §9): a consumer binds a card once on the bind page
//! (`api/ewalletbind`), and the merchant hears its virtual card number by notice. Paying
//! with the bound card is quick checkout's business ([`super::saved_cards`]).

use super::Gateway;
use super::checkout::CheckoutError;
use crate::ledger::card::{CardInput, CardSummary};
use crate::ledger::connector::{CardAnswer, CardCharge};
use crate::ledger::merchant::check_return_url;
use crate::store::{Merchant, StoreError, StoredCard, WalletRow, WalletStatus};
use mypay_protocol::PaymentTool;
use mypay_protocol::messages::EwalletBindRequest;
use mypay_protocol::notice::EwalletNotice;
use std::net::IpAddr;

use super::cards::OTP_ATTEMPTS;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    Failed,
    /// The card's 3-D Secure password is needed.
    NeedsOtp,
    /// The consumer passes the upstream's 3-D Secure challenge at this URL, and comes
    /// back to the bind's return URL.
    Challenge(String),
}

/// How a bind waiting on the upstream's own challenge is marked in place of a password
/// (followed by the check's reference); the password form refuses such a bind, so
/// nothing typed there is ever compared with it.
const UPSTREAM_CHALLENGE: &str = "upstream-challenge:";

/// A bind request, by its id.
async fn open_wallet(state: &Gateway, id: u64) -> Result<WalletRow, CheckoutError> {
    state.store.wallet(id).await?.ok_or(CheckoutError::NotFound)
}

/// The consumer gave a card on the bind page (or the sandbox helper): check it with the
/// acquirer, and bind it, fail, or wait for its 3-D Secure password.
pub async fn bind_card(
    state: &Gateway,
    id: u64,
    card: (&str, &str, &str),
    return_url: Option<&str>,
) -> Result<BindOutcome, CheckoutError> {
    let (number, expiry, cvc) = card;
    let wallet = open_wallet(state, id).await?;
    if !matches!(wallet.status, WalletStatus::Open | WalletStatus::Challenged) {
        return Err(CheckoutError::Tool("this bind request has ended".into()));
    }
    let tool = PaymentTool::parse(&wallet.pfn).unwrap_or(PaymentTool::CreditCard);
    let card = CardInput::parse(number, expiry, cvc)?;
    let attempt = crate::ledger::order::new_token();
    let answer = state
        .acquirer
        .verify(&CardCharge {
            // A bind is no transaction: its check names none, so no upstream's callback
            // about it can be taken for an order's.
            uid: 0,
            attempt: &attempt,
            tool,
            amount: 0,
            card: &card,
            today_year_month: super::charge::today_year_month(state, &wallet.store_uid),
            capture: true,
            return_url: return_url.map(str::to_owned),
            installments: None,
        })
        .await;
    let token = state
        .acquirer
        .store_card(&card)
        .await
        .ok_or(CheckoutError::CardNotKept)?;
    let stored = stored_card(token, &card.summary());
    drop(card);
    match answer {
        CardAnswer::ThreeDSecure { password, .. } => {
            if !state.store.challenge_wallet(id, &stored, &password).await? {
                return Err(CheckoutError::Tool("this bind request has ended".into()));
            }
            Ok(BindOutcome::NeedsOtp)
        }
        CardAnswer::Challenge { reference, url } => {
            let marker = format!("{UPSTREAM_CHALLENGE}{reference}");
            if !state.store.challenge_wallet(id, &stored, &marker).await? {
                return Err(CheckoutError::Tool("this bind request has ended".into()));
            }
            Ok(BindOutcome::Challenge(url))
        }
        other => finish(state, &wallet, &stored, bind_works(&other)).await,
    }
}

/// The consumer came back from the upstream's 3-D Secure challenge of bind `id`: bound
/// or failed as the upstream says of its check.
pub async fn bind_challenge_returned(
    state: &Gateway,
    id: u64,
) -> Result<BindOutcome, CheckoutError> {
    use crate::ledger::connector::Resolution;
    let wallet = open_wallet(state, id).await?;
    let (Some(marker), Some(card), WalletStatus::Challenged) =
        (&wallet.pending_password, &wallet.card, wallet.status)
    else {
        return Err(CheckoutError::NoChallenge);
    };
    let Some(reference) = marker.strip_prefix(UPSTREAM_CHALLENGE) else {
        return Err(CheckoutError::NoChallenge);
    };
    match state.acquirer.status(reference).await {
        Resolution::Paid { .. } => finish(state, &wallet, card, true).await,
        Resolution::Failed { .. } | Resolution::NeverPerformed => {
            finish(state, &wallet, card, false).await
        }
        // Not decided yet: the consumer may come back again.
        Resolution::Unknown => Err(CheckoutError::Unavailable),
    }
}

/// The consumer typed the 3D password of the card being bound.
pub async fn submit_bind_otp(
    state: &Gateway,
    id: u64,
    password: &str,
    tries: super::Tries,
) -> Result<BindOutcome, CheckoutError> {
    let wallet = open_wallet(state, id).await?;
    let (Some(expected), Some(card), WalletStatus::Challenged) =
        (&wallet.pending_password, &wallet.card, wallet.status)
    else {
        return Err(CheckoutError::NoChallenge);
    };
    if expected.starts_with(UPSTREAM_CHALLENGE) {
        // The upstream asks its password on its own page, never here.
        return Err(CheckoutError::NoChallenge);
    }
    if password.trim() == expected {
        return finish(state, &wallet, card, true).await;
    }
    let failures = match tries {
        super::Tries::Page => state.store.fail_wallet_otp(id).await?,
        super::Tries::Only => OTP_ATTEMPTS,
    };
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

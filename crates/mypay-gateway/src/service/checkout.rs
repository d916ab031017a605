//! What every payment flow shares: the consumer's form, the outcome, the errors, and
//! the plumbing (read a payable order, build a transition, commit it and wake the outbox).

use super::Gateway;
use crate::ledger::card::CardFormError;
use crate::ledger::state::{self, Event};
use crate::notify;
use crate::store::{OrderRow, PaymentFacts, StoreError, Transition};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::{PaymentTool, Prc, Preselection};

/// The card form: the tool chosen and the card typed.
#[derive(Debug, Clone, Default)]
pub struct CardForm {
    pub pfn: Option<String>,
    pub card_number: String,
    pub expiry: String,
    pub cvc: String,
    /// C_INSTALLMENT: the number of instalments chosen.
    pub installment: Option<String>,
    /// Where the consumer comes back to after an upstream's 3-D Secure challenge.
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The order reached this state.
    Done(Prc),
    /// A 3-D Secure password is needed (PayPage: show the OTP page).
    NeedsOtp,
    /// The consumer passes the upstream's 3-D Secure challenge at this URL, and comes
    /// back to the charge's return URL.
    Challenge(String),
    /// The card was declined; the order waits for another card (`tries_left` more).
    Declined { tries_left: i64 },
}

/// How many tries the consumer has: of a 3-D Secure password, of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tries {
    /// On the PayPage: [`super::OTP_ATTEMPTS`] wrong passwords fail the charge, and a
    /// declined card leaves the order waiting for another, [`super::CARD_DECLINES`] cards
    /// in all.
    Page,
    /// This one only (the sandbox helper, a background charge): a wrong password fails
    /// the charge, a decline fails the order.
    Only,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no such order")]
    NotFound,
    #[error("the order is in state {0} and cannot be paid")]
    NotPayable(Prc),
    #[error("pfn: {0}")]
    Tool(String),
    #[error("amount: {0}")]
    Amount(String),
    #[error("wallet_code: the consumer's payment code is 12 to 24 digits")]
    WalletCode,
    #[error("installment: {0}")]
    Installment(String),
    #[error("{0}")]
    Card(#[from] CardFormError),
    #[error("otp: wrong 3-D Secure password, {0} tries left")]
    WrongOtp(i64),
    #[error("otp: no 3-D Secure step is waiting for this order")]
    NoChallenge,
    #[error("another payment of this order is under way")]
    ChargeInProgress,
    #[error("the acquirer cannot keep this card now; please try again")]
    CardNotKept,
    #[error("the payment provider cannot be reached now; please try again")]
    Unavailable,
    #[error("internal: {0}")]
    Store(#[from] StoreError),
}

/// The tools `settings` enables for `order`'s amount and `pfn`, narrowed by `wanted`.
pub(super) fn offered_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
    wanted: impl Fn(PaymentTool) -> bool,
) -> Vec<PaymentTool> {
    let preselection = Preselection::parse(Some(&order.pfn)).unwrap_or(Preselection::All);
    settings
        .tools_for_amount(order.cost)
        .into_iter()
        .filter(|t| preselection.allows(*t) && wanted(*t))
        .collect()
}

pub(super) async fn payable_order(
    state: &Gateway,
    uid: u64,
) -> Result<(OrderRow, crate::store::Merchant), CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    if !state::is_payable(order.prc) {
        return Err(CheckoutError::NotPayable(order.prc));
    }
    Ok((order, merchant))
}

/// The consumer left the PayPage, or gave up a bound cardless application (`A0002`).
pub async fn abandon(state: &Gateway, uid: u64) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let to = state::next(order.prc, Event::Abandoned)
        .map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut t = transition(
        state,
        &order,
        to,
        "consumer abandoned the payment",
        PaymentFacts::default(),
    );
    t.finishes = true;
    attach_notice(&mut t, &order, &merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

pub(super) async fn order_and_merchant(
    state: &Gateway,
    uid: u64,
) -> Result<(OrderRow, crate::store::Merchant), CheckoutError> {
    let order = state
        .store
        .order(uid)
        .await?
        .ok_or(CheckoutError::NotFound)?;
    let merchant = state
        .store
        .merchant(&order.store_uid)
        .await?
        .ok_or(CheckoutError::NotFound)?;
    Ok((order, merchant))
}

/// A transition of `order` to `to` at the clock's now, with nothing attached yet.
pub fn transition(
    state: &Gateway,
    order: &OrderRow,
    to: Prc,
    cause: &str,
    facts: PaymentFacts,
) -> Transition {
    Transition {
        uid: order.uid,
        from: order.prc,
        to,
        cause: cause.to_owned(),
        retmsg: String::new(),
        at: state.now_for(&order.store_uid),
        finishes: false,
        facts,
        notices: Vec::new(),
        timers: Vec::new(),
        completes_timer: None,
        reversals: Vec::new(),
        series: None,
    }
}

/// Add the notice of `kind` that `t` owes, built from the order as it will be after `t`.
pub fn attach_notice(
    t: &mut Transition,
    order: &OrderRow,
    merchant: &crate::store::Merchant,
    kind: NoticeKind,
) {
    let after = notify::project(order, t);
    if let Some(notice) = notify::notice_for(&merchant.settings, &after, kind) {
        t.notices.push(notice);
    }
    // A payment that owes an invoice writes, with itself, the timer that makes sure of it
    // (the payment's request issues it at once; the timer then finds it issued).
    if t.to == Prc::Paid && super::invoices::owed_at_payment(order, merchant) {
        t.timers.push(crate::store::NewTimer {
            kind: crate::ledger::timers::TimerKind::IssueInvoice,
            due_at: t.at + jiff::SignedDuration::from_secs(super::invoices::SAFETY_NET_SECS),
            payload: String::new(),
            store_uid: order.store_uid.clone(),
        });
    }
}

/// Persist `t` and wake the notification worker for the notices it wrote. A conflict
/// means another request moved the order first: it is no longer payable.
pub(super) async fn commit(state: &Gateway, t: &Transition) -> Result<(), CheckoutError> {
    state.store.apply(t).await.map_err(|e| match e {
        StoreError::Conflict => CheckoutError::NotPayable(t.from),
        other => CheckoutError::Store(other),
    })?;
    state.notices_waiting.notify_one();
    if t.to == Prc::Paid {
        super::invoices::after_paid(state, t).await;
    }
    Ok(())
}

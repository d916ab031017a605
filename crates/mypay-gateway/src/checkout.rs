//! Paying an order: the steps the PayPage and the sandbox `pay`/`abandon` helpers share.
//! Each step reads the order, asks the acquirer and the state graph, and persists one
//! [`Transition`] with the notices it owes.

use crate::app::AppState;
use crate::ledger::card::{CardFormError, CardInput, CardSummary};
use crate::ledger::connector::{CardAnswer, CardCharge};
use crate::ledger::counter;
use crate::ledger::state::{self, Event};
use crate::notify;
use crate::store::{Challenge, NewTimer, OrderRow, PaymentFacts, StoreError, Transition};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::pfn::ToolFamily;
use mypay_protocol::{PaymentTool, Prc, Preselection};

/// The 3D password may be mistyped this many times before the charge fails.
pub const OTP_ATTEMPTS: i64 = 3;

/// Timer kind: an `A0001` charge resolves.
pub const RESOLVE_PENDING: &str = "resolve_pending";

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CardForm {
    #[serde(default)]
    pub pfn: Option<String>,
    #[serde(default)]
    pub card_number: String,
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub cvc: String,
    /// The 3D password given up front (sandbox helper), skipping the OTP page.
    #[serde(default)]
    pub otp: Option<String>,
    /// In-person wallet payments: the consumer's payment code the merchant scanned.
    #[serde(default)]
    pub wallet_code: Option<String>,
    /// Wallets (sandbox helper): the consumer refuses in the wallet app.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    pub decline: Option<bool>,
    /// C_INSTALLMENT: the number of instalments chosen.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_string")]
    pub installment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The order reached this state.
    Done(Prc),
    /// A 3-D Secure password is needed (PayPage: show the OTP page).
    NeedsOtp,
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
    #[error("internal: {0}")]
    Store(#[from] StoreError),
}

/// Timer kind: a pay-later order's deadline (`limit_pay_days`) passes.
pub const PAYMENT_DEADLINE: &str = "payment_deadline";

/// The pay-later tools (codes, barcodes, accounts, WebATM) the PayPage can offer for
/// `order`, as [`card_tools`] does for cards.
pub fn pay_later_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    let request: mypay_protocol::messages::OrderRequest =
        serde_json::from_str(&order.request).unwrap_or_default();
    let has_each_code = request.each_code.is_some_and(|c| !c.trim().is_empty());
    offered_tools(settings, order, |t| {
        counter::is_pay_later(t) && (t != PaymentTool::Each || has_each_code)
    })
}

/// The consumer chose a pay-later tool: issue the code, barcodes or account, notify the
/// merchant (非即時交易回傳資訊) and start the deadline.
pub async fn issue_pay_later(
    state: &AppState,
    uid: u64,
    tool_text: &str,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let tool = PaymentTool::parse(tool_text)
        .filter(|t| pay_later_tools(&merchant.settings, &order).contains(t))
        .ok_or_else(|| {
            CheckoutError::Tool(format!(
                "{tool_text:?} is not a pay-later tool this order allows"
            ))
        })?;
    let supplier = merchant
        .settings
        .tool(tool)
        .map(|s| s.supplier.clone())
        .unwrap_or_default();
    let request: mypay_protocol::messages::OrderRequest =
        serde_json::from_str(&order.request).unwrap_or_default();
    let now = state.clock.now();
    let deadline = counter::deadline(
        now,
        request.limit_pay_days.unwrap_or(counter::DEFAULT_PAY_DAYS),
    );
    let issued = counter::issue(tool, &supplier, uid, order.cost, deadline)
        .ok_or_else(|| CheckoutError::Tool(format!("{} is not paid later", tool.code())))?;
    let event = match issued.prc {
        Prc::CvsIssued => Event::CounterCodeIssued,
        Prc::VirtualAccountIssued => Event::AccountIssued,
        _ => Event::OnlineTransferStarted,
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        supplier_code: Some(supplier),
        pay_deadline: Some(issued.deadline),
        result_content_type: Some(issued.content_type.clone()),
        result_content: Some(issued.content.clone()),
        bank_id: issued.bank_id.clone(),
        ..PaymentFacts::default()
    };
    let mut t = transition(state, &order, to, &format!("{} issued", tool.code()), facts);
    t.timers.push(NewTimer {
        kind: PAYMENT_DEADLINE.to_owned(),
        due_at: issued.deadline + jiff::SignedDuration::from_secs(1),
        payload: String::new(),
    });
    attach_notice(&mut t, &order, &merchant, NoticeKind::NonRealTime);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The consumer paid a pay-later order at the counter, the ATM or online (`amount`:
/// what was paid, the order's amount when not given). A different amount, or a payment
/// after the deadline, is `290`.
pub async fn pay_later_paid(
    state: &AppState,
    uid: u64,
    amount: Option<i64>,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let paid = amount.unwrap_or(order.cost);
    if paid <= 0 {
        return Err(CheckoutError::Amount(format!(
            "must be a positive amount, got {paid}"
        )));
    }
    let exact = paid == order.cost;
    let to = state::next(order.prc, Event::PaidLater { exact })
        .map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let facts = PaymentFacts {
        actual_cost: Some(paid),
        ..PaymentFacts::default()
    };
    let cause = if order.prc == Prc::Expired {
        "paid after the deadline"
    } else {
        "paid at the counter, ATM or online"
    };
    let mut t = transition(state, &order, to, cause, facts);
    t.finishes = true;
    t.retmsg = match (order.prc, exact) {
        (Prc::Expired, _) => "交易成功 但已逾繳費期限".to_owned(),
        (_, false) => format!("交易成功 但金額不符 (應繳 {}，實繳 {paid})", order.cost),
        _ => String::new(),
    };
    attach_notice(&mut t, &order, &merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The wallets the PayPage can offer for `order`: online ones (the consumer scans), or,
/// for an in-person order (`transaction_type` 2), offline ones (the merchant scans).
pub fn wallet_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    let request: mypay_protocol::messages::OrderRequest =
        serde_json::from_str(&order.request).unwrap_or_default();
    let family = if request.transaction_type == Some(2) {
        ToolFamily::WalletOffline
    } else {
        ToolFamily::WalletOnline
    };
    offered_tools(settings, order, |t| t.family() == family)
}

/// A sandbox wallet code the wallet refuses: one ending in `0002` (like the decline card).
fn wallet_code_declines(code: &str) -> bool {
    code.ends_with("0002")
}

/// Pay with a wallet: the consumer confirmed (`approve`) or refused in the app, or, in
/// person, the merchant scanned `wallet_code` (12–24 digits).
pub async fn pay_wallet(
    state: &AppState,
    uid: u64,
    tool_text: &str,
    approve: bool,
    wallet_code: Option<&str>,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let tool = PaymentTool::parse(tool_text)
        .filter(|t| wallet_tools(&merchant.settings, &order).contains(t))
        .ok_or_else(|| {
            CheckoutError::Tool(format!("{tool_text:?} is not a wallet this order allows"))
        })?;
    let mut approve = approve;
    if tool.family() == ToolFamily::WalletOffline {
        let code = wallet_code.map(str::trim).unwrap_or_default();
        if !(12..=24).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CheckoutError::WalletCode);
        }
        approve = approve && !wallet_code_declines(code);
    }
    let supplier = merchant.settings.tool(tool).map(|s| s.supplier.clone());
    let mut facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        supplier_code: supplier,
        ..PaymentFacts::default()
    };
    let event = if approve {
        facts.acode = Some(crate::sandbox::cards::auth_code(uid));
        facts.actual_cost = Some(order.cost);
        Event::WalletPaid
    } else {
        Event::WalletDeclined
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut t = transition(state, &order, to, &format!("wallet {}", tool.code()), facts);
    t.finishes = true;
    if !approve {
        t.retmsg = "錢包拒絕付款".to_owned();
    }
    attach_notice(&mut t, &order, &merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The card-like tools the PayPage can offer for `order` (SPEC §4): those its `pfn`
/// allows, the merchant has enabled, and whose limits admit the amount.
pub fn card_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    offered_tools(settings, order, |t| t.family() == ToolFamily::Card)
}

/// The tools `settings` enables for `order`'s amount and `pfn`, narrowed by `wanted`.
fn offered_tools(
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

async fn payable_order(
    state: &AppState,
    uid: u64,
) -> Result<(OrderRow, crate::store::Merchant), CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    if !state::is_payable(order.prc) {
        return Err(CheckoutError::NotPayable(order.prc));
    }
    Ok((order, merchant))
}

pub async fn pay_card(
    state: &AppState,
    uid: u64,
    form: &CardForm,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let allowed = card_tools(&merchant.settings, &order);
    let tool = match form.pfn.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None if allowed.contains(&PaymentTool::CreditCard) => PaymentTool::CreditCard,
        None => *allowed.first().ok_or_else(|| {
            CheckoutError::Tool("no card tool is available for this order".into())
        })?,
        Some(text) => PaymentTool::parse(text)
            .filter(|t| allowed.contains(t))
            .ok_or_else(|| {
                CheckoutError::Tool(format!("{text:?} is not a card tool this order allows"))
            })?,
    };
    let card = CardInput::parse(&form.card_number, &form.expiry, &form.cvc)?;
    let plan = card_plan(
        &order,
        tool,
        form.installment.as_deref(),
        &card.summary().issuing_bank_uid,
    )?;
    let today = crate::clock::taipei::date8(state.clock.now());
    let year = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2000);
    let month = today.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(1);
    // Claim the order for this attempt before the acquirer is asked, so two racing
    // submissions never both reach it; the answer then completes the claim.
    let attempt = crate::api::new_token();
    if !state
        .store
        .claim_charge(uid, order.prc, &attempt, jiff::Timestamp::now())
        .await?
    {
        return Err(CheckoutError::ChargeInProgress);
    }
    let answer = state
        .acquirer
        .charge(&CardCharge {
            uid,
            attempt: &attempt,
            tool,
            amount: order.cost,
            card: &card,
            today_year_month: (year, month),
        })
        .await;
    let summary = card.summary();
    drop(card);
    let outcome = complete_charge(
        state, &order, &merchant, tool, &summary, &plan, form, answer,
    )
    .await;
    if let Err(e) = state.store.release_charge(uid, &attempt).await {
        // The claim then runs out by itself; the order's state already tells the rest.
        tracing::error!(error = %e, uid, "releasing a charge claim");
    }
    outcome
}

/// Record the acquirer's answer to a card charge: the result, or the 3-D Secure step
/// it asks for.
#[allow(clippy::too_many_arguments)]
async fn complete_charge(
    state: &AppState,
    order: &OrderRow,
    merchant: &crate::store::Merchant,
    tool: PaymentTool,
    summary: &CardSummary,
    plan: &CardPlan,
    form: &CardForm,
    answer: CardAnswer,
) -> Result<Outcome, CheckoutError> {
    let uid = order.uid;
    match answer {
        CardAnswer::ThreeDSecure { password, then } => match form.otp.as_deref() {
            Some(otp) if otp == password => {
                settle(state, order, merchant, tool, summary, plan, *then).await
            }
            Some(_) => {
                let declined = CardAnswer::Declined {
                    reason: "3D驗證失敗".into(),
                };
                settle(state, order, merchant, tool, summary, plan, declined).await
            }
            None => {
                let challenge = Challenge {
                    uid,
                    pfn: tool.code().to_owned(),
                    cardno: summary.masked.clone(),
                    card_type: summary.card_type.code(),
                    issuing_bank: summary.issuing_bank.clone(),
                    issuing_bank_uid: summary.issuing_bank_uid.clone(),
                    password,
                    answer: serde_json::to_string(&PendingCharge {
                        answer: *then,
                        plan: plan.clone(),
                    })
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    failures: 0,
                };
                state
                    .store
                    .put_challenge(&challenge, state.clock.now())
                    .await?;
                Ok(Outcome::NeedsOtp)
            }
        },
        other => settle(state, order, merchant, tool, summary, plan, other).await,
    }
}

/// A charge waiting for its 3-D Secure password: the acquirer's answer once the password
/// is right, and the plan chosen on the form.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingCharge {
    answer: CardAnswer,
    plan: CardPlan,
}

impl PendingCharge {
    fn read(text: &str) -> Result<PendingCharge, StoreError> {
        serde_json::from_str(text)
            // Challenges written before plans existed hold the bare answer.
            .or_else(|_| {
                serde_json::from_str::<CardAnswer>(text).map(|answer| PendingCharge {
                    answer,
                    plan: CardPlan::default(),
                })
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// How a card charge is split: instalments or bonus points (trans_type and its JSON).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct CardPlan {
    trans_type: Option<i64>,
    installment: Option<String>,
    redeem: Option<String>,
}

/// The plan of a charge with `tool`: C_INSTALLMENT needs an instalment count the order
/// offers and the card's bank gives; C_REDEEM pays part with points.
fn card_plan(
    order: &OrderRow,
    tool: PaymentTool,
    installment: Option<&str>,
    bank: &str,
) -> Result<CardPlan, CheckoutError> {
    use crate::ledger::plans;
    use mypay_protocol::values::TransType;
    match tool {
        PaymentTool::CardInstallment => {
            let request: mypay_protocol::messages::OrderRequest =
                serde_json::from_str(&order.request).unwrap_or_default();
            let limits = request
                .creditcard_installment
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .and_then(|t| plans::parse_limits(t).ok());
            let offered = plans::offered_periods(limits.as_ref());
            let periods: u32 = installment
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| CheckoutError::Installment("choose a number of instalments".into()))?
                .parse()
                .ok()
                .filter(|p| offered.contains(p))
                .ok_or_else(|| {
                    CheckoutError::Installment(format!("this order offers {offered:?} instalments"))
                })?;
            if !plans::bank_offers(limits.as_ref(), periods, bank) {
                return Err(CheckoutError::Installment(format!(
                    "the card's bank does not offer {periods} instalments for this order"
                )));
            }
            Ok(CardPlan {
                trans_type: Some(TransType::Installment as i64),
                installment: Some(plans::installment_json(order.cost, periods)),
                redeem: None,
            })
        }
        PaymentTool::CardRedeem => Ok(CardPlan {
            trans_type: Some(TransType::Redeem as i64),
            installment: None,
            redeem: Some(plans::redeem_json(order.cost).0),
        }),
        _ => Ok(CardPlan::default()),
    }
}

/// The consumer typed the 3D password on the OTP page.
pub async fn submit_otp(
    state: &AppState,
    uid: u64,
    password: &str,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let challenge = state
        .store
        .challenge(uid)
        .await?
        .ok_or(CheckoutError::NoChallenge)?;
    let tool = PaymentTool::parse(&challenge.pfn).unwrap_or(PaymentTool::CreditCard);
    let summary = CardSummary {
        masked: challenge.cardno.clone(),
        card_type: mypay_protocol::values::CardType::from_code(challenge.card_type),
        issuing_bank: challenge.issuing_bank.clone(),
        issuing_bank_uid: challenge.issuing_bank_uid.clone(),
    };
    if password.trim() == challenge.password {
        let pending = PendingCharge::read(&challenge.answer)?;
        return settle(
            state,
            &order,
            &merchant,
            tool,
            &summary,
            &pending.plan,
            pending.answer,
        )
        .await;
    }
    let failures = state.store.fail_challenge(uid).await?;
    if failures >= OTP_ATTEMPTS {
        let declined = CardAnswer::Declined {
            reason: "3D驗證失敗".into(),
        };
        let plan = PendingCharge::read(&challenge.answer)?.plan;
        return settle(state, &order, &merchant, tool, &summary, &plan, declined).await;
    }
    Err(CheckoutError::WrongOtp(OTP_ATTEMPTS - failures))
}

/// The consumer left the PayPage, or gave up a bound cardless application (`A0002`).
pub async fn abandon(state: &AppState, uid: u64) -> Result<Outcome, CheckoutError> {
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

async fn order_and_merchant(
    state: &AppState,
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

/// Timer kind: the provider's review of a post-pay or cardless application is due.
pub const REVIEW: &str = "application_review";

/// Post-pay (needs a valid `shipping_info`), cardless instalments (a valid `user_data`)
/// and cash (in person only) as the order allows them.
pub fn application_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    use crate::ledger::applications::{check_shipping_info, check_user_data};
    let request: mypay_protocol::messages::OrderRequest =
        serde_json::from_str(&order.request).unwrap_or_default();
    offered_tools(settings, order, |t| match t {
        PaymentTool::PostPay => check_shipping_info(request.shipping_info.as_ref()).is_ok(),
        PaymentTool::Cardless => check_user_data(request.user_data.as_ref()).is_ok(),
        PaymentTool::Cash => request.transaction_type == Some(2),
        _ => false,
    })
}

/// The consumer chose post-pay, cardless instalments or cash. Post-pay goes to review
/// (`282`); cardless binds the order (`265`), and choosing it again submits the
/// application (`275`) for review; cash is received at once (`250`).
pub async fn apply_for(
    state: &AppState,
    uid: u64,
    tool_text: &str,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let tool = PaymentTool::parse(tool_text)
        .filter(|t| application_tools(&merchant.settings, &order).contains(t))
        .ok_or_else(|| {
            CheckoutError::Tool(format!("{tool_text:?} is not a tool this order allows"))
        })?;
    let (event, kind, review) = match (tool, order.prc) {
        (PaymentTool::PostPay, _) => (Event::PostPayApplied, NoticeKind::NonRealTime, true),
        (PaymentTool::Cardless, Prc::CardlessBound) => {
            (Event::CardlessSubmitted, NoticeKind::NonRealTime, true)
        }
        (PaymentTool::Cardless, _) => (Event::CardlessBound, NoticeKind::NonRealTime, false),
        _ => (Event::CashReceived, NoticeKind::Completed, false),
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        supplier_code: merchant.settings.tool(tool).map(|s| s.supplier.clone()),
        ..PaymentFacts::default()
    };
    if to == Prc::Paid {
        facts.actual_cost = Some(order.cost);
    }
    let mut t = transition(state, &order, to, &format!("{} chosen", tool.code()), facts);
    t.finishes = to == Prc::Paid;
    if review {
        t.timers.push(NewTimer {
            kind: REVIEW.to_owned(),
            due_at: t.at
                + jiff::SignedDuration::from_secs(crate::ledger::applications::REVIEW_SECONDS),
            payload: "approve".to_owned(),
        });
    }
    attach_notice(&mut t, &order, &merchant, kind);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// Days from settlement to the payout (`appropriation_date`) in the sandbox.
pub const PAYOUT_DAYS: i64 = 7;

/// The acquirer's reconciliation settled a paid order (`600`, 訂單確認回傳資訊), to be
/// paid out `PAYOUT_DAYS` later.
pub async fn settle_order(state: &AppState, uid: u64) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let to =
        state::next(order.prc, Event::Settled).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let now = state.clock.now();
    let facts = PaymentFacts {
        appropriation_date: Some(crate::clock::taipei::date8_after_days(now, PAYOUT_DAYS)),
        ..PaymentFacts::default()
    };
    let mut t = transition(state, &order, to, "the acquirer settled the order", facts);
    attach_notice(&mut t, &order, &merchant, NoticeKind::Confirmation);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The provider's review of a post-pay (`282`) or cardless (`275`) application.
pub async fn review(
    state: &AppState,
    uid: u64,
    approved: bool,
    timer: Option<i64>,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let to = state::next(order.prc, Event::Reviewed { approved })
        .map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut facts = PaymentFacts::default();
    if to == Prc::Paid {
        facts.actual_cost = Some(order.cost);
    }
    let mut t = transition(
        state,
        &order,
        to,
        "the provider reviewed the application",
        facts,
    );
    t.completes_timer = timer;
    t.finishes = to != Prc::PostPayApproved;
    if !approved {
        t.retmsg = "審核不通過".to_owned();
    }
    let kind = if to == Prc::PostPayApproved {
        NoticeKind::NonRealTime
    } else {
        NoticeKind::Completed
    };
    attach_notice(&mut t, &order, &merchant, kind);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

async fn settle(
    state: &AppState,
    order: &OrderRow,
    merchant: &crate::store::Merchant,
    tool: PaymentTool,
    card: &CardSummary,
    plan: &CardPlan,
    answer: CardAnswer,
) -> Result<Outcome, CheckoutError> {
    let supplier = merchant.settings.tool(tool).map(|s| s.supplier.clone());
    let mut facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        cardno: Some(card.masked.clone()),
        card_type: Some(card.card_type.code()),
        issuing_bank: Some(card.issuing_bank.clone()),
        issuing_bank_uid: Some(card.issuing_bank_uid.clone()),
        supplier_code: supplier,
        ..PaymentFacts::default()
    };
    if matches!(
        answer,
        CardAnswer::Approved { .. } | CardAnswer::Pending { .. }
    ) {
        facts.trans_type = plan.trans_type;
        facts.installment = plan.installment.clone();
        facts.redeem = plan.redeem.clone();
    }
    let (event, retmsg, resolves) = match answer {
        CardAnswer::Approved { acode } => {
            facts.acode = Some(acode);
            facts.actual_cost = Some(order.cost);
            let event = if order.authorise_only {
                Event::CardAuthorised
            } else {
                Event::CardPaid
            };
            (event, String::new(), None)
        }
        CardAnswer::Declined { reason } => (Event::Declined, reason, None),
        CardAnswer::Unavailable => (
            Event::Unavailable,
            "發卡行或收單行暫時無法服務".to_owned(),
            None,
        ),
        CardAnswer::Pending { resolves_paid } => {
            (Event::AcquirerPending, String::new(), Some(resolves_paid))
        }
        CardAnswer::AmountMismatch {
            acode,
            actual_amount,
        } => {
            facts.acode = Some(acode);
            facts.actual_cost = Some(actual_amount);
            (
                Event::PaidWithMismatch,
                "交易成功 但金額不符".to_owned(),
                None,
            )
        }
        // A 3D step inside a 3D step is not something an acquirer does.
        CardAnswer::ThreeDSecure { .. } => (Event::Unavailable, "3D驗證流程錯誤".to_owned(), None),
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut t = transition(
        state,
        order,
        to,
        &format!("card charge via {}", tool.code()),
        facts,
    );
    t.retmsg = retmsg;
    t.finishes = to != Prc::Pending;
    if let Some(paid) = resolves {
        t.timers.push(NewTimer {
            kind: RESOLVE_PENDING.to_owned(),
            due_at: t.at + jiff::SignedDuration::from_secs(state.settings.pending_resolution_secs),
            payload: if paid { "paid" } else { "failed" }.to_owned(),
        });
    }
    attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// A transition of `order` to `to` at the clock's now, with nothing attached yet.
pub fn transition(
    state: &AppState,
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
        at: state.clock.now(),
        finishes: false,
        facts,
        notices: Vec::new(),
        timers: Vec::new(),
        completes_timer: None,
        reversals: Vec::new(),
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
}

/// Persist `t` and wake the notification worker for the notices it wrote. A conflict
/// means another request moved the order first: it is no longer payable.
async fn commit(state: &AppState, t: &Transition) -> Result<(), CheckoutError> {
    state.store.apply(t).await.map_err(|e| match e {
        StoreError::Conflict => CheckoutError::NotPayable(t.from),
        other => CheckoutError::Store(other),
    })?;
    state.notices_waiting.notify_one();
    Ok(())
}

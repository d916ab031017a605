//! Cards: a charge through the acquirer, the 3-D Secure step, instalments and points,
//! and the acquirer's answer turned into a state change.

use super::Gateway;
use super::charge::{self, Claim, Payment, Request};
use super::checkout::*;
use crate::ledger::card::{CardInput, CardSummary};
use crate::ledger::connector::CardAnswer;
use crate::ledger::state::{self, Event};
use crate::ledger::timers::{PendingOutcome, TimerKind};
use crate::store::{Challenge, NewTimer, OrderRow, PaymentFacts, StoreError};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::pfn::ToolFamily;
use mypay_protocol::{PaymentTool, Prc};

/// The 3D password may be mistyped this many times before the charge fails.
pub const OTP_ATTEMPTS: i64 = 3;
/// A consumer on the PayPage may try this many cards before a decline fails the order.
pub const CARD_DECLINES: i64 = 3;

/// The card-like tools the PayPage can offer for `order` (SPEC §4): those its `pfn`
/// allows, the merchant has enabled, and whose limits admit the amount.
pub fn card_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    offered_tools(settings, order, |t| {
        matches!(t.family(), ToolFamily::Card | ToolFamily::Recurring)
    })
}

pub async fn pay_card(
    state: &Gateway,
    uid: u64,
    form: &CardForm,
    tries: Tries,
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
    let summary = card.summary();
    let mut plan = card_plan(
        &order,
        tool,
        form.installment.as_deref(),
        &summary.issuing_bank_uid,
    )?;
    if tool.family() == ToolFamily::Recurring {
        plan.recurring = Some(super::recurring::prepare(state, &order, &card).await?);
    } else if crate::ledger::order::quickpay_on(order.stored_request()) {
        // A convenience: a card the upstream cannot keep now is paid all the same.
        plan.remember = state.acquirer.store_card(&card).await;
    }
    let request = Request {
        tool,
        amount: order.cost,
        payment: Payment::Card {
            card: &card,
            today_year_month: charge::today_year_month(state, &order.store_uid),
            // A recurring order whose first charge is later only has its card checked.
            verify_only: plan.recurring.as_ref().is_some_and(|r| r.bind_only),
            capture: !order.authorise_only,
            return_url: form.return_url.as_deref(),
            installments: plan.periods,
        },
    };
    let charged = Charged {
        order: &order,
        merchant: &merchant,
        tool,
        card: &summary,
        plan: &plan,
        tries,
    };
    charge::run(state, charged.claim(), request, async |_, answer| {
        complete_charge(state, &charged, answer).await
    })
    .await?
}

/// Record the acquirer's answer to a card charge: the result, or the 3-D Secure step
/// it asks for.
pub(super) async fn complete_charge(
    state: &Gateway,
    charged: &Charged<'_>,
    answer: CardAnswer,
) -> Result<Outcome, CheckoutError> {
    let (password, then, outcome) = match answer {
        CardAnswer::ThreeDSecure { password, then } => (password, *then, Outcome::NeedsOtp),
        // The upstream's own challenge: no password is typed here; the answer is asked
        // for when the consumer comes back (or called back).
        CardAnswer::Challenge { ref url, .. } => (
            String::new(),
            answer.clone(),
            Outcome::Challenge(url.clone()),
        ),
        other => return settle(state, charged, other).await,
    };
    let (order, tool, summary, plan) = (charged.order, charged.tool, charged.card, charged.plan);
    let challenge = Challenge {
        uid: order.uid,
        pfn: tool.code().to_owned(),
        cardno: summary.masked.clone(),
        card_type: summary.card_type.code(),
        issuing_bank: summary.issuing_bank.clone(),
        issuing_bank_uid: summary.issuing_bank_uid.clone(),
        password,
        answer: serde_json::to_string(&PendingCharge {
            answer: then,
            plan: plan.clone(),
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        failures: 0,
    };
    state
        .store
        .put_challenge(&challenge, state.now_for(&order.store_uid))
        .await?;
    Ok(outcome)
}

/// A charge waiting for its 3-D Secure password: the acquirer's answer once the password
/// is right, and the plan chosen on the form.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct PendingCharge {
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
pub(super) struct CardPlan {
    trans_type: Option<i64>,
    installment: Option<String>,
    redeem: Option<String>,
    /// A recurring order's card token and whether the page only binds it.
    #[serde(default)]
    recurring: Option<super::recurring::RecurringPlan>,
    /// Quick checkout: the card's token, remembered for the order's consumer once paid.
    #[serde(default)]
    remember: Option<String>,
    /// C_INSTALLMENT: the number of instalments, as the upstream is asked for them.
    #[serde(default)]
    periods: Option<u32>,
}

/// The plan of a charge with `tool`: C_INSTALLMENT needs an instalment count the order
/// offers and the card's bank gives; C_REDEEM pays part with points.
pub(super) fn card_plan(
    order: &OrderRow,
    tool: PaymentTool,
    installment: Option<&str>,
    bank: &str,
) -> Result<CardPlan, CheckoutError> {
    use crate::ledger::plans;
    use mypay_protocol::values::TransType;
    match tool {
        PaymentTool::CardInstallment => {
            let request = order.stored_request();
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
                periods: Some(periods),
                ..CardPlan::default()
            })
        }
        PaymentTool::CardRedeem => Ok(CardPlan {
            trans_type: Some(TransType::Redeem as i64),
            redeem: Some(plans::redeem_json(order.cost).0),
            ..CardPlan::default()
        }),
        _ => Ok(CardPlan::default()),
    }
}

/// What is kept of the card a challenge waits on.
fn card_of(challenge: &Challenge) -> CardSummary {
    CardSummary {
        masked: challenge.cardno.clone(),
        card_type: mypay_protocol::values::CardType::from_code(challenge.card_type),
        issuing_bank: challenge.issuing_bank.clone(),
        issuing_bank_uid: challenge.issuing_bank_uid.clone(),
    }
}

/// The consumer typed the 3D password of the charge waiting for it.
pub async fn submit_otp(
    state: &Gateway,
    uid: u64,
    password: &str,
    tries: Tries,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let challenge = state
        .store
        .challenge(uid)
        .await?
        .ok_or(CheckoutError::NoChallenge)?;
    let tool = PaymentTool::parse(&challenge.pfn).unwrap_or(PaymentTool::CreditCard);
    let summary = card_of(&challenge);
    let pending = PendingCharge::read(&challenge.answer)?;
    if matches!(pending.answer, CardAnswer::Challenge { .. }) {
        // The upstream asks its password on its own page, never here.
        return Err(CheckoutError::NoChallenge);
    }
    let charged = Charged {
        order: &order,
        merchant: &merchant,
        tool,
        card: &summary,
        plan: &pending.plan,
        tries,
    };
    if password.trim() == challenge.password {
        return settle(state, &charged, pending.answer).await;
    }
    let failures = match tries {
        Tries::Page => state.store.fail_challenge(uid).await?,
        Tries::Only => OTP_ATTEMPTS,
    };
    if failures >= OTP_ATTEMPTS {
        let declined = CardAnswer::Declined {
            reason: "3D驗證失敗".into(),
        };
        return settle(state, &charged, declined).await;
    }
    Err(CheckoutError::WrongOtp(OTP_ATTEMPTS - failures))
}

/// A card charge as the consumer made it: the order and its merchant, the tool, the card
/// (what may be kept of it), the plan chosen on the form, and the tries the consumer has.
pub(super) struct Charged<'a> {
    pub order: &'a OrderRow,
    pub merchant: &'a crate::store::Merchant,
    pub tool: PaymentTool,
    pub card: &'a CardSummary,
    pub plan: &'a CardPlan,
    pub tries: Tries,
}

impl Charged<'_> {
    /// The claim on the order's state the charge is made under (see `charge::run`).
    pub(super) fn claim(&self) -> Claim {
        Claim::Order {
            uid: self.order.uid,
            prc: self.order.prc,
        }
    }
}

/// Record the upstream's answer to a card charge as the order's state change, with its
/// notice. A card declined on the PayPage leaves the order waiting for another card
/// while the consumer has tries left.
pub(super) async fn settle(
    state: &Gateway,
    charged: &Charged<'_>,
    answer: CardAnswer,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = (charged.order, charged.merchant);
    let (tool, card, plan) = (charged.tool, charged.card, charged.plan);
    if charged.tries == Tries::Page
        && let CardAnswer::Declined { reason } = &answer
    {
        let declines = declines_so_far(state, order.uid).await? + 1;
        if declines < CARD_DECLINES {
            let cause = format!(
                "{DECLINED_CARD} via {}: {reason} (card {declines} of {CARD_DECLINES})",
                tool.code()
            );
            let t = transition(state, order, order.prc, &cause, PaymentFacts::default());
            commit(state, &t).await?;
            return Ok(Outcome::Declined {
                tries_left: CARD_DECLINES - declines,
            });
        }
    }
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
        CardAnswer::Approved { .. } | CardAnswer::Pending { .. } | CardAnswer::Unknown { .. }
    ) {
        facts.trans_type = plan.trans_type;
        facts.installment = plan.installment.clone();
        facts.redeem = plan.redeem.clone();
    }
    let answer_kind = answer.clone();
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
        CardAnswer::Pending { resolves_paid } => (
            Event::AcquirerPending,
            String::new(),
            Some(PendingOutcome::of(resolves_paid)),
        ),
        CardAnswer::Unknown { reference } => (
            Event::AcquirerPending,
            String::new(),
            Some(PendingOutcome::Ask {
                asked: 0,
                reference,
            }),
        ),
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
        CardAnswer::ThreeDSecure { .. } | CardAnswer::Challenge { .. } => {
            (Event::Unavailable, "3D驗證流程錯誤".to_owned(), None)
        }
    };
    // A recurring order charges (or binds) whatever the merchant's capture mode.
    let event = match &plan.recurring {
        Some(recurring) => super::recurring::page_event(recurring, &answer_kind),
        None => event,
    };
    // A recurring order's simulated pending charge counts as its card's answer; an
    // unknown outcome is asked about like any other.
    let resolves = match resolves {
        Some(PendingOutcome::Paid | PendingOutcome::Failed) if plan.recurring.is_some() => None,
        other => other,
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let series = match &plan.recurring {
        Some(recurring) => {
            super::recurring::start_series(state, order, tool, card, recurring, to, &mut facts)
                .await?
        }
        None => None,
    };
    let mut retmsg = retmsg;
    if plan.recurring.is_some() {
        match to {
            // Bound, not charged: nothing was paid yet.
            Prc::CardlessBound => {
                facts.actual_cost = None;
                facts.acode = None;
            }
            Prc::Paid => {
                facts.actual_cost = Some(order.cost);
                if facts.acode.is_none() {
                    facts.acode = Some(state.acquirer.approval_code(order.uid));
                }
                retmsg.clear();
            }
            Prc::Failed if retmsg.is_empty() => retmsg = "發卡行拒絕交易".to_owned(),
            _ => {}
        }
    }
    let mut t = transition(
        state,
        order,
        to,
        &format!("card charge via {}", tool.code()),
        facts,
    );
    t.retmsg = retmsg;
    t.finishes = to != Prc::Pending && to != Prc::CardlessBound;
    t.series = series;
    if let Some(outcome) = resolves
        && to == Prc::Pending
    {
        let after = match outcome {
            PendingOutcome::Ask { .. } => super::resolve::first_ask(state),
            _ => jiff::SignedDuration::from_secs(state.settings.pending_resolution_secs),
        };
        t.timers.push(NewTimer {
            kind: TimerKind::ResolvePending,
            due_at: t.at + after,
            payload: outcome.payload(),
            store_uid: order.store_uid.clone(),
        });
    }
    // A card bound for a later first charge is not a charge: the merchant hears of the
    // series with period 1's notice, on its date.
    if to != Prc::CardlessBound {
        attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    }
    commit(state, &t).await?;
    if let Some(token) = &plan.remember
        && matches!(to, Prc::Paid | Prc::Authorised)
    {
        // A convenience, not part of the payment: a failure is logged, the payment stands.
        let stored = crate::store::StoredCard {
            token: token.clone(),
            cardno: card.masked.clone(),
            card_type: card.card_type.code(),
            issuing_bank: card.issuing_bank.clone(),
            issuing_bank_uid: card.issuing_bank_uid.clone(),
        };
        let user_id = order.stored_request().user_id.clone().unwrap_or_default();
        if let Err(e) = state
            .store
            .remember_card(&order.store_uid, &user_id, tool.code(), &stored, t.at)
            .await
        {
            tracing::error!(error = %e, uid = order.uid, "remembering a card for quick checkout");
        }
    }
    Ok(Outcome::Done(to))
}

/// How a declined card the consumer may follow with another is recorded: a change of the
/// order to its own state, with this cause.
const DECLINED_CARD: &str = "card declined";

/// Cards the consumer already tried on the order's page and that were declined.
async fn declines_so_far(state: &Gateway, uid: u64) -> Result<i64, StoreError> {
    let events = state.store.events(uid).await?;
    let declined = |e: &&crate::store::OrderEvent| {
        e.from_prc.as_deref() == Some(e.to_prc.as_str()) && e.cause.starts_with(DECLINED_CARD)
    };
    Ok(events.iter().filter(declined).count() as i64)
}

/// The consumer came back from the upstream's 3-D Secure challenge of order `uid` (or
/// the upstream called back with its outcome): the charge is settled with what the
/// upstream says of it. Settled already: nothing changes.
pub async fn challenge_resolved(
    state: &Gateway,
    uid: u64,
    resolution: Option<(&str, crate::ledger::connector::Resolution)>,
) -> Result<Outcome, CheckoutError> {
    use crate::ledger::connector::Resolution;
    let (order, merchant) = payable_order(state, uid).await?;
    let challenge = state
        .store
        .challenge(uid)
        .await?
        .ok_or(CheckoutError::NoChallenge)?;
    let pending = PendingCharge::read(&challenge.answer)?;
    let CardAnswer::Challenge { reference, .. } = &pending.answer else {
        return Err(CheckoutError::NoChallenge);
    };
    let resolution = match resolution {
        // A callback about another charge of this order (an earlier card) settles
        // nothing of this one.
        Some((about, _)) if about != reference => return Err(CheckoutError::NoChallenge),
        Some((_, r)) => r,
        None => state.acquirer.status(reference).await,
    };
    let answer = match resolution {
        Resolution::Paid { acode, amount } if amount == order.cost || amount == 0 => {
            CardAnswer::Approved { acode }
        }
        Resolution::Paid { acode, amount } => CardAnswer::AmountMismatch {
            acode,
            actual_amount: amount,
        },
        Resolution::Failed { reason } => CardAnswer::Declined { reason },
        Resolution::NeverPerformed => CardAnswer::Declined {
            reason: "3D驗證未完成".into(),
        },
        Resolution::Unknown => CardAnswer::Unknown {
            reference: reference.clone(),
        },
    };
    let summary = card_of(&challenge);
    let charged = Charged {
        order: &order,
        merchant: &merchant,
        tool: PaymentTool::parse(&challenge.pfn).unwrap_or(PaymentTool::CreditCard),
        card: &summary,
        plan: &pending.plan,
        tries: Tries::Only,
    };
    settle(state, &charged, answer).await
}

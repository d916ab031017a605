//! Recurring billing (定期定額, SPEC §9): the card bound on the PayPage, each period
//! charged by the scheduler on its date, the one retry of a failed period, the stop.
//!
//! A charge happens once: its row (series, period, attempt) is written with the
//! attempt's idempotency key and its transaction (`A0001`) before the acquirer is asked,
//! and the answer is recorded as that transaction's state change, which also closes the
//! charge's timer and starts the next one. A node that dies between the two leaves the
//! timer to be taken over: the charge is then asked again with the same key (an
//! acquirer answers a known key as before, and charges once), never charged anew.

use super::Gateway;
use super::charge;
use super::checkout::{CheckoutError, attach_notice, transition};
use crate::clock::taipei;
use crate::ledger::card::{CardInput, CardSummary};
use crate::ledger::connector::CardAnswer;
use crate::ledger::recurring::{self, Terms, date8};
use crate::ledger::state::{self, Event};
use crate::ledger::timers::TimerKind;
use crate::store::{
    ChargeTarget, Merchant, NewSeries, NewTimer, OrderRow, PaymentFacts, SeriesChargeAsk,
    SeriesRow, SeriesWrite, StoreError, TimerRow,
};
use jiff::civil::Date;
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::{PaymentTool, Prc};

/// What a recurring order's card payment carries through a 3-D Secure step: the card's
/// token, and whether the page only binds the card (the first charge date is later).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct RecurringPlan {
    pub token: String,
    pub bind_only: bool,
}

/// The terms of a stored recurring order (DIRECTDEBIT, DIRECTDEBIT_ABROAD), judged on the
/// day it was created (its first charge date was checked against that day). `None` for
/// any other order, whatever its stored fields say.
pub fn terms_of(order: &OrderRow) -> Option<Terms> {
    let recurring = PaymentTool::parse(&order.pfn)
        .is_some_and(|t| t.family() == mypay_protocol::pfn::ToolFamily::Recurring);
    if !recurring {
        return None;
    }
    let req = order.stored_request();
    recurring::parse_terms(
        req.regular.as_deref(),
        req.regular_total.as_deref(),
        req.regular_first_charge_date.as_deref(),
        req.group_id.as_deref(),
        taipei::date(order.created_at),
    )
    .ok()
}

/// Before a recurring order's card is sent: keep the card as a token, and decide whether
/// period 1 is charged now or only bound for its later date.
pub(super) async fn prepare(
    state: &Gateway,
    order: &OrderRow,
    card: &CardInput,
) -> Result<RecurringPlan, CheckoutError> {
    let terms = terms_of(order)
        .ok_or_else(|| CheckoutError::Tool("this order's recurring terms cannot be read".into()))?;
    let today = taipei::date(state.now_for(&order.store_uid));
    Ok(RecurringPlan {
        token: state
            .acquirer
            .store_card(card)
            .await
            .ok_or(CheckoutError::CardNotKept)?,
        bind_only: terms.first > today,
    })
}

/// The event a recurring order's card answer causes on the PayPage. A series is started
/// only by a card that works, so answers that are not a plain approval or refusal
/// (pending, a different amount) count as approvals of the card.
pub(super) fn page_event(plan: &RecurringPlan, answer: &CardAnswer) -> Event {
    match answer {
        CardAnswer::Declined { .. }
        | CardAnswer::Pending {
            resolves_paid: false,
        } => Event::Declined,
        CardAnswer::Unavailable
        | CardAnswer::ThreeDSecure { .. }
        | CardAnswer::Challenge { .. } => Event::Unavailable,
        // Not known to be charged: the order waits (A0001) while the upstream is asked.
        CardAnswer::Unknown { .. } => Event::AcquirerPending,
        _ if plan.bind_only => Event::RecurringCardBound,
        _ => Event::CardPaid,
    }
}

/// What a recurring order's successful PayPage payment (`to` is `250`, or `265` when it
/// only bound the card) adds to its state change: the series, period 1 marked on the
/// order, and the timer of the next charge.
pub(super) async fn start_series(
    state: &Gateway,
    order: &OrderRow,
    tool: PaymentTool,
    card: &CardSummary,
    plan: &RecurringPlan,
    to: Prc,
    facts: &mut PaymentFacts,
) -> Result<Option<SeriesWrite>, CheckoutError> {
    if !matches!(to, Prc::Paid | Prc::CardlessBound) {
        return Ok(None);
    }
    let terms = terms_of(order)
        .ok_or_else(|| CheckoutError::Tool("this order's recurring terms cannot be read".into()))?;
    let group_id = free_group_id(state, order, &terms).await?;
    facts.group_id = Some(group_id.clone());
    facts.nois = Some(1);
    let next = if plan.bind_only {
        charge_timer(&order.store_uid, &terms, 1, 1, 0)
    } else {
        charge_timer(&order.store_uid, &terms, 2, 1, 0)
    };
    Ok(Some(SeriesWrite {
        series_uid: order.uid,
        create: Some(NewSeries {
            store_uid: order.store_uid.clone(),
            group_id,
            store_group_id: terms.store_group_id.clone().unwrap_or_default(),
            tool: tool.code().to_owned(),
            card_token: plan.token.clone(),
            cardno: card.masked.clone(),
            card_type: card.card_type.code(),
            issuing_bank: card.issuing_bank.clone(),
            issuing_bank_uid: card.issuing_bank_uid.clone(),
        }),
        next_charge: next,
    }))
}

/// The series' id: the merchant's `group_id` if it gave one that none of its series
/// uses, else ours, `D` and 10 digits of the order's uid.
async fn free_group_id(
    state: &Gateway,
    order: &OrderRow,
    terms: &Terms,
) -> Result<String, StoreError> {
    let ours = format!("D{:010}", order.uid);
    let candidates = terms.store_group_id.iter().cloned().chain([
        ours.clone(),
        format!("{ours}-{}", order.token.get(..8).unwrap_or("")),
    ]);
    for candidate in candidates {
        if state
            .store
            .series_by_group(Some(&order.store_uid), &candidate)
            .await?
            .is_empty()
        {
            return Ok(candidate);
        }
    }
    Err(StoreError::Conflict)
}

/// The timer of charge (`period`, `attempt`): on the period's date (00:00 in Taipei),
/// `delay_days` later for a retry. `None` when the series has no such period.
fn charge_timer(
    store_uid: &str,
    terms: &Terms,
    period: u32,
    attempt: u32,
    delay_days: i64,
) -> Option<NewTimer> {
    if !terms.has_period(period) {
        return None;
    }
    let date = recurring::due_date(terms.regular, terms.first, period)?;
    let date = jiff::Span::new()
        .try_days(delay_days)
        .ok()
        .and_then(|span| date.checked_add(span).ok())
        .unwrap_or(date);
    Some(NewTimer {
        kind: TimerKind::RecurringCharge,
        due_at: taipei::start_of(date),
        payload: format!("{period}:{attempt}"),
        store_uid: store_uid.to_owned(),
    })
}

/// A `recurring_charge` timer fell due: charge its period (or retry it), record the
/// answer with its notice, and set the next charge.
pub(super) async fn charge_due(state: &Gateway, timer: &TimerRow) -> Result<(), StoreError> {
    charge_together(state, std::slice::from_ref(timer)).await
}

/// `recurring_charge` timers of different series fell due together (a day's renewals, or
/// a test clock moved past them): charge them as [`charge_due`] charges one, with one
/// commit for all their charges' records before the upstream is asked and one for all
/// their answers after. A charge that fails alone (its transaction moved on, another node
/// recorded it) leaves the others be; on any other failure its timer stays and is run
/// again, with the same keys.
pub(super) async fn charge_together(
    state: &Gateway,
    timers: &[TimerRow],
) -> Result<(), StoreError> {
    // Judged side by side: their reads then share statements (PostgreSQL's order reader
    // batches the lookups waiting together).
    let judged = side_by_side(timers.iter().map(|timer| {
        let (state, timer) = (state.clone(), timer.clone());
        async move { judge(&state, &timer).await }
    }))
    .await;
    let mut due = Vec::with_capacity(timers.len());
    for (timer, judged) in timers.iter().zip(judged) {
        match judged? {
            Some(charge) => due.push(charge),
            None => close(state, timer).await?,
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    let asks: Vec<SeriesChargeAsk> = due.iter().map(DueCharge::ask).collect();
    let recorded = state.store.begin_series_charges(&asks).await?;
    let mut failed = None;
    let mut charged = Vec::with_capacity(due.len());
    for (i, recorded) in recorded.into_iter().enumerate() {
        match recorded {
            Ok(recorded) => charged.push((i, recorded)),
            // Recorded by another node meanwhile: its answer is that node's to record.
            Err(StoreError::Conflict | StoreError::Duplicate) => {}
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    let transactions = side_by_side(charged.iter().map(|(_, recorded)| {
        let (state, uid) = (state.clone(), recorded.uid);
        async move { state.store.order(uid).await }
    }))
    .await;
    let mut asking = tokio::task::JoinSet::new();
    for ((i, recorded), order) in charged.into_iter().zip(transactions) {
        let charge = &due[i];
        let Some(order) = order? else {
            return Err(StoreError::Corrupt(format!(
                "the transaction {} of a recurring charge is gone",
                recorded.uid
            )));
        };
        // Answered already (by a node that died before it closed the charge's timer):
        // nothing is left to ask.
        if !matches!(order.prc, Prc::Pending | Prc::CardlessBound) {
            close(state, &charge.timer).await?;
            continue;
        }
        let (state, tool, amount, token) = (
            state.clone(),
            charge.tool,
            charge.first.cost,
            charge.series.card_token.clone(),
        );
        asking.spawn(async move {
            let answer = charge::ask_period(&state, &recorded, tool, amount, &token).await;
            (i, order, answer)
        });
    }
    let mut answers = Vec::with_capacity(asking.len());
    while let Some(asked) = asking.join_next().await {
        match asked {
            Ok(answer) => answers.push(answer),
            // Its timer stays: the period is asked again with the same key.
            Err(e) => tracing::error!(error = %e, "asking the upstream for a recurring charge"),
        }
    }
    answers.sort_by_key(|(i, _, _)| *i);
    let mut changes = Vec::with_capacity(answers.len());
    for (i, order, answer) in answers {
        let charge = &due[i];
        match settle(state, charge, &order, answer) {
            Settled::Change(t) => changes.push(*t),
            Settled::AskAgain(later) => state.store.postpone_timer(charge.timer.id, later).await?,
            Settled::Nothing => close(state, &charge.timer).await?,
        }
    }
    if !changes.is_empty() {
        let applied = state.store.apply_each(&changes).await?;
        for (t, applied) in changes.iter().zip(applied) {
            match applied {
                Ok(()) if t.to == Prc::Paid => super::invoices::after_paid(state, t).await,
                // Recorded by another node meanwhile.
                Ok(()) | Err(StoreError::Conflict | StoreError::Duplicate) => {}
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        state.notices_waiting.notify_one();
    }
    failed.map_or(Ok(()), Err)
}

/// Run `tasks` side by side; their answers in their order. A task that failed to finish
/// (a bug that panicked) answers an error, and the charge it belongs to is run again.
async fn side_by_side<T: Send + 'static>(
    tasks: impl Iterator<Item = impl Future<Output = Result<T, StoreError>> + Send + 'static>,
) -> Vec<Result<T, StoreError>> {
    let mut running = tokio::task::JoinSet::new();
    let mut answers = Vec::new();
    for (i, task) in tasks.enumerate() {
        running.spawn(async move { (i, task.await) });
        answers.push(Err(StoreError::Database(
            "a charge's step did not finish".into(),
        )));
    }
    while let Some(done) = running.join_next().await {
        match done {
            Ok((i, answer)) => answers[i] = answer,
            Err(e) => tracing::error!(error = %e, "a recurring charge's step"),
        }
    }
    answers
}

async fn close(state: &Gateway, timer: &TimerRow) -> Result<(), StoreError> {
    state
        .store
        .close_timer(timer.id, state.now_for(&timer.store_uid))
        .await
}

/// A period to charge, with everything its charge and its answer need.
struct DueCharge {
    timer: TimerRow,
    series: SeriesRow,
    /// The order that bound the card.
    first: OrderRow,
    merchant: std::sync::Arc<Merchant>,
    terms: Terms,
    period: u32,
    attempt: u32,
    /// When it happened: on the sandbox's test clock, a charge the clock jumped past
    /// happened on its date (a year of periods run by one advance keeps each period's own
    /// date).
    at: jiff::Timestamp,
    tool: PaymentTool,
}

impl DueCharge {
    fn cause(&self) -> String {
        format!(
            "recurring charge, period {}, attempt {}",
            self.period, self.attempt
        )
    }

    /// The record taken before the upstream is asked, with a new key (a charge recorded
    /// before keeps its own).
    fn ask(&self) -> SeriesChargeAsk {
        let bound = self.period == 1 && self.attempt == 1 && self.first.prc == Prc::CardlessBound;
        SeriesChargeAsk {
            series_uid: self.series.uid,
            period: self.period,
            attempt: self.attempt,
            key: crate::ledger::order::new_token(),
            target: if bound {
                ChargeTarget::BoundOrder
            } else {
                ChargeTarget::NewTransaction {
                    token: crate::ledger::order::new_token(),
                }
            },
            cause: self.cause(),
            at: self.at,
        }
    }
}

/// Whether `timer` still charges anything: `None` when its series, its merchant or its
/// period is gone or stopped (the timer is then closed).
async fn judge(state: &Gateway, timer: &TimerRow) -> Result<Option<DueCharge>, StoreError> {
    let now = state.now_for(&timer.store_uid);
    let at = if state.on_test_clock() {
        timer.due_at.min(now)
    } else {
        now
    };
    let Some((period, attempt)) = parse_payload(&timer.payload) else {
        tracing::warn!(
            payload = timer.payload,
            "a recurring timer without a period; closing it"
        );
        return Ok(None);
    };
    let Some(series) = state.store.series(timer.uid).await? else {
        return Ok(None);
    };
    let Some(first) = state.store.order(series.uid).await? else {
        return Ok(None);
    };
    let Some(merchant) = state.directory.merchant(&series.store_uid).await? else {
        return Ok(None);
    };
    let Some(terms) = terms_of(&first) else {
        tracing::error!(
            uid = series.uid,
            "a series whose terms no longer read; closing its timer"
        );
        return Ok(None);
    };
    // The timer's date is the charge's (a retry's is later than its period's).
    if !terms.has_period(period) || stopped_by(&series, taipei::date(timer.due_at)) {
        return Ok(None);
    }
    // A consumer who left the bound order (`A0002`) before its first charge ended the
    // series with it.
    if first.prc == Prc::Abandoned {
        return Ok(None);
    }
    let tool = PaymentTool::parse(&series.tool).unwrap_or(PaymentTool::DirectDebit);
    Ok(Some(DueCharge {
        timer: timer.clone(),
        series,
        first,
        merchant,
        terms,
        period,
        attempt,
        at,
        tool,
    }))
}

/// What a charge's answer comes to.
enum Settled {
    /// Its transaction's state change, with its notice and the next charge's timer.
    Change(Box<crate::store::Transition>),
    /// The answer is unknown: the period is asked again at this time, with the same key.
    AskAgain(jiff::Timestamp),
    /// The transaction has no such move any more: the timer is closed.
    Nothing,
}

/// The state change a charge's answer makes of its transaction `order`, with its notice,
/// and the next charge: the retry of a failed first attempt, else the next period.
fn settle(state: &Gateway, charge: &DueCharge, order: &OrderRow, answer: CardAnswer) -> Settled {
    let DueCharge {
        series,
        merchant,
        terms,
        period,
        attempt,
        at,
        tool,
        ..
    } = charge;
    let (period, attempt, tool) = (*period, *attempt, *tool);
    let (paid, acode, retmsg) = match answer {
        CardAnswer::Approved { acode } | CardAnswer::AmountMismatch { acode, .. } => {
            (true, Some(acode), String::new())
        }
        CardAnswer::Pending {
            resolves_paid: true,
        } => (
            true,
            Some(state.acquirer.approval_code(order.uid)),
            String::new(),
        ),
        CardAnswer::Declined { reason } => (false, None, reason),
        CardAnswer::Pending {
            resolves_paid: false,
        } => (false, None, "發卡行拒絕交易".into()),
        CardAnswer::Unavailable
        | CardAnswer::ThreeDSecure { .. }
        | CardAnswer::Challenge { .. } => (false, None, "發卡行或收單行暫時無法服務".into()),
        // The charge may have happened: the timer stays, and the period is asked again
        // with the same reference a minute later, which an upstream answers as before.
        CardAnswer::Unknown { reference } => {
            tracing::warn!(
                reference,
                "a recurring charge's answer is unknown; asking again in a minute"
            );
            return Settled::AskAgain(
                state.now_for(&order.store_uid) + super::resolve::ASK_AGAIN_AFTER,
            );
        }
    };
    let event = if order.prc == Prc::CardlessBound {
        Event::BoundCardCharged { paid }
    } else {
        Event::PendingResolved { paid }
    };
    let Ok(to) = state::next(order.prc, event) else {
        return Settled::Nothing;
    };
    let facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        cardno: Some(series.cardno.clone()),
        card_type: Some(series.card_type),
        issuing_bank: Some(series.issuing_bank.clone()),
        issuing_bank_uid: Some(series.issuing_bank_uid.clone()),
        supplier_code: merchant.settings.tool(tool).map(|s| s.supplier.clone()),
        acode,
        actual_cost: paid.then_some(order.cost),
        group_id: Some(series.group_id.clone()),
        nois: Some(i64::from(period)),
        ..PaymentFacts::default()
    };
    let mut t = transition(state, order, to, &charge.cause(), facts);
    t.at = *at;
    t.retmsg = retmsg;
    t.finishes = true;
    t.completes_timer = Some(charge.timer.id);
    let retry_days = merchant.settings.recurring_retry_days.clamp(1, 365);
    let next = if !paid && attempt == 1 {
        charge_timer(&series.store_uid, terms, period, 2, retry_days)
    } else {
        charge_timer(&series.store_uid, terms, period + 1, 1, 0)
    };
    t.series = next.map(|timer| SeriesWrite {
        series_uid: series.uid,
        create: None,
        next_charge: Some(timer),
    });
    attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    Settled::Change(Box::new(t))
}

fn parse_payload(payload: &str) -> Option<(u32, u32)> {
    let (period, attempt) = payload.split_once(':')?;
    Some((period.parse().ok()?, attempt.parse().ok()?))
}

/// Whether the series' stop date forbids a charge for a period dated `date`.
fn stopped_by(series: &SeriesRow, date: Date) -> bool {
    series
        .stop_date
        .as_deref()
        .is_some_and(|stop| date8(date).as_str() >= stop)
}

/// Why a stop (`api/disabledirectdebit`) was refused; the message is the answer's `msg`.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("{0}")]
    Refused(String),
    #[error("internal: {0}")]
    Store(#[from] StoreError),
}

/// The series a stop request names, and the stop applied.
pub struct Stopped {
    pub order_id: String,
    pub group_id: String,
}

/// Stop `merchant`'s series `group_id` (of `order_id`) from `stop_time` on: no charge
/// on or after that date. `stop_time` must be after today (the document's rule).
pub async fn stop(
    state: &Gateway,
    merchant: &Merchant,
    order_id: &str,
    group_id: &str,
    stop_time: &str,
    reason: &str,
) -> Result<Stopped, StopError> {
    let refused = |msg: &str| StopError::Refused(msg.to_owned());
    let stop_date = recurring::parse_date8(stop_time.trim())
        .ok_or_else(|| refused("stop_time: must be a date YYYYMMDD"))?;
    let today = taipei::date(state.now_for(&merchant.store_uid));
    if stop_date <= today {
        return Err(refused("停扣日必須大於今日"));
    }
    let series = state
        .store
        .series_by_group(Some(&merchant.store_uid), group_id.trim())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| refused("group_id: no recurring series of this merchant has this id"))?;
    let first = state.store.order(series.uid).await?;
    if first.as_ref().is_none_or(|o| o.order_id != order_id) {
        return Err(refused(
            "order_id: does not match the recurring series named by group_id",
        ));
    }
    if reason.chars().count() > 200 {
        return Err(refused("stop_reason: must be at most 200 characters"));
    }
    if !state
        .store
        .stop_series(series.uid, &date8(stop_date), reason, &date8(today))
        .await?
    {
        return Err(refused(
            "stop_time: this series has already stopped; its stop date cannot change",
        ));
    }
    Ok(Stopped {
        order_id: order_id.to_owned(),
        group_id: series.group_id,
    })
}

/// Sandbox: make the next charge of the series `group_id` decline (or not). Without a
/// `store_uid`, the id must name one series of all merchants'.
pub async fn decline_next(
    state: &Gateway,
    store_uid: Option<&str>,
    group_id: &str,
    decline: bool,
) -> Result<SeriesRow, StopError> {
    let found = state.store.series_by_group(store_uid, group_id).await?;
    let series = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(StopError::Refused(format!(
                "group_id: no recurring series {group_id:?}"
            )));
        }
        _ => {
            return Err(StopError::Refused(format!(
                "group_id: {group_id:?} names series of several merchants; give store_uid"
            )));
        }
    };
    state.store.decline_next_charge(series.uid, decline).await?;
    Ok(series)
}

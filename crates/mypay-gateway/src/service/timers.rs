//! The scheduler: timed work on the gateway's clock. Each timer is done in the same
//! transaction as the state change it causes, so it takes effect exactly once.

use super::Gateway;
use super::checkout;
use crate::clock::taipei;
use crate::ledger::reversal::{CASH_REFUND_DAYS, refund_type};
use crate::ledger::state::{self, Event};
use crate::ledger::timers::{PendingOutcome, TimerKind};
use crate::store::{OrderRow, PaymentFacts, StoreError, TimerRow};
use mypay_protocol::notice::NoticeKind;

pub async fn run(state: Gateway) {
    let mut keys_tended: Option<std::time::Instant> = None;
    loop {
        if let Err(e) = run_due(&state).await {
            tracing::error!(error = %e, "scheduler");
        }
        // Keys' life moves in days: a look once a minute is plenty (a sandbox clock
        // advance looks at once).
        if keys_tended.is_none_or(|at| at.elapsed() >= KEY_LIFE_LOOK) {
            keys_tended = Some(std::time::Instant::now());
            if let Err(e) = super::keys::tend(&state).await {
                tracing::error!(error = %e, "key life");
            }
        }
        tokio::select! {
            _ = state.store.wakeups().notified() => {}
            _ = tokio::time::sleep(state.settings.worker_poll) => {}
        }
    }
}

/// How often the scheduler looks for keys' reminders and successors due.
const KEY_LIFE_LOOK: std::time::Duration = std::time::Duration::from_secs(60);

/// Timers of different subjects run side by side, this many at once: a charge or a state
/// change waits mostly for its commit, and commits of several share a flush (PostgreSQL's
/// group commit). Timers of one subject run one after the other, oldest first.
const SIDE_BY_SIDE: usize = 16;

/// Recurring charges recorded, and answered, together: a claim's worth in a few parts, so
/// that one part's upstream questions overlap another's writes.
const CHARGED_TOGETHER: usize = 25;

/// Run every timer due now, oldest first per subject; returns how many ran.
pub async fn run_due(state: &Gateway) -> Result<usize, StoreError> {
    let mut ran = 0;
    loop {
        let due = state
            .store
            .claim_timers(state.clocks.shared().reading(), 100, &state.leases.issue())
            .await?;
        if due.is_empty() {
            return Ok(ran);
        }
        ran += due.len();
        // Group by subject, keeping each group's order (the claim's, oldest first).
        let mut groups: Vec<Vec<TimerRow>> = Vec::new();
        let mut index: std::collections::HashMap<u64, usize> = Default::default();
        for timer in due {
            match index.get(&timer.uid) {
                Some(&i) => groups[i].push(timer),
                None => {
                    index.insert(timer.uid, groups.len());
                    groups.push(vec![timer]);
                }
            }
        }
        // Recurring charges of series with one timer due are charged together, in parts
        // run side by side (see `recurring::charge_together`): one commit for a part's
        // records and one for its answers (SQLite), or one statement each (PostgreSQL).
        let (together, groups): (Vec<_>, Vec<_>) = groups.into_iter().partition(
            |group| matches!(group.as_slice(), [timer] if timer.kind == TimerKind::RecurringCharge),
        );
        let together: Vec<TimerRow> = together.into_iter().flatten().collect();
        let mut running = tokio::task::JoinSet::new();
        let mut failed = None;
        for part in together.chunks(CHARGED_TOGETHER) {
            let (state, part) = (state.clone(), part.to_vec());
            running.spawn(async move { super::recurring::charge_together(&state, &part).await });
        }
        for group in groups {
            if running.len() >= SIDE_BY_SIDE
                && let Some(Ok(Err(e))) = running.join_next().await
            {
                failed.get_or_insert(e);
            }
            let state = state.clone();
            running.spawn(async move {
                for timer in group {
                    match fire(&state, &timer).await {
                        Ok(()) | Err(StoreError::Conflict) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            });
        }
        while let Some(done) = running.join_next().await {
            if let Ok(Err(e)) = done {
                failed.get_or_insert(e);
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
    }
}

async fn fire(state: &Gateway, timer: &TimerRow) -> Result<(), StoreError> {
    let now = state.now_for(&timer.store_uid);
    let kind = timer.kind;
    // A refund batch timer names the refund, a recurring charge's its series, every
    // other timer the order.
    match kind {
        TimerKind::RefundBatch => return complete_refund(state, timer).await,
        TimerKind::RecurringCharge => return super::recurring::charge_due(state, timer).await,
        _ => {}
    }
    let Some(order) = state.store.order(timer.uid).await? else {
        return state.store.close_timer(timer.id, now).await;
    };
    match kind {
        TimerKind::ResolvePending => {
            let Some(outcome) = PendingOutcome::parse(&timer.payload) else {
                tracing::error!(
                    id = timer.id,
                    payload = timer.payload,
                    "a pending charge's timer names no outcome; closing it"
                );
                return state.store.close_timer(timer.id, now).await;
            };
            if let PendingOutcome::Ask { asked, reference } = &outcome {
                return super::resolve::ask(state, timer, &order, *asked, reference).await;
            }
            let paid = outcome == PendingOutcome::Paid;
            let mut facts = PaymentFacts::default();
            if paid {
                facts.actual_cost = Some(order.cost);
                facts.acode = Some(state.acquirer.approval_code(order.uid));
            }
            let change = TimedChange {
                event: Event::PendingResolved { paid },
                cause: "acquirer confirmed the pending charge",
                retmsg: if paid {
                    ""
                } else {
                    "收單行確認交易失敗"
                },
                facts,
                notice: NoticeKind::Confirmation,
            };
            apply_timed(state, timer, &order, change).await
        }
        TimerKind::Review => {
            let approved = timer.payload == "approve";
            match super::review(state, order.uid, approved, Some(timer.id)).await {
                Ok(_) => Ok(()),
                Err(super::CheckoutError::Store(e)) => Err(e),
                // Reviewed already (the sandbox helper) or gone: nothing left to do.
                Err(_) => state.store.close_timer(timer.id, now).await,
            }
        }
        TimerKind::PaymentDeadline => {
            let change = TimedChange {
                event: Event::DeadlinePassed,
                cause: "the deadline to pay passed",
                retmsg: "逾期未繳費",
                facts: PaymentFacts::default(),
                notice: NoticeKind::Completed,
            };
            apply_timed(state, timer, &order, change).await
        }
        TimerKind::CaptureBatch => {
            let change = TimedChange {
                event: Event::CaptureConfirmed,
                cause: "the acquirer's nightly batch confirmed the capture",
                retmsg: "",
                facts: PaymentFacts {
                    actual_cost: order.captured,
                    ..Default::default()
                },
                notice: NoticeKind::Completed,
            };
            apply_timed(state, timer, &order, change).await
        }
        TimerKind::RefundBatch => complete_refund(state, timer).await,
        TimerKind::RecurringCharge => super::recurring::charge_due(state, timer).await,
        TimerKind::IssueInvoice => {
            super::invoices::issue_owed(state, order.uid).await?;
            state.store.close_timer(timer.id, now).await
        }
    }
}

/// The final state change a timer causes, and the notice it owes.
struct TimedChange {
    event: Event,
    cause: &'static str,
    retmsg: &'static str,
    facts: PaymentFacts,
    notice: NoticeKind,
}

/// Apply `change` to `order` and complete `timer` with it. When the table has no such
/// move any more (the order moved on before the timer fell due), just close the timer.
async fn apply_timed(
    state: &Gateway,
    timer: &TimerRow,
    order: &OrderRow,
    change: TimedChange,
) -> Result<(), StoreError> {
    let now = state.now_for(&order.store_uid);
    let Ok(to) = state::next(order.prc, change.event) else {
        return state.store.close_timer(timer.id, now).await;
    };
    let Some(merchant) = state.store.merchant(&order.store_uid).await? else {
        return state.store.close_timer(timer.id, now).await;
    };
    let mut t = checkout::transition(state, order, to, change.cause, change.facts);
    t.retmsg = change.retmsg.to_owned();
    t.finishes = true;
    t.completes_timer = Some(timer.id);
    checkout::attach_notice(&mut t, order, &merchant, change.notice);
    state.store.apply(&t).await?;
    state.notices_waiting.notify_one();
    if t.to == mypay_protocol::Prc::Paid {
        super::invoices::after_paid(state, &t).await;
    }
    Ok(())
}

/// The nightly refund batch reached a queued refund: complete it and notify.
async fn complete_refund(state: &Gateway, timer: &TimerRow) -> Result<(), StoreError> {
    let now = state.now_for(&timer.store_uid);
    let refund = state.store.reversal(timer.uid).await?;
    let order = match &refund {
        Some(r) => state.store.order(r.uid).await?,
        None => None,
    };
    let merchant = match &order {
        Some(o) => state.store.merchant(&o.store_uid).await?,
        None => None,
    };
    let (Some(refund), Some(order), Some(merchant)) = (refund, order, merchant) else {
        return state.store.close_timer(timer.id, now).await;
    };
    // Cancelled meanwhile (220): nothing to do.
    if state::refund_next(refund.prc, true).is_none() {
        return state.store.close_timer(timer.id, now).await;
    }
    if let Some(movements) = &state.movements {
        // Production: the upstream says when a refund is done, asked with the refund's
        // own reference however often this runs.
        let tool = order
            .paid_pfn
            .as_deref()
            .and_then(mypay_protocol::PaymentTool::parse);
        let real_time = tool.is_some_and(|t| t.refunds_in_real_time());
        let asked =
            super::refunds::ask_refund(state, movements.as_ref(), &order, &refund, real_time).await;
        let again = |after: jiff::SignedDuration| {
            let tries: u32 = timer
                .payload
                .strip_prefix("ask:")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            crate::store::NewTimer {
                kind: TimerKind::RefundBatch,
                due_at: now + after,
                payload: format!("ask:{}", tries + 1),
                store_uid: timer.store_uid.clone(),
            }
        };
        match asked {
            Ok(crate::ledger::connector::Moved::Done { .. }) => {}
            Ok(_) => {
                // Batched at the upstream: its callback completes it; asked again hourly
                // in case the callback is lost.
                let next = again(jiff::SignedDuration::from_hours(1));
                return state.store.ask_again(timer.id, &next, timer.uid, now).await;
            }
            Err(crate::ledger::connector::NotMoved::Unknown) => {
                let next = again(super::resolve::ASK_AGAIN_AFTER);
                return state.store.ask_again(timer.id, &next, timer.uid, now).await;
            }
            Err(crate::ledger::connector::NotMoved::Refused(why)) => {
                tracing::error!(
                    refund = refund.id,
                    uid = order.uid,
                    why,
                    "the upstream refused a refund; left to the operator"
                );
                return state.store.close_timer(timer.id, now).await;
            }
        }
    }
    let expected = if refund.refund_type == refund_type::CASH {
        taipei::date8_after_days(now, CASH_REFUND_DAYS)
    } else {
        String::new()
    };
    let done = state
        .store
        .complete_refund(
            refund.id,
            timer.id,
            &expected,
            now,
            Box::new(|row| crate::notify::refund_notice(&merchant.settings, &order, row)),
        )
        .await?;
    if done.is_some() {
        state.notices_waiting.notify_one();
    }
    Ok(())
}

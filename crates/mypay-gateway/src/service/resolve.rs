//! Unknown outcomes resolved: an upstream charge whose answer never came (the order
//! `A0001`) is asked about by its reference on a schedule, stored as timers, so a
//! restart or another node carries on; the upstream's callback may settle it first.
//! Never resolved, it is left to the operator (`mypay-gateway unresolved`, an e-mail).

use super::Gateway;
use super::checkout;
use crate::ledger::connector::Resolution;
use crate::ledger::state::{self, Event};
use crate::ledger::timers::{PendingOutcome, TimerKind};
use crate::store::{NewTimer, OrderRow, PaymentFacts, StoreError, TimerRow};
use jiff::SignedDuration;
use mypay_protocol::Prc;
use mypay_protocol::notice::NoticeKind;

/// An upstream operation sent again with its own reference (a recurring period's charge,
/// a refund) is sent after this when no answer came: the upstream does it once.
pub const ASK_AGAIN_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// The delay before the first ask.
pub(super) fn first_ask(state: &Gateway) -> SignedDuration {
    delay(state, 0).unwrap_or(SignedDuration::from_secs(60))
}

fn delay(state: &Gateway, asked: u32) -> Option<SignedDuration> {
    let d = state.settings.resolve_schedule.get(asked as usize)?;
    SignedDuration::try_from(*d).ok()
}

/// A resolver timer fell due for `order`: ask the upstream, and settle, ask again
/// later, or give up.
pub(super) async fn ask(
    state: &Gateway,
    timer: &TimerRow,
    order: &OrderRow,
    asked: u32,
    reference: &str,
) -> Result<(), StoreError> {
    let now = state.now_for(&order.store_uid);
    if order.prc != Prc::Pending {
        // Settled meanwhile (a callback): nothing left to ask.
        return state.store.close_timer(timer.id, now).await;
    }
    let resolution = state.acquirer.status(reference).await;
    if settle(
        state,
        order,
        resolution,
        Some(timer.id),
        "the upstream's status",
    )
    .await?
    {
        return Ok(());
    }
    let asked = asked + 1;
    match delay(state, asked) {
        Some(after) => {
            let next = NewTimer {
                kind: TimerKind::ResolvePending,
                due_at: now + after,
                payload: PendingOutcome::Ask {
                    asked,
                    reference: reference.to_owned(),
                }
                .payload(),
                store_uid: order.store_uid.clone(),
            };
            state.store.ask_again(timer.id, &next, order.uid, now).await
        }
        None => {
            tracing::error!(
                uid = order.uid,
                reference,
                "an upstream charge stays unresolved; left to the operator"
            );
            state.store.give_up(timer.id, reference, now).await?;
            let body = format!(
                "The outcome of transaction {uid} (upstream reference {reference}) is still \
                 unknown after {asked} questions to its upstream. The order stays A0001 until \
                 an operator settles it with the upstream.\n\nmypay-gateway unresolved lists \
                 every such transaction.",
                uid = order.uid
            );
            let to = operator_address(state, order).await;
            state
                .store
                .queue_email(
                    &to,
                    &format!("Unresolved payment {}", order.uid),
                    &body,
                    now,
                    Some(order.uid),
                )
                .await
        }
    }
}

async fn operator_address(state: &Gateway, order: &OrderRow) -> String {
    match state.store.merchant(&order.store_uid).await {
        Ok(Some(m)) => m
            .settings
            .contact_email
            .unwrap_or_else(|| "operator".into()),
        _ => "operator".into(),
    }
}

/// Apply what the upstream says to an `A0001` order: paid or failed moves it (with its
/// 訂單確認回傳資訊 notice, closing `timer`); still unknown changes nothing. True when the
/// order moved (or had moved already).
pub async fn settle(
    state: &Gateway,
    order: &OrderRow,
    resolution: Resolution,
    timer: Option<i64>,
    cause: &str,
) -> Result<bool, StoreError> {
    let (paid, facts, retmsg) = match resolution {
        Resolution::Unknown => return Ok(false),
        Resolution::Paid { acode, amount } => (
            true,
            PaymentFacts {
                acode: Some(acode),
                actual_cost: Some(if amount > 0 { amount } else { order.cost }),
                ..PaymentFacts::default()
            },
            String::new(),
        ),
        Resolution::Failed { reason } => (false, PaymentFacts::default(), reason),
        Resolution::NeverPerformed => (
            false,
            PaymentFacts::default(),
            "收單行確認交易失敗".to_owned(),
        ),
    };
    let Ok(to) = state::next(order.prc, Event::PendingResolved { paid }) else {
        return Ok(true);
    };
    let Some(merchant) = state.store.merchant(&order.store_uid).await? else {
        return Ok(true);
    };
    let mut t = checkout::transition(state, order, to, cause, facts);
    t.retmsg = retmsg;
    t.finishes = true;
    t.completes_timer = timer;
    checkout::attach_notice(&mut t, order, &merchant, NoticeKind::Confirmation);
    match state.store.apply(&t).await {
        Ok(()) => {}
        // Another node or a callback settled it first.
        Err(StoreError::Conflict) => return Ok(true),
        Err(e) => return Err(e),
    }
    state.notices_waiting.notify_one();
    if t.to == Prc::Paid {
        super::invoices::after_paid(state, &t).await;
    }
    Ok(true)
}

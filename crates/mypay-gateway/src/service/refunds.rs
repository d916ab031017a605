//! Refunds and their cancellation (SPEC §7): the money moves here; the API's command
//! handlers parse each row, plan it by the document's rules (`ledger::reversal`) and
//! answer.

use super::{Gateway, MoneyError};
use crate::clock::taipei;
use crate::ledger::connector::{Moved, Movement, Movements};
use crate::ledger::reversal::RefundPlan;
use crate::ledger::timers::TimerKind;
use crate::notify;
use crate::store::{
    Merchant, NewReversal, NewTimer, OrderRow, RefundEffects, ReversalKind, ReversalRow, StoreError,
};
use mypay_protocol::{PaymentTool, Prc};

/// Refund `plan` of `order`: at once (`230`, with its notice) or queued for the 00:00
/// batch (`200`, with its timer). [`MoneyError::Moved`] when another refund or a state
/// change took the balance first (nothing was written).
pub async fn refund(
    gateway: &Gateway,
    order: &OrderRow,
    merchant: &Merchant,
    plan: &RefundPlan,
) -> Result<ReversalRow, MoneyError> {
    if let Some(movements) = &gateway.movements {
        return refund_upstream(gateway, movements.as_ref(), order, merchant, plan).await;
    }
    let now = gateway.now_for(&order.store_uid);
    let new = new_refund(plan, plan.real_time);
    let real_time = plan.real_time;
    let written = gateway
        .store
        .refund(
            order.uid,
            &new,
            now,
            Box::new(|row| RefundEffects {
                notice: if real_time {
                    notify::refund_notice(&merchant.settings, order, row)
                } else {
                    None
                },
                timer: (!real_time).then(|| NewTimer {
                    kind: TimerKind::RefundBatch,
                    due_at: taipei::next_midnight(now),
                    payload: String::new(),
                    store_uid: order.store_uid.clone(),
                }),
            }),
        )
        .await;
    match written {
        Ok(row) => {
            gateway.notices_waiting.notify_one();
            Ok(row)
        }
        Err(StoreError::Conflict) => Err(MoneyError::Moved(order.prc)),
        Err(e) => Err(e.into()),
    }
}

/// The record of refund `plan`: done now (`230`), or asked and waiting (`200`).
fn new_refund(plan: &RefundPlan, done: bool) -> NewReversal {
    NewReversal {
        kind: ReversalKind::Refund,
        cost: plan.cost,
        prc: if done { Prc::Refunded } else { Prc::Created },
        retmsg: if done {
            "退款完成"
        } else {
            "退款申請中"
        }
        .to_owned(),
        refund_type: plan.refund_type,
        expected_refund_date: String::new(),
        invoice_state: plan.invoice_state,
        items: plan
            .items
            .as_ref()
            .and_then(|items| serde_json::to_string(items).ok()),
        finished: done,
    }
}

/// Production: the refund is recorded as asked (`200`, holding its amount of the
/// balance, with a timer that asks the upstream again should this request end early),
/// then the upstream is asked with the refund's own reference. Done now: `230` with its
/// notice; pending (a batched tool): completed by the upstream's callback.
async fn refund_upstream(
    gateway: &Gateway,
    movements: &dyn Movements,
    order: &OrderRow,
    merchant: &Merchant,
    plan: &RefundPlan,
) -> Result<ReversalRow, MoneyError> {
    let now = gateway.now_for(&order.store_uid);
    // Asked, not done: the upstream's answer completes it.
    let new = new_refund(plan, false);
    let written = gateway
        .store
        .refund(
            order.uid,
            &new,
            now,
            Box::new(|_| RefundEffects {
                notice: None,
                timer: Some(NewTimer {
                    kind: TimerKind::RefundBatch,
                    due_at: now + super::resolve::ASK_AGAIN_AFTER,
                    payload: String::new(),
                    store_uid: order.store_uid.clone(),
                }),
            }),
        )
        .await;
    let row = match written {
        Ok(row) => row,
        Err(StoreError::Conflict) => return Err(MoneyError::Moved(order.prc)),
        Err(e) => return Err(e.into()),
    };
    match ask_refund(gateway, movements, order, &row, plan.real_time).await {
        Ok(Moved::Done { .. }) => {
            let done = gateway
                .store
                .complete_refund(
                    row.id,
                    0,
                    "",
                    now,
                    Box::new(|done| notify::refund_notice(&merchant.settings, order, done)),
                )
                .await?;
            gateway.notices_waiting.notify_one();
            Ok(done.unwrap_or(row))
        }
        // Pending, unknown or refused: recorded as asked; the timer or the callback
        // finishes it.
        _ => Ok(row),
    }
}

/// Production: refund `id` is done at its upstream (its callback): completed, with its
/// notice. `None` when it was completed (or cancelled) already.
pub async fn refund_completed(
    gateway: &Gateway,
    id: u64,
) -> Result<Option<ReversalRow>, StoreError> {
    let Some(refund) = gateway.store.reversal(id).await? else {
        return Ok(None);
    };
    let Some(order) = gateway.store.order(refund.uid).await? else {
        return Ok(None);
    };
    let Some(merchant) = gateway.store.merchant(&order.store_uid).await? else {
        return Ok(None);
    };
    let now = gateway.now_for(&order.store_uid);
    let expected = if refund.refund_type == crate::ledger::reversal::refund_type::CASH {
        taipei::date8_after_days(now, crate::ledger::reversal::CASH_REFUND_DAYS)
    } else {
        String::new()
    };
    let done = gateway
        .store
        .complete_refund(
            id,
            0,
            &expected,
            now,
            Box::new(|row| notify::refund_notice(&merchant.settings, &order, row)),
        )
        .await?;
    if done.is_some() {
        gateway.notices_waiting.notify_one();
    }
    Ok(done)
}

/// Ask the upstream for refund `row` of `order`, by the refund's own reference.
pub(super) async fn ask_refund(
    gateway: &Gateway,
    movements: &dyn Movements,
    order: &OrderRow,
    row: &ReversalRow,
    real_time: bool,
) -> Result<Moved, crate::ledger::connector::NotMoved> {
    let _ = gateway;
    let tool = order
        .paid_pfn
        .as_deref()
        .and_then(PaymentTool::parse)
        .unwrap_or(PaymentTool::CreditCard);
    movements
        .ask(&Movement::Refund {
            reference: refund_reference(row.id),
            uid: order.uid,
            tool,
            amount: row.cost,
            batched: !real_time,
        })
        .await
}

/// The reference a refund is asked of its upstream with: the same on every ask.
pub fn refund_reference(id: u64) -> String {
    format!("refund-{id}")
}

/// Cancel every refund of `order` still queued for the batch; the ones cancelled.
pub async fn cancel_queued_refunds(
    gateway: &Gateway,
    order: &OrderRow,
) -> Result<Vec<ReversalRow>, MoneyError> {
    Ok(gateway
        .store
        .cancel_queued_refunds(order.uid, gateway.now_for(&order.store_uid))
        .await?)
}

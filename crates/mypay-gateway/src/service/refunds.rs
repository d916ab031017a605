//! Refunds and their cancellation (SPEC §7): the money moves here; the API's command
//! handlers parse each row, plan it by the document's rules (`ledger::reversal`) and
//! answer.

use super::{Gateway, MoneyError};
use crate::clock::taipei;
use crate::ledger::reversal::RefundPlan;
use crate::ledger::timers::TimerKind;
use crate::notify;
use crate::store::{
    Merchant, NewReversal, NewTimer, OrderRow, RefundEffects, ReversalKind, ReversalRow, StoreError,
};
use mypay_protocol::Prc;

/// Refund `plan` of `order`: at once (`230`, with its notice) or queued for the 00:00
/// batch (`200`, with its timer). [`MoneyError::Moved`] when another refund or a state
/// change took the balance first (nothing was written).
pub async fn refund(
    gateway: &Gateway,
    order: &OrderRow,
    merchant: &Merchant,
    plan: &RefundPlan,
) -> Result<ReversalRow, MoneyError> {
    let now = gateway.now_for(&order.store_uid);
    let new = NewReversal {
        kind: ReversalKind::Refund,
        cost: plan.cost,
        prc: if plan.real_time {
            Prc::Refunded
        } else {
            Prc::Created
        },
        retmsg: if plan.real_time {
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
        finished: plan.real_time,
    };
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

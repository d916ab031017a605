//! Capturing and cancelling card authorisations (SPEC §8): the money moves here; the
//! API's command handlers only parse, look the order up and answer.

use super::Gateway;
use super::checkout::{attach_notice, transition};
use crate::clock::taipei;
use crate::ledger::connector::{Movement, NotMoved};
use crate::ledger::reversal::{self, Capturable};
use crate::ledger::state::{self, Event};
use crate::ledger::timers::TimerKind;
use crate::records;
use crate::store::{
    Merchant, NewReversal, NewTimer, OrderRow, PaymentFacts, ReversalKind, StoreError, Transition,
};
use mypay_protocol::Prc;
use mypay_protocol::messages::Item;
use mypay_protocol::notice::NoticeKind;

/// Why money could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum MoneyError {
    /// The request breaks a rule of the document (the message names the field).
    #[error("{0}")]
    Refused(String),
    /// Another request moved the order first.
    #[error("the order is no longer in state {}", .0.code())]
    Moved(Prc),
    #[error("internal: {0}")]
    Store(#[from] StoreError),
    /// The upstream gave no answer: nothing was recorded; asked again, the upstream
    /// acts once (the same reference).
    #[error("the upstream did not answer")]
    Unavailable,
}

/// Production: ask the upstream to move `movement` before recording it. Refused:
/// nothing is recorded; no answer: nothing is recorded either, and the same request
/// asked again carries the same reference.
async fn ask_upstream(gateway: &Gateway, movement: Movement) -> Result<(), MoneyError> {
    let Some(movements) = &gateway.movements else {
        return Ok(());
    };
    match movements.ask(&movement).await {
        Ok(_) => Ok(()),
        Err(NotMoved::Refused(why)) => {
            Err(MoneyError::Refused(format!("the acquirer refused: {why}")))
        }
        Err(NotMoved::Unknown) => Err(MoneyError::Unavailable),
    }
}

fn paid_tool(order: &OrderRow) -> mypay_protocol::PaymentTool {
    order
        .paid_pfn
        .as_deref()
        .and_then(mypay_protocol::PaymentTool::parse)
        .unwrap_or(mypay_protocol::PaymentTool::CreditCard)
}

/// A capture done: whether a batch acquirer confirms it tonight (`247`), or it is
/// captured now (`250`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured {
    pub batch: bool,
}

/// Capture `cost` (all of it when `None`) of `order`'s authorisation, naming `items`.
pub async fn capture(
    gateway: &Gateway,
    order: &OrderRow,
    merchant: &Merchant,
    cost: Option<&str>,
    items: Option<&[Item]>,
) -> Result<Captured, MoneyError> {
    let order_items = records::order_items(order);
    let now = gateway.now_for(&order.store_uid);
    let plan = reversal::plan_capture(
        Capturable {
            prc: order.prc,
            authorised: order.actual_cost.unwrap_or(order.cost),
            // 284 has no actual_cost yet: the order's amount is what may be captured.
            authorised_at: order.finished_at,
            supplier: order.supplier_code.as_deref().unwrap_or_default(),
            order_items: &order_items,
        },
        cost,
        items,
        now,
    )
    .map_err(|e| MoneyError::Refused(e.0))?;
    let mut plan = plan;
    if gateway.movements.is_some() {
        // One capture per authorisation: its reference is the transaction's.
        ask_upstream(
            gateway,
            Movement::Capture {
                reference: format!("capture-{}", order.uid),
                uid: order.uid,
                tool: paid_tool(order),
                amount: plan.cost,
            },
        )
        .await?;
        // The upstream captured it now: no batch confirms it later.
        plan.batch = false;
    }
    let event = if order.prc == Prc::PostPayApproved {
        Event::PostPayCaptured
    } else {
        Event::Captured { batch: plan.batch }
    };
    let to = state::next(order.prc, event).map_err(|e| MoneyError::Refused(e.to_string()))?;
    let facts = PaymentFacts {
        captured: Some(plan.cost),
        // The captured amount is what the consumer pays; a batch confirms it later.
        actual_cost: (!plan.batch).then_some(plan.cost),
        ..PaymentFacts::default()
    };
    let mut t = transition(gateway, order, to, "api/authorizedrequestpayment", facts);
    t.finishes = true;
    if plan.batch {
        t.retmsg = "請款進行中".to_owned();
        t.timers.push(NewTimer {
            kind: TimerKind::CaptureBatch,
            due_at: taipei::next_midnight(now),
            payload: String::new(),
            store_uid: order.store_uid.clone(),
        });
    } else {
        attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    }
    apply(gateway, &t).await?;
    Ok(Captured { batch: plan.batch })
}

/// Cancel `order`'s authorisation (`245` → `300`, with a `cancel_order` record `220`).
pub async fn cancel_authorisation(
    gateway: &Gateway,
    order: &OrderRow,
    merchant: &Merchant,
) -> Result<(), MoneyError> {
    reversal::check_cancel_authorisation(order.prc).map_err(|e| MoneyError::Refused(e.0))?;
    let to = state::next(order.prc, Event::AuthorisationCancelled)
        .map_err(|e| MoneyError::Refused(e.to_string()))?;
    ask_upstream(
        gateway,
        Movement::Void {
            reference: format!("void-{}", order.uid),
            uid: order.uid,
            tool: paid_tool(order),
        },
    )
    .await?;
    let mut t = transition(
        gateway,
        order,
        to,
        "api/cancelauthorization",
        PaymentFacts::default(),
    );
    t.retmsg = "交易失敗".to_owned();
    t.finishes = true;
    t.reversals.push(NewReversal {
        kind: ReversalKind::Cancel,
        cost: order.actual_cost.unwrap_or(order.cost),
        prc: Prc::Cancelled,
        retmsg: "取消授權成功".to_owned(),
        refund_type: reversal::refund_type::ONLINE,
        expected_refund_date: String::new(),
        invoice_state: None,
        items: None,
        finished: true,
    });
    attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    apply(gateway, &t).await
}

async fn apply(gateway: &Gateway, t: &Transition) -> Result<(), MoneyError> {
    match gateway.store.apply(t).await {
        Ok(()) => {
            gateway.notices_waiting.notify_one();
            if t.to == Prc::Paid {
                super::invoices::after_paid(gateway, t).await;
            }
            Ok(())
        }
        // Another request moved the order first (a second capture or cancel racing).
        Err(StoreError::Conflict) => Err(MoneyError::Moved(t.from)),
        Err(e) => Err(e.into()),
    }
}

//! `api/authorizedrequestpayment` (信用卡授權請款) and `api/cancelauthorization`
//! (信用卡取消授權), SPEC §8. Both answer `{code, msg, content}` with the full query
//! record after the change.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use super::lookup::merchant_order;
use crate::app::AppState;
use crate::clock::taipei;
use crate::ledger::reversal::{self, Capturable};
use crate::ledger::state::{self, Event};
use crate::ledger::timers::TimerKind;
use crate::records;
use crate::service;
use crate::store::{NewReversal, NewTimer, OrderRow, PaymentFacts, ReversalKind, StoreError};
use mypay_protocol::messages::{RecordResponse, RefundRequest, UidKeyRequest};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::{Command, Prc};

pub async fn capture(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::AuthorizedRequestPayment;
    let req: RefundRequest = parse_data(command, &request.data)?;
    let merchant = &request.merchant;
    let order = merchant_order(
        state,
        merchant,
        command,
        req.uid.as_deref(),
        req.key.as_deref(),
    )
    .await?;
    let items = records::order_items(&order);
    let now = state.clock.now();
    let plan = reversal::plan_capture(
        Capturable {
            prc: order.prc,
            authorised: order.actual_cost.unwrap_or(order.cost),
            // 284 has no actual_cost yet: the order's amount is what may be captured.
            authorised_at: order.finished_at,
            supplier: order.supplier_code.as_deref().unwrap_or_default(),
            order_items: &items,
        },
        req.cost.as_deref(),
        req.items.as_deref(),
        now,
    )
    .map_err(|e| ApiError::new(command, e.0))?;
    let event = if order.prc == Prc::PostPayApproved {
        Event::PostPayCaptured
    } else {
        Event::Captured { batch: plan.batch }
    };
    let to = state::next(order.prc, event).map_err(|e| ApiError::new(command, e.to_string()))?;
    let facts = PaymentFacts {
        captured: Some(plan.cost),
        // The captured amount is what the consumer pays; a batch confirms it later.
        actual_cost: (!plan.batch).then_some(plan.cost),
        ..PaymentFacts::default()
    };
    let mut t = service::transition(state, &order, to, "api/authorizedrequestpayment", facts);
    t.finishes = true;
    if plan.batch {
        t.retmsg = "請款進行中".to_owned();
        t.timers.push(NewTimer {
            kind: TimerKind::CaptureBatch.as_str().to_owned(),
            due_at: taipei::next_midnight(now),
            payload: String::new(),
        });
    } else {
        service::attach_notice(&mut t, &order, merchant, NoticeKind::Completed);
    }
    apply(state, &t, command).await?;
    let msg = if plan.batch {
        "執行成功,請款處理進行中。"
    } else {
        "執行成功,請款完成。"
    };
    answer(state, order.uid, msg).await
}

pub async fn cancel(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::CancelAuthorization;
    let req: UidKeyRequest = parse_data(command, &request.data)?;
    let merchant = &request.merchant;
    let order = merchant_order(
        state,
        merchant,
        command,
        req.uid.as_deref(),
        req.key.as_deref(),
    )
    .await?;
    reversal::check_cancel_authorisation(order.prc).map_err(|e| ApiError::new(command, e.0))?;
    let to = state::next(order.prc, Event::AuthorisationCancelled)
        .map_err(|e| ApiError::new(command, e.to_string()))?;
    let mut t = service::transition(
        state,
        &order,
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
    service::attach_notice(&mut t, &order, merchant, NoticeKind::Completed);
    apply(state, &t, command).await?;
    answer(state, order.uid, "執行成功,取消授權完成").await
}

async fn apply(
    state: &AppState,
    t: &crate::store::Transition,
    command: Command,
) -> Result<(), ApiError> {
    match state.store.apply(t).await {
        Ok(()) => {
            state.notices_waiting.notify_one();
            Ok(())
        }
        // Another request moved the order first (a second capture or cancel racing).
        Err(StoreError::Conflict) => Err(ApiError::new(
            command,
            format!("此筆交易狀態已變更 (不再是 {})，請重新查詢", t.from.code()),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// `{code: B200, msg, content}` with the record as it is now.
async fn answer(state: &AppState, uid: u64, msg: &str) -> Result<Vec<u8>, ApiError> {
    let order: OrderRow = state
        .store
        .order(uid)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("an order vanished after its change"))?;
    let reversals = state
        .store
        .reversals(uid)
        .await
        .map_err(ApiError::internal)?;
    serde_json::to_vec(&RecordResponse {
        code: "B200".to_owned(),
        msg: msg.to_owned(),
        content: records::query_record_with(&order, &reversals),
    })
    .map_err(ApiError::internal)
}

//! Pay-later tools (codes, barcodes, accounts, WebATM): issued, then paid at the
//! counter or left to expire; settlement of paid orders.

use super::Gateway;
use super::checkout::*;
use crate::ledger::connector::{Moved, Movement};
use crate::ledger::counter;
use crate::ledger::state::{self, Event};
use crate::ledger::timers::TimerKind;
use crate::store::{NewTimer, OrderRow, PaymentFacts};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::{PaymentTool, Prc};

/// The pay-later tools (codes, barcodes, accounts, WebATM) the PayPage can offer for
/// `order`, as [`super::card_tools`] does for cards.
pub fn pay_later_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    let request = order.stored_request();
    let has_each_code = request
        .each_code
        .as_ref()
        .is_some_and(|c| !c.trim().is_empty());
    offered_tools(settings, order, |t| {
        counter::is_pay_later(t) && (t != PaymentTool::Each || has_each_code)
    })
}

/// The consumer chose a pay-later tool: issue the code, barcodes or account, notify the
/// merchant (非即時交易回傳資訊) and start the deadline.
pub async fn issue_pay_later(
    state: &Gateway,
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
    let request = order.stored_request();
    let now = state.now_for(&order.store_uid);
    let deadline = counter::deadline(
        now,
        request.limit_pay_days.unwrap_or(counter::DEFAULT_PAY_DAYS),
    );
    let mut issued = counter::issue(tool, &supplier, uid, order.cost, deadline)
        .ok_or_else(|| CheckoutError::Tool(format!("{} is not paid later", tool.code())))?;
    if let Some(movements) = &state.movements {
        // Production: the upstream issues the code or account (one per transaction:
        // asked again, it answers what it issued).
        let movement = Movement::Collect {
            reference: format!("collect-{uid}"),
            uid,
            tool,
            amount: order.cost,
            deadline,
        };
        match movements.ask(&movement).await {
            Ok(Moved::Issued(details)) => issued = counter::with_details(issued, &details),
            Ok(_) => {}
            Err(_) => return Err(CheckoutError::Unavailable),
        }
    }
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
        kind: TimerKind::PaymentDeadline,
        due_at: issued.deadline + jiff::SignedDuration::from_secs(1),
        payload: String::new(),
        store_uid: order.store_uid.clone(),
    });
    attach_notice(&mut t, &order, &merchant, NoticeKind::NonRealTime);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The consumer paid a pay-later order at the counter, the ATM or online (`amount`:
/// what was paid, the order's amount when not given). A different amount, or a payment
/// after the deadline, is `290`.
pub async fn pay_later_paid(
    state: &Gateway,
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

/// Days from settlement to the payout (`appropriation_date`) in the sandbox.
pub const PAYOUT_DAYS: i64 = 7;

/// The acquirer's reconciliation settled a paid order (`600`, 訂單確認回傳資訊), to be
/// paid out `PAYOUT_DAYS` later.
pub async fn settle_order(state: &Gateway, uid: u64) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = order_and_merchant(state, uid).await?;
    let to =
        state::next(order.prc, Event::Settled).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let now = state.now_for(&order.store_uid);
    let facts = PaymentFacts {
        appropriation_date: Some(crate::clock::taipei::date8_after_days(now, PAYOUT_DAYS)),
        ..PaymentFacts::default()
    };
    let mut t = transition(state, &order, to, "the acquirer settled the order", facts);
    attach_notice(&mut t, &order, &merchant, NoticeKind::Confirmation);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

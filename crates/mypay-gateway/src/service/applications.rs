//! Post-pay and cardless applications, and the provider's review of them.

use super::Gateway;
use super::checkout::*;
use crate::ledger::connector::{Movement, NotMoved};
use crate::ledger::state::{self, Event};
use crate::ledger::timers::TimerKind;
use crate::store::{NewTimer, OrderRow, PaymentFacts};
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::{PaymentTool, Prc};

/// Post-pay (needs a valid `shipping_info`), cardless instalments (a valid `user_data`)
/// and cash (in person only) as the order allows them.
pub fn application_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    use crate::ledger::applications::{check_shipping_info, check_user_data};
    let request = order.stored_request();
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
    state: &Gateway,
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
    let mut review = review;
    if review && let Some(movements) = &state.movements {
        // Production: the provider reviews, and calls back; no simulated review.
        let request = order.stored_request();
        let declared = match tool {
            PaymentTool::PostPay => request.shipping_info.clone(),
            _ => request.user_data.clone(),
        };
        let movement = Movement::Apply {
            reference: format!("apply-{uid}"),
            uid,
            tool,
            amount: order.cost,
            applicant: match declared {
                Some(serde_json::Value::Object(map)) => map,
                _ => Default::default(),
            },
        };
        match movements.ask(&movement).await {
            Ok(_) => review = false,
            Err(NotMoved::Refused(why)) => {
                return Err(CheckoutError::Tool(format!("the provider refused: {why}")));
            }
            Err(NotMoved::Unknown) => return Err(CheckoutError::Unavailable),
        }
    }
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
            kind: TimerKind::Review,
            due_at: t.at
                + jiff::SignedDuration::from_secs(crate::ledger::applications::REVIEW_SECONDS),
            payload: "approve".to_owned(),
            store_uid: order.store_uid.clone(),
        });
    }
    attach_notice(&mut t, &order, &merchant, kind);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

/// The provider's review of a post-pay (`282`) or cardless (`275`) application.
pub async fn review(
    state: &Gateway,
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

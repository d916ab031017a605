//! Refunds (SPEC §7) and capture or cancellation of an authorisation (SPEC §8): the rules
//! that decide, before anything is written, whether a request may go ahead and how. The
//! store then applies the decision with guards of its own (the balance and the state are
//! checked again in the same statement that changes them), so a race cannot break them.

use jiff::{SignedDuration, Timestamp};
use mypay_protocol::messages::Item;
use mypay_protocol::{PaymentTool, Prc};

/// Days after authorisation within which a capture is accepted (請款天數限制: 5 days for
/// every collecting merchant and every bank of the document's table).
pub const CAPTURE_DAYS: i64 = 5;

/// Acquirers that capture in a nightly batch (`247` first, `250` at the batch): 玉山 B4,
/// 聯信 B6, 凱基 BC, 元大 BB (SPEC §5).
pub fn captures_in_batch(supplier: &str) -> bool {
    matches!(supplier, "B4" | "B6" | "BC" | "BB")
}

/// `refund_type` of a refund record.
pub mod refund_type {
    /// 直接線上退款.
    pub const ONLINE: i64 = 1;
    /// 手動退款(現金類): paid back by hand, with an `expected_refund_date`.
    pub const CASH: i64 = 3;
}

/// Days from the batch that queues a cash refund to its `expected_refund_date`.
pub const CASH_REFUND_DAYS: i64 = 7;

/// A refusal, in the words of the `msg` of a `B500` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refuse(msg: impl Into<String>) -> Refused {
    Refused(msg.into())
}

/// What the merchant asked for, already read from the request.
#[derive(Debug, Clone, Default)]
pub struct RefundAsk {
    pub cost: Option<String>,
    pub invoice_state: Option<i64>,
    pub items: Option<Vec<Item>>,
}

/// A refund that may go ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundPlan {
    pub cost: i64,
    /// Completes at once (`230` in the answer); else queued for the next 00:00 batch.
    pub real_time: bool,
    pub refund_type: i64,
    pub invoice_state: Option<i64>,
    pub items: Option<Vec<Item>>,
}

/// The order facts a refund decision needs.
#[derive(Debug, Clone, Copy)]
pub struct Refundable<'a> {
    pub prc: Prc,
    pub tool: Option<PaymentTool>,
    /// What the consumer paid (the captured amount for an authorised order).
    pub paid: i64,
    /// Refunds already made or queued (not cancelled).
    pub refunded: i64,
    pub order_items: &'a [Item],
    /// The order has an issued e-invoice. Only then do `invoice_state` and `items` mean
    /// anything: the document makes both conditional on one (a widely used client sends
    /// `invoice_state` 4 with every refund, and never `items`).
    pub has_invoice: bool,
}

pub fn plan_refund(order: Refundable<'_>, ask: &RefundAsk) -> Result<RefundPlan, Refused> {
    let cost = positive_amount(ask.cost.as_deref(), "cost")?;
    match order.prc {
        prc if crate::ledger::state::is_refundable(prc) => {}
        Prc::Authorised => {
            return Err(refuse(
                "此筆交易為授權成功(245)尚未請款，請使用取消授權 (api/cancelauthorization)",
            ));
        }
        Prc::Capturing => return Err(refuse("此筆交易請款進行中(247)，請款完成後才能退款")),
        other => {
            return Err(refuse(format!(
                "此筆交易狀態為 {} ({})，不是付款成功，無法退款",
                other.code(),
                other.description()
            )));
        }
    }
    let balance = order.paid - order.refunded;
    if cost > balance {
        return Err(refuse(format!(
            "cost: 退款金額 {cost} 超過可退款餘額 {balance} (已付 {}，已退或退款中 {})",
            order.paid, order.refunded
        )));
    }
    if let Some(state) = ask.invoice_state
        && state != 4
        && state != 6
    {
        return Err(refuse(format!(
            "invoice_state: {state} 不是 4 (作廢) 或 6 (折讓)"
        )));
    }
    let invoice_state = ask.invoice_state.filter(|_| order.has_invoice);
    if invoice_state.is_some() && ask.items.is_none() {
        return Err(refuse("items: 使用電子發票作廢或折讓時必填"));
    }
    if let Some(items) = &ask.items {
        check_items(items, order.order_items, Some(cost))?;
    }
    let tool = order.tool.unwrap_or(PaymentTool::CreditCard);
    let real_time = tool.refunds_in_real_time();
    Ok(RefundPlan {
        cost,
        real_time,
        refund_type: if !real_time && tool.refunds_in_cash() {
            refund_type::CASH
        } else {
            refund_type::ONLINE
        },
        invoice_state,
        items: ask.items.clone(),
    })
}

/// A capture that may go ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturePlan {
    pub cost: i64,
    /// `247` now and `250` at the batch; else `250` at once.
    pub batch: bool,
}

/// The order facts a capture decision needs.
#[derive(Debug, Clone, Copy)]
pub struct Capturable<'a> {
    pub prc: Prc,
    pub authorised: i64,
    pub authorised_at: Option<Timestamp>,
    pub supplier: &'a str,
    pub order_items: &'a [Item],
}

pub fn plan_capture(
    order: Capturable<'_>,
    cost: Option<&str>,
    items: Option<&[Item]>,
    now: Timestamp,
) -> Result<CapturePlan, Refused> {
    // A post-pay order approved by its provider (284) is captured when the merchant ships:
    // no card deadline and no batch.
    let post_pay = order.prc == Prc::PostPayApproved;
    if !post_pay {
        check_authorised(order.prc, "請款")?;
    }
    let deadline = capture_deadline(order.authorised_at);
    if !post_pay && deadline.is_none_or(|d| now > d) {
        return Err(refuse(format!(
            "已超過請款期限 (授權後 {CAPTURE_DAYS} 天)，無法請款，只能重新交易"
        )));
    }
    let cost = positive_amount(cost, "cost")?;
    if cost > order.authorised {
        return Err(refuse(format!(
            "cost: 請款金額 {cost} 超過授權金額 {}",
            order.authorised
        )));
    }
    let items = items.ok_or_else(|| refuse("items: 必填，需帶入完整的實際請款產品項目"))?;
    // The capture table, unlike the refund table, does not tie the items' totals to
    // `cost` (its own C# sample captures 9 with one item of 1): the items must be the
    // order's, `cost` at most what was authorised.
    check_items(items, order.order_items, None)?;
    Ok(CapturePlan {
        cost,
        batch: !post_pay && captures_in_batch(order.supplier),
    })
}

/// The last moment a capture of an authorisation made at `authorised_at` is accepted.
pub fn capture_deadline(authorised_at: Option<Timestamp>) -> Option<Timestamp> {
    authorised_at.map(|at| at + SignedDuration::from_hours(24 * CAPTURE_DAYS))
}

/// Cancelling an authorisation (`api/cancelauthorization`) is allowed only from `245`.
pub fn check_cancel_authorisation(prc: Prc) -> Result<(), Refused> {
    check_authorised(prc, "取消授權")
}

fn check_authorised(prc: Prc, action: &str) -> Result<(), Refused> {
    match prc {
        Prc::Authorised => Ok(()),
        Prc::Capturing | Prc::Paid | Prc::Settled => Err(refuse(format!(
            "此筆交易已請款 (狀態 {})，無法{action}",
            prc.code()
        ))),
        other => Err(refuse(format!(
            "此筆交易狀態為 {} ({})，不是授權成功(245)，無法{action}",
            other.code(),
            other.description()
        ))),
    }
}

fn positive_amount(text: Option<&str>, field: &str) -> Result<i64, Refused> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(format!("{field}: 必填")))?;
    match mypay_protocol::lenient::parse_integer(text) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(refuse(format!("{field}: {text:?} 不是大於 0 的整數金額"))),
    }
}

/// Items of a refund or capture: each named as an item of the order, `total = cost ×
/// amount`, and, when `cost` is given (refunds), together exactly `cost`.
fn check_items(items: &[Item], order_items: &[Item], cost: Option<i64>) -> Result<(), Refused> {
    if items.is_empty() {
        return Err(refuse("items: 至少需要一項"));
    }
    let mut sum: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        if !order_items
            .iter()
            .any(|o| o.name.trim() == item.name.trim())
        {
            return Err(refuse(format!(
                "items[{i}].name: {:?} 不是原交易的商品名稱",
                item.name
            )));
        }
        if item.cost < 0
            || item.amount < 0
            || item.cost.checked_mul(item.amount) != Some(item.total)
        {
            return Err(refuse(format!(
                "items[{i}].total: 必須等於 cost × amount ({} × {})，得到 {}",
                item.cost, item.amount, item.total
            )));
        }
        sum = sum
            .checked_add(item.total)
            .ok_or_else(|| refuse("items: 金額總和超出範圍"))?;
    }
    if let Some(cost) = cost
        && sum != cost
    {
        return Err(refuse(format!(
            "items: 項目總金額 {sum} 必須與金額 cost {cost} 一致"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, cost: i64) -> Item {
        serde_json::from_value(serde_json::json!({
            "id": "1", "name": name, "cost": cost, "amount": 1, "total": cost
        }))
        .expect("item")
    }

    fn paid(prc: Prc, paid: i64, refunded: i64, items: &[Item]) -> Refundable<'_> {
        Refundable {
            prc,
            tool: Some(PaymentTool::CreditCard),
            paid,
            refunded,
            order_items: items,
            has_invoice: true,
        }
    }

    fn ask(cost: &str) -> RefundAsk {
        RefundAsk {
            cost: Some(cost.into()),
            ..RefundAsk::default()
        }
    }

    #[test]
    fn a_refund_never_exceeds_the_balance() {
        let items = [item("倚天劍模型", 300)];
        let plan = plan_refund(paid(Prc::Paid, 300, 100, &items), &ask("200")).expect("fits");
        assert_eq!(plan.cost, 200);
        assert!(plan.real_time);
        let err =
            plan_refund(paid(Prc::Paid, 300, 100, &items), &ask("201")).expect_err("too much");
        assert!(err.0.starts_with("cost:"), "{err}");
        assert!(plan_refund(paid(Prc::Paid, 300, 0, &items), &ask("0")).is_err());
        assert!(plan_refund(paid(Prc::Paid, 300, 0, &items), &ask("-5")).is_err());
        assert!(plan_refund(paid(Prc::Paid, 300, 0, &items), &RefundAsk::default()).is_err());
    }

    #[test]
    fn only_paid_orders_are_refunded() {
        let items = [item("a", 10)];
        for prc in [
            Prc::Created,
            Prc::Failed,
            Prc::Authorised,
            Prc::Capturing,
            Prc::Abandoned,
        ] {
            assert!(
                plan_refund(paid(prc, 10, 0, &items), &ask("10")).is_err(),
                "{prc}"
            );
        }
        for prc in [Prc::Paid, Prc::Settled, Prc::PaidMismatch] {
            assert!(
                plan_refund(paid(prc, 10, 0, &items), &ask("10")).is_ok(),
                "{prc}"
            );
        }
    }

    #[test]
    fn invoice_refunds_need_matching_items() {
        let items = [item("倚天劍模型", 100)];
        let mut a = ask("100");
        a.invoice_state = Some(6);
        assert!(plan_refund(paid(Prc::Paid, 100, 0, &items), &a).is_err());
        a.items = Some(vec![item("屠龍刀", 100)]);
        let err = plan_refund(paid(Prc::Paid, 100, 0, &items), &a).expect_err("name");
        assert!(err.0.starts_with("items[0].name"), "{err}");
        a.items = Some(vec![item("倚天劍模型", 90)]);
        assert!(plan_refund(paid(Prc::Paid, 100, 0, &items), &a).is_err());
        a.items = Some(vec![item("倚天劍模型", 100)]);
        assert!(plan_refund(paid(Prc::Paid, 100, 0, &items), &a).is_ok());
        a.invoice_state = Some(5);
        assert!(plan_refund(paid(Prc::Paid, 100, 0, &items), &a).is_err());
    }

    #[test]
    fn counter_payments_refund_in_cash_at_the_batch() {
        let items = [item("a", 10)];
        let mut order = paid(Prc::Paid, 10, 0, &items);
        order.tool = Some(PaymentTool::CvsCode);
        let plan = plan_refund(order, &ask("10")).expect("plan");
        assert!(!plan.real_time);
        assert_eq!(plan.refund_type, refund_type::CASH);
    }

    #[test]
    fn captures_are_once_within_the_deadline_and_the_authorised_amount() {
        let items = [item("商品名稱", 10)];
        let at = Timestamp::from_second(1_700_000_000).expect("time");
        let order = Capturable {
            prc: Prc::Authorised,
            authorised: 10,
            authorised_at: Some(at),
            supplier: "BC",
            order_items: &items,
        };
        let nine = [item("商品名稱", 9)];
        let plan = plan_capture(order, Some("9"), Some(&nine), at).expect("capture");
        assert_eq!(
            plan,
            CapturePlan {
                cost: 9,
                batch: true
            }
        );
        assert!(plan_capture(order, Some("11"), Some(&[item("商品名稱", 11)]), at).is_err());
        assert!(plan_capture(order, Some("9"), None, at).is_err());
        let late = at + SignedDuration::from_hours(24 * CAPTURE_DAYS + 1);
        assert!(plan_capture(order, Some("9"), Some(&nine), late).is_err());
        let captured = Capturable {
            prc: Prc::Paid,
            ..order
        };
        assert!(plan_capture(captured, Some("9"), Some(&nine), at).is_err());
        assert!(check_cancel_authorisation(Prc::Paid).is_err());
        assert!(check_cancel_authorisation(Prc::Authorised).is_ok());
    }
}

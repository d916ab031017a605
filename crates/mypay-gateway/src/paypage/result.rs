//! The result page: what became of the payment, what to pay with for a pay-later tool,
//! and the way back to the shop (to `success_returl` or `failure_returl`, with no result
//! parameters: the document sends results through notices and queries only).

use super::*;

#[derive(Template)]
#[template(path = "paypage/result.html")]
struct ResultPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    success: bool,
    /// Not finished yet: the consumer still has to pay, or the acquirer to answer.
    waiting: bool,
    headline: &'static str,
    order_id: String,
    currency: String,
    amount: i64,
    cardno: String,
    /// Why it did not go through, in the consumer's language.
    reason: Option<&'static str>,
    redirect: Option<String>,
    redirect_seconds: u32,
    /// What to pay a pay-later order with.
    payment: Option<PaymentDetails>,
    /// A bound cardless application: (uid, csrf) for its submit and abandon forms.
    bound: Option<(String, String)>,
}

/// The code, account and barcodes of a pay-later order, for its result page.
struct PaymentDetails {
    /// The order's PayPage ticket, for the barcode images' URLs.
    ticket: String,
    tool: String,
    pin_code: String,
    bank_code: String,
    deadline: String,
    /// Barcode numbers (1-based) and their text.
    barcodes: Vec<(usize, String)>,
}

impl PaymentDetails {
    fn of(
        order: &OrderRow,
        ticket: &str,
        locale: mypay_protocol::values::Locale,
    ) -> Option<PaymentDetails> {
        let content = order.result_content.as_deref()?;
        let v: serde_json::Value = serde_json::from_str(content).ok()?;
        let text = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let tool = order
            .paid_pfn
            .as_deref()
            .and_then(mypay_protocol::PaymentTool::parse)
            .map(|t| i18n::tool_name(t, locale).to_owned())
            .unwrap_or_default();
        Some(PaymentDetails {
            ticket: ticket.to_owned(),
            tool,
            pin_code: text("PinCode"),
            bank_code: text("BankCode"),
            deadline: order
                .pay_deadline
                .map(crate::clock::taipei::display)
                .unwrap_or_default(),
            barcodes: Issued::barcodes(content)
                .into_iter()
                .enumerate()
                .map(|(i, b)| (i + 1, b))
                .collect(),
        })
    }
}

pub(super) fn result_page(
    tickets: &Tickets,
    mut visitor: Visitor,
    order: &OrderRow,
    merchant: &crate::store::Merchant,
) -> Response {
    let t = texts(visitor.locale);
    let csrf = visitor.csrf_token(tickets, order.uid);
    let ticket = tickets.ticket(order.uid);
    let request = order.stored_request();
    let success = state::is_success(order.prc);
    let headline = match order.prc {
        Prc::Paid | Prc::PaidMismatch | Prc::Settled | Prc::Capturing => t.result_paid,
        Prc::Authorised => t.result_authorised,
        Prc::Pending => t.result_pending,
        Prc::CvsIssued | Prc::VirtualAccountIssued => t.result_issued,
        Prc::AwaitingOnline => t.result_awaiting_online,
        Prc::Expired => t.result_expired,
        Prc::PostPayReview | Prc::CardlessReview => t.result_review,
        Prc::PostPayApproved => t.result_approved,
        Prc::CardlessBound => t.result_bound,
        Prc::Abandoned => t.result_abandoned,
        Prc::Failed | Prc::SystemError => t.result_failed,
        _ => t.result_other,
    };
    // A recurring order whose card is bound for a later first charge: done, for the
    // consumer (not the cardless application that 265 otherwise waits for).
    let card_bound = order.prc == Prc::CardlessBound && order.group_id.is_some();
    let headline = if card_bound {
        t.result_card_bound
    } else {
        headline
    };
    let success = success || card_bound;
    let finished_failure = state::is_unpaid_final(order.prc);
    let payment = matches!(order.prc, Prc::CvsIssued | Prc::VirtualAccountIssued)
        .then(|| PaymentDetails::of(order, &ticket, visitor.locale))
        .flatten();
    let redirect = if success {
        request
            .success_returl
            .clone()
            .or_else(|| merchant.settings.success_returl.clone())
    } else if finished_failure {
        request
            .failure_returl
            .clone()
            .or_else(|| merchant.settings.failure_returl.clone())
    } else {
        None
    };
    let page = ResultPage {
        t,
        languages: &LANGUAGES,
        page_path: format!("/payment/{ticket}.html"),
        locale: visitor.locale.code(),
        success,
        waiting: !card_bound
            && matches!(
                order.prc,
                Prc::Pending
                    | Prc::CvsIssued
                    | Prc::VirtualAccountIssued
                    | Prc::AwaitingOnline
                    | Prc::PostPayReview
                    | Prc::PostPayApproved
                    | Prc::CardlessBound
                    | Prc::CardlessReview
            ),
        bound: (order.prc == Prc::CardlessBound && !card_bound)
            .then(|| (ticket.clone(), csrf.clone())),
        headline,
        order_id: order.order_id.clone(),
        currency: order.currency.clone(),
        amount: order.cost,
        cardno: order.cardno.clone().unwrap_or_default(),
        reason: reason(t, order),
        redirect,
        redirect_seconds: REDIRECT_SECONDS,
        payment,
    };
    let body = page.render();
    visitor.respond(StatusCode::OK, body)
}

pub(super) async fn result(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visitor, uid) = match Visitor::with_order(&state, &headers, &ticket) {
        Ok(opened) => opened,
        Err(page) => return *page,
    };
    match load(&state, uid).await {
        Ok((order, _)) if state::is_payable(order.prc) => {
            see_other(format!("/payment/{}.html", state.tickets.ticket(uid)))
        }
        Ok((order, merchant)) => result_page(&state.tickets, visitor, &order, &merchant),
        Err(e) => visitor.failed(e),
    }
}

/// Why an order did not go through, as its consumer is told: the order's `retmsg` is
/// the merchant's (the document's Chinese), so the consumer gets its meaning in their
/// language, never the state code.
fn reason(t: &'static Texts, order: &OrderRow) -> Option<&'static str> {
    match order.prc {
        Prc::PaidMismatch => Some(t.reason_mismatch),
        Prc::Expired => Some(t.reason_expired),
        Prc::Failed | Prc::SystemError => Some(match order.retmsg.as_str() {
            "3D驗證失敗" => t.reason_3ds,
            "發卡行或收單行暫時無法服務" => t.reason_unavailable,
            "發卡行拒絕交易" | "卡片代碼無效" | "有效期限或安全碼錯誤" | "卡片已過期" => {
                t.reason_declined
            }
            _ => t.reason_failed,
        }),
        _ => None,
    }
}

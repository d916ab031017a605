//! E-invoices (SPEC §10): issued with the payment when the order asks, or later with
//! `api/issueinvoice` within 48 hours; voided or allowed (折讓) by refunds. The sandbox's
//! value-added centre answers at once: the invoice is issued in the transaction that takes
//! its number.

use super::Gateway;
use crate::clock::taipei;
use crate::ledger::invoice::{self, BuyerChoice, ChoiceFields, Line};
use crate::store::{
    InvoiceAllowance, InvoiceFields, InvoiceRow, Issued, Merchant, NewInvoice, OrderRow, StoreError,
};
use mypay_protocol::Prc;
use mypay_protocol::messages::OrderRequest;

/// How long after its payment a transaction's invoice may still be issued (the document).
pub const ISSUE_WITHIN_HOURS: i64 = 48;

#[derive(Debug)]
pub enum InvoiceError {
    /// Not done, with the reason (a `B500`).
    Refused(String),
    /// No such order.
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for InvoiceError {
    fn from(e: StoreError) -> Self {
        InvoiceError::Store(e)
    }
}

/// The invoice fields of an order's request.
pub fn order_choice_fields(r: &OrderRequest) -> ChoiceFields<'_> {
    ChoiceFields {
        input_type: r.invoice_input_type,
        rate_type: r.invoice_ratetype,
        cloud_type: r.invoice_cloud_type.as_deref(),
        mobile_code: r.invoice_mobile_code.as_deref(),
        natural_person: r.invoice_natural_person.as_deref(),
        tax_id: r.invoice_tax_id.as_deref(),
        love_code: r.invoice_love_code.as_deref(),
        b2b_title: r.invoice_b2b_title.as_deref(),
        b2b_id: r.invoice_b2b_id.as_deref(),
        b2b_address: r.invoice_b2b_address.as_deref(),
        b2b_post_zone: None,
    }
}

/// Whether an order asks for an invoice at payment: `issue_invoice_state` 1, or 2 (依系統
/// 設定, the default) with the merchant's default on.
pub fn wanted_at_payment(r: &OrderRequest, merchant: &Merchant) -> bool {
    match r.issue_invoice_state {
        Some(1) => true,
        None | Some(2) => merchant.settings.invoice.by_default,
        _ => false,
    }
}

/// [`wanted_at_payment`] of a stored order, without decoding its request when it cannot
/// ask (no `issue_invoice_state` in it, and no merchant default): the common case, on
/// every payment.
pub fn owed_at_payment(order: &OrderRow, merchant: &Merchant) -> bool {
    if !merchant.settings.invoice.by_default && !order.request.contains("\"issue_invoice_state\"") {
        return false;
    }
    wanted_at_payment(order.stored_request(), merchant)
}

/// Check an order's invoice fields at `api/orders` (nothing is issued yet); the error
/// names the field.
pub fn check_order_fields(r: &OrderRequest) -> Result<(), String> {
    if let Some(s) = r.issue_invoice_state
        && !(0..=2).contains(&s)
    {
        return Err(format!(
            "issue_invoice_state: {s} is not 0 (不開立), 1 (開立) or 2 (依系統設定)"
        ));
    }
    if r.issue_invoice_state == Some(0) {
        return Ok(());
    }
    invoice::parse_choice(&order_choice_fields(r), true).map(|_| ())
}

/// The transaction's invoice, if it has one.
pub async fn invoice_of(state: &Gateway, uid: u64) -> Result<Option<InvoiceRow>, StoreError> {
    state.store.invoice(uid).await
}

/// How long after a payment its invoice timer falls due: the safety net behind the
/// payment's own attempt.
pub const SAFETY_NET_SECS: i64 = 60;

/// After a state change is written: if it owes an invoice (it wrote the invoice's timer,
/// see `checkout::attach_notice`), issue it now. A failure is logged; the timer tries
/// again. A change that owes none costs nothing here.
pub async fn after_paid(state: &Gateway, t: &crate::store::Transition) {
    let owed = t
        .timers
        .iter()
        .any(|timer| timer.kind == crate::ledger::timers::TimerKind::IssueInvoice);
    if !owed {
        return;
    }
    if let Err(e) = issue_owed(state, t.uid).await {
        tracing::error!(uid = t.uid, error = %e, "issuing an invoice at payment");
    }
}

/// Issue the invoice paid order `uid` owes, unless it has one (or owes none).
pub async fn issue_owed(state: &Gateway, uid: u64) -> Result<(), StoreError> {
    let Some(order) = state.store.order(uid).await? else {
        return Ok(());
    };
    let Some(merchant) = state.directory.merchant(&order.store_uid).await? else {
        return Ok(());
    };
    let request = order.stored_request();
    if !wanted_at_payment(request, &merchant) || state.store.invoice(uid).await?.is_some() {
        return Ok(());
    }
    let choice = match invoice::parse_choice(&order_choice_fields(request), true) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(uid, error = e, "an order's invoice fields no longer parse");
            return Ok(());
        }
    };
    match issue(state, &order, &merchant, &choice).await {
        Ok(_) | Err(InvoiceError::Refused(_) | InvoiceError::NotFound) => Ok(()),
        Err(InvoiceError::Store(e)) => Err(e),
    }
}

fn random_code() -> Result<String, StoreError> {
    loop {
        let mut b = [0u8; 2];
        getrandom::getrandom(&mut b)
            .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
        let n = u16::from_le_bytes(b);
        // Rejection sampling: every code equally likely.
        if n < 60_000 {
            return Ok(format!("{:04}", n % 10_000));
        }
    }
}

/// The invoice's lines: the order's items.
fn lines(order: &OrderRow) -> Vec<Line> {
    crate::records::order_items(order)
        .iter()
        .map(Line::from)
        .collect()
}

/// Issue `order`'s invoice for `choice` now: checked (paid, within 48 hours, the
/// merchant's invoice setup), numbered from its ranges. `Issued::Already` when the
/// transaction has one.
pub async fn issue(
    state: &Gateway,
    order: &OrderRow,
    merchant: &Merchant,
    choice: &BuyerChoice,
) -> Result<Issued, InvoiceError> {
    let refused = |m: String| InvoiceError::Refused(m);
    let setup = &merchant.settings.invoice;
    let (Some(seller_ban), Some(qr_key)) = (setup.seller_ban.clone(), setup.qr_key.clone()) else {
        return Err(refused(
            "invoice: the merchant's seller BAN and QR key are not set (merchant set --invoice-ban, --invoice-qr-key)".into(),
        ));
    };
    if order.prc != Prc::Paid {
        return Err(refused(format!(
            "uid: the transaction is not paid (prc {}); its invoice is issued once it is",
            order.prc.code()
        )));
    }
    let now = state.now_for(&order.store_uid);
    let paid_at = order.finished_at.unwrap_or(order.created_at);
    if now.duration_since(paid_at) > jiff::SignedDuration::from_hours(ISSUE_WITHIN_HOURS) {
        return Err(refused(format!(
            "uid: an invoice is issued within {ISSUE_WITHIN_HOURS} hours of the payment (paid {})",
            taipei::display(paid_at)
        )));
    }
    let date = taipei::date(now);
    let period = invoice::period(date);
    let total = order.actual_cost.unwrap_or(order.cost);
    let (sales, tax) = invoice::sales_and_tax(total, choice.rate_type, choice.splits_tax());
    let lines = lines(order);
    let random = random_code()?;
    let mut fields = InvoiceFields {
        issued: String::new(),
        seller_ban: seller_ban.clone(),
        buyer_ban: choice.buyer_ban().to_owned(),
        title_type: 1,
        title: merchant.settings.name.clone(),
        print_type: 0,
        print_device: 0,
        amount: total,
        sales_amount: sales,
        tax_amount: tax,
        order_detail: invoice::order_detail(&lines),
        ratetype: choice.rate_type.code(),
        input_type: choice.input_type.code(),
        cloud_type: choice.cloud_type.map(|c| c.to_string()).unwrap_or_default(),
        mobile_code: choice.mobile_code.clone(),
        tax_id: choice.tax_id.clone(),
        natural_person: choice.natural_person.clone(),
        love_code: choice.love_code.clone(),
        b2b_title: choice.b2b_title.clone(),
        b2b_id: choice.b2b_id.clone(),
        b2b_post_zone: choice.b2b_post_zone.clone(),
        b2b_address: choice.b2b_address.clone(),
        ..Default::default()
    };
    let mut unnumbered = fields.clone();
    unnumbered.state_msg = format!(
        "期別 {period} 沒有可用的字軌號碼 (no word-track numbers left for period {period})"
    );
    let issued_at = taipei::datetime14(now);
    let period_for_codes = period.clone();
    let build = Box::new(move |track: &str, digits: &str| {
        let number = format!("{track}{digits}");
        let check = invoice::check_code(&number, &random, &qr_key).unwrap_or_default();
        let codes = invoice::qr_codes(&invoice::CodeFacts {
            number: &number,
            date,
            random: &random,
            sales,
            total,
            buyer_ban: &fields.buyer_ban,
            seller_ban: &seller_ban,
            check_code: &check,
            lines: &lines,
        });
        fields.issued = issued_at;
        fields.wordtrack = track.to_owned();
        fields.number = digits.to_owned();
        fields.rand_code = random.clone();
        fields.left_qrcode = codes.left;
        fields.right_qrcode = codes.right;
        fields.middle_barcode = invoice::middle_barcode(&period_for_codes, &number, &random);
        fields.state_msg = "發票處理完成".to_owned();
        fields
    });
    sample_range(state, &order.store_uid, &period).await?;
    let issued = state
        .store
        .issue_invoice(NewInvoice {
            uid: order.uid,
            store_uid: order.store_uid.clone(),
            period: period.clone(),
            total,
            at: now,
            build,
            unnumbered,
        })
        .await?;
    if let Issued::NoNumber(_) = &issued {
        alert_no_numbers(state, merchant, &period, now).await;
    }
    Ok(issued)
}

/// The sandbox's sample merchant has a word-track range for every period its clock
/// reaches, so a fresh sandbox issues the document's samples' invoices at once: `JH`
/// (the document's examples' track), a million numbers, added when the period has no
/// range of its own (a range registered by hand is used as for any merchant, to its
/// end). Invoice numbers are unique across periods, so each period has its own million:
/// the 100 periods of 16 years and 8 months before they repeat.
async fn sample_range(state: &Gateway, store_uid: &str, period: &str) -> Result<(), StoreError> {
    use crate::ledger::merchant::SAMPLE_STORE_UID;
    if state.settings.mode != crate::config::Mode::Sandbox || store_uid != SAMPLE_STORE_UID {
        return Ok(());
    }
    let ranges = state.store.invoice_tracks(store_uid).await?;
    if ranges.iter().any(|r| r.period == period) {
        return Ok(());
    }
    let (year, month): (i64, i64) = (
        period.get(..3).and_then(|y| y.parse().ok()).unwrap_or(0),
        period.get(3..).and_then(|m| m.parse().ok()).unwrap_or(2),
    );
    let first = ((year * 6 + month / 2) % 100) * 1_000_000;
    let range = crate::store::InvoiceTrack {
        store_uid: store_uid.to_owned(),
        period: period.to_owned(),
        track: "JH".to_owned(),
        first_number: first,
        last_number: first + 999_999,
        next_number: first,
    };
    match state.store.add_invoice_track(&range).await {
        // Added at the same moment by another request or node.
        Ok(()) | Err(StoreError::Duplicate) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn alert_no_numbers(
    state: &Gateway,
    merchant: &Merchant,
    period: &str,
    now: jiff::Timestamp,
) {
    let Some(to) = merchant.settings.contact_email.as_deref() else {
        return;
    };
    let body = format!(
        "MYPAY LINK could not issue an e-invoice for merchant {}: no word-track numbers are left for period {period}. Register a range with `merchant invoice-track {} --period {period} --track XX --from 00000000 --to 00009999`; invoices that could not be issued (state 5) can then be issued with api/issueinvoice.",
        merchant.store_uid, merchant.store_uid
    );
    if let Err(e) = state
        .store
        .queue_email(
            to,
            "電子發票字軌號碼不足 (no invoice numbers left)",
            &body,
            now,
            None,
        )
        .await
    {
        tracing::error!(error = %e, "queueing an invoice alert");
    }
}

/// The order's invoice a refund changes: an issued or allowed one.
pub async fn refundable_invoice(
    state: &Gateway,
    uid: u64,
) -> Result<Option<InvoiceRow>, StoreError> {
    Ok(state
        .store
        .invoice(uid)
        .await?
        .filter(|i| matches!(i.state, 2 | 6)))
}

/// What a refund does to its order's invoice, decided before the refund is made.
#[derive(Debug, Clone)]
pub struct RefundChange {
    invoice_uid: u64,
    store_uid: String,
    /// Void (4) the whole invoice; else allow (6) `amount` with `detail`.
    void: bool,
    amount: i64,
    detail: String,
}

/// The change a refund of `amount` with `items` makes to `invoice`: `invoice_state` 4 (the
/// default of 『電子發票退款時使用作廢或折讓』) voids it, whole and within its period only;
/// 6 allows (折讓) the amount, never past the invoice. The error names the field.
pub fn refund_change(
    invoice: &InvoiceRow,
    invoice_state: Option<i64>,
    amount: i64,
    items: Option<&[mypay_protocol::messages::Item]>,
    now: jiff::Timestamp,
) -> Result<RefundChange, String> {
    let void = match invoice_state.unwrap_or(4) {
        4 => {
            if invoice.state != 2 {
                return Err(format!(
                    "invoice_state: the invoice cannot be voided (state {})",
                    invoice.state
                ));
            }
            let current = invoice::period(taipei::date(now));
            if current != invoice.period {
                return Err(format!(
                    "invoice_state: 跨發票期別無法作廢: the invoice is of period {} and it is {current} now; allow it (6) instead",
                    invoice.period
                ));
            }
            if amount < invoice.total {
                return Err(format!(
                    "invoice_state: 4 voids the whole invoice of {}; a partial refund of {amount} needs 6 (折讓)",
                    invoice.total
                ));
            }
            true
        }
        6 => {
            if !matches!(invoice.state, 2 | 6) {
                return Err(format!(
                    "invoice_state: the invoice cannot be allowed (state {})",
                    invoice.state
                ));
            }
            if invoice.allowed + amount > invoice.total {
                return Err(format!(
                    "cost: allowances would total {} of an invoice of {}",
                    invoice.allowed + amount,
                    invoice.total
                ));
            }
            false
        }
        other => return Err(format!("invoice_state: {other} 不是 4 (作廢) 或 6 (折讓)")),
    };
    let lines: Vec<Line> = items.unwrap_or_default().iter().map(Line::from).collect();
    Ok(RefundChange {
        invoice_uid: invoice.uid,
        store_uid: invoice.store_uid.clone(),
        void,
        amount,
        detail: invoice::order_detail(&lines),
    })
}

/// Make `change` once refund `refund_uid` is recorded; `false` when it no longer applies
/// (another refund changed the invoice meanwhile).
pub async fn apply_refund(
    state: &Gateway,
    change: &RefundChange,
    refund_uid: u64,
) -> Result<bool, StoreError> {
    let now = state.now_for(&change.store_uid);
    if change.void {
        return state.store.void_invoice(change.invoice_uid, now).await;
    }
    state
        .store
        .allow_invoice(
            change.invoice_uid,
            &InvoiceAllowance {
                uid: refund_uid,
                amount: change.amount,
                order_detail: change.detail.clone(),
            },
            now,
        )
        .await
}

/// Whether cancelling order `uid`'s queued refunds would take back an invoice change: a
/// queued refund that voided the invoice or made one of its allowances stays (an invoice
/// is not un-voided, nor an allowance taken back).
pub async fn holds_queued_refunds(state: &Gateway, uid: u64) -> Result<bool, StoreError> {
    let Some(invoice) = state.store.invoice(uid).await? else {
        return Ok(false);
    };
    let queued: std::collections::HashSet<u64> = state
        .store
        .reversals(uid)
        .await?
        .iter()
        .filter(|r| r.kind == crate::store::ReversalKind::Refund && r.prc == Prc::Created)
        .map(|r| r.id)
        .collect();
    Ok((invoice.state == 4 && !queued.is_empty())
        || invoice.allowances.iter().any(|a| queued.contains(&a.uid)))
}

/// The sandbox's value-added centre answering an order's invoice now (the sandbox helper):
/// `1` keeps it waiting, `3` fails it, `2` issues it with the order's invoice fields.
/// An issued, voided or allowed invoice is not changed.
pub async fn centre_answers(
    state: &Gateway,
    uid: u64,
    outcome: i64,
) -> Result<InvoiceRow, InvoiceError> {
    let refused = |m: &str| InvoiceError::Refused(m.to_owned());
    let order = state
        .store
        .order(uid)
        .await?
        .ok_or(InvoiceError::NotFound)?;
    let merchant = state
        .directory
        .merchant(&order.store_uid)
        .await?
        .ok_or(InvoiceError::NotFound)?;
    if let Some(existing) = state.store.invoice(uid).await?
        && matches!(existing.state, 2 | 4 | 6)
    {
        return Err(InvoiceError::Refused(format!(
            "uid: the invoice is issued already (state {})",
            existing.state
        )));
    }
    match outcome {
        1 | 3 => {
            let fields = InvoiceFields {
                state_msg: if outcome == 1 {
                    "等候處理中 (the value-added centre has not answered)".to_owned()
                } else {
                    "發票處理失敗 (the value-added centre refused the invoice)".to_owned()
                },
                ..Default::default()
            };
            let total = order.actual_cost.unwrap_or(order.cost);
            let now = state.now_for(&order.store_uid);
            state
                .store
                .hold_invoice(uid, &order.store_uid, outcome, total, &fields, now)
                .await?;
        }
        2 => {
            let choice = invoice::parse_choice(&order_choice_fields(order.stored_request()), true)
                .map_err(InvoiceError::Refused)?;
            issue(state, &order, &merchant, &choice).await?;
        }
        _ => {
            return Err(refused(
                "state: 1 (waiting), 2 (issued) or 3 (failed); 5 comes of a merchant without numbers",
            ));
        }
    }
    state
        .store
        .invoice(uid)
        .await?
        .ok_or_else(|| refused("uid: the order has no invoice"))
}

//! Helpers that act for a consumer, a provider or an acquirer on one order: pay (as the
//! PayPage's forms would), pay a code at the counter, leave, the provider's review, the
//! acquirer's settlement, the value-added centre's answer to an invoice, a bind page's
//! form, a recurring series' next decline.

use super::{no_order, order_state, read_body};
use crate::http::page_error::PageError;
use crate::ledger::counter;
use crate::service::{self, CardForm, CheckoutError, Outcome, Tries};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use mypay_protocol::PaymentTool;
use mypay_protocol::pfn::ToolFamily;
use serde::Deserialize;
use serde_json::json;

/// The helpers that act on one order, a bind request or a series.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/orders/{uid}/pay", post(pay))
        .route(
            "/sandbox/orders/{uid}/offline-payment",
            post(offline_payment),
        )
        .route("/sandbox/orders/{uid}/abandon", post(abandon))
        .route("/sandbox/orders/{uid}/review", post(review))
        .route("/sandbox/orders/{uid}/settle", post(settle))
        .route("/sandbox/orders/{uid}/invoice", post(invoice_answer))
        .route(
            "/sandbox/recurring/{group_id}/next-charge",
            post(next_recurring_charge),
        )
        .route("/sandbox/ewallet/{id}/bind", post(bind_ewallet))
}

/// The `pay` helper's body: what the PayPage's forms take, and what the sandbox lets a
/// test say up front (the 3-D Secure password, the wallet app's refusal).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayForm {
    #[serde(default)]
    pfn: Option<String>,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
    /// The 3D password: the only try (a wrong one fails the charge).
    #[serde(default)]
    otp: Option<String>,
    /// In-person wallets: the consumer's payment code the merchant scanned.
    #[serde(default)]
    wallet_code: Option<String>,
    /// Wallets: the consumer refuses in the wallet app.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    decline: Option<bool>,
    /// C_INSTALLMENT: the number of instalments chosen.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_string")]
    installment: Option<String>,
}

async fn pay(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: PayForm = read_body(&headers, &body)?;
    // The tool decides the flow: a code or account, a wallet, an application, or a card.
    let tool = form.pfn.as_deref().and_then(PaymentTool::parse);
    let outcome = match (tool, form.pfn.as_deref()) {
        (Some(tool), Some(pfn)) if counter::is_pay_later(tool) => {
            service::issue_pay_later(&state, uid, pfn).await
        }
        (Some(PaymentTool::PostPay | PaymentTool::Cardless | PaymentTool::Cash), Some(pfn)) => {
            service::apply_for(&state, uid, pfn).await
        }
        (Some(tool), Some(pfn))
            if matches!(
                tool.family(),
                ToolFamily::WalletOnline | ToolFamily::WalletOffline
            ) =>
        {
            service::pay_wallet(
                &state,
                uid,
                pfn,
                !form.decline.unwrap_or(false),
                form.wallet_code.as_deref(),
            )
            .await
        }
        _ => {
            let card = CardForm {
                pfn: form.pfn,
                card_number: form.card_number,
                expiry: form.expiry,
                cvc: form.cvc,
                installment: form.installment,
                return_url: None,
            };
            match (
                service::pay_card(&state, uid, &card, Tries::Only).await,
                &form.otp,
            ) {
                (Ok(Outcome::NeedsOtp), Some(otp)) => {
                    service::submit_otp(&state, uid, otp, Tries::Only).await
                }
                (other, _) => other,
            }
        }
    };
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    /// Approve unless told otherwise.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    approve: Option<bool>,
}

/// `POST /sandbox/orders/{uid}/review`: the provider's answer to a post-pay (`282`) or
/// cardless (`275`) application now, instead of after its review time.
async fn review(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: Review = read_body(&headers, &body)?;
    let outcome = service::review(&state, uid, form.approve.unwrap_or(true), None).await;
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoiceAnswer {
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    state: Option<i64>,
}

/// `POST /sandbox/orders/{uid}/invoice`: the value-added centre answers the order's
/// invoice now: `state` 1 keeps it waiting, 3 fails it, 2 issues it.
async fn invoice_answer(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: InvoiceAnswer = read_body(&headers, &body)?;
    let outcome = req
        .state
        .ok_or_else(|| PageError::bad_request("state: 1 (waiting), 2 (issued) or 3 (failed)"))?;
    match service::invoices::centre_answers(&state, uid, outcome).await {
        Ok(invoice) => Ok(Json(json!({
            "uid": uid,
            "state": invoice.state,
            "wordtrack": invoice.fields.wordtrack,
            "number": invoice.fields.number,
            "state_msg": invoice.fields.state_msg,
        }))
        .into_response()),
        Err(service::invoices::InvoiceError::NotFound) => Err(no_order(uid)),
        Err(service::invoices::InvoiceError::Refused(msg)) => Err(PageError::bad_request(msg)),
        Err(service::invoices::InvoiceError::Store(e)) => Err(PageError::from(e)),
    }
}

/// `POST /sandbox/orders/{uid}/settle`: the acquirer's reconciliation settles a paid
/// order (`600`, with `appropriation_date`).
async fn settle(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
) -> Result<Response, PageError> {
    let outcome = service::settle_order(&state, uid).await;
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflinePayment {
    /// What the consumer paid; the order's amount when absent.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    amount: Option<i64>,
}

/// `POST /sandbox/orders/{uid}/offline-payment`: the consumer paid a code, barcode,
/// virtual account or WebATM order (SPEC §12).
async fn offline_payment(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: OfflinePayment = read_body(&headers, &body)?;
    let outcome = service::pay_later_paid(&state, uid, form.amount).await;
    order_state(&state, uid, outcome).await
}

async fn abandon(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
) -> Result<Response, PageError> {
    let outcome = service::abandon(&state, uid).await;
    order_state(&state, uid, outcome).await
}

/// The bind helper's body: the bind page's card form, and the 3D password up front.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
    #[serde(default)]
    otp: Option<String>,
}

/// `POST /sandbox/ewallet/{id}/bind`: bind a card like the bind page's form (`id` is the
/// bind request's number, or the ticket of its page's URL), with the `pay` helper's card
/// fields; `otp` answers a 3-D Secure step at once.
async fn bind_ewallet(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    use crate::service::ewallet::{self, BindOutcome};
    let form: BindForm = read_body(&headers, &body)?;
    let id = id
        .parse::<u64>()
        .ok()
        .or_else(|| state.tickets.open_wallet(id.trim_end_matches(".html")))
        .ok_or_else(|| PageError::not_found("no such bind request"))?;
    let bound = match ewallet::bind_card(
        &state,
        id,
        (&form.card_number, &form.expiry, &form.cvc),
        None,
    )
    .await
    {
        Ok(BindOutcome::NeedsOtp) if let Some(otp) = &form.otp => {
            ewallet::submit_bind_otp(&state, id, otp, Tries::Only).await
        }
        other => other,
    };
    let outcome = bound.map_err(|e| match e {
        CheckoutError::NotFound => PageError::not_found("no such bind request"),
        CheckoutError::Store(e) => PageError::from(e),
        other => PageError::bad_request(other.to_string()),
    })?;
    let wallet = state
        .store
        .wallet(id)
        .await?
        .ok_or_else(|| PageError::not_found("no such bind request"))?;
    let status = match outcome {
        BindOutcome::Bound => "bound",
        BindOutcome::Failed => "failed",
        BindOutcome::NeedsOtp | BindOutcome::Challenge(_) => "otp",
    };
    Ok(Json(json!({
        "status": status,
        "user_id": wallet.user_id,
        "cardno": wallet.card.map(|c| c.cardno).unwrap_or_default(),
        "virtual_pan": wallet.virtual_pan.unwrap_or_default(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextCharge {
    /// Decline the series' next charge (true), or no longer (false).
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    decline: Option<bool>,
    /// The merchant, when two merchants' series share the `group_id`.
    #[serde(default)]
    store_uid: Option<String>,
}

/// `POST /sandbox/recurring/{group_id}/next-charge`: `{"decline": true}` makes the next
/// charge of the series decline (its retry then follows as for any decline).
async fn next_recurring_charge(
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: NextCharge = read_body(&headers, &body)?;
    let decline = req.decline.ok_or_else(|| {
        PageError::bad_request("decline: true (the next charge declines) or false")
    })?;
    let series = service::recurring::decline_next(
        &state,
        req.store_uid.as_deref().filter(|s| !s.is_empty()),
        &group_id,
        decline,
    )
    .await
    .map_err(|e| match e {
        service::recurring::StopError::Refused(msg) => PageError::not_found(msg),
        service::recurring::StopError::Store(e) => PageError::from(e),
    })?;
    Ok(Json(json!({
        "group_id": series.group_id,
        "store_uid": series.store_uid,
        "uid": series.uid,
        "decline_next": decline,
    }))
    .into_response())
}

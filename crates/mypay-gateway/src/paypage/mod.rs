//! The PayPage (SPEC §4): server-rendered HTML that works without JavaScript, mobile
//! first, in four languages. The consumer chooses a way to pay (`checkout`), types a
//! card, passes a 3-D Secure step for 3D cards (`otp`), or is shown a wallet's QR code
//! (`wallet`), sees the result and goes back to the merchant's
//! `success_returl`/`failure_returl` (`result`). The e-wallet's bind page
//! (`ewallet`) and the e-invoice's proof (`invoice`) live beside it.
//!
//! Forms carry a CSRF token that must match the `mypay_csrf` cookie set with the page
//! (double-submit), so another site cannot post a payment or an abandonment for the
//! consumer.

mod barcode;
mod checkout;
mod ewallet;
mod i18n;
mod invoice;
mod otp;
mod result;
mod visitor;
mod wallet;

use barcode::barcode;
use visitor::{PostedForm, Visitor};

use crate::http::page_error::PageError;
use crate::ledger::counter::Issued;
use crate::ledger::state;
use crate::service::{self, CardForm, CheckoutError, Outcome};
use crate::state::AppState;
use crate::store::OrderRow;
use crate::tickets::Tickets;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use i18n::{Texts, texts};
use mypay_protocol::Prc;
use mypay_protocol::messages::Item;
use mypay_protocol::values::Locale;
use std::collections::HashMap;

const LOCALE_COOKIE: &str = "mypay_locale";
const CSRF_COOKIE: &str = "mypay_csrf";
/// Seconds the result page shows before it sends the consumer back to the merchant.
const REDIRECT_SECONDS: u32 = 3;

static LANGUAGES: [(&str, &str); 4] = [
    ("zh-TW", "繁中"),
    ("zh-CN", "简中"),
    ("en", "English"),
    ("id", "Indonesia"),
];

pub fn router() -> Router<AppState> {
    use checkout::{abandon, apply, issue, pay, pay_with_saved_card, show};
    use otp::{otp_page, otp_submit};
    use wallet::{wallet_choose, wallet_page};
    Router::new()
        .route("/payment/{page}", get(show))
        .route("/invoice/{page}", get(invoice::proof))
        .route("/payment/{uid}/pay", post(pay))
        .route("/payment/{uid}/issue", post(issue))
        .route("/payment/{uid}/wallet", post(wallet_choose))
        .route("/payment/{uid}/apply", post(apply))
        .route("/payment/{uid}/wallet/{pfn}", get(wallet_page))
        .route("/payment/{uid}/barcode/{n}", get(barcode))
        .route("/payment/{uid}/otp", get(otp_page).post(otp_submit))
        .route(
            "/payment/{uid}/challenge",
            get(checkout::challenge_returned),
        )
        .route("/payment/{uid}/result", get(result::result))
        .route("/payment/{uid}/abandon", post(abandon))
        .route("/payment/{uid}/ewallet", post(pay_with_saved_card))
        .merge(ewallet::router())
}

/// What only the sandbox mounts: the consumer's answer in the wallet app, which the
/// sandbox simulates as two buttons on the wallet's page. (In production the wallet's
/// upstream says whether it was paid.)
pub fn sandbox_router() -> Router<AppState> {
    Router::new().route(
        "/payment/{uid}/wallet/{pfn}/answer",
        post(wallet::wallet_confirm),
    )
}

#[derive(Template)]
#[template(path = "paypage/message.html")]
struct MessagePage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    message: String,
}

#[derive(serde::Deserialize)]
struct LocaleQuery {
    locale: Option<String>,
}

/// The order a page is about, and its merchant.
async fn load(state: &AppState, uid: u64) -> Result<(OrderRow, crate::store::Merchant), PageError> {
    let gone = || PageError::not_found("no such order");
    let order = state.store.order(uid).await?.ok_or_else(gone)?;
    let merchant = state
        .store
        .merchant(&order.store_uid)
        .await?
        .ok_or_else(gone)?;
    Ok((order, merchant))
}

/// (code, name in the consumer's language) of each tool, for a form's choices.
fn tool_choices(tools: &[mypay_protocol::PaymentTool], locale: Locale) -> Vec<(String, String)> {
    tools
        .iter()
        .map(|t| (t.code().to_owned(), i18n::tool_name(*t, locale).to_owned()))
        .collect()
}

/// A form error in the consumer's language.
fn error_text(t: &Texts, e: &CheckoutError) -> String {
    use crate::ledger::card::CardFormError;
    match e {
        CheckoutError::Card(CardFormError::NumberFormat) => t.err_card_format.to_owned(),
        CheckoutError::Card(CardFormError::NumberChecksum) => t.err_card_checksum.to_owned(),
        CheckoutError::Card(CardFormError::Expiry) => t.err_expiry.to_owned(),
        CheckoutError::Card(CardFormError::Cvc) => t.err_cvc.to_owned(),
        CheckoutError::WrongOtp(left) => format!("{}{left}", t.err_otp),
        CheckoutError::Tool(_) => t.err_tool.to_owned(),
        CheckoutError::WalletCode => t.err_wallet_code.to_owned(),
        CheckoutError::ChargeInProgress => t.err_charge_in_progress.to_owned(),
        CheckoutError::Installment(_) => t.err_installment.to_owned(),
        other => other.to_string(),
    }
}

fn see_other(path: String) -> Response {
    Redirect::to(&path).into_response()
}

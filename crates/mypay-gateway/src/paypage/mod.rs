//! The PayPage (SPEC §4): server-rendered HTML that works without JavaScript, mobile
//! first, in four languages. The consumer chooses a card tool, types the card, passes a
//! 3-D Secure step for 3D cards, sees the result and goes back to the merchant's
//! `success_returl`/`failure_returl` — with no result parameters (the document: results go
//! only through notices and queries).
//!
//! Forms carry a CSRF token that must match the `mypay_csrf` cookie set with the page
//! (double-submit), so another site cannot post a payment or an abandonment for the
//! consumer.

mod barcode;
mod ewallet;
mod i18n;
mod invoice;
mod visitor;

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
        .route("/payment/{uid}/result", get(result))
        .route("/payment/{uid}/abandon", post(abandon))
        .route("/payment/{uid}/ewallet", post(pay_with_ewallet))
        .merge(ewallet::router())
}

/// What only the sandbox mounts: the consumer's answer in the wallet app, which the
/// sandbox simulates as two buttons on the wallet's page. (In production the wallet's
/// upstream says whether it was paid.)
pub fn sandbox_router() -> Router<AppState> {
    Router::new().route("/payment/{uid}/wallet/{pfn}", post(wallet_confirm))
}

#[derive(Template)]
#[template(path = "paypage/checkout.html")]
struct CheckoutPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    sandbox: bool,
    /// The order's PayPage ticket (`<uid>-<token>`), for the forms' URLs.
    ticket: String,
    order_id: String,
    currency: String,
    amount: i64,
    items: Vec<Item>,
    /// Card tools: (code, name); the first is chosen.
    tools: Vec<(String, String)>,
    /// Pay-later tools: (code, name).
    pay_later: Vec<(String, String)>,
    /// Post-pay, cardless instalments, cash: (code, name).
    applications: Vec<(String, String)>,
    /// Instalment counts, when C_INSTALLMENT is offered.
    installments: Vec<u32>,
    /// Wallets: (code, name); `in_person`: the merchant scans the consumer's code.
    wallets: Vec<(String, String)>,
    in_person: bool,
    /// A recurring order's terms, shown above the card form.
    recurring: Option<String>,
    /// The consumer's saved card (bound e-wallet card, else quick checkout's), paid in
    /// one click.
    wallet_card: Option<String>,
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "paypage/otp.html")]
struct OtpPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    /// The order's PayPage ticket (`<uid>-<token>`), for the forms' URLs.
    ticket: String,
    cardno: String,
    currency: String,
    amount: i64,
    csrf: String,
    error: Option<String>,
}

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
    prc: &'static str,
    retmsg: String,
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

#[derive(Template)]
#[template(path = "paypage/wallet.html")]
struct WalletPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    /// The order's PayPage ticket (`<uid>-<token>`), for the forms' URLs.
    ticket: String,
    pfn: String,
    wallet: String,
    currency: String,
    amount: i64,
    /// The QR code to scan, as inline SVG markup (generated here, not user input).
    qr_svg: String,
    /// The sandbox simulates the wallet app's answer with two buttons.
    sandbox: bool,
    csrf: String,
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

/// `GET /payment/<uid>.html`.
async fn show(
    State(state): State<AppState>,
    Path(page): Path<String>,
    Query(q): Query<LocaleQuery>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::from_request(&headers, q.locale.as_deref(), state.secure_cookies());
    // The bare `/payment/<uid>.html` of the document's shape, without the token, names
    // nothing: every page and action needs the ticket.
    let Some(uid) = page
        .strip_suffix(".html")
        .and_then(|t| state.tickets.open(t))
    else {
        return visitor.not_found();
    };
    checkout_page(&state, visitor, uid, None, StatusCode::OK).await
}

/// (code, name in the consumer's language) of each tool, for a form's choices.
fn tool_choices(tools: &[mypay_protocol::PaymentTool], locale: Locale) -> Vec<(String, String)> {
    tools
        .iter()
        .map(|t| (t.code().to_owned(), i18n::tool_name(*t, locale).to_owned()))
        .collect()
}

async fn checkout_page(
    state: &AppState,
    mut visitor: Visitor,
    uid: u64,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (order, merchant) = match load(state, uid).await {
        Ok(x) => x,
        Err(e) => return visitor.failed(e),
    };
    if !state::is_payable(order.prc) {
        return result_page(&state.tickets, visitor, &order, &merchant);
    }
    let request = order.stored_request();
    let card_choices = service::card_tools(&merchant.settings, &order);
    let tools = tool_choices(&card_choices, visitor.locale);
    let pay_later = tool_choices(
        &service::pay_later_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let wallets = tool_choices(
        &service::wallet_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let installments = if card_choices.contains(&mypay_protocol::PaymentTool::CardInstallment) {
        let limits = request
            .creditcard_installment
            .as_deref()
            .and_then(|t| crate::ledger::plans::parse_limits(t).ok());
        crate::ledger::plans::offered_periods(limits.as_ref())
    } else {
        Vec::new()
    };
    let applications = tool_choices(
        &service::application_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let recurring = service::recurring::terms_of(&order).map(|terms| {
        let periods = terms
            .total
            .map_or_else(|| "∞".to_owned(), |n| n.to_string());
        format!(
            "{} · {} × {periods} · {}",
            texts(visitor.locale).recurring_note,
            terms.regular.code(),
            terms.first
        )
    });
    let wallet_card =
        match service::saved_cards::saved_card(state, &order, &merchant.settings).await {
            Ok(saved) => saved.map(|(_, card)| card.cardno),
            Err(e) => return visitor.failed(e.into()),
        };
    let page = CheckoutPage {
        wallet_card,
        recurring,
        applications,
        installments,
        pay_later,
        wallets,
        in_person: request.transaction_type == Some(2),
        t: texts(visitor.locale),
        languages: &LANGUAGES,
        page_path: format!("/payment/{}.html", state.tickets.ticket(uid)),
        locale: visitor.locale.code(),
        sandbox: state.sandbox(),
        ticket: state.tickets.ticket(uid),
        order_id: order.order_id.clone(),
        currency: order.currency.clone(),
        amount: order.cost,
        items: request.items.clone().unwrap_or_default(),
        tools,
        csrf: visitor.csrf_token(&state.tickets, uid),
        error,
    };
    let body = page.render();
    visitor.respond(status, body)
}

fn result_page(
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
        prc: order.prc.code(),
        retmsg: crate::records::query_record(order).retmsg,
        redirect,
        redirect_seconds: REDIRECT_SECONDS,
        payment,
    };
    let body = page.render();
    visitor.respond(StatusCode::OK, body)
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

/// `POST /payment/<uid>/pay`: the card form.
async fn pay(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let card = CardForm {
        pfn: form.get("pfn").cloned(),
        card_number: form.get("card_number").cloned().unwrap_or_default(),
        expiry: form.get("expiry").cloned().unwrap_or_default(),
        cvc: form.get("cvc").cloned().unwrap_or_default(),
        installment: form.get("installment").cloned(),
    };
    let outcome = service::pay_card(&state, uid, &card).await;
    after_payment(&state, visitor, uid, outcome).await
}

/// `POST /payment/<uid>/ewallet`: pay with the bound e-wallet card, in one click.
async fn pay_with_ewallet(
    State(state): State<AppState>,
    PostedForm { visitor, uid, .. }: PostedForm,
) -> Response {
    let outcome = service::saved_cards::pay_with_saved_card(&state, uid).await;
    after_payment(&state, visitor, uid, outcome).await
}

/// `POST /payment/<uid>/issue`: the consumer chose a pay-later tool.
async fn issue(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let pfn = form.get("pfn").cloned().unwrap_or_default();
    let outcome = service::issue_pay_later(&state, uid, &pfn).await;
    after_payment(&state, visitor, uid, outcome).await
}

/// Map a checkout outcome of a PayPage form to the page that follows it.
async fn after_payment(
    state: &AppState,
    visitor: Visitor,
    uid: u64,
    outcome: Result<Outcome, CheckoutError>,
) -> Response {
    match outcome {
        Ok(Outcome::NeedsOtp) => see_other(format!("/payment/{}/otp", state.tickets.ticket(uid))),
        Ok(Outcome::Done(_)) | Err(CheckoutError::NotPayable(_)) => {
            see_other(format!("/payment/{}/result", state.tickets.ticket(uid)))
        }
        Err(CheckoutError::NotFound) => visitor.not_found(),
        Err(e @ CheckoutError::Store(_)) => visitor.failed(e.into()),
        Err(e) => {
            let text = error_text(texts(visitor.locale), &e);
            checkout_page(
                state,
                visitor,
                uid,
                Some(text),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /payment/<uid>/wallet`: a wallet chosen. Online wallets go on to the wallet's
/// QR page; in person, the merchant's scan of the consumer's code pays at once.
async fn wallet_choose(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let pfn = form.get("pfn").cloned().unwrap_or_default();
    let offline = mypay_protocol::PaymentTool::parse(&pfn)
        .is_some_and(|t| t.family() == mypay_protocol::pfn::ToolFamily::WalletOffline);
    if !offline {
        return match mypay_protocol::PaymentTool::parse(&pfn) {
            Some(tool) => see_other(format!(
                "/payment/{}/wallet/{}",
                state.tickets.ticket(uid),
                tool.code()
            )),
            None => {
                let text = texts(visitor.locale).err_tool.to_owned();
                checkout_page(
                    &state,
                    visitor,
                    uid,
                    Some(text),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        };
    }
    let code = form.get("wallet_code").map(String::as_str);
    let outcome = service::pay_wallet(&state, uid, &pfn, true, code).await;
    after_payment(&state, visitor, uid, outcome).await
}

/// `GET /payment/<uid>/wallet/<pfn>`: the online wallet's page: a QR code to scan, and in
/// the sandbox the wallet app's answer as two buttons.
async fn wallet_page(
    State(state): State<AppState>,
    Path((ticket, pfn)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut visitor = Visitor::from_request(&headers, None, state.secure_cookies());
    let Some(uid) = state.tickets.open(&ticket) else {
        return visitor.not_found();
    };
    let (order, merchant) = match load(&state, uid).await {
        Ok(x) => x,
        Err(e) => return visitor.failed(e),
    };
    let allowed = service::wallet_tools(&merchant.settings, &order);
    let Some(tool) = mypay_protocol::PaymentTool::parse(&pfn).filter(|t| allowed.contains(t))
    else {
        return visitor.not_found();
    };
    if !state::is_payable(order.prc) {
        return result_page(&state.tickets, visitor, &order, &merchant);
    }
    let target = format!(
        "{}/payment/{}/wallet/{}",
        state.base_url,
        state.tickets.ticket(uid),
        tool.code()
    );
    let qr_svg = match qrcode::QrCode::new(target.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
        Err(e) => return visitor.failed(PageError::internal("rendering a wallet QR code", e)),
    };
    let page = WalletPage {
        t: texts(visitor.locale),
        languages: &LANGUAGES,
        page_path: format!(
            "/payment/{}/wallet/{}",
            state.tickets.ticket(uid),
            tool.code()
        ),
        locale: visitor.locale.code(),
        ticket: state.tickets.ticket(uid),
        pfn: tool.code().to_owned(),
        wallet: i18n::tool_name(tool, visitor.locale).to_owned(),
        currency: order.currency.clone(),
        amount: order.cost,
        qr_svg,
        sandbox: state.sandbox(),
        csrf: visitor.csrf_token(&state.tickets, uid),
    };
    let body = page.render();
    visitor.respond(StatusCode::OK, body)
}

/// `POST /payment/<uid>/wallet/<pfn>`: the wallet app's answer (sandbox only: see
/// [`sandbox_router`]).
async fn wallet_confirm(
    State(state): State<AppState>,
    Path((_, pfn)): Path<(String, String)>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let approve = form.get("decision").map(String::as_str) == Some("approve");
    let outcome = service::pay_wallet(&state, uid, &pfn, approve, None).await;
    after_payment(&state, visitor, uid, outcome).await
}

/// `POST /payment/<uid>/apply`: post-pay, cardless instalments (bind, then submit) or
/// cash.
async fn apply(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let pfn = form.get("pfn").cloned().unwrap_or_default();
    let outcome = service::apply_for(&state, uid, &pfn).await;
    after_payment(&state, visitor, uid, outcome).await
}

async fn otp_page(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::from_request(&headers, None, state.secure_cookies());
    let Some(uid) = state.tickets.open(&ticket) else {
        return visitor.not_found();
    };
    render_otp(&state, visitor, uid, None, StatusCode::OK).await
}

async fn render_otp(
    state: &AppState,
    mut visitor: Visitor,
    uid: u64,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (order, _) = match load(state, uid).await {
        Ok(x) => x,
        Err(e) => return visitor.failed(e),
    };
    let challenge = match state.store.challenge(uid).await {
        Ok(Some(c)) if state::is_payable(order.prc) => c,
        Ok(_) => return see_other(format!("/payment/{}.html", state.tickets.ticket(uid))),
        Err(e) => return visitor.failed(e.into()),
    };
    let page = OtpPage {
        t: texts(visitor.locale),
        languages: &LANGUAGES,
        page_path: format!("/payment/{}.html", state.tickets.ticket(uid)),
        locale: visitor.locale.code(),
        ticket: state.tickets.ticket(uid),
        cardno: challenge.cardno,
        currency: order.currency.clone(),
        amount: order.cost,
        csrf: visitor.csrf_token(&state.tickets, uid),
        error,
    };
    let body = page.render();
    visitor.respond(status, body)
}

async fn otp_submit(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let password = form.get("otp").map(String::as_str).unwrap_or_default();
    match service::submit_otp(&state, uid, password, service::OtpTry::Page).await {
        Ok(_) | Err(CheckoutError::NotPayable(_)) => {
            see_other(format!("/payment/{}/result", state.tickets.ticket(uid)))
        }
        Err(CheckoutError::NoChallenge) => {
            see_other(format!("/payment/{}.html", state.tickets.ticket(uid)))
        }
        Err(e @ CheckoutError::WrongOtp(_)) => {
            let text = error_text(texts(visitor.locale), &e);
            render_otp(
                &state,
                visitor,
                uid,
                Some(text),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => visitor.failed(e.into()),
    }
}

async fn result(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = Visitor::from_request(&headers, None, state.secure_cookies());
    let Some(uid) = state.tickets.open(&ticket) else {
        return visitor.not_found();
    };
    match load(&state, uid).await {
        Ok((order, _)) if state::is_payable(order.prc) => {
            see_other(format!("/payment/{}.html", state.tickets.ticket(uid)))
        }
        Ok((order, merchant)) => result_page(&state.tickets, visitor, &order, &merchant),
        Err(e) => visitor.failed(e),
    }
}

async fn abandon(
    State(state): State<AppState>,
    PostedForm { visitor, uid, .. }: PostedForm,
) -> Response {
    match service::abandon(&state, uid).await {
        Ok(_) | Err(CheckoutError::NotPayable(_)) => {
            see_other(format!("/payment/{}/result", state.tickets.ticket(uid)))
        }
        Err(e) => visitor.failed(e.into()),
    }
}

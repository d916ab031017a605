//! The e-wallet bind page (`/ewallet/<ticket>.html`, SPEC §9): the consumer types a card
//! once, passes the 3-D Secure step for 3D cards, and goes back to the merchant's
//! `success_returl`/`failure_returl`. Same languages, cookies and CSRF rules as the
//! PayPage, under `/ewallet`; works without JavaScript.

use super::visitor::{Visitor, form_fields};
use super::*;
use crate::service::ewallet::{self, BindOutcome};
use crate::store::{WalletRow, WalletStatus};
use axum::body::Bytes;

/// The most a bind form may hold (a card's fields and a token).
const FORM_LIMIT: usize = 16 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/ewallet/{page}", get(show))
        .route("/ewallet/{ticket}/bind", post(bind))
        .route("/ewallet/{ticket}/otp", get(otp_page).post(otp_submit))
        .route("/ewallet/{ticket}/challenge", get(challenge_returned))
}

#[derive(Template)]
#[template(path = "paypage/ewallet_bind.html")]
struct BindPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    sandbox: bool,
    ticket: String,
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "paypage/ewallet_otp.html")]
struct BindOtpPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    ticket: String,
    cardno: String,
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "paypage/ewallet_result.html")]
struct BindResultPage {
    t: &'static Texts,
    languages: &'static [(&'static str, &'static str)],
    page_path: String,
    locale: &'static str,
    bound: bool,
    cardno: String,
    redirect: Option<String>,
    redirect_seconds: u32,
}

fn visitor(state: &AppState, headers: &HeaderMap, locale: Option<&str>) -> Visitor {
    Visitor::from_request_in("/ewallet", headers, locale, state.secure_cookies())
}

/// `GET /ewallet/<ticket>.html`: the card form while the bind is open, else its result.
async fn show(
    State(state): State<AppState>,
    Path(page): Path<String>,
    Query(q): Query<LocaleQuery>,
    headers: HeaderMap,
) -> Response {
    let visitor = visitor(&state, &headers, q.locale.as_deref());
    let Some(id) = page
        .strip_suffix(".html")
        .and_then(|t| state.tickets.open_wallet(t))
    else {
        return visitor.not_found();
    };
    match load(&state, id).await {
        Ok(wallet) => render(&state, visitor, &wallet, None, StatusCode::OK),
        Err(e) => visitor.failed(e),
    }
}

async fn load(state: &AppState, id: u64) -> Result<WalletRow, PageError> {
    state
        .store
        .wallet(id)
        .await?
        .ok_or_else(|| PageError::not_found("no such bind request"))
}

fn render(
    state: &AppState,
    mut visitor: Visitor,
    wallet: &WalletRow,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let ticket = state.tickets.wallet_ticket(wallet.id);
    let page_path = format!("/ewallet/{ticket}.html");
    let t = texts(visitor.locale);
    let locale = visitor.locale.code();
    let body = match wallet.status {
        WalletStatus::Open | WalletStatus::Challenged => BindPage {
            t,
            languages: &LANGUAGES,
            page_path,
            locale,
            sandbox: state.sandbox(),
            csrf: visitor.wallet_csrf_token(&state.tickets, wallet.id),
            ticket,
            error,
        }
        .render(),
        WalletStatus::Bound | WalletStatus::Failed => BindResultPage {
            t,
            languages: &LANGUAGES,
            page_path,
            locale,
            bound: wallet.status == WalletStatus::Bound,
            cardno: wallet
                .card
                .as_ref()
                .filter(|_| wallet.status == WalletStatus::Bound)
                .map(|c| c.cardno.clone())
                .unwrap_or_default(),
            redirect: ewallet::return_url(wallet),
            redirect_seconds: REDIRECT_SECONDS,
        }
        .render(),
    };
    visitor.respond(status, body)
}

/// A bind page's form: its ticket opened, its CSRF token checked.
async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    ticket: &str,
    body: &Bytes,
) -> Result<(Visitor, u64, HashMap<String, String>), Response> {
    let visitor = visitor(state, headers, None);
    let Some(id) = state.tickets.open_wallet(ticket) else {
        return Err(visitor.not_found());
    };
    if body.len() > FORM_LIMIT {
        let text = texts(visitor.locale).form_too_large.to_owned();
        return Err(visitor.message(StatusCode::PAYLOAD_TOO_LARGE, text));
    }
    let form = form_fields(body);
    if !visitor.wallet_csrf_matches(&state.tickets, id, &form) {
        return Err(visitor.expired());
    }
    Ok((visitor, id, form))
}

/// `POST /ewallet/<ticket>/bind`: the card form.
async fn bind(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visitor, id, form) = match posted(&state, &headers, &ticket, &body).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let return_url = format!("{}/ewallet/{ticket}/challenge", state.base_url);
    let outcome = ewallet::bind_card(
        &state,
        id,
        (field("card_number"), field("expiry"), field("cvc")),
        Some(&return_url),
    )
    .await;
    after(&state, visitor, id, &ticket, outcome).await
}

/// `GET /ewallet/<ticket>/challenge`: back from the upstream's 3-D Secure page.
async fn challenge_returned(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = visitor(&state, &headers, None);
    let Some(id) = state.tickets.open_wallet(&ticket) else {
        return visitor.not_found();
    };
    let outcome = ewallet::bind_challenge_returned(&state, id).await;
    match outcome {
        Err(CheckoutError::NoChallenge) => see_other(format!("/ewallet/{ticket}.html")),
        other => after(&state, visitor, id, &ticket, other).await,
    }
}

/// Where a bind form leads: the OTP step, the result, or the form again with its error.
async fn after(
    state: &AppState,
    visitor: Visitor,
    id: u64,
    ticket: &str,
    outcome: Result<BindOutcome, CheckoutError>,
) -> Response {
    match outcome {
        Ok(BindOutcome::NeedsOtp) => see_other(format!("/ewallet/{ticket}/otp")),
        Ok(BindOutcome::Challenge(url)) => see_other(url),
        Ok(BindOutcome::Bound | BindOutcome::Failed) => {
            see_other(format!("/ewallet/{ticket}.html"))
        }
        Err(CheckoutError::Store(e)) => visitor.failed(PageError::from(e)),
        Err(CheckoutError::NotFound) => visitor.not_found(),
        Err(e @ CheckoutError::WrongOtp(_)) => {
            let text = error_text(texts(visitor.locale), &e);
            match load(state, id).await {
                Ok(wallet) => render_otp(state, visitor, &wallet, Some(text)),
                Err(e) => visitor.failed(e),
            }
        }
        Err(e) => {
            let text = error_text(texts(visitor.locale), &e);
            match load(state, id).await {
                Ok(wallet) => render(
                    state,
                    visitor,
                    &wallet,
                    Some(text),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                Err(e) => visitor.failed(e),
            }
        }
    }
}

fn render_otp(
    state: &AppState,
    mut visitor: Visitor,
    wallet: &WalletRow,
    error: Option<String>,
) -> Response {
    if wallet.status != WalletStatus::Challenged {
        return see_other(format!(
            "/ewallet/{}.html",
            state.tickets.wallet_ticket(wallet.id)
        ));
    }
    let ticket = state.tickets.wallet_ticket(wallet.id);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = BindOtpPage {
        t: texts(visitor.locale),
        languages: &LANGUAGES,
        page_path: format!("/ewallet/{ticket}/otp"),
        locale: visitor.locale.code(),
        cardno: wallet
            .card
            .as_ref()
            .map(|c| c.cardno.clone())
            .unwrap_or_default(),
        csrf: visitor.wallet_csrf_token(&state.tickets, wallet.id),
        ticket,
        error,
    };
    let body = page.render();
    visitor.respond(status, body)
}

/// `GET /ewallet/<ticket>/otp`.
async fn otp_page(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = visitor(&state, &headers, None);
    let Some(id) = state.tickets.open_wallet(&ticket) else {
        return visitor.not_found();
    };
    match load(&state, id).await {
        Ok(wallet) => render_otp(&state, visitor, &wallet, None),
        Err(e) => visitor.failed(e),
    }
}

/// `POST /ewallet/<ticket>/otp`: the 3D password.
async fn otp_submit(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visitor, id, form) = match posted(&state, &headers, &ticket, &body).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let password = form.get("otp").map(String::as_str).unwrap_or("");
    let outcome = ewallet::submit_bind_otp(&state, id, password, service::Tries::Page).await;
    after(&state, visitor, id, &ticket, outcome).await
}

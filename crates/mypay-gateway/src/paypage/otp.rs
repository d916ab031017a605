//! The 3-D Secure step: the consumer types the password the card's issuer sent.

use super::*;

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

pub(super) async fn otp_page(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visitor, uid) = match Visitor::with_order(&state, &headers, &ticket) {
        Ok(opened) => opened,
        Err(page) => return *page,
    };
    render_otp(&state, visitor, uid, None, StatusCode::OK).await
}

pub(super) async fn render_otp(
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

pub(super) async fn otp_submit(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let password = form.get("otp").map(String::as_str).unwrap_or_default();
    match service::submit_otp(&state, uid, password, service::Tries::Page).await {
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

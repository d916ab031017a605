//! The checkout page and its forms. One way to pay at a time: each family of tools (a
//! saved card, cards, wallets, pay-later codes and accounts, applications) is a group
//! that opens on its own, without JavaScript; one group is open, the first the consumer
//! is likely to want (a saved card, else cards), or the one whose form came back with an
//! error.

use super::result::result_page;
use super::*;
use crate::service::saved_cards::SavedKind;

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
    /// The group open: `saved`, `card`, `wallet`, `later` or `other`.
    open: &'static str,
    /// The consumer's saved card, paid with in one click.
    saved: Option<SavedView>,
    /// Card tools: (code, name); the first is chosen.
    cards: Vec<(String, String)>,
    /// Instalment counts, when C_INSTALLMENT is offered.
    installments: Vec<u32>,
    /// A recurring order's terms, shown above the groups.
    recurring: Option<String>,
    /// Wallets: (code, name); `in_person`: the merchant scans the consumer's code.
    wallets: Vec<(String, String)>,
    in_person: bool,
    /// Pay-later tools: (code, name).
    pay_later: Vec<(String, String)>,
    /// Post-pay, cardless instalments, cash: (code, name).
    applications: Vec<(String, String)>,
    csrf: String,
    error: Option<String>,
}

/// A saved card as the page names it: a bound e-wallet card, or quick checkout's.
struct SavedView {
    label: &'static str,
    cardno: String,
}

/// Which group a form belongs to, so that its error shows with the group open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    Saved,
    Card,
    Wallet,
    Later,
    Other,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Saved => "saved",
            Group::Card => "card",
            Group::Wallet => "wallet",
            Group::Later => "later",
            Group::Other => "other",
        }
    }
}

/// `GET /payment/<uid>-<token>.html`.
pub(super) async fn show(
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

/// The page, with `error` (of `Group`'s form) when a form came back.
pub(super) async fn checkout_page(
    state: &AppState,
    mut visitor: Visitor,
    uid: u64,
    error: Option<(Group, String)>,
    status: StatusCode,
) -> Response {
    let (order, merchant) = match load(state, uid).await {
        Ok(x) => x,
        Err(e) => return visitor.failed(e),
    };
    if !state::is_payable(order.prc) {
        return result_page(&state.tickets, visitor, &order, &merchant);
    }
    let t = texts(visitor.locale);
    let request = order.stored_request();
    let card_tools = service::card_tools(&merchant.settings, &order);
    let installments = if card_tools.contains(&mypay_protocol::PaymentTool::CardInstallment) {
        let limits = request
            .creditcard_installment
            .as_deref()
            .and_then(|t| crate::ledger::plans::parse_limits(t).ok());
        crate::ledger::plans::offered_periods(limits.as_ref())
    } else {
        Vec::new()
    };
    let recurring = service::recurring::terms_of(&order).map(|terms| {
        let periods = terms
            .total
            .map_or_else(|| "∞".to_owned(), |n| n.to_string());
        format!(
            "{} · {} × {periods} · {}",
            t.recurring_note,
            terms.regular.code(),
            terms.first
        )
    });
    let saved = match service::saved_cards::saved_card(state, &order, &merchant.settings).await {
        Ok(saved) => saved.map(|s| SavedView {
            label: match s.kind {
                SavedKind::Ewallet => t.wallet_card,
                SavedKind::QuickCheckout => t.quick_card,
            },
            cardno: s.card.cardno,
        }),
        Err(e) => return visitor.failed(e.into()),
    };
    let cards = tool_choices(&card_tools, visitor.locale);
    let wallets = tool_choices(
        &service::wallet_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let pay_later = tool_choices(
        &service::pay_later_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let applications = tool_choices(
        &service::application_tools(&merchant.settings, &order),
        visitor.locale,
    );
    let first = [
        (Group::Saved, saved.is_some()),
        (Group::Card, !cards.is_empty()),
        (Group::Wallet, !wallets.is_empty()),
        (Group::Later, !pay_later.is_empty()),
        (Group::Other, !applications.is_empty()),
    ]
    .into_iter()
    .find_map(|(group, offered)| offered.then_some(group))
    .unwrap_or(Group::Card);
    let open = error.as_ref().map_or(first, |(group, _)| *group);
    let page = CheckoutPage {
        t,
        languages: &LANGUAGES,
        page_path: format!("/payment/{}.html", state.tickets.ticket(uid)),
        locale: visitor.locale.code(),
        sandbox: state.sandbox(),
        ticket: state.tickets.ticket(uid),
        order_id: order.order_id.clone(),
        currency: order.currency.clone(),
        amount: order.cost,
        items: request.items.clone().unwrap_or_default(),
        open: open.name(),
        saved,
        cards,
        installments,
        recurring,
        wallets,
        in_person: request.transaction_type == Some(2),
        pay_later,
        applications,
        csrf: visitor.csrf_token(&state.tickets, uid),
        error: error.map(|(_, text)| text),
    };
    let body = page.render();
    visitor.respond(status, body)
}

/// `POST /payment/<uid>/pay`: the card form.
pub(super) async fn pay(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let card = CardForm {
        pfn: form.get("pfn").cloned(),
        card_number: form.get("card_number").cloned().unwrap_or_default(),
        expiry: form.get("expiry").cloned().unwrap_or_default(),
        cvc: form.get("cvc").cloned().unwrap_or_default(),
        installment: form.get("installment").cloned(),
        return_url: Some(format!(
            "{}/payment/{}/challenge",
            state.base_url,
            state.tickets.ticket(uid)
        )),
    };
    let outcome = service::pay_card(&state, uid, &card, service::Tries::Page).await;
    after_payment(&state, visitor, uid, Group::Card, outcome).await
}

/// `POST /payment/<uid>/ewallet`: pay with the saved card, in one click.
pub(super) async fn pay_with_saved_card(
    State(state): State<AppState>,
    PostedForm { visitor, uid, .. }: PostedForm,
) -> Response {
    let outcome =
        service::saved_cards::pay_with_saved_card(&state, uid, service::Tries::Page).await;
    after_payment(&state, visitor, uid, Group::Saved, outcome).await
}

/// `POST /payment/<uid>/issue`: the consumer chose a pay-later tool.
pub(super) async fn issue(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let pfn = form.get("pfn").cloned().unwrap_or_default();
    let outcome = service::issue_pay_later(&state, uid, &pfn).await;
    after_payment(&state, visitor, uid, Group::Later, outcome).await
}

/// `POST /payment/<uid>/apply`: post-pay, cardless instalments (bind, then submit) or
/// cash.
pub(super) async fn apply(
    State(state): State<AppState>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let pfn = form.get("pfn").cloned().unwrap_or_default();
    let outcome = service::apply_for(&state, uid, &pfn).await;
    after_payment(&state, visitor, uid, Group::Other, outcome).await
}

/// `GET /payment/<uid>/challenge`: back from the upstream's 3-D Secure page; the
/// charge is settled with what the upstream says of it, then the result.
pub(super) async fn challenge_returned(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visitor, uid) = match Visitor::with_order(&state, &headers, &ticket) {
        Ok(opened) => opened,
        Err(page) => return *page,
    };
    let outcome = service::challenge_resolved(&state, uid, None).await;
    match outcome {
        Err(CheckoutError::NoChallenge) => {
            see_other(format!("/payment/{}/result", state.tickets.ticket(uid)))
        }
        other => after_payment(&state, visitor, uid, Group::Card, other).await,
    }
}

pub(super) async fn abandon(
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

/// Map a checkout outcome of a PayPage form to the page that follows it: the OTP step,
/// the result, or the page again with the form's error (a declined card: another card).
pub(super) async fn after_payment(
    state: &AppState,
    visitor: Visitor,
    uid: u64,
    group: Group,
    outcome: Result<Outcome, CheckoutError>,
) -> Response {
    let t = texts(visitor.locale);
    match outcome {
        Ok(Outcome::NeedsOtp) => see_other(format!("/payment/{}/otp", state.tickets.ticket(uid))),
        // The upstream's own 3-D Secure page; the consumer comes back to `challenge_returned`.
        Ok(Outcome::Challenge(url)) => see_other(url),
        Ok(Outcome::Done(_)) | Err(CheckoutError::NotPayable(_)) => {
            see_other(format!("/payment/{}/result", state.tickets.ticket(uid)))
        }
        // Another card: the card form, whichever card was declined.
        Ok(Outcome::Declined { tries_left }) => {
            let text = format!("{}{tries_left}", t.err_declined);
            checkout_page(
                state,
                visitor,
                uid,
                Some((Group::Card, text)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(CheckoutError::NotFound) => visitor.not_found(),
        Err(e @ CheckoutError::Store(_)) => visitor.failed(e.into()),
        Err(e) => {
            let text = error_text(t, &e);
            checkout_page(
                state,
                visitor,
                uid,
                Some((group, text)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

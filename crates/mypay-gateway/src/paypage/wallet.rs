//! Wallets: an online wallet's page (a QR code to scan in the wallet's app) and, in
//! person, the consumer's payment code the merchant scanned.

use super::checkout::{Group, after_payment, checkout_page};
use super::result::result_page;
use super::*;

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

/// `POST /payment/<uid>/wallet`: a wallet chosen. Online wallets go on to the wallet's
/// QR page; in person, the merchant's scan of the consumer's code pays at once.
pub(super) async fn wallet_choose(
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
                    Some((Group::Wallet, text)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        };
    }
    let code = form.get("wallet_code").map(String::as_str);
    let outcome = service::pay_wallet(&state, uid, &pfn, true, code).await;
    after_payment(&state, visitor, uid, Group::Wallet, outcome).await
}

/// `GET /payment/<uid>/wallet/<pfn>`: the online wallet's page: a QR code to scan, and in
/// the sandbox the wallet app's answer as two buttons.
pub(super) async fn wallet_page(
    State(state): State<AppState>,
    Path((ticket, pfn)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (mut visitor, uid) = match Visitor::with_order(&state, &headers, &ticket) {
        Ok(opened) => opened,
        Err(page) => return *page,
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
    // Production: what the wallet's upstream gives the consumer to scan; the sandbox's
    // own page otherwise.
    let target = match service::start_wallet(&state, &order, tool, None).await {
        Ok(Some(content)) => content,
        Ok(None) => format!(
            "{}/payment/{}/wallet/{}",
            state.base_url,
            state.tickets.ticket(uid),
            tool.code()
        ),
        Err(e) => return visitor.failed(e.into()),
    };
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

/// `POST /payment/<uid>/wallet/<pfn>/answer`: the wallet app's answer (sandbox only: see
/// [`sandbox_router`]).
pub(super) async fn wallet_confirm(
    State(state): State<AppState>,
    Path((_, pfn)): Path<(String, String)>,
    PostedForm { visitor, uid, form }: PostedForm,
) -> Response {
    let approve = form.get("decision").map(String::as_str) == Some("approve");
    let outcome = service::pay_wallet(&state, uid, &pfn, approve, None).await;
    after_payment(&state, visitor, uid, Group::Wallet, outcome).await
}

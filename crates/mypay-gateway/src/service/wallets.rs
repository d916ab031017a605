//! E-wallets, online and in person (the consumer's payment code).

use super::Gateway;
use super::checkout::*;
use crate::ledger::connector::{Moved, Movement, NotMoved};
use crate::ledger::state::{self, Event};
use crate::store::{OrderRow, PaymentFacts};
use mypay_protocol::PaymentTool;
use mypay_protocol::notice::NoticeKind;
use mypay_protocol::pfn::ToolFamily;

/// The wallets the PayPage can offer for `order`: online ones (the consumer scans), or,
/// for an in-person order (`transaction_type` 2), offline ones (the merchant scans).
pub fn wallet_tools(
    settings: &crate::ledger::merchant::MerchantSettings,
    order: &OrderRow,
) -> Vec<PaymentTool> {
    let request = order.stored_request();
    let family = if request.transaction_type == Some(2) {
        ToolFamily::WalletOffline
    } else {
        ToolFamily::WalletOnline
    };
    offered_tools(settings, order, |t| t.family() == family)
}

/// A sandbox wallet code the wallet refuses: one ending in `0002` (like the decline card).
pub(super) fn wallet_code_declines(code: &str) -> bool {
    code.ends_with("0002")
}

/// Pay with a wallet: the consumer confirmed (`approve`) or refused in the app, or, in
/// person, the merchant scanned `wallet_code` (12–24 digits).
pub async fn pay_wallet(
    state: &Gateway,
    uid: u64,
    tool_text: &str,
    approve: bool,
    wallet_code: Option<&str>,
) -> Result<Outcome, CheckoutError> {
    let (order, merchant) = payable_order(state, uid).await?;
    let tool = PaymentTool::parse(tool_text)
        .filter(|t| wallet_tools(&merchant.settings, &order).contains(t))
        .ok_or_else(|| {
            CheckoutError::Tool(format!("{tool_text:?} is not a wallet this order allows"))
        })?;
    let mut approve = approve;
    if tool.family() == ToolFamily::WalletOffline {
        let code = wallet_code.map(str::trim).unwrap_or_default();
        if !(12..=24).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CheckoutError::WalletCode);
        }
        if state.movements.is_some() {
            // Production: the wallet decides, and says so by callback.
            start_wallet(state, &order, tool, Some(code.to_owned())).await?;
            return Ok(Outcome::Done(order.prc));
        }
        approve = approve && !wallet_code_declines(code);
    } else if state.movements.is_some() {
        // Production: only the wallet's own word (its callback) pays an order.
        return Err(CheckoutError::Tool("the wallet answers for itself".into()));
    }
    wallet_decided(state, &order, &merchant, tool, approve, None).await
}

/// The reference a wallet payment of `uid` with `tool` is asked with.
fn wallet_reference(uid: u64, tool: PaymentTool) -> String {
    format!("wallet-{uid}-{}", tool.code())
}

/// The tool a wallet reference names.
pub fn wallet_tool(reference: &str) -> Option<PaymentTool> {
    PaymentTool::parse(reference.strip_prefix("wallet-")?.split_once('-')?.1)
}

/// Production: start a wallet payment of `order` with its upstream (asked again, the
/// same one): where the consumer goes or what they scan; in person, nothing (the
/// upstream calls back).
pub async fn start_wallet(
    state: &Gateway,
    order: &OrderRow,
    tool: PaymentTool,
    payment_code: Option<String>,
) -> Result<Option<String>, CheckoutError> {
    let Some(movements) = &state.movements else {
        return Ok(None);
    };
    let movement = Movement::Wallet {
        reference: wallet_reference(order.uid, tool),
        uid: order.uid,
        tool,
        amount: order.cost,
        payment_code,
    };
    match movements.ask(&movement).await {
        Ok(Moved::Started {
            qr_content,
            redirect_url,
        }) => Ok(qr_content.or(redirect_url)),
        Ok(_) => Ok(None),
        Err(NotMoved::Refused(why)) => {
            Err(CheckoutError::Tool(format!("the wallet refused: {why}")))
        }
        Err(NotMoved::Unknown) => Err(CheckoutError::Unavailable),
    }
}

/// A wallet's answer for `order` (the consumer approved or refused in the app, or the
/// upstream called back): paid or failed, with the merchant's notice.
pub async fn wallet_decided(
    state: &Gateway,
    order: &OrderRow,
    merchant: &crate::store::Merchant,
    tool: PaymentTool,
    approve: bool,
    acode: Option<String>,
) -> Result<Outcome, CheckoutError> {
    let uid = order.uid;
    let supplier = merchant.settings.tool(tool).map(|s| s.supplier.clone());
    let mut facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        supplier_code: supplier,
        ..PaymentFacts::default()
    };
    let event = if approve {
        facts.acode = Some(acode.unwrap_or_else(|| state.acquirer.approval_code(uid)));
        facts.actual_cost = Some(order.cost);
        Event::WalletPaid
    } else {
        Event::WalletDeclined
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut t = transition(state, order, to, &format!("wallet {}", tool.code()), facts);
    t.finishes = true;
    if !approve {
        t.retmsg = "錢包拒絕付款".to_owned();
    }
    attach_notice(&mut t, order, merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

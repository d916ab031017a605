//! E-wallets, online and in person (the consumer's payment code).

use super::Gateway;
use super::checkout::*;
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
        approve = approve && !wallet_code_declines(code);
    }
    let supplier = merchant.settings.tool(tool).map(|s| s.supplier.clone());
    let mut facts = PaymentFacts {
        paid_pfn: Some(tool.code().to_owned()),
        supplier_code: supplier,
        ..PaymentFacts::default()
    };
    let event = if approve {
        facts.acode = Some(state.acquirer.approval_code(uid));
        facts.actual_cost = Some(order.cost);
        Event::WalletPaid
    } else {
        Event::WalletDeclined
    };
    let to = state::next(order.prc, event).map_err(|_| CheckoutError::NotPayable(order.prc))?;
    let mut t = transition(state, &order, to, &format!("wallet {}", tool.code()), facts);
    t.finishes = true;
    if !approve {
        t.retmsg = "錢包拒絕付款".to_owned();
    }
    attach_notice(&mut t, &order, &merchant, NoticeKind::Completed);
    commit(state, &t).await?;
    Ok(Outcome::Done(to))
}

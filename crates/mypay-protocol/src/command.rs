//! The `service` object and its `cmd` values: the eleven commands of the document.

use serde::{Deserialize, Serialize};

/// The decrypted `service` field: `{"service_name":"api","cmd":"api/orders"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub service_name: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub cmd: Option<String>,
}

impl Service {
    pub fn api(command: Command) -> Self {
        Service {
            service_name: Some("api".to_owned()),
            cmd: Some(command.cmd().to_owned()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// PayPage金流交易.
    Orders,
    /// 交易查詢.
    QueryOrder,
    /// 交易退款.
    Refund,
    /// 信用卡取消授權.
    CancelAuthorization,
    /// 信用卡授權請款.
    AuthorizedRequestPayment,
    /// 取消定期定額式扣款.
    DisableDirectDebit,
    /// MYPAY電子錢包綁定.
    EwalletBind,
    /// 取消退款.
    RefundCancel,
    /// 電子發票開立.
    IssueInvoice,
    /// 電子發票查詢.
    Invoice,
    /// 特約商店可用支付工具查詢.
    PaymentSupportPayMode,
}

impl Command {
    pub const ALL: [Command; 11] = [
        Command::Orders,
        Command::QueryOrder,
        Command::Refund,
        Command::CancelAuthorization,
        Command::AuthorizedRequestPayment,
        Command::DisableDirectDebit,
        Command::EwalletBind,
        Command::RefundCancel,
        Command::IssueInvoice,
        Command::Invoice,
        Command::PaymentSupportPayMode,
    ];

    pub fn cmd(self) -> &'static str {
        match self {
            Command::Orders => "api/orders",
            Command::QueryOrder => "api/queryorder",
            Command::Refund => "api/refund",
            Command::CancelAuthorization => "api/cancelauthorization",
            Command::AuthorizedRequestPayment => "api/authorizedrequestpayment",
            Command::DisableDirectDebit => "api/disabledirectdebit",
            Command::EwalletBind => "api/ewalletbind",
            Command::RefundCancel => "api/refundcancel",
            Command::IssueInvoice => "api/issueinvoice",
            Command::Invoice => "api/invoice",
            Command::PaymentSupportPayMode => "api/paymentsupportpaymode",
        }
    }

    /// Read a `cmd`; PHP's `json_encode` escapes the slash, which JSON parsing already undid.
    pub fn parse(cmd: &str) -> Option<Command> {
        let c = cmd.trim();
        Command::ALL
            .into_iter()
            .find(|k| k.cmd().eq_ignore_ascii_case(c))
    }

    /// Commands that answer `B200`/`B500` rather than `200`/`100` (their "B-style" results).
    /// The e-invoice commands answer alike: a query of an invoice is refused as its
    /// issue is (`B500`), whatever the refusal.
    pub fn answers_b_codes(self) -> bool {
        matches!(
            self,
            Command::Refund
                | Command::RefundCancel
                | Command::CancelAuthorization
                | Command::AuthorizedRequestPayment
                | Command::DisableDirectDebit
                | Command::EwalletBind
                | Command::IssueInvoice
                | Command::Invoice
                | Command::PaymentSupportPayMode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cmd_parses_back() {
        for c in Command::ALL {
            assert_eq!(Command::parse(c.cmd()), Some(c));
        }
        assert_eq!(Command::parse("api/nothing"), None);
    }
}

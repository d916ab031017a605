//! Pay-later tools (SPEC §4, §5): a convenience-store code (CSTORECODE), store barcodes
//! (BARCODE), a virtual bank account (E_COLLECTION), WebATM, stored value and eACH debits. The order
//! gets a code or account with a deadline (`limit_pay_days`); the consumer pays later at
//! the counter or ATM; the deadline passing makes it `380`.
//!
//! The codes are the sandbox's, derived from the order's uid so that they are stable and
//! distinct; their layout follows the document's field tables (『ibon』, 『FamiPort』,
//! 『Life-ET』, 『超商條碼繳費』, 『虛擬帳號回傳欄位』).

use crate::clock::taipei;
use jiff::Timestamp;
use mypay_protocol::pfn::ToolFamily;
use mypay_protocol::{PaymentTool, Prc};
use serde_json::json;

/// Days to pay when the order does not say (`limit_pay_days`, SPEC §5).
pub const DEFAULT_PAY_DAYS: i64 = 3;
/// The longest `limit_pay_days` accepted.
pub const MAX_PAY_DAYS: i64 = 60;

/// Whether `tool` is paid later at a counter, an ATM or online after the PayPage.
pub fn is_pay_later(tool: PaymentTool) -> bool {
    matches!(
        tool.family(),
        ToolFamily::Counter | ToolFamily::VirtualAccount | ToolFamily::OnlineTransfer
    )
}

/// What the consumer is given to pay with.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// `260`, `270` or `280`.
    pub prc: Prc,
    /// 『資料內容所屬支付名稱』: IBON, FAMIPORT, LIFEET, BARCODE, E_COLLECTION, WEBATM, …
    pub content_type: String,
    /// `result_content`: the JSON of the document's table for that content type.
    pub content: String,
    /// `bank_id` of a virtual account.
    pub bank_id: Option<String>,
    pub deadline: Timestamp,
}

impl Issued {
    /// The Code-39 barcodes to print (BarCode1..3), in order; empty when there are none.
    pub fn barcodes(content: &str) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(content) else {
            return Vec::new();
        };
        ["BarCode1", "BarCode2", "BarCode3"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(|b| b.as_str()).map(str::to_owned))
            .filter(|b| !b.is_empty())
            .collect()
    }
}

/// The end of the last day to pay: 23:59:59 in Taipei, `days` days after `now`.
pub fn deadline(now: Timestamp, days: i64) -> Timestamp {
    let days = days.clamp(0, MAX_PAY_DAYS);
    let mut midnight = now;
    for _ in 0..=days {
        midnight = taipei::next_midnight(midnight);
    }
    midnight - jiff::SignedDuration::from_secs(1)
}

/// Issue the sandbox's code or account for order `uid` of `amount`, paid with `tool` via
/// `supplier`, payable until `deadline`. `None` for tools that are not paid later.
pub fn issue(
    tool: PaymentTool,
    supplier: &str,
    uid: u64,
    amount: i64,
    deadline: Timestamp,
) -> Option<Issued> {
    let limit = taipei::datetime14(deadline);
    let (prc, content_type, content, bank_id) = match tool {
        PaymentTool::CvsCode => {
            let (kind, pin) = match supplier {
                "S0" => ("FAMIPORT", format!("F{:011}", uid % 100_000_000_000)),
                "S2" => ("LIFEET", format!("L{:011}", uid % 100_000_000_000)),
                _ => ("IBON", format!("MYP{:011}", uid % 100_000_000_000)),
            };
            let [b1, b2, b3] = three_barcodes(uid, amount, deadline);
            let mut content = json!({"PinCode": pin, "LimitDate": limit,
                "BarCode1": b1, "BarCode2": b2, "BarCode3": b3});
            if kind != "LIFEET" {
                content["BarcodeEndDate"] = json!(limit);
            }
            (Prc::CvsIssued, kind, content, None)
        }
        PaymentTool::CvsBarcode => {
            let [b1, b2, b3] = three_barcodes(uid, amount, deadline);
            let content =
                json!({"BarCode1": b1, "BarCode2": b2, "BarCode3": b3, "LimitDate": limit});
            (Prc::CvsIssued, "BARCODE", content, None)
        }
        PaymentTool::VirtualAccount => {
            let bank = bank_code(supplier);
            let content = json!({"PinCode": format!("9527{:010}", uid % 10_000_000_000),
                "LimitDate": limit, "BankCode": bank});
            (
                Prc::VirtualAccountIssued,
                "E_COLLECTION",
                content,
                Some(bank),
            )
        }
        PaymentTool::WebAtm => (Prc::AwaitingOnline, "WEBATM", json!({}), None),
        PaymentTool::Recharge => (Prc::AwaitingOnline, "M_RECHARGE", json!({}), None),
        PaymentTool::Each => (Prc::AwaitingOnline, "EACH", json!({}), None),
        _ => return None,
    };
    Some(Issued {
        prc,
        content_type: content_type.to_owned(),
        content: content.to_string(),
        bank_id: bank_id.map(str::to_owned),
        deadline,
    })
}

/// `issued` (the document's layout for its tool) with the code, account and barcodes an
/// upstream issued in place of the sandbox's.
pub fn with_details(
    mut issued: Issued,
    details: &crate::ledger::connector::CollectionDetails,
) -> Issued {
    let Ok(mut content) = serde_json::from_str::<serde_json::Value>(&issued.content) else {
        return issued;
    };
    let pin = details.code.clone().or_else(|| details.account.clone());
    if let (Some(pin), Some(obj)) = (pin, content.as_object_mut())
        && obj.contains_key("PinCode")
    {
        obj.insert("PinCode".into(), json!(pin));
    }
    if details.barcodes.len() == 3
        && let Some(obj) = content.as_object_mut()
    {
        for (i, code) in details.barcodes.iter().enumerate() {
            obj.insert(format!("BarCode{}", i + 1), json!(code));
        }
    }
    if let Some(bank) = &details.bank_code {
        if let Some(obj) = content.as_object_mut()
            && obj.contains_key("BankCode")
        {
            obj.insert("BankCode".into(), json!(bank));
        }
        if issued.bank_id.is_some() {
            issued.bank_id = Some(bank.clone());
        }
    }
    issued.content = content.to_string();
    issued
}

/// Three-segment store barcodes (Code-39): the due date and a store prefix; the payment
/// number; the month, a check pair and the amount.
fn three_barcodes(uid: u64, amount: i64, deadline: Timestamp) -> [String; 3] {
    let date = taipei::date8(deadline);
    let yymmdd = date.get(2..).unwrap_or("000000");
    let mmyy = format!(
        "{}{}",
        date.get(4..6).unwrap_or("00"),
        date.get(2..4).unwrap_or("00")
    );
    let amount = amount.clamp(0, 999_999_999);
    let check = (uid + amount as u64) % 97;
    [
        format!("{yymmdd}6MP"),
        format!("MYPAY{:011}", uid % 100_000_000_000),
        format!("{mmyy}{check:02}{amount:09}"),
    ]
}

/// The bank code of a virtual account's bank (supplier).
fn bank_code(supplier: &str) -> &'static str {
    match supplier {
        "B1" => "807",
        "B2" => "006",
        "B3" => "012",
        "B4" => "808",
        "B5" => "812",
        "B8" => "822",
        "BA" => "007",
        "BD" => "013",
        _ => "807",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn the_deadline_is_the_end_of_the_last_day_in_taipei() {
        // 2026-11-23 10:00 Taipei; three days: 2026-11-26 23:59:59 Taipei.
        let now = at("2026-11-23T02:00:00Z");
        assert_eq!(taipei::datetime14(deadline(now, 3)), "20261126235959");
        assert_eq!(taipei::datetime14(deadline(now, 0)), "20261123235959");
    }

    #[test]
    fn an_ibon_code_carries_the_documented_fields_and_three_code39_barcodes() {
        let d = deadline(at("2026-11-23T02:00:00Z"), 3);
        let issued = issue(PaymentTool::CvsCode, "S1", 42, 1200, d).expect("issued");
        assert_eq!(issued.prc, Prc::CvsIssued);
        assert_eq!(issued.content_type, "IBON");
        let v: serde_json::Value = serde_json::from_str(&issued.content).expect("json");
        for field in [
            "PinCode",
            "LimitDate",
            "BarCode1",
            "BarCode2",
            "BarCode3",
            "BarcodeEndDate",
        ] {
            assert!(v[field].as_str().is_some_and(|s| !s.is_empty()), "{field}");
        }
        assert_eq!(v["LimitDate"], "20261126235959");
        let codes = Issued::barcodes(&issued.content);
        assert_eq!(codes.len(), 3);
        for code in codes {
            barcoders::sym::code39::Code39::new(&code).expect("a valid Code-39 payload");
        }
    }

    #[test]
    fn accounts_and_online_transfers_have_their_own_states() {
        let d = deadline(at("2026-11-23T02:00:00Z"), 3);
        let account = issue(PaymentTool::VirtualAccount, "B1", 7, 100, d).expect("issued");
        assert_eq!(account.prc, Prc::VirtualAccountIssued);
        assert_eq!(account.bank_id.as_deref(), Some("807"));
        let webatm = issue(PaymentTool::WebAtm, "B1", 7, 100, d).expect("issued");
        assert_eq!(webatm.prc, Prc::AwaitingOnline);
        assert!(issue(PaymentTool::CreditCard, "T0", 7, 100, d).is_none());
    }
}

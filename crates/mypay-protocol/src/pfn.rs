//! Payment tools (附錄一 PFN 支付工具參數表). A request may name a tool by its number or
//! by its code: `pfn=27` and `pfn=PION` are the same tool.
//!
//! Two quirks of the document are settled here (SPEC §2): row 13 lost its code in the
//! capture and is `WECHAT`, as the `api/paymentsupportpaymode` example shows; row 32 reads
//! `JKOOF` while the 付款方式 table reads `JKOOFF`, and both are accepted (`JKOOFF` is
//! what we send).

use std::fmt;

macro_rules! tools {
    ($( $variant:ident = $number:literal, $code:literal, $name:literal; )*) => {
        /// One payment tool of 附錄一.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PaymentTool { $( $variant, )* }

        impl PaymentTool {
            pub const ALL: &'static [PaymentTool] = &[ $( PaymentTool::$variant, )* ];

            /// The number of 附錄一 (編號); `None` for a tool the document names only by
            /// code (EACH, listed in 『付款方式』 but not numbered in 附錄一).
            pub fn number(self) -> Option<u32> {
                let n: u32 = match self { $( PaymentTool::$variant => $number, )* };
                (n != 0).then_some(n)
            }

            /// The code of 附錄一 (代碼), as the gateway sends it.
            pub fn code(self) -> &'static str {
                match self { $( PaymentTool::$variant => $code, )* }
            }

            /// The document's description (說明), in Traditional Chinese.
            pub fn name_zh(self) -> &'static str {
                match self { $( PaymentTool::$variant => $name, )* }
            }
        }
    };
}

tools! {
    CreditCard = 1, "CREDITCARD", "信用卡";
    CvsCode = 3, "CSTORECODE", "超商代碼";
    WebAtm = 4, "WEBATM", "WEBATM";
    VirtualAccount = 6, "E_COLLECTION", "虛擬帳號 (ATM轉帳)";
    UnionPay = 7, "UNIONPAY", "銀聯卡";
    Abroad = 9, "ABROAD", "海外信用卡";
    Alipay = 10, "ALIPAY", "支付寶";
    WeChat = 13, "WECHAT", "微信支付";
    DirectDebit = 14, "DIRECTDEBIT", "定期扣款(國內信用卡)";
    LinePayOnline = 15, "LINEPAYON", "LINE Pay 線上付款";
    LinePayOffline = 16, "LINEPAYOFF", "LINE Pay 線下付款";
    WeChatOffline = 19, "WECHATOFF", "微信支付線下";
    ApplePay = 20, "APPLEPAY", "Apple Pay";
    GooglePay = 21, "GOOGLEPAY", "Google Pay";
    CardInstallment = 23, "C_INSTALLMENT", "信用卡分期";
    CardRedeem = 24, "C_REDEEM", "信用卡紅利";
    Cardless = 25, "CARDLESS", "無卡分期";
    PiOnline = 27, "PION", "Pi 拍錢包線上付款";
    PiOffline = 28, "PIOFF", "Pi 拍錢包線下付款";
    Amex = 29, "AMEX", "美國運通";
    JkoOnline = 31, "JKOON", "街口支付線上付款";
    JkoOffline = 32, "JKOOFF", "街口支付線下付款";
    AlipayOffline = 33, "ALIPAYOFF", "支付寶線下";
    Recharge = 34, "M_RECHARGE", "儲值";
    PostPay = 36, "AFP", "後付款";
    Cash = 37, "CASH", "現金";
    EasyWalletOnline = 38, "EASYWALLETON", "悠遊付線上付款";
    EasyWalletOffline = 39, "EASYWALLETOFF", "悠遊付線下付款";
    EasyCard = 40, "EASYCARD", "悠遊卡";
    IPass = 41, "IPASS", "一卡通";
    ICash = 42, "ICASH", "iCash";
    CvsBarcode = 43, "BARCODE", "超商條碼繳費";
    PxPayOffline = 46, "PXPAYOFF", "全支付線下付款";
    DirectDebitAbroad = 51, "DIRECTDEBIT_ABROAD", "定期扣款(國外信用卡)";
    PlusPayOnline = 52, "PLUSPAYON", "全盈支付線上付款";
    PlusPayOffline = 53, "PLUSPAYOFF", "全盈支付線下付款";
    PxPayOnline = 56, "PXPAYON", "全支付線上付款";
    Each = 0, "EACH", "eACH交易";
}

/// How a tool is paid, which decides its PayPage flow and its states (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolFamily {
    /// The consumer types a card on the PayPage (or a wallet hands one over).
    Card,
    /// Recurring card charges (their own issue).
    Recurring,
    /// A code or barcode paid later at a convenience store.
    Counter,
    /// A virtual bank account paid later at an ATM.
    VirtualAccount,
    /// WebATM and stored value: paid online, confirmed later (`280`).
    OnlineTransfer,
    /// A wallet the consumer scans or confirms online.
    WalletOnline,
    /// A wallet barcode the merchant scans (`transaction_type` 2).
    WalletOffline,
    /// Post-pay, cardless instalments, cash, eACH: their own flows.
    Other,
}

impl PaymentTool {
    pub fn family(self) -> ToolFamily {
        use PaymentTool::*;
        match self {
            CreditCard | UnionPay | Abroad | ApplePay | GooglePay | CardInstallment
            | CardRedeem | Amex => ToolFamily::Card,
            DirectDebit | DirectDebitAbroad => ToolFamily::Recurring,
            CvsCode | CvsBarcode => ToolFamily::Counter,
            VirtualAccount => ToolFamily::VirtualAccount,
            WebAtm | Recharge | Each => ToolFamily::OnlineTransfer,
            Alipay | WeChat | LinePayOnline | PiOnline | JkoOnline | EasyWalletOnline
            | PxPayOnline | PlusPayOnline => ToolFamily::WalletOnline,
            LinePayOffline | WeChatOffline | PiOffline | JkoOffline | AlipayOffline
            | EasyWalletOffline | EasyCard | IPass | ICash | PxPayOffline | PlusPayOffline => {
                ToolFamily::WalletOffline
            }
            Cardless | PostPay | Cash => ToolFamily::Other,
        }
    }

    /// Whether a refund through `api/refund` completes at once (`230` in the answer) or
    /// waits for the nightly batch. The document's list (交易退款): credit card, AMEX,
    /// LINE Pay, Pi, JKO, WeChat Pay, Alipay, 悠遊付, cash, Google Pay, Apple Pay; the other
    /// card tools (foreign cards, UnionPay, instalments, bonus points) are card charges too.
    pub fn refunds_in_real_time(self) -> bool {
        use PaymentTool::*;
        self.family() == ToolFamily::Card
            || matches!(
                self,
                LinePayOnline
                    | LinePayOffline
                    | PiOnline
                    | PiOffline
                    | JkoOnline
                    | JkoOffline
                    | WeChat
                    | WeChatOffline
                    | Alipay
                    | AlipayOffline
                    | EasyWalletOnline
                    | EasyWalletOffline
                    | Cash
            )
    }

    /// Whether a refund is paid back by hand in cash (`refund_type` 3, with an
    /// `expected_refund_date`): the consumer paid at a counter or by bank transfer.
    pub fn refunds_in_cash(self) -> bool {
        matches!(
            self.family(),
            ToolFamily::Counter | ToolFamily::VirtualAccount | ToolFamily::OnlineTransfer
        )
    }

    /// The tools of 『付款方式』 `MobilePayAll`: 支付寶、Pi 拍錢包、LINEPay、微信、街口支付、悠遊付.
    pub fn is_mobile_pay(self) -> bool {
        use PaymentTool::*;
        matches!(
            self,
            Alipay | PiOnline | LinePayOnline | WeChat | JkoOnline | EasyWalletOnline
        )
    }

    /// Read a tool by number (`"27"`) or code (`"PION"`, case-insensitive).
    pub fn parse(text: &str) -> Option<PaymentTool> {
        let t = text.trim();
        if let Ok(n) = t.parse::<u32>() {
            return PaymentTool::ALL
                .iter()
                .copied()
                .find(|p| p.number() == Some(n));
        }
        let upper = t.to_ascii_uppercase();
        match upper.as_str() {
            "JKOOF" => Some(PaymentTool::JkoOffline),
            code => PaymentTool::ALL.iter().copied().find(|p| p.code() == code),
        }
    }
}

/// Serialized as its code; read from a number or a code.
impl serde::Serialize for PaymentTool {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for PaymentTool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = crate::lenient::string(d)?;
        PaymentTool::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a payment tool of 附錄一"))
        })
    }
}

impl fmt::Display for PaymentTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The order's `pfn` (預選付費方法): which tools the PayPage offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preselection {
    /// `all`, `0` or absent: every tool the merchant has enabled.
    All,
    /// `MobilePayAll`: the online mobile wallets.
    MobilePay,
    /// One named tool.
    Tool(PaymentTool),
}

impl Preselection {
    /// `None` when the text names no tool. The samples send `"0"`, which means "all".
    pub fn parse(text: Option<&str>) -> Option<Preselection> {
        let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Some(Preselection::All);
        };
        if t == "0" || t.eq_ignore_ascii_case("all") {
            return Some(Preselection::All);
        }
        if t.eq_ignore_ascii_case("MobilePayAll") {
            return Some(Preselection::MobilePay);
        }
        PaymentTool::parse(t).map(Preselection::Tool)
    }

    pub fn allows(self, tool: PaymentTool) -> bool {
        match self {
            // Recurring billing needs terms an order for any tool does not carry: it is
            // offered only when the order names it.
            Preselection::All => tool.family() != ToolFamily::Recurring,
            Preselection::MobilePay => tool.is_mobile_pay(),
            Preselection::Tool(t) => t == tool,
        }
    }

    /// The text stored and echoed for this preselection.
    pub fn as_text(self) -> &'static str {
        match self {
            Preselection::All => "all",
            Preselection::MobilePay => "MobilePayAll",
            Preselection::Tool(t) => t.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_codes_name_the_same_tool() {
        assert_eq!(PaymentTool::parse("27"), Some(PaymentTool::PiOnline));
        assert_eq!(PaymentTool::parse("PION"), Some(PaymentTool::PiOnline));
        assert_eq!(PaymentTool::parse("pion"), Some(PaymentTool::PiOnline));
        for tool in PaymentTool::ALL {
            if let Some(n) = tool.number() {
                assert_eq!(PaymentTool::parse(&n.to_string()), Some(*tool));
            }
            assert_eq!(PaymentTool::parse(tool.code()), Some(*tool));
        }
    }

    #[test]
    fn the_documents_quirks_are_accepted() {
        assert_eq!(PaymentTool::parse("13"), Some(PaymentTool::WeChat));
        assert_eq!(PaymentTool::parse("WECHAT"), Some(PaymentTool::WeChat));
        assert_eq!(PaymentTool::parse("JKOOF"), Some(PaymentTool::JkoOffline));
        assert_eq!(PaymentTool::parse("JKOOFF"), Some(PaymentTool::JkoOffline));
    }

    #[test]
    fn unknown_tools_are_rejected() {
        assert_eq!(PaymentTool::parse("2"), None);
        assert_eq!(PaymentTool::parse("BITCOIN"), None);
        assert_eq!(Preselection::parse(Some("BITCOIN")), None);
    }

    #[test]
    fn zero_and_all_mean_every_tool() {
        assert_eq!(Preselection::parse(Some("0")), Some(Preselection::All));
        assert_eq!(Preselection::parse(Some("all")), Some(Preselection::All));
        assert_eq!(Preselection::parse(None), Some(Preselection::All));
        assert!(Preselection::MobilePay.allows(PaymentTool::LinePayOnline));
        assert!(!Preselection::MobilePay.allows(PaymentTool::CreditCard));
    }
}

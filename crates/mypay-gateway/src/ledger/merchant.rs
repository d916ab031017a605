//! A merchant (特約商店) and its settings: enabled tools with amount limits and
//! suppliers, notification URLs (交易回傳設定, 附錄三), redirect defaults.

use mypay_protocol::PaymentTool;
use mypay_protocol::notice::NoticeKind;
use serde::{Deserialize, Serialize};

/// The document's sample merchant, present on first start (SPEC §1).
pub const SAMPLE_STORE_UID: &str = "289151880002";
pub const SAMPLE_STORE_KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";
/// The document's sample dealer (`002_df74ba90e47d4e11.txt`), whose store is the sample
/// merchant.
pub const SAMPLE_AGENT_UID: &str = "518169081001";
pub const SAMPLE_AGENT_KEY: &str = "2MrhtRYeF9wKZ4bKwzZoL8aZf26pWzIG";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSetting {
    /// Stored as its 附錄一 code.
    pub tool: PaymentTool,
    pub min_amount: i64,
    pub max_amount: i64,
    /// 『金流供應商代碼』 of the supplier that handles this tool for the merchant.
    pub supplier: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyUrls {
    #[serde(default)]
    pub completed: Option<String>,
    #[serde(default)]
    pub non_real_time: Option<String>,
    #[serde(default)]
    pub confirmation: Option<String>,
    /// Refund-complete notices (退款完成回傳資訊); when unset none are sent.
    #[serde(default)]
    pub refund: Option<String>,
    /// E-wallet notices (電子錢包虛擬卡號回傳資訊); when unset they go to `completed`.
    #[serde(default)]
    pub ewallet: Option<String>,
}

impl NotifyUrls {
    /// One URL for the three transaction notices (交易完成, 非即時, 訂單確認): what
    /// `--notify-url` and the sandbox's `notify_url` set.
    pub fn set_transaction_url(&mut self, url: &str) {
        for slot in [
            &mut self.completed,
            &mut self.non_real_time,
            &mut self.confirmation,
        ] {
            *slot = Some(url.to_owned());
        }
    }

    pub fn for_kind(&self, kind: NoticeKind) -> Option<&str> {
        match kind {
            NoticeKind::Completed => self.completed.as_deref(),
            NoticeKind::NonRealTime => self.non_real_time.as_deref(),
            NoticeKind::Confirmation => self.confirmation.as_deref(),
        }
        .filter(|u| !u.is_empty())
    }

    /// Where refund notices go: their own URL only. The document defines no refund
    /// notice, and a widely used client library reads any notice with an unknown `prc` on
    /// its payment URL as a failed payment, so none goes there.
    pub fn for_refunds(&self) -> Option<&str> {
        self.refund.as_deref().filter(|u| !u.is_empty())
    }

    /// Where e-wallet notices go: their own URL, else the 交易完成 one.
    pub fn for_ewallet(&self) -> Option<&str> {
        self.ewallet
            .as_deref()
            .filter(|u| !u.is_empty())
            .or_else(|| self.for_kind(NoticeKind::Completed))
    }
}

/// How transaction notices are retried (SPEC §6): 5 attempts, 5 minutes apart by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySchedule {
    pub attempts: i64,
    pub interval_secs: i64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            attempts: 5,
            interval_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantSettings {
    pub name: String,
    pub tools: Vec<ToolSetting>,
    #[serde(default)]
    pub notify: NotifyUrls,
    #[serde(default)]
    pub success_returl: Option<String>,
    #[serde(default)]
    pub failure_returl: Option<String>,
    /// When set, an `order_id` may be used once only (SPEC §4).
    #[serde(default)]
    pub strict_order_id: bool,
    #[serde(default)]
    pub notice_retry: RetrySchedule,
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Days after a failed recurring charge until its one retry (the document: 3).
    #[serde(default = "default_recurring_retry_days")]
    pub recurring_retry_days: i64,
    #[serde(default)]
    pub invoice: InvoiceSettings,
}

/// The merchant's e-invoice setup (`merchant set --invoice-…`); its word tracks are
/// registered per period with `merchant invoice-track`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSettings {
    /// The seller's 統一編號.
    #[serde(default)]
    pub seller_ban: Option<String>,
    /// The AES key of the left QR code's check code (32 hex digits, from the MOF).
    #[serde(default)]
    pub qr_key: Option<String>,
    /// `issue_invoice_state` 2 (依系統設定) issues an invoice.
    #[serde(default)]
    pub by_default: bool,
}

/// The sample merchant's seller BAN (the document's) and QR key, preset in the sandbox.
pub const SAMPLE_SELLER_BAN: &str = "28915188";
pub const SAMPLE_INVOICE_QR_KEY: &str = "4d595041594c494e4b53414e44424f58";

fn default_recurring_retry_days() -> i64 {
    3
}

impl MerchantSettings {
    /// Every tool of 附錄一 enabled, with the sandbox's limits (documented in the README).
    pub fn sandbox_defaults(name: &str) -> MerchantSettings {
        let tools = PaymentTool::ALL
            .iter()
            .map(|&tool| {
                let (min, max) = sandbox_limits(tool);
                ToolSetting {
                    tool,
                    min_amount: min,
                    max_amount: max,
                    supplier: default_supplier(tool).to_owned(),
                }
            })
            .collect();
        MerchantSettings {
            name: name.to_owned(),
            tools,
            notify: NotifyUrls::default(),
            success_returl: None,
            failure_returl: None,
            strict_order_id: false,
            notice_retry: RetrySchedule::default(),
            contact_email: Some("tech@example.com".to_owned()),
            recurring_retry_days: default_recurring_retry_days(),
            invoice: InvoiceSettings::default(),
        }
    }

    /// A merchant with no tool enabled (production: the operator enables each with its
    /// limits and supplier) and no contact yet.
    pub fn without_tools(name: &str) -> MerchantSettings {
        MerchantSettings {
            tools: Vec::new(),
            contact_email: None,
            ..MerchantSettings::sandbox_defaults(name)
        }
    }

    /// The merchant's setting for `tool`, if enabled.
    pub fn tool(&self, tool: PaymentTool) -> Option<&ToolSetting> {
        self.usable().find(|t| t.tool == tool)
    }

    /// The enabled tools.
    pub fn usable(&self) -> impl Iterator<Item = &ToolSetting> {
        self.tools.iter()
    }

    /// The enabled tools whose limits admit `amount`, in 附錄一 order.
    pub fn tools_for_amount(&self, amount: i64) -> Vec<PaymentTool> {
        let mut tools: Vec<PaymentTool> = self
            .usable()
            .filter(|s| s.min_amount <= amount && amount <= s.max_amount)
            .map(|s| s.tool)
            .collect();
        tools.sort_unstable_by_key(|t| PaymentTool::ALL.iter().position(|x| x == t));
        tools.dedup();
        tools
    }
}

/// Convenience stores cap a code at 20,000 and take at least 30 (ibon/FamiPort practice);
/// other tools take 1 to 1,000,000 in the sandbox.
fn sandbox_limits(tool: PaymentTool) -> (i64, i64) {
    match tool {
        PaymentTool::CvsCode => (30, 20_000),
        PaymentTool::CvsBarcode => (20, 20_000),
        PaymentTool::WebAtm | PaymentTool::VirtualAccount => (1, 2_000_000),
        _ => (1, 1_000_000),
    }
}

/// The supplier (金流供應商代碼) a sandbox merchant uses per tool.
pub fn default_supplier(tool: PaymentTool) -> &'static str {
    use PaymentTool::*;
    match tool {
        CreditCard | Abroad | UnionPay | ApplePay | GooglePay | CardInstallment | CardRedeem
        | DirectDebit | DirectDebitAbroad | Amex => "T0",
        CvsCode => "S1",
        CvsBarcode => "S0",
        VirtualAccount | WebAtm => "B1",
        LinePayOnline | LinePayOffline => "W2",
        JkoOnline | JkoOffline => "W4",
        PiOnline | PiOffline => "W9",
        EasyWalletOnline | EasyWalletOffline | EasyCard => "W5",
        IPass => "W6",
        ICash => "W7",
        PxPayOnline | PxPayOffline | PlusPayOnline | PlusPayOffline => "W8",
        Cardless => "A1",
        PostPay => "A2",
        Alipay | AlipayOffline | WeChat | WeChatOffline => "T1",
        Recharge | Cash => "E0",
        // eACH debits go through the bank clearing house; the sandbox uses 永豐 as for ATM.
        Each => "B1",
    }
}

/// 『金流供應商代碼』 names.
pub fn supplier_name(code: &str) -> &'static str {
    match code {
        "A1" => "裕富數位資融",
        "A2" => "三環亞洲",
        "B0" => "新光銀行",
        "B1" => "永豐銀行",
        "B2" => "合作金庫",
        "B3" => "台北富邦",
        "B4" => "玉山銀行",
        "B5" => "台新銀行",
        "B6" => "聯合信用卡處理中心",
        "B7" => "台中商銀",
        "B8" => "中國信託商業銀行",
        "B9" => "上海商業儲蓄銀行",
        "BA" => "第一銀行",
        "BB" => "元大商業銀行",
        "BC" => "凱基銀行",
        "BD" => "國泰世華商業銀行",
        "BE" => "華泰商業銀行",
        "BF" => "兆豐銀行",
        "BG" => "環滙亞太",
        "S0" => "全網行銷股份有限公司(FamiPort)",
        "S1" => "安源資訊股份有限公司(ibon)",
        "S2" => "萊爾富國際股份有限公司(Hi-Life)",
        "T0" => "高鉅科技",
        "T1" => "藍新金流",
        "T2" => "統一客樂得(黑貓Pay)",
        "W0" => "統振",
        "W1" => "遊戲橘子數位",
        "W2" => "台灣連線(LINEPay)",
        "W3" => "博經",
        "W4" => "街口電子支付",
        "W5" => "悠遊卡",
        "W6" => "一卡通票證",
        "W7" => "iCash",
        "W8" => "全支付(PXPay plus)",
        "W9" => "拍付國際資訊(Pi錢包)",
        "E0" => "MYTIX",
        _ => "",
    }
}

/// A return URL (`success_returl`, `failure_returl`, the order's or the merchant's
/// default): `http` or `https` with a host, read by the standard URL parser. Anything
/// else (`javascript:`, `data:`) would run on the gateway's own origin when linked from
/// the result page.
pub fn check_return_url(text: &str) -> Result<(), String> {
    match url::Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(format!("{text:?} is not an http:// or https:// URL")),
    }
}

/// A change of a merchant's settings by its operator; only what is `Some` changes.
/// Field names are the settings' names (`merchant set --notify-url`, the sandbox's
/// `notify_url`).
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub name: Option<String>,
    /// One URL for the three transaction notices (交易完成, 非即時, 訂單確認).
    pub notify_url: Option<String>,
    pub completed_url: Option<String>,
    pub non_real_time_url: Option<String>,
    pub confirmation_url: Option<String>,
    pub refund_url: Option<String>,
    pub ewallet_url: Option<String>,
    pub success_returl: Option<String>,
    pub failure_returl: Option<String>,
    /// Enabled tools, by code or number (附錄一), each with the default limits and
    /// supplier.
    pub tools: Option<Vec<String>>,
    /// Enabled tools each with its limits and supplier (the admin API's form of
    /// `tools`); when both are given, this one wins.
    pub tool_settings: Option<Vec<ToolSetting>>,
    /// How transaction notices are retried.
    pub notice_retry: Option<RetrySchedule>,
    pub strict_order_id: Option<bool>,
    pub contact_email: Option<String>,
    pub recurring_retry_days: Option<i64>,
    pub invoice_ban: Option<String>,
    pub invoice_qr_key: Option<String>,
    pub invoice_by_default: Option<bool>,
}

/// A change refused: the setting named, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Refused {
    pub field: &'static str,
    pub problem: String,
}

fn refused(field: &'static str, problem: impl Into<String>) -> Refused {
    Refused {
        field,
        problem: problem.into(),
    }
}

/// The largest amount a tool's limit may name (NT$).
pub const MAX_TOOL_AMOUNT: i64 = 99_999_999;
/// Bounds of a merchant's notice retry schedule.
pub const MAX_NOTICE_ATTEMPTS: i64 = 20;
pub const MIN_NOTICE_INTERVAL_SECS: i64 = 10;
pub const MAX_NOTICE_INTERVAL_SECS: i64 = 86_400;

/// Days a failed recurring charge waits for its retry, at most.
pub const MAX_RECURRING_RETRY_DAYS: i64 = 365;

impl SettingsChange {
    /// Apply to `settings`, each value checked first: a refused change changes nothing.
    /// Notice URLs are judged by `policy` as far as they can be without resolving a name
    /// (names are judged at delivery). Returns each setting changed with its new value.
    pub fn apply(
        &self,
        settings: &mut MerchantSettings,
        policy: &crate::ledger::notify_url::NotifyPolicy,
    ) -> Result<Vec<(&'static str, String)>, Refused> {
        let mut next = settings.clone();
        let mut changed = Vec::new();
        let mut note = |field: &'static str, value: &str| changed.push((field, value.to_owned()));
        if let Some(name) = &self.name {
            let name = name.trim();
            if name.chars().count() > 100 || name.chars().any(char::is_control) {
                return Err(refused(
                    "name",
                    "at most 100 characters, none of them control characters",
                ));
            }
            next.name = name.to_owned();
            note("name", name);
        }
        let urls = [
            ("notify_url", &self.notify_url),
            ("completed_url", &self.completed_url),
            ("non_real_time_url", &self.non_real_time_url),
            ("confirmation_url", &self.confirmation_url),
            ("refund_url", &self.refund_url),
            ("ewallet_url", &self.ewallet_url),
        ];
        for (field, url) in urls {
            let Some(url) = url else { continue };
            let url = url.trim();
            if !url.is_empty() {
                policy.check(url).map_err(|e| refused(field, e))?;
            }
            let value = (!url.is_empty()).then(|| url.to_owned());
            let n = &mut next.notify;
            match field {
                "notify_url" => {
                    n.completed = value.clone();
                    n.non_real_time = value.clone();
                    n.confirmation = value;
                }
                "completed_url" => n.completed = value,
                "non_real_time_url" => n.non_real_time = value,
                "confirmation_url" => n.confirmation = value,
                "refund_url" => n.refund = value,
                _ => n.ewallet = value,
            }
            note(field, if url.is_empty() { "(none)" } else { url });
        }
        for (field, url, slot) in [
            (
                "success_returl",
                &self.success_returl,
                &mut next.success_returl,
            ),
            (
                "failure_returl",
                &self.failure_returl,
                &mut next.failure_returl,
            ),
        ] {
            let Some(url) = url else { continue };
            let url = url.trim();
            if url.is_empty() {
                *slot = None;
            } else {
                check_return_url(url).map_err(|e| refused(field, e))?;
                *slot = Some(url.to_owned());
            }
            note(field, if url.is_empty() { "(none)" } else { url });
        }
        if let Some(tools) = &self.tools {
            let mut chosen = Vec::new();
            for t in tools.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                chosen.push(
                    PaymentTool::parse(t).ok_or_else(|| {
                        refused("tools", format!("{t:?} is not a tool of 附錄一"))
                    })?,
                );
            }
            next.tools = MerchantSettings::sandbox_defaults("")
                .tools
                .into_iter()
                .filter(|ts| chosen.contains(&ts.tool))
                .collect();
            let codes: Vec<&str> = next.tools.iter().map(|t| t.tool.code()).collect();
            note("tools", &codes.join(","));
        }
        if let Some(tools) = &self.tool_settings {
            let mut seen = Vec::new();
            for t in tools {
                if seen.contains(&t.tool) {
                    return Err(refused(
                        "tools",
                        format!("{} is listed twice", t.tool.code()),
                    ));
                }
                seen.push(t.tool);
                if t.min_amount < 1 || t.max_amount < t.min_amount || t.max_amount > MAX_TOOL_AMOUNT
                {
                    return Err(refused(
                        "tools",
                        format!(
                            "{}: min_amount from 1 and max_amount from min_amount to {MAX_TOOL_AMOUNT}",
                            t.tool.code()
                        ),
                    ));
                }
                let supplier_ok = !t.supplier.is_empty()
                    && t.supplier.len() <= 20
                    && t.supplier
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !supplier_ok {
                    return Err(refused(
                        "tools",
                        format!(
                            "{}: supplier is 1 to 20 letters, digits or _",
                            t.tool.code()
                        ),
                    ));
                }
            }
            next.tools = tools.clone();
            let codes: Vec<String> = tools
                .iter()
                .map(|t| {
                    format!(
                        "{}({}–{}, {})",
                        t.tool.code(),
                        t.min_amount,
                        t.max_amount,
                        t.supplier
                    )
                })
                .collect();
            note("tools", &codes.join(","));
        }
        if let Some(retry) = self.notice_retry {
            if !(1..=MAX_NOTICE_ATTEMPTS).contains(&retry.attempts)
                || !(MIN_NOTICE_INTERVAL_SECS..=MAX_NOTICE_INTERVAL_SECS)
                    .contains(&retry.interval_secs)
            {
                return Err(refused(
                    "notice_retry",
                    format!(
                        "attempts from 1 to {MAX_NOTICE_ATTEMPTS}, interval_secs from \
                         {MIN_NOTICE_INTERVAL_SECS} to {MAX_NOTICE_INTERVAL_SECS}"
                    ),
                ));
            }
            next.notice_retry = retry;
            note(
                "notice_retry",
                &format!(
                    "{} attempts, {} s apart",
                    retry.attempts, retry.interval_secs
                ),
            );
        }
        if let Some(strict) = self.strict_order_id {
            next.strict_order_id = strict;
            note("strict_order_id", &strict.to_string());
        }
        if let Some(email) = &self.contact_email {
            let email = email.trim();
            let plausible = email.is_empty()
                || (email.len() <= 254
                    && email.split_once('@').is_some_and(|(local, host)| {
                        !local.is_empty() && host.contains('.') && !host.ends_with('.')
                    })
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control()));
            if !plausible {
                return Err(refused(
                    "contact_email",
                    format!("{email:?} is not an e-mail address"),
                ));
            }
            next.contact_email = (!email.is_empty()).then(|| email.to_owned());
            note(
                "contact_email",
                if email.is_empty() { "(none)" } else { email },
            );
        }
        if let Some(days) = self.recurring_retry_days {
            if !(1..=MAX_RECURRING_RETRY_DAYS).contains(&days) {
                return Err(refused(
                    "recurring_retry_days",
                    format!("a whole number of days from 1 to {MAX_RECURRING_RETRY_DAYS}"),
                ));
            }
            next.recurring_retry_days = days;
            note("recurring_retry_days", &days.to_string());
        }
        if let Some(ban) = &self.invoice_ban {
            if !crate::ledger::invoice::ban_valid(ban) {
                return Err(refused(
                    "invoice_ban",
                    format!("{ban:?} is not a valid 統一編號"),
                ));
            }
            next.invoice.seller_ban = Some(ban.clone());
            note("invoice_ban", ban);
        }
        if let Some(key) = &self.invoice_qr_key {
            if !crate::ledger::invoice::qr_key_valid(key) {
                return Err(refused("invoice_qr_key", "must be 32 hex digits"));
            }
            next.invoice.qr_key = Some(key.to_ascii_lowercase());
            note("invoice_qr_key", "(set)");
        }
        if let Some(on) = self.invoice_by_default {
            next.invoice.by_default = on;
            note("invoice_by_default", &on.to_string());
        }
        *settings = next;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::check_return_url;

    #[test]
    fn return_urls_are_http_or_https() {
        assert!(check_return_url("https://shop.example/thanks").is_ok());
        assert!(check_return_url("http://127.0.0.1:8000/back").is_ok());
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,x",
            "//shop.example",
            "shop.example",
        ] {
            assert!(check_return_url(bad).is_err(), "{bad}");
        }
    }
}

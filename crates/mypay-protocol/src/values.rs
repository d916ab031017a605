//! Small value tables of the document (『…』值內容) used across commands.

use serde::{Deserialize, Serialize};

/// 『幣別類型』: TWD (default) or CNY. Amounts are whole units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Currency {
    #[default]
    #[serde(rename = "TWD")]
    Twd,
    #[serde(rename = "CNY")]
    Cny,
}

impl Currency {
    pub fn parse(text: Option<&str>) -> Option<Currency> {
        match text.map(str::trim) {
            None | Some("") => Some(Currency::Twd),
            Some(t) if t.eq_ignore_ascii_case("TWD") => Some(Currency::Twd),
            Some(t) if t.eq_ignore_ascii_case("CNY") => Some(Currency::Cny),
            Some(_) => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Currency::Twd => "TWD",
            Currency::Cny => "CNY",
        }
    }
}

/// 『信用卡別類型』: the card brand reported as `card_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardType {
    Unknown = 0,
    Visa = 1,
    MasterCard = 2,
    Jcb = 3,
    Amex = 4,
}

impl CardType {
    pub fn from_code(code: i64) -> CardType {
        match code {
            1 => CardType::Visa,
            2 => CardType::MasterCard,
            3 => CardType::Jcb,
            4 => CardType::Amex,
            _ => CardType::Unknown,
        }
    }
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// 『交易類型定義』 (`trans_type`): 1 normal, 2 instalments, 3 bonus points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransType {
    Normal = 1,
    Installment = 2,
    Redeem = 3,
}

/// 『交易服務類型』 (`transaction_mode`): 0 not yet through a gateway, 1 代收代付, 2 特店模式.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionMode {
    NotYet = 0,
    Collection = 1,
    Merchant = 2,
}

/// 『分期類型定義』 (`regular`): the period of recurring charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regular {
    Weekly,
    Fortnightly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
    Once,
}

impl Regular {
    pub fn parse(text: &str) -> Option<Regular> {
        Some(match text.trim() {
            "W" => Regular::Weekly,
            "F" => Regular::Fortnightly,
            "M" => Regular::Monthly,
            "S" => Regular::Quarterly,
            "H" => Regular::HalfYearly,
            "A" => Regular::Yearly,
            "O" => Regular::Once,
            _ => return None,
        })
    }
    pub fn code(self) -> &'static str {
        match self {
            Regular::Weekly => "W",
            Regular::Fortnightly => "F",
            Regular::Monthly => "M",
            Regular::Quarterly => "S",
            Regular::HalfYearly => "H",
            Regular::Yearly => "A",
            Regular::Once => "O",
        }
    }
}

/// The PayPage languages (支援語系).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    ZhTw,
    ZhCn,
    En,
    Id,
}

impl Locale {
    pub const ALL: [Locale; 4] = [Locale::ZhTw, Locale::ZhCn, Locale::En, Locale::Id];

    pub fn parse(text: &str) -> Option<Locale> {
        Locale::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(text.trim()))
    }
    pub fn code(self) -> &'static str {
        match self {
            Locale::ZhTw => "zh-TW",
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
            Locale::Id => "id",
        }
    }
}

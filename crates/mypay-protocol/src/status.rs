//! Transaction status codes (附錄二), the `prc` of orders, notices and query records,
//! and the `code` of API answers.

use std::fmt;

/// A status code of 附錄二.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prc {
    /// 100 資料錯誤: the request was malformed.
    DataError,
    /// 200 資料正確: the order exists and awaits payment.
    Created,
    /// 220 取消成功.
    Cancelled,
    /// 230 退款成功.
    Refunded,
    /// 245 授權成功 (authorised, not yet captured).
    Authorised,
    /// 247 請款進行中 (capture sent to a batch acquirer).
    Capturing,
    /// 250 付款成功.
    Paid,
    /// 260 CVS code issued, awaiting payment.
    CvsIssued,
    /// 265 cardless instalments: order bound.
    CardlessBound,
    /// 270 virtual account issued, awaiting payment.
    VirtualAccountIssued,
    /// 275 cardless instalments: awaiting review.
    CardlessReview,
    /// 280 WebATM / stored value awaiting online payment.
    AwaitingOnline,
    /// 282 post-pay awaiting review.
    PostPayReview,
    /// 284 post-pay approved, awaiting capture.
    PostPayApproved,
    /// 290 paid, but the information differs (e.g. the amount).
    PaidMismatch,
    /// 300 交易失敗.
    Failed,
    /// 380 逾期交易: the payment deadline passed.
    Expired,
    /// 400 系統錯誤.
    SystemError,
    /// 600 結帳完成 (settled).
    Settled,
    /// A0001 交易待確認: the acquirer has not answered yet.
    Pending,
    /// A0002 放棄交易: the consumer abandoned the PayPage.
    Abandoned,
    /// B200 執行成功.
    Done,
    /// B500 執行失敗.
    NotDone,
}

impl Prc {
    pub const ALL: [Prc; 23] = [
        Prc::DataError,
        Prc::Created,
        Prc::Cancelled,
        Prc::Refunded,
        Prc::Authorised,
        Prc::Capturing,
        Prc::Paid,
        Prc::CvsIssued,
        Prc::CardlessBound,
        Prc::VirtualAccountIssued,
        Prc::CardlessReview,
        Prc::AwaitingOnline,
        Prc::PostPayReview,
        Prc::PostPayApproved,
        Prc::PaidMismatch,
        Prc::Failed,
        Prc::Expired,
        Prc::SystemError,
        Prc::Settled,
        Prc::Pending,
        Prc::Abandoned,
        Prc::Done,
        Prc::NotDone,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Prc::DataError => "100",
            Prc::Created => "200",
            Prc::Cancelled => "220",
            Prc::Refunded => "230",
            Prc::Authorised => "245",
            Prc::Capturing => "247",
            Prc::Paid => "250",
            Prc::CvsIssued => "260",
            Prc::CardlessBound => "265",
            Prc::VirtualAccountIssued => "270",
            Prc::CardlessReview => "275",
            Prc::AwaitingOnline => "280",
            Prc::PostPayReview => "282",
            Prc::PostPayApproved => "284",
            Prc::PaidMismatch => "290",
            Prc::Failed => "300",
            Prc::Expired => "380",
            Prc::SystemError => "400",
            Prc::Settled => "600",
            Prc::Pending => "A0001",
            Prc::Abandoned => "A0002",
            Prc::Done => "B200",
            Prc::NotDone => "B500",
        }
    }

    pub fn parse(code: &str) -> Option<Prc> {
        Prc::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The document's short description (狀態說明), used as `retmsg`/`msg`.
    pub fn description(self) -> &'static str {
        match self {
            Prc::DataError => "資料錯誤",
            Prc::Created => "資料正確",
            Prc::Cancelled => "取消成功",
            Prc::Refunded => "退款成功",
            Prc::Authorised => "授權成功",
            Prc::Capturing => "請款進行中",
            Prc::Paid => "付款成功",
            Prc::CvsIssued | Prc::VirtualAccountIssued | Prc::AwaitingOnline => {
                "交易成功 尚未付款完成"
            }
            Prc::CardlessBound => "訂單綁定",
            Prc::CardlessReview => "無卡分期-請等候審查通過",
            Prc::PostPayReview => "訂單成立待後付款審核確認 尚未付款完成",
            Prc::PostPayApproved => "訂單成立後付款待請款 尚未付款完成",
            Prc::PaidMismatch => "交易成功 但資訊不符",
            Prc::Failed => "交易失敗",
            Prc::Expired => "逾期交易",
            Prc::SystemError => "系統錯誤訊息",
            Prc::Settled => "結帳完成",
            Prc::Pending => "交易待確認",
            Prc::Abandoned => "放棄交易",
            Prc::Done => "執行成功",
            Prc::NotDone => "執行失敗",
        }
    }
}

impl fmt::Display for Prc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Prc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Prc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = crate::lenient::string(d)?;
        Prc::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown status code {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_to_itself() {
        for prc in Prc::ALL {
            assert_eq!(Prc::parse(prc.code()), Some(prc));
        }
        assert_eq!(Prc::parse("999"), None);
    }
}

//! Transaction notices (交易回傳): what the gateway POSTs to a merchant's notify URL, as
//! `application/x-www-form-urlencoded`, unencrypted. The merchant checks `uid` + `key`
//! against its own records and answers `8888`.
//!
//! The three kinds of the document (交易完成回傳資訊, 非即時交易回傳資訊,
//! 訂單確認回傳資訊) carry the same fields; they differ in when they are sent and to
//! which of the merchant's URLs.

use crate::outer::{percent_decode, percent_encode_into};

/// The answer that acknowledges a notice (white space around it is ignored).
pub const ACKNOWLEDGEMENT: &str = "8888";

/// Which of the document's notices this is; each has its own URL in the merchant settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// 交易完成回傳資訊: a real-time final result.
    Completed,
    /// 非即時交易回傳資訊: a pending state (a CVS code issued, …).
    NonRealTime,
    /// 訂單確認回傳資訊: a confirmation (`A0001` resolved, `600`, an admin query).
    Confirmation,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 3] = [
        NoticeKind::Completed,
        NoticeKind::NonRealTime,
        NoticeKind::Confirmation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Completed => "completed",
            NoticeKind::NonRealTime => "non_real_time",
            NoticeKind::Confirmation => "confirmation",
        }
    }

    pub fn parse(text: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

macro_rules! notice_fields {
    ($( $field:ident ),* $(,)?) => {
        /// The fields of 『交易完成回傳資訊』 (and of the other two kinds), all as text,
        /// as they travel in the form.
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct TransactionNotice {
            $( pub $field: String, )*
        }

        impl TransactionNotice {
            /// The field names in the document's order.
            pub const FIELDS: &'static [&'static str] = &[ $( stringify!($field), )* ];

            /// `(name, value)` pairs in the document's order.
            pub fn pairs(&self) -> Vec<(&'static str, &str)> {
                vec![ $( (stringify!($field), self.$field.as_str()), )* ]
            }

            fn slot(&mut self, name: &str) -> Option<&mut String> {
                match name {
                    $( stringify!($field) => Some(&mut self.$field), )*
                    _ => None,
                }
            }
        }
    };
}

notice_fields!(
    uid,
    key,
    prc,
    finishtime,
    cardno,
    acode,
    card_type,
    issuing_bank,
    issuing_bank_uid,
    is_agent_charge,
    transaction_mode,
    supplier_name,
    supplier_code,
    order_id,
    user_id,
    cost,
    currency,
    actual_cost,
    actual_currency,
    price,
    actual_price,
    recharge_code,
    love_cost,
    retmsg,
    pfn,
    trans_type,
    redeem,
    installment,
    payment_name,
    nois,
    group_id,
    bank_id,
    expired_date,
    result_type,
    result_content_type,
    result_content,
    echo_0,
    echo_1,
    echo_2,
    echo_3,
    echo_4,
);

impl TransactionNotice {
    /// The form body the gateway posts.
    pub fn to_form(&self) -> String {
        let mut out = String::with_capacity(1024);
        for (name, value) in self.pairs() {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            percent_encode_into(value, &mut out);
        }
        out
    }

    /// Read a posted notice (for merchants' receivers and tests). Unknown fields are ignored.
    pub fn from_form(body: &[u8]) -> TransactionNotice {
        let mut notice = TransactionNotice::default();
        for pair in body.split(|&b| b == b'&') {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = String::from_utf8_lossy(&percent_decode(name, true)).into_owned();
            if let Some(slot) = notice.slot(&name) {
                *slot = String::from_utf8_lossy(&percent_decode(value, true)).into_owned();
            }
        }
        notice
    }
}

/// 『電子錢包虛擬卡號回傳資訊』: a consumer bound a card to the merchant's e-wallet. It
/// carries no `uid`/`key`: the merchant matches it by `user_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EwalletNotice {
    pub pfn: String,
    /// The first 6 and last 4 digits.
    pub cardno: String,
    pub user_id: String,
    pub cellphone_code: String,
    pub cellphone: String,
    pub virtual_pan: String,
    /// `1` enabled, `0` disabled.
    pub enable: String,
}

impl EwalletNotice {
    pub const FIELDS: [&'static str; 7] = [
        "pfn",
        "cardno",
        "user_id",
        "cellphone_code",
        "cellphone",
        "virtual_pan",
        "enable",
    ];

    fn values(&self) -> [&str; 7] {
        [
            &self.pfn,
            &self.cardno,
            &self.user_id,
            &self.cellphone_code,
            &self.cellphone,
            &self.virtual_pan,
            &self.enable,
        ]
    }

    /// The form body the gateway posts, fields in the document's order.
    pub fn to_form(&self) -> String {
        let mut out = String::with_capacity(256);
        for (name, value) in Self::FIELDS.iter().zip(self.values()) {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            percent_encode_into(value, &mut out);
        }
        out
    }

    /// Read a posted e-wallet notice. Unknown fields are ignored.
    pub fn from_form(body: &[u8]) -> EwalletNotice {
        let mut notice = EwalletNotice::default();
        for pair in body.split(|&b| b == b'&') {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let value = String::from_utf8_lossy(&percent_decode(value, true)).into_owned();
            match &*percent_decode(name, true) {
                b"pfn" => notice.pfn = value,
                b"cardno" => notice.cardno = value,
                b"user_id" => notice.user_id = value,
                b"cellphone_code" => notice.cellphone_code = value,
                b"cellphone" => notice.cellphone = value,
                b"virtual_pan" => notice.virtual_pan = value,
                b"enable" => notice.enable = value,
                _ => {}
            }
        }
        notice
    }
}

/// Whether a merchant's reply body acknowledges the notice.
pub fn is_acknowledgement(body: &[u8]) -> bool {
    body.trim_ascii() == ACKNOWLEDGEMENT.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_through_its_form() {
        let notice = TransactionNotice {
            uid: "81127".into(),
            key: "af4e".into(),
            prc: "250".into(),
            retmsg: "付款成功 & more=yes".into(),
            echo_0: "a+b".into(),
            ..Default::default()
        };
        assert_eq!(
            TransactionNotice::from_form(notice.to_form().as_bytes()),
            notice
        );
    }

    #[test]
    fn the_form_has_every_field_of_the_document() {
        let form = TransactionNotice::default().to_form();
        for name in [
            "uid",
            "key",
            "prc",
            "finishtime",
            "cardno",
            "group_id",
            "echo_4",
        ] {
            assert!(form.contains(&format!("{name}=")), "{name} missing");
        }
        assert_eq!(TransactionNotice::FIELDS.len(), 41);
    }

    #[test]
    fn an_ewallet_notice_has_the_documents_fields_and_round_trips() {
        let notice = EwalletNotice {
            pfn: "CREDITCARD".into(),
            cardno: "493817******0003".into(),
            user_id: "phper".into(),
            cellphone_code: "886".into(),
            cellphone: "918123123".into(),
            virtual_pan: "9000000000000001".into(),
            enable: "1".into(),
        };
        let form = notice.to_form();
        assert!(
            form.starts_with("pfn=CREDITCARD&cardno=493817%2A%2A%2A%2A%2A%2A0003&user_id=phper"),
            "{form}"
        );
        assert_eq!(EwalletNotice::from_form(form.as_bytes()), notice);
    }

    #[test]
    fn only_8888_acknowledges() {
        assert!(is_acknowledgement(b"8888"));
        assert!(is_acknowledgement(b" 8888\r\n"));
        assert!(!is_acknowledgement(b"OK"));
        assert!(!is_acknowledgement(b"88888"));
    }
}

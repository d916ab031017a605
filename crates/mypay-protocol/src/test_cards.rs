//! The test cards: those of 附錄六 (with their documented expiry, CVC and 3-D Secure
//! password) and the outcome cards every simulation of an acquirer answers alike (the
//! gateway's sandbox, the reference acquirer, a merchant's SDK filling in a card).
//!
//! | card | outcome |
//! |---|---|
//! | every card of 附錄六, with its documented expiry and CVC | approved (3D cards ask for their documented password first) |
//! | a card of 附錄六 with another expiry or CVC | declined |
//! | `4000000000000002` | declined |
//! | `4000000000000010` | issuer unavailable |
//! | `4000000000000028` | pending with the acquirer, then paid |
//! | `4000000000000036` | pending with the acquirer, then failed |
//! | `4000000000000044` | paid with a different amount |
//! | any other card | approved, unless its expiry has passed |
//!
//! `5204247750001471` is listed by the document as both a success and a failure card; it
//! succeeds here.

pub const DECLINED_CARD: &str = "4000000000000002";
pub const UNAVAILABLE_CARD: &str = "4000000000000010";
pub const PENDING_THEN_PAID_CARD: &str = "4000000000000028";
pub const PENDING_THEN_FAILED_CARD: &str = "4000000000000036";
pub const AMOUNT_MISMATCH_CARD: &str = "4000000000000044";

/// A test card of 附錄六.
pub struct TestCard {
    pub pan: &'static str,
    /// `MMYY`; `None`: any expiry.
    pub expiry: Option<&'static str>,
    /// `None`: any CVC.
    pub cvc: Option<&'static str>,
    /// The 3-D Secure password, for 3D cards.
    pub password_3d: Option<&'static str>,
    pub label: &'static str,
}

pub const TEST_CARDS: &[TestCard] = &[
    TestCard {
        pan: "4938170130000003",
        expiry: Some("1228"),
        cvc: Some("985"),
        password_3d: Some("nccc1234"),
        label: "聯合信用卡中心 Visa (3D)",
    },
    TestCard {
        pan: "5430450100001219",
        expiry: Some("1218"),
        cvc: Some("214"),
        password_3d: Some("nccc1234"),
        label: "聯合信用卡中心 MasterCard (3D)",
    },
    TestCard {
        pan: "3560500100001218",
        expiry: Some("1218"),
        cvc: Some("023"),
        password_3d: Some("nccc1234"),
        label: "聯合信用卡中心 JCB (3D)",
    },
    TestCard {
        pan: "4058650600065507",
        expiry: Some("1022"),
        cvc: Some("395"),
        password_3d: None,
        label: "永豐銀行 Visa",
    },
    TestCard {
        pan: "5433760200078009",
        expiry: Some("1022"),
        cvc: Some("597"),
        password_3d: None,
        label: "永豐銀行 MasterCard",
    },
    TestCard {
        pan: "3566703300032801",
        expiry: Some("0922"),
        cvc: Some("033"),
        password_3d: None,
        label: "永豐銀行 / 高鉅 JCB",
    },
    TestCard {
        pan: "4003618704777729",
        expiry: None,
        cvc: None,
        password_3d: Some("1234567"),
        label: "中國信託 / 高鉅 Visa (3D)",
    },
    TestCard {
        pan: "4761120010000492",
        expiry: Some("1122"),
        cvc: Some("533"),
        password_3d: None,
        label: "高鉅 Visa",
    },
    TestCard {
        pan: "5204247750001471",
        expiry: Some("1122"),
        cvc: Some("111"),
        password_3d: None,
        label: "高鉅 MasterCard",
    },
    TestCard {
        pan: "4907060600015101",
        expiry: Some("1226"),
        cvc: Some("905"),
        password_3d: None,
        label: "凱基 Visa (醫療費/捐款)",
    },
    TestCard {
        pan: "4907100520417100",
        expiry: Some("0626"),
        cvc: Some("682"),
        password_3d: Some("123456"),
        label: "土銀/彰銀 Visa (3D)",
    },
    TestCard {
        pan: "5409740002370101",
        expiry: Some("0426"),
        cvc: Some("318"),
        password_3d: Some("123456"),
        label: "土銀/彰銀 MasterCard (3D)",
    },
    TestCard {
        pan: "3567150051398107",
        expiry: Some("1027"),
        cvc: Some("927"),
        password_3d: Some("123456"),
        label: "土銀/彰銀 JCB (3D)",
    },
];

/// How a simulated acquirer answers a charge of `pan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Approved,
    /// Declined, with the reason the consumer reads.
    Declined(&'static str),
    Unavailable,
    /// No answer at first; later paid (`true`) or failed.
    Pending {
        paid: bool,
    },
    /// Paid, but for `amount ± 1`.
    AmountMismatch,
    /// Approved once the consumer types `password` at the 3-D Secure step.
    Challenge {
        password: &'static str,
    },
}

pub const DECLINED: &str = "發卡行拒絕交易";

/// The outcome of charging `pan` (digits) with `expiry` (`MMYY`) and `cvc`, on a day in
/// `today` (year, month): a pure function, so asking again answers the same.
pub fn outcome(pan: &str, expiry: &str, cvc: &str, today: (i32, u32)) -> TestOutcome {
    match pan {
        DECLINED_CARD => return TestOutcome::Declined(DECLINED),
        UNAVAILABLE_CARD => return TestOutcome::Unavailable,
        PENDING_THEN_PAID_CARD => return TestOutcome::Pending { paid: true },
        PENDING_THEN_FAILED_CARD => return TestOutcome::Pending { paid: false },
        AMOUNT_MISMATCH_CARD => return TestOutcome::AmountMismatch,
        _ => {}
    }
    if let Some(test) = find(pan) {
        let expiry_ok = test.expiry.is_none_or(|e| e == expiry);
        let cvc_ok = test.cvc.is_none_or(|c| c == cvc);
        if !(expiry_ok && cvc_ok) {
            return TestOutcome::Declined("有效期限或安全碼錯誤");
        }
        return match test.password_3d {
            Some(password) => TestOutcome::Challenge { password },
            None => TestOutcome::Approved,
        };
    }
    let month: u32 = expiry.get(..2).and_then(|m| m.parse().ok()).unwrap_or(0);
    let year: i32 = expiry
        .get(2..4)
        .and_then(|y| y.parse::<i32>().ok())
        .map_or(0, |y| 2000 + y);
    if (year, month) < today {
        return TestOutcome::Declined("卡片已過期");
    }
    TestOutcome::Approved
}

/// The 附錄六 card numbered `pan`, if it is one.
pub fn find(pan: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|t| t.pan == pan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_cards_succeed_with_their_documented_data_even_if_expired() {
        let today = (2026, 11);
        assert_eq!(
            outcome("4058650600065507", "1022", "395", today),
            TestOutcome::Approved
        );
        assert!(matches!(
            outcome("4058650600065507", "1022", "396", today),
            TestOutcome::Declined(_)
        ));
        assert_eq!(
            outcome("4938170130000003", "1228", "985", today),
            TestOutcome::Challenge {
                password: "nccc1234"
            }
        );
    }

    #[test]
    fn outcome_cards_give_their_outcomes_and_others_their_expiry() {
        let today = (2026, 11);
        assert!(matches!(
            outcome(DECLINED_CARD, "1230", "123", today),
            TestOutcome::Declined(_)
        ));
        assert_eq!(
            outcome(UNAVAILABLE_CARD, "1230", "123", today),
            TestOutcome::Unavailable
        );
        assert_eq!(
            outcome(PENDING_THEN_FAILED_CARD, "1230", "123", today),
            TestOutcome::Pending { paid: false }
        );
        assert_eq!(
            outcome(AMOUNT_MISMATCH_CARD, "1230", "123", today),
            TestOutcome::AmountMismatch
        );
        assert_eq!(
            outcome("4111111111111111", "1230", "123", today),
            TestOutcome::Approved
        );
        assert!(matches!(
            outcome("4111111111111111", "1025", "123", today),
            TestOutcome::Declined(_)
        ));
        assert_eq!(
            outcome("4111111111111111", "1126", "123", today),
            TestOutcome::Approved
        );
    }
}

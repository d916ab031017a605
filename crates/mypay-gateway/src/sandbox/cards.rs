//! The sandbox acquirer: the test cards of 附錄六 and our own outcome cards (SPEC §4).
//!
//! | card | outcome |
//! |---|---|
//! | every card of 附錄六, with its documented expiry and CVC | approved (3D cards ask for their documented password first) |
//! | a card of 附錄六 with another expiry or CVC | declined (`300`) |
//! | `4000000000000002` | declined (`300`) |
//! | `4000000000000010` | issuer unavailable (`400`) |
//! | `4000000000000028` | pending with the acquirer (`A0001`), then paid (`250`) |
//! | `4000000000000036` | pending with the acquirer (`A0001`), then failed (`300`) |
//! | `4000000000000044` | paid with a different amount (`290`) |
//! | any other Luhn-valid number | approved, unless its expiry has passed (`300`) |
//!
//! `5204247750001471` is listed by the document as both a success and a failure card; it
//! succeeds here.

use crate::ledger::card::CardInput;
use crate::ledger::connector::{Answering, CardAcquirer, CardAnswer, CardCharge, StoredCardCharge};

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

/// A deterministic six-digit authorisation code for a transaction.
pub fn auth_code(uid: u64) -> String {
    format!(
        "{:06}",
        (uid.wrapping_mul(7919).wrapping_add(123_457)) % 1_000_000
    )
}

pub struct TestCardAcquirer;

impl CardAcquirer for TestCardAcquirer {
    fn charge<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        Box::pin(std::future::ready(self.answer(charge)))
    }

    fn verify<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        // A check answers like a charge (the test cards' rules, 3-D Secure included),
        // without its money.
        Box::pin(std::future::ready(self.answer(charge)))
    }

    fn store_card(&self, card: &CardInput) -> String {
        // The simulated acquirer keeps nothing but how the card behaves, in the token
        // itself: a stored card never needs its number again.
        let behaviour = match card.pan() {
            DECLINED_CARD | PENDING_THEN_FAILED_CARD => StoredBehaviour::Declines,
            UNAVAILABLE_CARD => StoredBehaviour::Unavailable,
            _ => StoredBehaviour::Approves,
        };
        format!(
            "sbx_{}_{}",
            behaviour.as_str(),
            crate::ledger::order::new_token()
        )
    }

    fn charge_stored<'a>(&'a self, charge: &'a StoredCardCharge<'a>) -> Answering<'a> {
        let behaviour = charge
            .token
            .strip_prefix("sbx_")
            .and_then(|rest| rest.split('_').next())
            .and_then(StoredBehaviour::parse);
        let answer = match (charge.forced_decline, behaviour) {
            (true, _) => CardAnswer::Declined {
                reason: "發卡行拒絕交易".into(),
            },
            (false, Some(StoredBehaviour::Approves)) => CardAnswer::Approved {
                acode: auth_code(charge.uid),
            },
            (false, Some(StoredBehaviour::Declines)) => CardAnswer::Declined {
                reason: "發卡行拒絕交易".into(),
            },
            (false, Some(StoredBehaviour::Unavailable)) => CardAnswer::Unavailable,
            (false, None) => CardAnswer::Declined {
                reason: "卡片代碼無效".into(),
            },
        };
        Box::pin(std::future::ready(answer))
    }

    fn approval_code(&self, uid: u64) -> String {
        auth_code(uid)
    }
}

/// How a stored test card answers later charges: the declining and failing test cards
/// keep failing; every other card is approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredBehaviour {
    Approves,
    Declines,
    Unavailable,
}

impl StoredBehaviour {
    fn as_str(self) -> &'static str {
        match self {
            StoredBehaviour::Approves => "ok",
            StoredBehaviour::Declines => "declines",
            StoredBehaviour::Unavailable => "unavailable",
        }
    }

    fn parse(text: &str) -> Option<StoredBehaviour> {
        [
            StoredBehaviour::Approves,
            StoredBehaviour::Declines,
            StoredBehaviour::Unavailable,
        ]
        .into_iter()
        .find(|b| b.as_str() == text)
    }
}

impl TestCardAcquirer {
    /// The test card's outcome: a pure function of the card and the amount, so asking
    /// again with the same attempt gives the same answer.
    pub fn answer(&self, charge: &CardCharge<'_>) -> CardAnswer {
        let card = charge.card;
        let approved = CardAnswer::Approved {
            acode: auth_code(charge.uid),
        };
        match card.pan() {
            DECLINED_CARD => {
                return CardAnswer::Declined {
                    reason: "發卡行拒絕交易".into(),
                };
            }
            UNAVAILABLE_CARD => return CardAnswer::Unavailable,
            PENDING_THEN_PAID_CARD => {
                return CardAnswer::Pending {
                    resolves_paid: true,
                };
            }
            PENDING_THEN_FAILED_CARD => {
                return CardAnswer::Pending {
                    resolves_paid: false,
                };
            }
            AMOUNT_MISMATCH_CARD => {
                let actual_amount = if charge.amount > 1 {
                    charge.amount - 1
                } else {
                    charge.amount + 1
                };
                return CardAnswer::AmountMismatch {
                    acode: auth_code(charge.uid),
                    actual_amount,
                };
            }
            _ => {}
        }
        if let Some(test) = TEST_CARDS.iter().find(|t| t.pan == card.pan()) {
            let expiry_ok = test.expiry.is_none_or(|e| e == card.expiry());
            let cvc_ok = test.cvc.is_none_or(|c| c == card.cvc());
            if !(expiry_ok && cvc_ok) {
                return CardAnswer::Declined {
                    reason: "有效期限或安全碼錯誤".into(),
                };
            }
            return match test.password_3d {
                Some(password) => CardAnswer::ThreeDSecure {
                    password: password.to_owned(),
                    then: Box::new(approved),
                },
                None => approved,
            };
        }
        let (year, month) = card.expiry_year_month();
        if (year, month) < charge.today_year_month {
            return CardAnswer::Declined {
                reason: "卡片已過期".into(),
            };
        }
        approved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::card::{CardInput, luhn_valid};
    use mypay_protocol::PaymentTool;

    fn charge(pan: &str, expiry: &str, cvc: &str) -> CardAnswer {
        let card = CardInput::parse(pan, expiry, cvc).expect("valid form");
        TestCardAcquirer.answer(&CardCharge {
            uid: 1,
            attempt: "attempt-1",
            tool: PaymentTool::CreditCard,
            amount: 100,
            card: &card,
            today_year_month: (2026, 11),
        })
    }

    #[test]
    fn outcome_cards_are_luhn_valid() {
        for pan in [
            DECLINED_CARD,
            UNAVAILABLE_CARD,
            PENDING_THEN_PAID_CARD,
            PENDING_THEN_FAILED_CARD,
            AMOUNT_MISMATCH_CARD,
        ] {
            assert!(luhn_valid(pan), "{pan}");
        }
        for card in TEST_CARDS {
            assert!(luhn_valid(card.pan), "{}", card.pan);
        }
    }

    #[test]
    fn documented_cards_succeed_with_their_documented_data_even_if_expired() {
        assert!(matches!(
            charge("4058650600065507", "1022", "395"),
            CardAnswer::Approved { .. }
        ));
        assert!(matches!(
            charge("4058650600065507", "1022", "396"),
            CardAnswer::Declined { .. }
        ));
        match charge("4938170130000003", "1228", "985") {
            CardAnswer::ThreeDSecure { password, then } => {
                assert_eq!(password, "nccc1234");
                assert!(matches!(*then, CardAnswer::Approved { .. }));
            }
            other => panic!("expected a 3D step, got {other:?}"),
        }
    }

    #[test]
    fn outcome_cards_give_their_outcomes() {
        assert!(matches!(
            charge(DECLINED_CARD, "1230", "123"),
            CardAnswer::Declined { .. }
        ));
        assert_eq!(
            charge(UNAVAILABLE_CARD, "1230", "123"),
            CardAnswer::Unavailable
        );
        assert_eq!(
            charge(PENDING_THEN_PAID_CARD, "1230", "123"),
            CardAnswer::Pending {
                resolves_paid: true
            }
        );
        assert!(matches!(
            charge(AMOUNT_MISMATCH_CARD, "1230", "123"),
            CardAnswer::AmountMismatch {
                actual_amount: 99,
                ..
            }
        ));
    }

    #[test]
    fn other_cards_succeed_unless_expired() {
        assert!(matches!(
            charge("4111111111111111", "1230", "123"),
            CardAnswer::Approved { .. }
        ));
        assert!(matches!(
            charge("4111111111111111", "1025", "123"),
            CardAnswer::Declined { .. }
        ));
    }
}

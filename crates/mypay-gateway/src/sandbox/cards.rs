//! The sandbox acquirer: the test cards of 附錄六 and our own outcome cards (SPEC §4),
//! as [`mypay_protocol::test_cards`] lists them, answered in the gateway's terms.

use crate::ledger::card::CardInput;
use crate::ledger::connector::{
    Answering, CardAcquirer, CardAnswer, CardCharge, Keeping, Resolution, Resolving,
    StoredCardCharge,
};
use mypay_protocol::test_cards::{self, TestOutcome};
pub use mypay_protocol::test_cards::{
    AMOUNT_MISMATCH_CARD, DECLINED_CARD, PENDING_THEN_FAILED_CARD, PENDING_THEN_PAID_CARD,
    TEST_CARDS, TestCard, UNAVAILABLE_CARD,
};

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

    fn store_card<'a>(&'a self, card: &'a CardInput) -> Keeping<'a> {
        // The simulated acquirer keeps nothing but how the card behaves, in the token
        // itself: a stored card never needs its number again.
        let behaviour = match card.pan() {
            DECLINED_CARD | PENDING_THEN_FAILED_CARD => StoredBehaviour::Declines,
            UNAVAILABLE_CARD => StoredBehaviour::Unavailable,
            _ => StoredBehaviour::Approves,
        };
        Box::pin(std::future::ready(Some(format!(
            "sbx_{}_{}",
            behaviour.as_str(),
            crate::ledger::order::new_token()
        ))))
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

    fn status<'a>(&'a self, _reference: &'a str) -> Resolving<'a> {
        // The simulation's pending charges carry their outcome in their timer; nothing
        // it answers is ever unknown.
        Box::pin(std::future::ready(Resolution::NeverPerformed))
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
        match test_cards::outcome(
            card.pan(),
            card.expiry(),
            card.cvc(),
            charge.today_year_month,
        ) {
            TestOutcome::Approved => approved,
            TestOutcome::Declined(reason) => CardAnswer::Declined {
                reason: reason.into(),
            },
            TestOutcome::Unavailable => CardAnswer::Unavailable,
            TestOutcome::Pending { paid } => CardAnswer::Pending {
                resolves_paid: paid,
            },
            TestOutcome::AmountMismatch => CardAnswer::AmountMismatch {
                acode: auth_code(charge.uid),
                actual_amount: if charge.amount > 1 {
                    charge.amount - 1
                } else {
                    charge.amount + 1
                },
            },
            TestOutcome::Challenge { password } => CardAnswer::ThreeDSecure {
                password: password.to_owned(),
                then: Box::new(approved),
            },
        }
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
            capture: true,
            return_url: None,
            installments: None,
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

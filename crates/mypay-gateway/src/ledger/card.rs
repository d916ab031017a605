//! Card data as the PayPage receives it, and what may be kept of it.
//!
//! The full PAN and CVC live only in a [`CardInput`] for the duration of one request; it
//! has no `Debug`/`Display` that would print them, and what is stored is a
//! [`CardSummary`]: first 6 and last 4 digits, the brand from the BIN, the issuing bank
//! from a small BIN table.

use mypay_protocol::values::CardType;

/// A card as typed by the consumer. Never stored, never logged.
pub struct CardInput {
    pan: String,
    /// `MMYY`.
    expiry: String,
    cvc: String,
}

/// What is wrong with a card form, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardFormError {
    #[error("card_number must be 12 to 19 digits")]
    NumberFormat,
    #[error("card_number fails the Luhn check")]
    NumberChecksum,
    #[error("expiry must be MMYY with a month from 01 to 12")]
    Expiry,
    #[error("cvc must be 3 or 4 digits")]
    Cvc,
}

impl CardInput {
    /// Read the three form fields; spaces and dashes in the number are ignored.
    pub fn parse(number: &str, expiry: &str, cvc: &str) -> Result<CardInput, CardFormError> {
        let pan: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&pan.len()) || !pan.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardFormError::NumberFormat);
        }
        if !luhn_valid(&pan) {
            return Err(CardFormError::NumberChecksum);
        }
        let expiry: String = expiry.chars().filter(|c| c.is_ascii_digit()).collect();
        let month_ok = expiry.len() == 4
            && expiry[..2]
                .parse::<u32>()
                .is_ok_and(|m| (1..=12).contains(&m));
        if !month_ok {
            return Err(CardFormError::Expiry);
        }
        let cvc = cvc.trim().to_owned();
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardFormError::Cvc);
        }
        Ok(CardInput { pan, expiry, cvc })
    }

    pub fn pan(&self) -> &str {
        &self.pan
    }
    pub fn expiry(&self) -> &str {
        &self.expiry
    }
    pub fn cvc(&self) -> &str {
        &self.cvc
    }

    /// `(year, month)` of the expiry, the year as 20YY.
    pub fn expiry_year_month(&self) -> (i32, u32) {
        let month = self.expiry[..2].parse().unwrap_or(1);
        let year = 2000 + self.expiry[2..].parse::<i32>().unwrap_or(0);
        (year, month)
    }

    pub fn summary(&self) -> CardSummary {
        let (bank, bank_uid) = issuing_bank(&self.pan);
        CardSummary {
            masked: mask(&self.pan),
            card_type: card_type(&self.pan),
            issuing_bank: bank.to_owned(),
            issuing_bank_uid: bank_uid.to_owned(),
        }
    }
}

/// What the gateway keeps of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    /// `493817******0003`.
    pub masked: String,
    pub card_type: CardType,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
}

pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// First 6 and last 4 digits, the rest as `*`.
pub fn mask(pan: &str) -> String {
    let n = pan.len();
    if n < 10 {
        return "*".repeat(n);
    }
    format!("{}{}{}", &pan[..6], "*".repeat(n - 10), &pan[n - 4..])
}

/// The brand from the BIN: VISA 1, MasterCard 2, JCB 3, AMEX 4 (『信用卡別類型』).
pub fn card_type(pan: &str) -> CardType {
    let two: u32 = pan.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = pan.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    match () {
        _ if pan.starts_with('4') => CardType::Visa,
        _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => CardType::MasterCard,
        _ if (3528..=3589).contains(&four) => CardType::Jcb,
        _ if two == 34 || two == 37 => CardType::Amex,
        _ => CardType::Unknown,
    }
}

/// A small BIN table of Taiwanese issuers: the test cards of 附錄六 and a few common BINs.
/// Unknown BINs report no bank.
pub fn issuing_bank(pan: &str) -> (&'static str, &'static str) {
    const TABLE: &[(&str, &str, &str)] = &[
        ("493817", "合作金庫", "006"),
        ("543045", "合作金庫", "006"),
        ("356050", "合作金庫", "006"),
        ("405865", "永豐銀行", "807"),
        ("543376", "永豐銀行", "807"),
        ("356670", "永豐銀行", "807"),
        ("400361", "中國信託", "822"),
        ("476112", "國泰世華", "013"),
        ("520424", "台新銀行", "812"),
        ("490706", "凱基銀行", "809"),
        ("490710", "土地銀行", "005"),
        ("540974", "彰化銀行", "009"),
        ("356715", "土地銀行", "005"),
    ];
    TABLE
        .iter()
        .find(|(bin, _, _)| pan.starts_with(bin))
        .map_or(("", ""), |(_, bank, uid)| (*bank, *uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_test_cards_pass_luhn() {
        for pan in [
            "4938170130000003",
            "5430450100001219",
            "3560500100001218",
            "4058650600065507",
            "4003618704777729",
            "4761120010000492",
            "5204247750001471",
            "4907060600015101",
        ] {
            assert!(luhn_valid(pan), "{pan}");
        }
        assert!(!luhn_valid("4938170130000004"));
    }

    #[test]
    fn only_first_six_and_last_four_are_kept() {
        let card = CardInput::parse("4938 1701 3000 0003", "1228", "985").expect("valid");
        let s = card.summary();
        assert_eq!(s.masked, "493817******0003");
        assert_eq!(s.card_type, CardType::Visa);
        assert_eq!(s.issuing_bank, "合作金庫");
        assert_eq!(s.issuing_bank_uid, "006");
    }

    #[test]
    fn brands_come_from_the_bin() {
        assert_eq!(card_type("5430450100001219"), CardType::MasterCard);
        assert_eq!(card_type("3560500100001218"), CardType::Jcb);
        assert_eq!(card_type("378282246310005"), CardType::Amex);
        assert_eq!(card_type("6200000000000005"), CardType::Unknown);
    }

    #[test]
    fn bad_forms_name_the_field() {
        assert_eq!(
            CardInput::parse("4938170130000004", "1228", "985").err(),
            Some(CardFormError::NumberChecksum)
        );
        assert_eq!(
            CardInput::parse("49381701", "1228", "985").err(),
            Some(CardFormError::NumberFormat)
        );
        assert_eq!(
            CardInput::parse("4938170130000003", "1328", "985").err(),
            Some(CardFormError::Expiry)
        );
        assert_eq!(
            CardInput::parse("4938170130000003", "1228", "98").err(),
            Some(CardFormError::Cvc)
        );
    }
}

//! The PayPage's card form: its fields read from a posted form, the card checked field by
//! field (never a panic, never a card number in an error), the form token judged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_gateway::ledger::card::CardInput;
use mypay_gateway::tickets::Tickets;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let form: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match CardInput::parse(field("card_number"), field("expiry"), field("cvc")) {
        Ok(card) => {
            let _ = card.summary();
            let _ = card.expiry_year_month();
        }
        Err(e) => {
            // A number (12 digits or more, however spaced) is never repeated by an error.
            // Text that is no number may coincide with an error's own words ("NumberFormat").
            let said = format!("{e:?} {e}");
            let digits: String = field("card_number")
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            assert!(
                digits.len() < 12 || !said.contains(&digits),
                "an error must not repeat the card number"
            );
        }
    }
    let _ = mypay_protocol::PaymentTool::parse(field("pfn"));
    let tickets = Tickets::new([7; 32]);
    let _ = tickets.csrf_valid(1, field("nonce"), field("csrf"));
    let _ = tickets.open(field("ticket"));
});

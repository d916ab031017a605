//! Secrets in the consumer's URLs and forms, signed with the installation's secret
//! (HMAC-SHA256), so that nothing about them is stored per order and every node of one
//! installation agrees on them.
//!
//! - A **PayPage ticket** `<uid>-<token>` stands where the document's URL has the `uid`
//!   (`/payment/<uid>-<token>.html`): 128 bits that only the gateway can compute, so
//!   counting `uid`s finds no page. It is in the path, not a query string, because client
//!   libraries append `?locale=` to the URL. The order's `key` is not used: it is the
//!   merchant's secret for checking notices, and must not reach the consumer.
//! - A **CSRF token** binds a form to one order and to the browser's `mypay_csrf` cookie
//!   (a random nonce): a cookie and field an attacker chooses do not verify.

use crate::hex::{hex, unhex};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the ticket's token (128 bits).
const TOKEN_BYTES: usize = 16;

#[derive(Clone)]
pub struct Tickets {
    /// HMAC keyed with the installation's secret, its key pads already hashed: cloned
    /// for each use (a ticket is made for every order answered).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tickets(…)")
    }
}

impl Tickets {
    pub fn new(secret: [u8; 32]) -> Tickets {
        Tickets {
            // HMAC takes keys of any length, so this cannot fail.
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(&secret)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    fn mac(&self, purpose: &[u8], uid: u64, extra: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(purpose);
        mac.update(&uid.to_be_bytes());
        mac.update(extra);
        mac
    }

    /// The PayPage ticket of order `uid`.
    pub fn ticket(&self, uid: u64) -> String {
        self.ticket_for(b"paypage-ticket", uid)
    }

    /// The order a ticket names, if its token is right (compared in constant time).
    pub fn open(&self, ticket: &str) -> Option<u64> {
        self.open_for(b"paypage-ticket", ticket)
    }

    /// The e-wallet bind page's ticket of bind request `id` (a ticket of its own: an
    /// order's ticket never opens a bind page of the same number, nor the reverse).
    pub fn wallet_ticket(&self, id: u64) -> String {
        self.ticket_for(b"ewallet-ticket", id)
    }

    pub fn open_wallet(&self, ticket: &str) -> Option<u64> {
        self.open_for(b"ewallet-ticket", ticket)
    }

    /// The ticket of the invoice proof page of transaction `uid` (of its own purpose: a
    /// PayPage ticket does not open it, nor the reverse).
    pub fn invoice_ticket(&self, uid: u64) -> String {
        self.ticket_for(b"invoice-ticket", uid)
    }

    pub fn open_invoice(&self, ticket: &str) -> Option<u64> {
        self.open_for(b"invoice-ticket", ticket)
    }

    fn ticket_for(&self, purpose: &[u8], uid: u64) -> String {
        let tag = self.mac(purpose, uid, b"").finalize().into_bytes();
        format!("{uid}-{}", hex(&tag[..TOKEN_BYTES]))
    }

    fn open_for(&self, purpose: &[u8], ticket: &str) -> Option<u64> {
        let (uid, token) = ticket.split_once('-')?;
        if uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let uid: u64 = uid.parse().ok()?;
        let token = unhex(token)?;
        if token.len() != TOKEN_BYTES {
            return None;
        }
        self.mac(purpose, uid, b"")
            .verify_truncated_left(&token)
            .ok()?;
        Some(uid)
    }

    /// The CSRF token of forms of order `uid` in the browser whose cookie holds `nonce`.
    pub fn csrf(&self, uid: u64, nonce: &str) -> String {
        hex(&self
            .mac(b"csrf", uid, nonce.as_bytes())
            .finalize()
            .into_bytes())
    }

    /// Whether `field` is the CSRF token of order `uid` for the cookie `nonce`.
    pub fn csrf_valid(&self, uid: u64, nonce: &str, field: &str) -> bool {
        self.csrf_valid_for(b"csrf", uid, nonce, field)
    }

    /// The CSRF token of bind request `id`'s forms (never one of an order's).
    pub fn wallet_csrf(&self, id: u64, nonce: &str) -> String {
        hex(&self
            .mac(b"ewallet-csrf", id, nonce.as_bytes())
            .finalize()
            .into_bytes())
    }

    pub fn wallet_csrf_valid(&self, id: u64, nonce: &str, field: &str) -> bool {
        self.csrf_valid_for(b"ewallet-csrf", id, nonce, field)
    }

    fn csrf_valid_for(&self, purpose: &[u8], uid: u64, nonce: &str, field: &str) -> bool {
        match unhex(field) {
            Some(tag) if tag.len() == 32 => self
                .mac(purpose, uid, nonce.as_bytes())
                .verify_slice(&tag)
                .is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tickets;

    #[test]
    fn a_ticket_opens_only_for_its_order_and_secret() {
        let tickets = Tickets::new([7; 32]);
        let t = tickets.ticket(42);
        assert_eq!(tickets.open(&t), Some(42));
        let (_, token) = t.split_once('-').expect("dash");
        assert_eq!(token.len(), 32);
        assert_eq!(tickets.open(&format!("43-{token}")), None);
        assert_eq!(tickets.open("42"), None);
        assert_eq!(tickets.open("42-"), None);
        assert_eq!(tickets.open(&format!("42-{}", &token[..30])), None);
        assert_eq!(tickets.open(&format!("+42-{token}")), None);
        assert_eq!(Tickets::new([8; 32]).open(&t), None);
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            tickets.open(&String::from_utf8(flipped).expect("ascii")),
            None
        );
    }

    #[test]
    fn an_order_ticket_and_a_wallet_ticket_never_open_each_other() {
        let tickets = Tickets::new([7; 32]);
        assert_eq!(tickets.open_wallet(&tickets.wallet_ticket(5)), Some(5));
        assert_eq!(tickets.open_wallet(&tickets.ticket(5)), None);
        assert_eq!(tickets.open(&tickets.wallet_ticket(5)), None);
    }

    #[test]
    fn a_csrf_token_binds_the_order_and_the_cookie() {
        let tickets = Tickets::new([7; 32]);
        let token = tickets.csrf(42, "nonce-a");
        assert!(tickets.csrf_valid(42, "nonce-a", &token));
        assert!(!tickets.csrf_valid(43, "nonce-a", &token));
        assert!(!tickets.csrf_valid(42, "nonce-b", &token));
        assert!(!tickets.csrf_valid(42, "nonce-a", "nonce-a"));
        assert!(!tickets.csrf_valid(42, "", ""));
    }
}

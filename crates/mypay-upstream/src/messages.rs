//! The JSON of protocol v1: every request the gateway sends, every answer, every callback.
//! `docs/upstream-protocol.md` describes them for people; these types are what both ends
//! parse. Amounts are whole units of the currency (TWD has no minor unit), as in the
//! merchant API.
//!
//! Every request names the gateway's own `reference`; asked twice with one reference,
//! the upstream does the operation once and answers the same.

use serde::{Deserialize, Serialize};

/// The protocol's version, the first segment of every path.
pub const VERSION: &str = "v1";

/// The paths of v1, relative to an upstream's base URL.
pub mod paths {
    pub const CARD_CHARGES: &str = "/v1/cards/charges";
    pub const CARD_VERIFICATIONS: &str = "/v1/cards/verifications";
    pub const CARD_TOKENS: &str = "/v1/cards/tokens";
    pub const CAPTURES: &str = "/v1/captures";
    pub const VOIDS: &str = "/v1/voids";
    pub const REFUNDS: &str = "/v1/refunds";
    pub const COLLECTIONS: &str = "/v1/collections";
    pub const WALLETS: &str = "/v1/wallets";
    pub const APPLICATIONS: &str = "/v1/applications";
    /// `GET /v1/operations/{reference}`: the status of any operation.
    pub const OPERATIONS: &str = "/v1/operations";
}

/// A card as the consumer typed it. Sent once, to the upstream; the gateway keeps only
/// its masked number afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The card number, digits only.
    pub number: String,
    /// `MMYY`.
    pub expiry: String,
    pub cvc: String,
}

/// `POST /v1/cards/charges`: a sale or an authorisation, of a card typed now or of a
/// card the upstream keeps (`token`). Exactly one of `card` and `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardChargeRequest {
    pub reference: String,
    /// The MYPAY tool code (`CREDITCARD`, `C_INSTALLMENT`, …).
    pub tool: String,
    pub amount: i64,
    pub currency: String,
    /// `true`: a sale; `false`: an authorisation, captured later.
    pub capture: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Instalments asked for, when the tool is `C_INSTALLMENT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments: Option<u32>,
    /// Also keep the card and answer its `token` (quick checkout, recurring billing).
    #[serde(default)]
    pub store: bool,
    /// Where the consumer comes back to after a 3-D Secure challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// `POST /v1/cards/tokens`: keep a card for later charges without charging it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardTokenRequest {
    pub reference: String,
    pub card: Card,
}

/// How an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done: money moved (or was authorised, captured, refunded, issued).
    Approved,
    /// Refused; nothing moved.
    Declined,
    /// The consumer must pass a 3-D Secure challenge at `challenge_url` first.
    Challenge,
    /// Accepted; the outcome comes later, by callback (a review, a wallet, a batch).
    Pending,
    /// Issued and waiting to be paid (a pay-later code or account).
    Issued,
    /// A collection's deadline passed unpaid.
    Expired,
}

impl Status {
    /// No later answer changes it.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Approved | Status::Declined | Status::Expired)
    }
}

/// The answer to every operation, and the body of `GET /v1/operations/{reference}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub reference: String,
    /// `charge`, `authorize`, `verify`, `token`, `capture`, `void`, `refund`,
    /// `collection`, `wallet`, `application`.
    pub kind: String,
    pub status: Status,
    /// The amount the operation moved (for a charge, what the issuer approved; for a
    /// paid collection, what the consumer paid).
    #[serde(default)]
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_code: Option<String>,
    /// Why it was declined, in words the consumer may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Declined only because the issuer or the upstream could not be reached: the
    /// consumer may try again later (MYPAY's `400`), not a refusal of the card (`300`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_url: Option<String>,
    /// The kept card's token (`store`, `/v1/cards/tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A collection's payment details, once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<Collection>,
    /// A wallet payment's consumer step, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<WalletStep>,
}

/// `POST /v1/captures` (an authorisation, or an AFP application when shipped) and
/// `POST /v1/voids` (an authorisation released).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpRequest {
    pub reference: String,
    /// The charge or application this acts on.
    pub payment_reference: String,
    /// Captures only: how much (at most what was authorised); voids send 0.
    #[serde(default)]
    pub amount: i64,
}

/// `POST /v1/refunds`: any tool's payment refunded, in part or in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub reference: String,
    pub payment_reference: String,
    pub amount: i64,
    /// `true`: the upstream may queue it for its batch and answer `pending`, then call
    /// back `refund.completed`.
    #[serde(default)]
    pub batched: bool,
}

/// `POST /v1/collections`: a pay-later code or account for the consumer to pay by
/// `deadline` (CVS, BARCODE, VIRTUALACCOUNT, WEBATM, stored value, EACH).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRequest {
    pub reference: String,
    pub tool: String,
    pub amount: i64,
    pub currency: String,
    /// RFC 3339.
    pub deadline: String,
}

/// How a consumer pays a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// A convenience store's payment code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A bank's code and an account to transfer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The three barcodes of a payment slip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub barcodes: Vec<String>,
    /// RFC 3339.
    pub deadline: String,
}

/// `POST /v1/wallets`: an e-wallet payment started (online: the consumer is sent to
/// `redirect_url` or scans `qr_content`; in person: the consumer's `payment_code` is
/// charged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRequest {
    pub reference: String,
    pub tool: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_content: Option<String>,
}

/// `POST /v1/applications`: a post-pay (AFP) or cardless instalment (CARDLESS)
/// application sent for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRequest {
    pub reference: String,
    pub tool: String,
    pub amount: i64,
    pub currency: String,
    /// What the consumer declared (name, phone, …), as the PayPage collected it.
    #[serde(default)]
    pub applicant: serde_json::Map<String, serde_json::Value>,
}

/// A callback the upstream sends to `POST /upstream/{name}/callback`, signed: an
/// operation's outcome decided after its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// `charge.updated`, `collection.paid`, `collection.expired`, `wallet.updated`,
    /// `application.reviewed`, `refund.completed`: the `outcome`'s status says the rest.
    #[serde(rename = "type")]
    pub kind: String,
    pub outcome: Outcome,
}

/// An error answer (4xx): the request was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_reads_back_as_written() {
        let outcome = Outcome {
            reference: "r1".into(),
            kind: "charge".into(),
            status: Status::Challenge,
            amount: 100,
            approval_code: None,
            reason: None,
            retryable: false,
            challenge_url: Some("https://acq.example/challenge/1".into()),
            token: None,
            collection: None,
            wallet: None,
        };
        let text = serde_json::to_string(&outcome).expect("serialises");
        assert!(text.contains(r#""status":"challenge""#), "{text}");
        assert_eq!(
            serde_json::from_str::<Outcome>(&text).expect("parses"),
            outcome
        );
    }

    #[test]
    fn only_decided_statuses_are_final() {
        assert!(Status::Approved.is_final());
        assert!(Status::Declined.is_final());
        assert!(!Status::Pending.is_final());
        assert!(!Status::Challenge.is_final());
        assert!(!Status::Issued.is_final());
    }

    /// The OpenAPI document of `docs/` describes what these types and paths are.
    #[test]
    fn the_openapi_document_names_every_path_status_and_callback() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/upstream-protocol.openapi.json"))
                .expect("the OpenAPI document is JSON");
        for path in [
            paths::CARD_CHARGES,
            paths::CARD_VERIFICATIONS,
            paths::CARD_TOKENS,
            paths::CAPTURES,
            paths::VOIDS,
            paths::REFUNDS,
            paths::COLLECTIONS,
            paths::WALLETS,
            paths::APPLICATIONS,
        ] {
            assert!(doc["paths"][path]["post"].is_object(), "{path}");
        }
        assert!(doc["paths"]["/v1/operations/{reference}"]["get"].is_object());
        let statuses = &doc["components"]["schemas"]["Status"]["enum"];
        for status in [
            Status::Approved,
            Status::Declined,
            Status::Challenge,
            Status::Pending,
            Status::Issued,
            Status::Expired,
        ] {
            let name = serde_json::to_value(status).expect("a name");
            assert!(
                statuses.as_array().is_some_and(|a| a.contains(&name)),
                "{name}"
            );
        }
        let outcome = &doc["components"]["schemas"]["Outcome"]["properties"];
        let sample = serde_json::to_value(Outcome {
            reference: "r".into(),
            kind: "charge".into(),
            status: Status::Approved,
            amount: 1,
            approval_code: Some("1".into()),
            reason: Some("r".into()),
            retryable: true,
            challenge_url: Some("u".into()),
            token: Some("t".into()),
            collection: Some(Collection::default()),
            wallet: Some(WalletStep::default()),
        })
        .expect("an outcome");
        for field in sample.as_object().expect("an object").keys() {
            assert!(outcome[field].is_object(), "Outcome.{field} is documented");
        }
    }
}

//! The one interface between order logic and whoever moves the money: an acquirer, a
//! bank, a convenience-store network. The sandbox implements it with test cards; a real
//! connector can be added without touching the order logic.

use crate::ledger::card::CardInput;
use mypay_protocol::PaymentTool;

/// A card charge as the PayPage (or the sandbox helper) submits it.
pub struct CardCharge<'a> {
    pub uid: u64,
    /// The idempotency key of this payment attempt: an acquirer asked twice with one key
    /// charges once and gives the same answer.
    pub attempt: &'a str,
    pub tool: PaymentTool,
    pub amount: i64,
    pub card: &'a CardInput,
    /// The business date, to judge the expiry of cards that are not test cards.
    pub today_year_month: (i32, u32),
    /// A sale (`true`) or an authorisation, captured later.
    pub capture: bool,
    /// C_INSTALLMENT: how many instalments.
    pub installments: Option<u32>,
    /// Where the consumer comes back to after an upstream's 3-D Secure challenge.
    pub return_url: Option<String>,
}

/// A charge of a card the acquirer keeps (recurring billing): no consumer present.
pub struct StoredCardCharge<'a> {
    pub uid: u64,
    /// The idempotency key of this charge: asked again after a crash, the acquirer
    /// answers what it answered, and charges once.
    pub attempt: &'a str,
    pub tool: PaymentTool,
    pub amount: i64,
    /// The acquirer's token for the card.
    pub token: &'a str,
    /// Sandbox: this charge was asked to decline (`/sandbox/recurring/…/next-charge`).
    pub forced_decline: bool,
}

/// What an acquirer answers to a card charge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CardAnswer {
    /// Approved; `acode` is the authorisation code.
    Approved { acode: String },
    /// Declined by the issuer (`300`).
    Declined { reason: String },
    /// The issuer or acquirer is unavailable (`400`).
    Unavailable,
    /// No answer yet (`A0001`); it resolves later to paid or failed.
    Pending { resolves_paid: bool },
    /// Paid, but the amount the acquirer reports differs (`290`).
    AmountMismatch { acode: String, actual_amount: i64 },
    /// The card needs a 3-D Secure step first: `then` is the answer once the consumer
    /// has typed `password` (the test card's documented 3D password).
    ThreeDSecure {
        password: String,
        then: Box<CardAnswer>,
    },
    /// The card needs a 3-D Secure step at the upstream: the consumer is sent to `url`
    /// and comes back; the outcome is then asked by `reference` (or called back).
    Challenge { reference: String, url: String },
    /// The charge was sent and no answer came (a timeout, a dropped connection, a 5xx),
    /// or the upstream answered that it is still pending: its outcome is asked later by
    /// `reference`, never charged again blindly.
    Unknown { reference: String },
}

/// What an upstream says of an operation asked by its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Paid {
        acode: String,
        amount: i64,
    },
    Failed {
        reason: String,
    },
    /// Not decided yet, or the upstream could not be asked: ask again later.
    Unknown,
    /// The upstream never performed it (the request never arrived, or was refused).
    NeverPerformed,
}

/// The acquirer's answer, once it comes.
pub type Answering<'a> = std::pin::Pin<Box<dyn Future<Output = CardAnswer> + Send + 'a>>;
/// A card kept: the upstream's token, or `None` when it could not keep it now.
pub type Keeping<'a> = std::pin::Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;
pub type Resolving<'a> = std::pin::Pin<Box<dyn Future<Output = Resolution> + Send + 'a>>;

pub trait CardAcquirer: Send + Sync {
    /// Ask for one charge. The order has been claimed for this attempt before: two
    /// submissions racing never both get here.
    fn charge<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a>;

    /// Check a card for later charges without its consumer (a recurring series bound
    /// for a later first date): approved, declined, or a 3-D Secure step first.
    fn verify<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a>;

    /// Keep `card` for later charges: the acquirer's token for it, never the card.
    fn store_card<'a>(&'a self, card: &'a CardInput) -> Keeping<'a>;

    /// Charge a card kept with [`CardAcquirer::store_card`].
    fn charge_stored<'a>(&'a self, charge: &'a StoredCardCharge<'a>) -> Answering<'a>;

    /// The upstream's approval code for order `uid` when it confirms a payment outside
    /// a charge's answer: a pending charge it later confirmed, an e-wallet payment it
    /// relayed.
    fn approval_code(&self, uid: u64) -> String;

    /// How the operation sent with `reference` stands: for an answer that never came
    /// ([`CardAnswer::Unknown`]) and a challenge the consumer came back from.
    fn status<'a>(&'a self, reference: &'a str) -> Resolving<'a>;
}

/// Every movement of money that is not a card charge, as production asks its upstream
/// for it: pay-later collections, wallet payments, applications, and the follow-ups of
/// any payment. (The sandbox decides these with its own rules, in the core.)
#[derive(Debug, Clone)]
pub enum Movement {
    /// Issue a pay-later code or account, payable until `deadline`.
    Collect {
        reference: String,
        uid: u64,
        tool: PaymentTool,
        amount: i64,
        deadline: jiff::Timestamp,
    },
    /// Start a wallet payment: online (the consumer is sent or scans), or in person with
    /// the consumer's `payment_code`.
    Wallet {
        reference: String,
        uid: u64,
        tool: PaymentTool,
        amount: i64,
        payment_code: Option<String>,
    },
    /// Send a post-pay or cardless application for review, with what the consumer
    /// declared (the order's `shipping_info` or `user_data`).
    Apply {
        reference: String,
        uid: u64,
        tool: PaymentTool,
        amount: i64,
        applicant: serde_json::Map<String, serde_json::Value>,
    },
    /// Capture `amount` of transaction `uid`'s authorisation (or an AFP when shipped).
    Capture {
        reference: String,
        uid: u64,
        tool: PaymentTool,
        amount: i64,
    },
    /// Release transaction `uid`'s authorisation.
    Void {
        reference: String,
        uid: u64,
        tool: PaymentTool,
    },
    /// Refund `amount` of transaction `uid`'s payment; `batched`: the upstream may answer
    /// pending and call back when done.
    Refund {
        reference: String,
        uid: u64,
        tool: PaymentTool,
        amount: i64,
        batched: bool,
    },
}

/// How a consumer pays a collection, as its upstream issued it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionDetails {
    pub code: Option<String>,
    pub bank_code: Option<String>,
    pub account: Option<String>,
    pub barcodes: Vec<String>,
}

/// What an upstream did with a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// Done now.
    Done { amount: i64, acode: String },
    /// Accepted; the outcome comes later, by callback (a review, a wallet, a batch).
    Pending,
    /// A collection issued.
    Issued(CollectionDetails),
    /// A wallet payment started: where the consumer goes, or what they scan.
    Started {
        redirect_url: Option<String>,
        qr_content: Option<String>,
    },
}

/// Why a movement did not happen, or is not known to have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMoved {
    /// Refused (declined, or the request was refused): nothing moved.
    Refused(String),
    /// No answer came: asked again with the same reference, it is done once.
    Unknown,
}

pub type Moving<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Moved, NotMoved>> + Send + 'a>>;

pub trait Movements: Send + Sync {
    fn ask<'a>(&'a self, movement: &'a Movement) -> Moving<'a>;
}

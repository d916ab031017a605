//! The rows and changes the storage interface speaks in, the same for every backend.
//! Rows are decoded by column position through [`Columns`], so each row type has one
//! decoder whichever driver read it.

use super::{StoreError, StoreResult, timestamp};
use crate::ledger::merchant::MerchantSettings;
use jiff::Timestamp;
use mypay_protocol::Prc;
use serde::{Deserialize, Serialize};

/// Read access to a row's columns by position, implemented by each backend's row type.
pub(super) trait Columns {
    fn text(&self, column: usize) -> Result<String, StoreError>;
    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError>;
    fn int(&self, column: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError>;
}

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub uid: u64,
    pub store_uid: String,
    pub order_id: String,
    pub token: String,
    /// The normalised request JSON as stored (see [`OrderRow::stored_request`]).
    pub request: String,
    /// `request`, decoded on first use.
    pub decoded_request: std::sync::OnceLock<mypay_protocol::messages::OrderRequest>,
    pub pfn: String,
    pub cost: i64,
    pub currency: String,
    pub authorise_only: bool,
    pub prc: Prc,
    pub paid_pfn: Option<String>,
    pub cardno: Option<String>,
    pub card_type: Option<i64>,
    pub issuing_bank: Option<String>,
    pub issuing_bank_uid: Option<String>,
    pub acode: Option<String>,
    pub supplier_code: Option<String>,
    pub actual_cost: Option<i64>,
    pub retmsg: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Refunded or queued for refund (not cancelled), in the order's currency.
    pub refunded: i64,
    /// The amount captured from an authorisation (`api/authorizedrequestpayment`).
    pub captured: Option<i64>,
    /// Pay-later tools: the last moment to pay, and what the consumer was given.
    pub pay_deadline: Option<Timestamp>,
    pub result_content_type: Option<String>,
    pub result_content: Option<String>,
    pub bank_id: Option<String>,
    /// 『交易類型定義』: 1 normal, 2 instalments, 3 bonus points.
    pub trans_type: i64,
    pub installment: Option<String>,
    pub redeem: Option<String>,
    /// `YYYYMMDD` a settled (`600`) order is paid out.
    pub appropriation_date: Option<String>,
    /// The recurring series (定期定額) this transaction charges, and its period.
    pub group_id: Option<String>,
    pub nois: Option<i64>,
}

impl OrderRow {
    /// The columns [`OrderRow::from_row`] reads, in its order: select exactly these.
    pub(super) const COLUMNS: &'static str = "uid, store_uid, order_id, token, request, pfn, \
        cost, currency, authorise_only, prc, paid_pfn, cardno, card_type, issuing_bank, \
        issuing_bank_uid, acode, supplier_code, actual_cost, retmsg, created_at, updated_at, \
        finished_at, refunded, captured, pay_deadline, result_content_type, result_content, \
        bank_id, trans_type, installment, redeem, appropriation_date, group_id, nois";

    /// The order's request as the merchant sent it (normalised), decoded once per row
    /// read. A stored request that no longer decodes (written by a future version) reads
    /// as empty, and is logged.
    pub fn stored_request(&self) -> &mypay_protocol::messages::OrderRequest {
        self.decoded_request
            .get_or_init(|| match serde_json::from_str(&self.request) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(uid = self.uid, error = %e, "an order's stored request does not decode");
                    Default::default()
                }
            })
    }

    /// Decode a row of [`OrderRow::COLUMNS`]. By position: looking columns up by name
    /// was a visible part of a query's cost.
    pub(super) fn from_row(r: &impl Columns) -> StoreResult<OrderRow> {
        let prc = r.text(9)?;
        Ok(OrderRow {
            uid: r.int(0)? as u64,
            store_uid: r.text(1)?,
            order_id: r.text(2)?,
            token: r.text(3)?,
            request: r.text(4)?,
            decoded_request: std::sync::OnceLock::new(),
            pfn: r.text(5)?,
            cost: r.int(6)?,
            currency: r.text(7)?,
            authorise_only: r.int(8)? != 0,
            prc: Prc::parse(&prc).ok_or_else(|| StoreError::Corrupt(format!("prc {prc:?}")))?,
            paid_pfn: r.opt_text(10)?,
            cardno: r.opt_text(11)?,
            card_type: r.opt_int(12)?,
            issuing_bank: r.opt_text(13)?,
            issuing_bank_uid: r.opt_text(14)?,
            acode: r.opt_text(15)?,
            supplier_code: r.opt_text(16)?,
            actual_cost: r.opt_int(17)?,
            retmsg: r.text(18)?,
            created_at: timestamp(r.int(19)?),
            updated_at: timestamp(r.int(20)?),
            finished_at: r.opt_int(21)?.map(timestamp),
            refunded: r.int(22)?,
            captured: r.opt_int(23)?,
            pay_deadline: r.opt_int(24)?.map(timestamp),
            result_content_type: r.opt_text(25)?,
            result_content: r.opt_text(26)?,
            bank_id: r.opt_text(27)?,
            trans_type: r.int(28)?,
            installment: r.opt_text(29)?,
            redeem: r.opt_text(30)?,
            appropriation_date: r.opt_text(31)?,
            group_id: r.opt_text(32)?,
            nois: r.opt_int(33)?,
        })
    }
}

/// What a payment attempt learned, written with the state change.
#[derive(Debug, Clone, Default)]
pub struct PaymentFacts {
    pub paid_pfn: Option<String>,
    pub cardno: Option<String>,
    pub card_type: Option<i64>,
    pub issuing_bank: Option<String>,
    pub issuing_bank_uid: Option<String>,
    pub acode: Option<String>,
    pub supplier_code: Option<String>,
    pub actual_cost: Option<i64>,
    pub captured: Option<i64>,
    pub pay_deadline: Option<Timestamp>,
    pub result_content_type: Option<String>,
    pub result_content: Option<String>,
    pub bank_id: Option<String>,
    pub trans_type: Option<i64>,
    pub installment: Option<String>,
    pub redeem: Option<String>,
    pub appropriation_date: Option<String>,
    /// The recurring series and period the transaction charges.
    pub group_id: Option<String>,
    pub nois: Option<i64>,
}

/// A merchant's own clock as stored (`merchant_clocks`): its offset from the time base
/// and the latest instant it has shown, in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantClock {
    pub store_uid: String,
    pub offset_us: i64,
    pub high_water_us: i64,
}

#[derive(Debug, Clone)]
pub struct NewTimer {
    pub kind: String,
    /// On the clock of this merchant (its own, or the shared one).
    pub due_at: Timestamp,
    pub payload: String,
    /// The merchant whose work it is: whose clock it falls due on.
    pub store_uid: String,
}

#[derive(Debug, Clone)]
pub struct TimerRow {
    pub id: i64,
    pub kind: String,
    pub uid: u64,
    pub due_at: Timestamp,
    pub payload: String,
    /// The merchant whose clock it runs on (empty for timers stored before merchants had
    /// clocks of their own: the shared clock's).
    pub store_uid: String,
}

impl TimerRow {
    /// From `id, kind, uid, due_at, payload, store_uid`.
    pub(super) fn decode<R: Columns>(r: &R) -> StoreResult<TimerRow> {
        Ok(TimerRow {
            id: r.int(0)?,
            kind: r.text(1)?,
            uid: r.int(2)? as u64,
            due_at: timestamp(r.int(3)?),
            payload: r.text(4)?,
            store_uid: r.text(5)?,
        })
    }
}

/// One state change of one order.
#[derive(Debug, Clone)]
pub struct Transition {
    pub uid: u64,
    pub from: Prc,
    pub to: Prc,
    pub cause: String,
    pub retmsg: String,
    pub at: Timestamp,
    /// Whether this change is the order's final result (sets `finished_at`).
    pub finishes: bool,
    pub facts: PaymentFacts,
    pub notices: Vec<NewNotice>,
    pub timers: Vec<NewTimer>,
    /// A timer this change completes (the one that triggered it).
    pub completes_timer: Option<i64>,
    /// Records of money taken back that this change creates (a cancelled authorisation).
    pub reversals: Vec<NewReversal>,
    /// What this change writes of a recurring series.
    pub series: Option<SeriesWrite>,
}

/// A recurring series' part of a state change: the series a bound card starts, and the
/// timer of its next charge.
#[derive(Debug, Clone)]
pub struct SeriesWrite {
    pub series_uid: u64,
    /// The series this change starts (the order `series_uid` bound the card).
    pub create: Option<NewSeries>,
    /// The next charge's timer (its `uid` is the series').
    pub next_charge: Option<NewTimer>,
}

#[derive(Debug, Clone)]
pub struct NewSeries {
    pub store_uid: String,
    /// The series' id in notices and queries: the merchant's, or ours.
    pub group_id: String,
    /// The merchant's own id, or empty.
    pub store_group_id: String,
    pub tool: String,
    /// The acquirer's token for the card (never the PAN).
    pub card_token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
}

/// A stored series.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    /// The order that bound the card (period 1's transaction).
    pub uid: u64,
    pub store_uid: String,
    pub group_id: String,
    pub store_group_id: String,
    pub tool: String,
    pub card_token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
    /// `YYYYMMDD`: no charge on or after it.
    pub stop_date: Option<String>,
    pub stop_reason: String,
    pub decline_next: bool,
}

impl SeriesRow {
    pub(super) const COLUMNS: &'static str = "uid, store_uid, group_id, store_group_id, tool, \
        card_token, cardno, card_type, issuing_bank, issuing_bank_uid, stop_date, stop_reason, \
        decline_next";

    pub(super) fn from_row(r: &impl Columns) -> StoreResult<SeriesRow> {
        Ok(SeriesRow {
            uid: r.int(0)? as u64,
            store_uid: r.text(1)?,
            group_id: r.text(2)?,
            store_group_id: r.text(3)?,
            tool: r.text(4)?,
            card_token: r.text(5)?,
            cardno: r.text(6)?,
            card_type: r.int(7)?,
            issuing_bank: r.text(8)?,
            issuing_bank_uid: r.text(9)?,
            stop_date: r.opt_text(10)?,
            stop_reason: r.text(11)?,
            decline_next: r.int(12)? != 0,
        })
    }
}

/// What a charge of a series is about to pay: the series' own order (period 1 of a card
/// bound for a later date), or a new transaction.
#[derive(Debug, Clone)]
pub enum ChargeTarget {
    BoundOrder,
    /// A new transaction of the series' `order_id`, with this `key`, for `period`.
    NewTransaction {
        token: String,
    },
}

/// One charge of a series (period, attempt) as recorded before the acquirer is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesCharge {
    pub idempotency_key: String,
    /// The sandbox's "decline the next charge" was taken by this charge.
    pub forced_decline: bool,
    /// The transaction this charge pays.
    pub uid: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderEvent {
    pub from_prc: Option<String>,
    pub to_prc: String,
    pub at: String,
    pub cause: String,
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub uid: u64,
    pub pfn: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
    pub password: String,
    pub answer: String,
    pub failures: i64,
}

#[derive(Debug, Clone)]
pub struct NewNotice {
    pub uid: u64,
    /// Tells apart notices of one order with the same kind and state: the refund's
    /// `refund_uid` for refund notices, 0 for the order's own.
    pub ref_uid: u64,
    pub store_uid: String,
    pub kind: String,
    pub prc: String,
    pub url: String,
    pub body: String,
    pub max_attempts: i64,
    pub interval_secs: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeRow {
    pub id: i64,
    pub uid: u64,
    pub store_uid: String,
    pub kind: String,
    pub prc: String,
    pub url: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub interval_secs: i64,
    #[serde(serialize_with = "ser_time")]
    pub next_attempt_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
}

fn ser_time<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

/// The columns of a notice row, in the order [`NoticeRow::decode`] reads them.
/// The body lives in a table of its own: every attempt rewrites the notice's row, and a
/// row without its kilobyte of body is a tenth of the pages to write (and sync).
pub(super) const NOTICE_SELECT: &str = "SELECT n.id, n.uid, n.store_uid, n.kind, n.prc, n.url, b.body, n.status, \
     n.attempts, n.max_attempts, n.interval_secs, n.next_attempt_at, n.created_at \
     FROM notices n JOIN notice_bodies b ON b.notice_id = n.id";

impl NoticeRow {
    pub(super) fn decode(r: &impl Columns) -> StoreResult<NoticeRow> {
        Ok(NoticeRow {
            id: r.int(0)?,
            uid: r.int(1)? as u64,
            store_uid: r.text(2)?,
            kind: r.text(3)?,
            prc: r.text(4)?,
            url: r.text(5)?,
            body: r.text(6)?,
            status: r.text(7)?,
            attempts: r.int(8)?,
            max_attempts: r.int(9)?,
            interval_secs: r.int(10)?,
            next_attempt_at: timestamp(r.int(11)?),
            created_at: timestamp(r.int(12)?),
        })
    }

    /// When the attempt after this one is due: on the schedule of the first attempt
    /// (first, +interval, +2 × interval, …), never "an interval after whenever this one
    /// ran", so a clock jump runs every attempt that fell due, in order.
    pub fn next_scheduled(&self) -> Timestamp {
        self.next_attempt_at
            .checked_add(jiff::SignedDuration::from_secs(self.interval_secs.max(1)))
            .unwrap_or(Timestamp::MAX)
    }
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Due on the notice's schedule; its outcome moves the schedule on.
    Scheduled,
    /// Asked for (sandbox, dashboard): one extra attempt, now, that never shortens the
    /// schedule; its success ends it.
    Resend,
}

impl Trigger {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Resend => "resend",
        }
    }
}

/// One delivery attempt made, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The notice as it was claimed.
    pub notice: NoticeRow,
    pub trigger: Trigger,
    pub at: Timestamp,
    /// Where it was sent (the merchant's URL of the moment), or would have been.
    pub url: String,
    pub http_status: Option<i64>,
    pub reply: String,
    pub elapsed_ms: i64,
    pub acknowledged: bool,
    /// The alert to the technical contact when this was the last scheduled attempt and it
    /// failed: (to, subject, body).
    pub alert: Option<(String, String, String)>,
}

impl AttemptRecord {
    /// Whether this attempt leaves the notice finished without delivery.
    pub fn exhausts_schedule(&self) -> bool {
        self.trigger == Trigger::Scheduled
            && !self.acknowledged
            && self.notice.attempts + 1 >= self.notice.max_attempts
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeAttempt {
    pub attempt: i64,
    pub at: String,
    pub http_status: Option<i64>,
    pub reply: String,
    pub elapsed_ms: i64,
    pub outcome: String,
    /// `scheduled` or `resend`.
    pub trigger: String,
    pub url: String,
}

#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    pub store_uid: Option<String>,
    pub uid: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalKind {
    Refund,
    /// A cancelled authorisation (`cancel_order`).
    Cancel,
}

impl ReversalKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ReversalKind::Refund => "refund",
            ReversalKind::Cancel => "cancel",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewReversal {
    pub kind: ReversalKind,
    pub cost: i64,
    pub prc: Prc,
    pub retmsg: String,
    pub refund_type: i64,
    pub expected_refund_date: String,
    pub invoice_state: Option<i64>,
    /// The request's items, JSON.
    pub items: Option<String>,
    /// Whether it is complete at once (sets `finished_at`).
    pub finished: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReversalRow {
    /// `refund_uid` (or the cancellation's uid).
    pub id: u64,
    pub uid: u64,
    pub kind: ReversalKind,
    pub cost: i64,
    pub prc: Prc,
    pub retmsg: String,
    pub refund_type: i64,
    pub expected_refund_date: String,
    pub invoice_state: Option<i64>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl ReversalRow {
    /// The columns [`ReversalRow::from_row`] reads, in its order.
    pub(super) const COLUMNS: &'static str = "id, uid, kind, cost, prc, retmsg, refund_type, \
        expected_refund_date, invoice_state, created_at, finished_at";

    pub(super) fn from_row(r: &impl Columns) -> StoreResult<ReversalRow> {
        let prc = r.text(4)?;
        Ok(ReversalRow {
            id: r.int(0)? as u64,
            uid: r.int(1)? as u64,
            kind: if r.text(2)? == "cancel" {
                ReversalKind::Cancel
            } else {
                ReversalKind::Refund
            },
            cost: r.int(3)?,
            prc: Prc::parse(&prc).ok_or_else(|| StoreError::Corrupt(format!("prc {prc:?}")))?,
            retmsg: r.text(5)?,
            refund_type: r.int(6)?,
            expected_refund_date: r.text(7)?,
            invoice_state: r.opt_int(8)?,
            created_at: timestamp(r.int(9)?),
            finished_at: r.opt_int(10)?.map(timestamp),
        })
    }
}

/// What a refund writes besides its record, once its `refund_uid` is known.
pub struct RefundEffects {
    pub notice: Option<NewNotice>,
    pub timer: Option<NewTimer>,
}

#[derive(Debug, Clone)]
pub struct Merchant {
    pub store_uid: String,
    pub agent_uid: Option<String>,
    pub settings: MerchantSettings,
}

/// Whose key a request is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialOwner {
    Store,
    Agent,
    Client,
}

impl CredentialOwner {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CredentialOwner::Store => "store",
            CredentialOwner::Agent => "agent",
            CredentialOwner::Client => "client",
        }
    }
}

/// How long the old keys keep working after a rotation (SPEC §3).
pub const KEY_OVERLAP_DAYS: i64 = 7;

/// A merchant as `merchant list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MerchantSummary {
    pub store_uid: String,
    pub name: String,
    pub keys_valid_until: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: String,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
}

/// The answer for one new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new transaction.
    New { uid: u64, token: String },
    /// The same request while the first is still unpaid: the same transaction (a safe retry).
    Retry { uid: u64, token: String },
    /// The merchant requires unique `order_id`s and this one was used.
    DuplicateOrderId,
}

/// A new order as the store writes it: its columns, not the whole validated request
/// (which is large, and would be copied at every hand-off to a writer).
#[derive(Debug, Clone)]
pub struct NewOrderRow {
    pub store_uid: String,
    pub order_id: String,
    pub pfn: &'static str,
    pub cost: i64,
    pub currency: &'static str,
    pub authorise_only: bool,
    /// The normalised request, which tells a retry from a new request.
    pub request_json: String,
    /// Whether the merchant requires unique `order_id`s.
    pub strict: bool,
    /// The order's `key`.
    pub token: String,
    pub now: Timestamp,
}

impl NewOrderRow {
    pub fn new(
        order: crate::ledger::order::NewOrder,
        strict: bool,
        token: String,
        now: Timestamp,
    ) -> NewOrderRow {
        NewOrderRow {
            request_json: order.request_json(),
            pfn: order.preselection.as_text(),
            cost: order.cost,
            currency: order.currency.code(),
            authorise_only: order.authorise_only,
            store_uid: order.store_uid,
            order_id: order.order_id,
            strict,
            token,
            now,
        }
    }
}

/// Which due notices a delivery worker may take now.
#[derive(Debug, Clone, Default)]
pub struct NoticeClaim {
    /// Due at or before now on each merchant's clock.
    pub now: crate::clock::Reading,
    /// At most this many in all.
    pub limit: usize,
    /// How many more each merchant may have in flight; merchants not named may have
    /// [`NoticeClaim::default_room`].
    pub merchant_room: std::collections::HashMap<String, usize>,
    pub default_room: usize,
    /// Notices this process is delivering already (their attempt not yet recorded).
    pub leased: std::collections::HashSet<i64>,
    /// Orders with a notice in flight in this process: their next notice waits, so one
    /// order's notices arrive in order.
    pub busy_orders: std::collections::HashSet<u64>,
}

impl NoticeClaim {
    pub(super) fn room(&self, store_uid: &str) -> usize {
        self.merchant_room
            .get(store_uid)
            .copied()
            .unwrap_or(self.default_room)
    }
}

/// How much work is waiting, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Backlog {
    /// Notices with an attempt due now.
    pub notices_due: i64,
    /// The oldest due attempt's lateness, in seconds of the business clock.
    pub oldest_notice_secs: i64,
    /// Timers due now and not yet run.
    pub timers_due: i64,
    /// The oldest due timer's lateness, in seconds.
    pub oldest_timer_secs: i64,
}

/// Counts of what is stored, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub orders: i64,
    pub notices: i64,
    pub notice_attempts: i64,
    pub timers: i64,
    pub timers_open: i64,
    pub reversals: i64,
    pub emails: i64,
    pub challenges: i64,
}

/// The move a queued refund makes when the batch completes it (`true`) or the merchant
/// cancels it: from the queue's state to the table's next.
pub(super) fn refund_queue_move(completed: bool) -> StoreResult<(Prc, Prc)> {
    let from = Prc::Created;
    crate::ledger::state::refund_next(from, completed)
        .map(|to| (from, to))
        .ok_or_else(|| StoreError::Corrupt("the refund state table has no such move".into()))
}

/// A claim on an order's payment older than this (real time) was left by a process
/// that died mid-attempt, and may be taken over.
pub(super) const STALE_CHARGE_CLAIM: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// 32 fresh random bytes, hex-encoded: an installation secret if none is stored yet.
pub(super) fn fresh_secret() -> StoreResult<String> {
    let mut fresh = [0u8; 32];
    getrandom::getrandom(&mut fresh)
        .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
    Ok(crate::hex::hex(&fresh))
}

/// The stored installation secret, decoded.
pub(super) fn stored_secret(stored: Option<String>) -> StoreResult<[u8; 32]> {
    let stored =
        stored.ok_or_else(|| StoreError::Corrupt("the installation secret is missing".into()))?;
    crate::hex::unhex(&stored)
        .unwrap_or_default()
        .try_into()
        .map_err(|_| StoreError::Corrupt("the installation secret is malformed".into()))
}

/// Names of the installation's values.
pub(super) mod installation_keys {
    pub const SECRET: &str = "secret";
    pub const CLOCK_OFFSET: &str = "clock_offset_us";
    pub const CLOCK_HIGH_WATER: &str = "clock_high_water_us";
}

/// The latest transaction of an `order_id` when a new order names it again.
pub(super) struct LatestOrder<'a> {
    pub uid: u64,
    pub token: &'a str,
    pub request: &'a str,
    pub unpaid: bool,
}

impl LatestOrder<'_> {
    /// SPEC §4: the same request while the transaction is unpaid is that transaction (a
    /// safe retry); otherwise a merchant requiring unique ids is refused, and any other
    /// gets a new transaction (`None`).
    pub(super) fn reuse_for(&self, order: &NewOrderRow) -> Option<Created> {
        if self.unpaid && self.request == order.request_json {
            Some(Created::Retry {
                uid: self.uid,
                token: self.token.to_owned(),
            })
        } else if order.strict {
            Some(Created::DuplicateOrderId)
        } else {
            None
        }
    }
}

impl Backlog {
    /// From the counts and the earliest due instants (microseconds) a backend read.
    pub(super) fn from_parts(
        now: Timestamp,
        notices_due: i64,
        oldest_notice: Option<i64>,
        timers_due: i64,
        oldest_timer: Option<i64>,
    ) -> Backlog {
        let lag = |oldest: Option<i64>| {
            oldest.map_or(0, |us| (now.as_microsecond() - us).max(0) / 1_000_000)
        };
        Backlog {
            notices_due,
            oldest_notice_secs: lag(oldest_notice),
            timers_due,
            oldest_timer_secs: lag(oldest_timer),
        }
    }
}

/// `ledger::state::REFUNDABLE` as an SQL list of literals (`'250', '600', '290'`): the
/// refund guard checks the state table's own list.
pub(super) fn refundable_states() -> String {
    crate::ledger::state::REFUNDABLE
        .iter()
        .map(|p| format!("'{}'", p.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refund_guard_lists_the_state_tables_refundable_states() {
        assert_eq!(super::refundable_states(), "'250', '600', '290'");
    }
}

/// A bind request of the e-wallet (`api/ewalletbind`), as stored.
#[derive(Debug, Clone)]
pub struct WalletRow {
    pub id: u64,
    pub store_uid: String,
    pub user_id: String,
    pub pfn: String,
    pub request: String,
    pub status: WalletStatus,
    pub card: Option<StoredCard>,
    pub pending_password: Option<String>,
    pub otp_failures: i64,
    pub virtual_pan: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletStatus {
    Open,
    /// A 3-D Secure password is awaited.
    Challenged,
    Bound,
    Failed,
}

impl WalletStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WalletStatus::Open => "open",
            WalletStatus::Challenged => "challenged",
            WalletStatus::Bound => "bound",
            WalletStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<WalletStatus> {
        [
            WalletStatus::Open,
            WalletStatus::Challenged,
            WalletStatus::Bound,
            WalletStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A card as the acquirer keeps it: its token and what may be shown of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
}

impl WalletRow {
    pub(super) const COLUMNS: &'static str = "id, store_uid, user_id, pfn, request, status, \
        card_token, cardno, card_type, issuing_bank, issuing_bank_uid, pending_password, \
        otp_failures, virtual_pan, created_at";

    pub(super) fn from_row(r: &impl Columns) -> StoreResult<WalletRow> {
        let status = r.text(5)?;
        let card = match (r.opt_text(6)?, r.opt_text(7)?) {
            (Some(token), Some(cardno)) => Some(StoredCard {
                token,
                cardno,
                card_type: r.opt_int(8)?.unwrap_or(0),
                issuing_bank: r.opt_text(9)?.unwrap_or_default(),
                issuing_bank_uid: r.opt_text(10)?.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(WalletRow {
            id: r.int(0)? as u64,
            store_uid: r.text(1)?,
            user_id: r.text(2)?,
            pfn: r.text(3)?,
            request: r.text(4)?,
            status: WalletStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("wallet status {status:?}")))?,
            card,
            pending_password: r.opt_text(11)?,
            otp_failures: r.int(12)?,
            virtual_pan: r.opt_text(13)?,
            created_at: timestamp(r.int(14)?),
        })
    }
}

/// A merchant's word-track range for one period (`merchant invoice-track`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTrack {
    pub store_uid: String,
    /// `yyyMM` (ROC year, even month).
    pub period: String,
    pub track: String,
    pub first_number: i64,
    pub last_number: i64,
    /// The next number to give; past `last_number` when the range is used up.
    pub next_number: i64,
}

/// What an invoice says, as the queries answer it (stored whole, as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceFields {
    /// When it was issued, `YYYYMMDDHHmmss` (Taipei); empty until then.
    pub issued: String,
    pub wordtrack: String,
    /// 8 digits.
    pub number: String,
    pub rand_code: String,
    pub seller_ban: String,
    pub buyer_ban: String,
    pub left_qrcode: String,
    pub middle_barcode: String,
    pub right_qrcode: String,
    pub title_type: i64,
    pub title: String,
    pub print_type: i64,
    pub print_device: i64,
    pub amount: i64,
    pub sales_amount: i64,
    pub tax_amount: i64,
    pub order_detail: String,
    pub ratetype: i64,
    pub input_type: i64,
    pub cloud_type: String,
    pub mobile_code: String,
    pub tax_id: String,
    pub natural_person: String,
    pub love_code: String,
    pub b2b_title: String,
    pub b2b_id: String,
    pub b2b_post_zone: String,
    pub b2b_address: String,
    /// Why it is not issued (states 3 and 5).
    pub state_msg: String,
}

/// One invoice: of one transaction (`uid`), in one state of 『電子發票開立狀態類型』.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub uid: u64,
    pub store_uid: String,
    pub state: i64,
    /// `yyyMM`: the period it was issued in (voiding is allowed within it only).
    pub period: String,
    pub total: i64,
    /// The sum of its allowances.
    pub allowed: i64,
    pub fields: InvoiceFields,
    pub allowances: Vec<InvoiceAllowance>,
}

/// 『電子發票折讓資訊』: one allowance (折讓), made by a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceAllowance {
    /// The refund that made it.
    pub uid: u64,
    pub amount: i64,
    pub order_detail: String,
}

/// Builds an issued invoice's fields from its word track and number (8 digits).
pub type InvoiceFieldsFn = Box<dyn FnOnce(&str, &str) -> InvoiceFields + Send>;

/// An invoice to issue: its transaction, period and the fields of everything but the
/// number, which the store takes from the merchant's ranges in the same transaction.
pub struct NewInvoice {
    pub uid: u64,
    pub store_uid: String,
    pub period: String,
    pub total: i64,
    pub at: Timestamp,
    /// Builds the issued invoice's fields from its word track and 8 digits.
    pub build: InvoiceFieldsFn,
    /// The fields stored when no number is left (state 5).
    pub unnumbered: InvoiceFields,
}

/// How issuing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    Issued(InvoiceRow),
    /// The merchant has no number left for the period: stored as state 5.
    NoNumber(InvoiceRow),
    /// The transaction has an issued (or voided, or allowed) invoice already.
    Already(InvoiceRow),
}

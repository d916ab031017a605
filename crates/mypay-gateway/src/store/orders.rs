//! Orders: their rows, state changes, histories, payment claims and 3-D Secure steps.
//!
//! A state change is one transaction: the guarded `UPDATE … WHERE prc = from` (so two
//! racing requests cannot both move the order), its event row, the notices it owes, the
//! timers it starts, the refunds and series it writes. Either all of it is written or
//! none. (New orders and order lookups, the two hot paths, are each backend's own:
//! [`super::storage::OrderPath`].)

use super::notices::{self, NewNotice};
use super::recurring::{self, SeriesWrite};
use super::reversals::{self, NewReversal};
use super::sql::{Arg, Backend, Exec, Signal, Write, item_begin, item_done, refused_alone};
use super::storage::{OrderPath, Orders};
use super::timers::{self, NewTimer};
use super::{Columns, StoreError, StoreResult, micros, prc, timestamp};
use jiff::Timestamp;
use mypay_protocol::Prc;

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
            prc: prc(&r.text(9)?)?,
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

impl Transition {
    /// Whether it writes work another node may pick up.
    pub(super) fn writes_work(&self) -> bool {
        !self.notices.is_empty() || !self.timers.is_empty() || self.series.is_some()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderEvent {
    pub from_prc: Option<String>,
    pub to_prc: String,
    pub at: String,
    pub cause: String,
}

/// A 3-D Secure step under way: the acquirer's pending answer, never the card number.
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
    /// The consumer's id at the merchant (the back office searches by it).
    pub user_id: String,
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
            user_id: order.user_id.clone(),
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

/// A claim on an order's payment older than this (real time) was left by a process
/// that died mid-attempt, and may be taken over.
const STALE_CHARGE_CLAIM: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

const APPLY: &str = "UPDATE orders SET prc = $1, retmsg = $2, updated_at = $3,
        finished_at = CASE WHEN $4 THEN $3 ELSE finished_at END,
        paid_pfn = COALESCE($5, paid_pfn), cardno = COALESCE($6, cardno),
        card_last4 = COALESCE(SUBSTR($6, LENGTH($6) - 3), card_last4),
        card_type = COALESCE($7, card_type), issuing_bank = COALESCE($8, issuing_bank),
        issuing_bank_uid = COALESCE($9, issuing_bank_uid), acode = COALESCE($10, acode),
        supplier_code = COALESCE($11, supplier_code), actual_cost = COALESCE($12, actual_cost),
        captured = COALESCE($13, captured), pay_deadline = COALESCE($14, pay_deadline),
        result_content_type = COALESCE($15, result_content_type),
        result_content = COALESCE($16, result_content), bank_id = COALESCE($17, bank_id),
        trans_type = COALESCE($18, trans_type), installment = COALESCE($19, installment),
        redeem = COALESCE($20, redeem),
        appropriation_date = COALESCE($21, appropriation_date),
        group_id = COALESCE($22, group_id), nois = COALESCE($23, nois)
    WHERE uid = $24 AND prc = $25";

/// Apply state change `t` in the caller's transaction; [`StoreError::Conflict`] when the
/// order is no longer in `from` (before anything is written).
async fn apply_in(tx: &mut impl Write, t: &Transition) -> StoreResult<()> {
    let at = micros(t.at);
    let f = &t.facts;
    let args: [Arg<'_>; 25] = [
        t.to.code().into(),
        (&t.retmsg).into(),
        at.into(),
        t.finishes.into(),
        (&f.paid_pfn).into(),
        (&f.cardno).into(),
        f.card_type.into(),
        (&f.issuing_bank).into(),
        (&f.issuing_bank_uid).into(),
        (&f.acode).into(),
        (&f.supplier_code).into(),
        f.actual_cost.into(),
        f.captured.into(),
        f.pay_deadline.map(micros).into(),
        (&f.result_content_type).into(),
        (&f.result_content).into(),
        (&f.bank_id).into(),
        f.trans_type.into(),
        (&f.installment).into(),
        (&f.redeem).into(),
        (&f.appropriation_date).into(),
        (&f.group_id).into(),
        f.nois.into(),
        t.uid.into(),
        t.from.code().into(),
    ];
    if tx.execute(APPLY, &args).await? != 1 {
        return Err(StoreError::Conflict);
    }
    tx.execute(
        "INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES ($1, $2, $3, $4, $5)",
        &[
            t.uid.into(),
            t.from.code().into(),
            t.to.code().into(),
            at.into(),
            (&t.cause).into(),
        ],
    )
    .await?;
    for notice in &t.notices {
        notices::insert(tx, notice, t.at).await?;
    }
    for reversal in &t.reversals {
        reversals::insert(tx, t.uid, reversal, t.at).await?;
    }
    for timer in &t.timers {
        timers::insert(tx, t.uid, timer).await?;
    }
    if let Some(series) = &t.series {
        recurring::write_series(tx, series, t.at).await?;
    }
    if let Some(id) = t.completes_timer {
        timers::close(tx, id, t.at).await?;
    }
    tx.execute("DELETE FROM challenges WHERE uid = $1", &[t.uid.into()])
        .await?;
    if t.writes_work() {
        tx.signal(Signal::Work).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend + OrderPath> Orders for B {
    async fn order_uids(&self, store_uid: &str, order_id: &str) -> StoreResult<Vec<u64>> {
        let rows = self
            .fetch(
                "SELECT uid FROM orders WHERE store_uid = $1 AND order_id = $2 ORDER BY uid",
                &[store_uid.into(), order_id.into()],
            )
            .await?;
        rows.iter().map(|r| Ok(r.int(0)? as u64)).collect()
    }

    /// An order's history, oldest first, starting with its creation. New orders have no
    /// creation row in `order_events` (their row records it); orders created before that
    /// have one, and it is used as it is.
    async fn events(&self, uid: u64) -> StoreResult<Vec<OrderEvent>> {
        let rows = self
            .fetch(
                "SELECT from_prc, to_prc, at, cause FROM order_events WHERE uid = $1 ORDER BY id",
                &[uid.into()],
            )
            .await?;
        let recorded_creation = match rows.first() {
            Some(r) => r.opt_text(0)?.is_none(),
            None => false,
        };
        let mut events = Vec::with_capacity(rows.len() + 1);
        if !recorded_creation && let Some(order) = self.order(uid).await? {
            events.push(OrderEvent {
                from_prc: None,
                to_prc: Prc::Created.code().to_owned(),
                at: crate::clock::taipei::display(order.created_at),
                cause: "api/orders".to_owned(),
            });
        }
        for r in &rows {
            events.push(OrderEvent {
                from_prc: r.opt_text(0)?,
                to_prc: r.text(1)?,
                at: crate::clock::taipei::display(timestamp(r.int(2)?)),
                cause: r.text(3)?,
            });
        }
        Ok(events)
    }

    /// Apply one state change atomically; [`StoreError::Conflict`] when the order is no
    /// longer in `from`.
    async fn apply(&self, t: &Transition) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        apply_in(&mut tx, t).await?;
        tx.commit().await
    }

    /// Several state changes in one transaction (one commit), each applied or refused
    /// alone.
    async fn apply_each(&self, changes: &[Transition]) -> StoreResult<Vec<StoreResult<()>>> {
        if let [t] = changes {
            // Alone, a change needs no savepoint: refused, its transaction is not committed.
            return Ok(vec![refused_alone(self.apply(t).await)?]);
        }
        if B::WRITES_IN_BATCHES {
            let mut tx = self.begin().await?;
            match super::postgres::batched::apply_all(&mut tx, changes).await {
                Ok(Some(answers)) => {
                    tx.commit().await?;
                    return Ok(answers);
                }
                // Not a batch's shape, or a key taken meanwhile: the batch is rolled back
                // and each change is applied on its own below, with its own answer.
                Ok(None) | Err(StoreError::Duplicate) => drop(tx),
                Err(e) => return Err(e),
            }
        }
        let mut tx = self.begin().await?;
        let mut answers = Vec::with_capacity(changes.len());
        for t in changes {
            item_begin(&mut tx).await?;
            let done = apply_in(&mut tx, t).await;
            answers.push(item_done(&mut tx, done).await?);
        }
        tx.commit().await?;
        Ok(answers)
    }

    /// Claim order `uid`, still in state `prc`, for the payment attempt `attempt`: true
    /// when this attempt may ask the acquirer, false when another attempt holds the order
    /// (or its state moved on). `real_now` is the real time.
    async fn claim_charge(
        &self,
        uid: u64,
        prc: Prc,
        attempt: &str,
        real_now: Timestamp,
    ) -> StoreResult<bool> {
        let stale = real_now
            .checked_sub(STALE_CHARGE_CLAIM)
            .unwrap_or(Timestamp::MIN);
        let done = self
            .execute(
                "INSERT INTO charge_claims (uid, attempt, claimed_at)
                 SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS BIGINT)
                 WHERE EXISTS (SELECT 1 FROM orders WHERE uid = $1 AND prc = $4)
                 ON CONFLICT (uid) DO UPDATE SET attempt = excluded.attempt,
                     claimed_at = excluded.claimed_at
                 WHERE charge_claims.claimed_at < $5",
                &[
                    uid.into(),
                    attempt.into(),
                    micros(real_now).into(),
                    prc.code().into(),
                    micros(stale).into(),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    /// Give back the claim of `attempt` once its answer is recorded.
    async fn release_charge(&self, uid: u64, attempt: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM charge_claims WHERE uid = $1 AND attempt = $2",
            &[uid.into(), attempt.into()],
        )
        .await?;
        Ok(())
    }

    /// Keep the 3-D Secure step of order `c.uid` (a new one replaces the old).
    async fn put_challenge(&self, c: &Challenge, now: Timestamp) -> StoreResult<()> {
        self.execute(
            "INSERT INTO challenges (uid, pfn, cardno, card_type, issuing_bank, issuing_bank_uid,
                 password, answer, failures, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)
             ON CONFLICT (uid) DO UPDATE SET pfn = excluded.pfn, cardno = excluded.cardno,
                 card_type = excluded.card_type, issuing_bank = excluded.issuing_bank,
                 issuing_bank_uid = excluded.issuing_bank_uid, password = excluded.password,
                 answer = excluded.answer, failures = 0, created_at = excluded.created_at",
            &[
                c.uid.into(),
                (&c.pfn).into(),
                (&c.cardno).into(),
                c.card_type.into(),
                (&c.issuing_bank).into(),
                (&c.issuing_bank_uid).into(),
                (&c.password).into(),
                (&c.answer).into(),
                micros(now).into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn challenge(&self, uid: u64) -> StoreResult<Option<Challenge>> {
        let row = self
            .pool()
            .optional(
                "SELECT pfn, cardno, card_type, issuing_bank, issuing_bank_uid, password, answer,
                     failures FROM challenges WHERE uid = $1",
                &[uid.into()],
            )
            .await?;
        row.map(|r| {
            Ok(Challenge {
                uid,
                pfn: r.text(0)?,
                cardno: r.text(1)?,
                card_type: r.int(2)?,
                issuing_bank: r.text(3)?,
                issuing_bank_uid: r.text(4)?,
                password: r.text(5)?,
                answer: r.text(6)?,
                failures: r.int(7)?,
            })
        })
        .transpose()
    }

    /// Count a wrong 3D password; returns the failures so far.
    async fn fail_challenge(&self, uid: u64) -> StoreResult<i64> {
        let row = self
            .pool()
            .optional(
                "UPDATE challenges SET failures = failures + 1 WHERE uid = $1 RETURNING failures",
                &[uid.into()],
            )
            .await?;
        row.ok_or(StoreError::NotFound)?.int(0)
    }
}

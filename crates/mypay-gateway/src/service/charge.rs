//! The one charge path: claim → ask the upstream → settle → release. Every charge of
//! money takes it: a card typed on the PayPage (or the sandbox helper), a saved card
//! (the e-wallet's, quick checkout's, in one click or in the background) and a recurring
//! period charged by the scheduler.
//!
//! The claim is what makes a charge happen once. It is taken before the upstream is
//! asked, with the idempotency key the upstream is asked with:
//! * a consumer's payment claims its order (a row per order while an attempt is out): a
//!   second submission racing it is refused, and asks nothing;
//! * a recurring period's charge is recorded (series, period, attempt) with its key and
//!   its transaction before the upstream is asked, many periods in one commit (see
//!   `recurring`), and asked here ([`ask_period`]); after a crash the period is asked
//!   again with the same key, which an upstream answers as before, charging once.
//!
//! The answer is settled (recorded as the order's state change) before the claim is
//! given back, so no second attempt can start while the first's answer is unrecorded.

use super::Gateway;
use crate::ledger::card::CardInput;
use crate::ledger::connector::{CardAnswer, CardCharge, StoredCardCharge};
use crate::store::{SeriesCharge, StoreError};
use jiff::Timestamp;
use mypay_protocol::{PaymentTool, Prc};

/// How a consumer's charge is held while its upstream is asked.
pub(super) enum Claim {
    /// A consumer's payment of order `uid`, still in state `prc`.
    Order { uid: u64, prc: Prc },
}

/// A charge held: the transaction it pays and the key the upstream is asked with.
pub(super) struct Claimed {
    pub uid: u64,
    pub key: String,
    /// Sandbox: this charge was asked to decline (a recurring series' next charge).
    pub forced_decline: bool,
    /// An order's claim, given back once the answer is settled (a period's charge is
    /// held by its own record).
    order_claim: bool,
}

/// What is charged, and how much.
pub(super) struct Request<'a> {
    pub tool: PaymentTool,
    pub amount: i64,
    pub payment: Payment<'a>,
}

pub(super) enum Payment<'a> {
    /// A card the consumer typed. `verify_only`: the card is checked for later charges,
    /// not charged (a recurring order whose first charge is later).
    Card {
        card: &'a CardInput,
        today_year_month: (i32, u32),
        verify_only: bool,
        /// A sale (`true`) or an authorisation captured later.
        capture: bool,
        return_url: Option<&'a str>,
        /// C_INSTALLMENT: how many instalments.
        installments: Option<u32>,
    },
    /// A card the upstream keeps, by its token: no consumer present.
    Stored { token: &'a str },
}

/// Why a charge was not asked.
#[derive(Debug)]
pub(super) enum NotAsked {
    /// Another attempt holds the order, or its state moved on.
    Busy,
    Store(StoreError),
}

impl From<StoreError> for NotAsked {
    fn from(e: StoreError) -> NotAsked {
        NotAsked::Store(e)
    }
}

/// Claim, ask, settle, release: `settle` records the upstream's answer; the claim is
/// given back after it, whatever it returned.
pub(super) async fn run<T>(
    state: &Gateway,
    claim: Claim,
    request: Request<'_>,
    settle: impl AsyncFnOnce(&Claimed, CardAnswer) -> T,
) -> Result<T, NotAsked> {
    let claimed = take(state, claim).await?;
    let answer = ask(state, &claimed, &request).await;
    let outcome = settle(&claimed, answer).await;
    if claimed.order_claim
        && let Err(e) = state.store.release_charge(claimed.uid, &claimed.key).await
    {
        // The claim then runs out by itself; the order's state already tells the rest.
        tracing::error!(error = %e, uid = claimed.uid, "releasing a charge claim");
    }
    Ok(outcome)
}

async fn take(state: &Gateway, claim: Claim) -> Result<Claimed, NotAsked> {
    match claim {
        Claim::Order { uid, prc } => {
            let key = crate::ledger::order::new_token();
            // Real time: a claim measures how long its process has been silent, which
            // the test clock's jumps have nothing to do with.
            if !state
                .store
                .claim_charge(uid, prc, &key, Timestamp::now())
                .await?
            {
                return Err(NotAsked::Busy);
            }
            Ok(Claimed {
                uid,
                key,
                forced_decline: false,
                order_claim: true,
            })
        }
    }
}

/// The business date's (year, month) on `store_uid`'s clock, against which the upstream
/// judges the expiry of cards that are not test cards.
pub(super) fn today_year_month(state: &Gateway, store_uid: &str) -> (i32, u32) {
    let today = crate::clock::taipei::date(state.now_for(store_uid));
    (
        i32::from(today.year()),
        u32::try_from(today.month()).unwrap_or(1),
    )
}

/// Ask the upstream for a recurring period's charge recorded as `charge` (its record
/// holds it: see [`crate::store::SeriesChargeAsk`]), from the card the upstream keeps as
/// `token`.
pub(super) async fn ask_period(
    state: &Gateway,
    charge: &SeriesCharge,
    tool: PaymentTool,
    amount: i64,
    token: &str,
) -> CardAnswer {
    let claimed = Claimed {
        uid: charge.uid,
        key: charge.idempotency_key.clone(),
        forced_decline: charge.forced_decline,
        order_claim: false,
    };
    let request = Request {
        tool,
        amount,
        payment: Payment::Stored { token },
    };
    ask(state, &claimed, &request).await
}

/// Ask the upstream, with the claim's key.
async fn ask(state: &Gateway, claimed: &Claimed, request: &Request<'_>) -> CardAnswer {
    match request.payment {
        Payment::Card {
            card,
            today_year_month,
            verify_only,
            capture,
            return_url,
            installments,
        } => {
            let charge = CardCharge {
                uid: claimed.uid,
                attempt: &claimed.key,
                tool: request.tool,
                amount: request.amount,
                card,
                today_year_month,
                capture,
                return_url: return_url.map(str::to_owned),
                installments,
            };
            if verify_only {
                state.acquirer.verify(&charge).await
            } else {
                state.acquirer.charge(&charge).await
            }
        }
        Payment::Stored { token } => {
            state
                .acquirer
                .charge_stored(&StoredCardCharge {
                    uid: claimed.uid,
                    attempt: &claimed.key,
                    tool: request.tool,
                    amount: request.amount,
                    token,
                    forced_decline: claimed.forced_decline,
                })
                .await
        }
    }
}

impl From<NotAsked> for super::CheckoutError {
    fn from(e: NotAsked) -> super::CheckoutError {
        match e {
            NotAsked::Busy => super::CheckoutError::ChargeInProgress,
            NotAsked::Store(e) => super::CheckoutError::Store(e),
        }
    }
}

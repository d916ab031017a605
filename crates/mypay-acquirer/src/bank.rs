//! The acquirer's books: every operation by its reference, the cards it keeps, the faults
//! asked for. No HTTP here; `http.rs` calls these under one lock, so an operation asked
//! twice at once is still done once.

use mypay_protocol::test_cards::{self, TestOutcome};
use mypay_upstream::messages::{
    ApplicationRequest, Callback, Card, CardChargeRequest, CardTokenRequest, Collection,
    CollectionRequest, FollowUpRequest, Outcome, RefundRequest, Status, WalletRequest, WalletStep,
};
use std::collections::HashMap;

/// The operations a fault can be set on.
pub const OPERATIONS: &[&str] = &[
    "charge",
    "verify",
    "token",
    "capture",
    "void",
    "refund",
    "collection",
    "wallet",
    "application",
    "status",
];

/// What goes wrong with the next requests of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Perform the operation, then drop the connection before answering.
    DropAfterCommit,
    /// Perform it, and answer after `delay_ms`.
    Delay,
    /// Answer 500 without performing it.
    #[serde(rename = "error_500")]
    Error500,
    /// Decline it, whatever the card.
    Decline,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Fault {
    pub op: String,
    pub fault: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub delay_ms: u64,
}

fn one() -> u32 {
    1
}

/// One line of `GET /_acquirer/ledger`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LedgerLine {
    pub reference: String,
    pub kind: String,
    pub amount: i64,
    pub state: Status,
}

/// A 3-D Secure challenge waiting for its consumer.
struct Challenge {
    password: &'static str,
    return_url: Option<String>,
    failures: u32,
    /// What the charge becomes once the password is right.
    then: Outcome,
}

/// The wrong 3-D Secure passwords a consumer may type before the charge is declined.
pub const CHALLENGE_TRIES: u32 = 3;

/// What the consumer's answer at a challenge led to.
pub enum ChallengeAnswer {
    /// Decided: the consumer goes back to `return_url`, the gateway hears `callback`.
    Decided {
        return_url: Option<String>,
        callback: Box<Callback>,
    },
    /// Wrong; this many tries are left.
    Retry(u32),
    /// No challenge waits under that reference.
    Unknown,
}

#[derive(Default)]
pub struct Books {
    operations: HashMap<String, Outcome>,
    /// References in the order they were first performed.
    performed: Vec<String>,
    /// Kept cards by token.
    tokens: HashMap<String, Card>,
    challenges: HashMap<String, Challenge>,
    /// What a pending card charge becomes, by reference.
    pending: HashMap<String, Outcome>,
    faults: Vec<Fault>,
    /// How much of each payment was captured and refunded so far.
    captured: HashMap<String, i64>,
    refunded: HashMap<String, i64>,
}

/// Request errors: the request is refused (4xx) and nothing is done.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl Books {
    pub fn add_fault(&mut self, fault: Fault) -> Result<(), Refused> {
        if !OPERATIONS.contains(&fault.op.as_str()) {
            return Err(Refused(format!(
                "op must be one of {}",
                OPERATIONS.join(", ")
            )));
        }
        if fault.count == 0 {
            return Err(Refused("count must be at least 1".into()));
        }
        self.faults.push(fault);
        Ok(())
    }

    /// The fault the next request of `op` meets, if one is set: used up by it.
    pub fn take_fault(&mut self, op: &str) -> Option<Fault> {
        let i = self.faults.iter().position(|f| f.op == op)?;
        let fault = self.faults[i].clone();
        if self.faults[i].count <= 1 {
            self.faults.remove(i);
        } else {
            self.faults[i].count -= 1;
        }
        Some(fault)
    }

    pub fn ledger(&self) -> Vec<LedgerLine> {
        self.performed
            .iter()
            .filter_map(|r| self.operations.get(r))
            .map(|o| LedgerLine {
                reference: o.reference.clone(),
                kind: o.kind.clone(),
                amount: o.amount,
                state: o.status,
            })
            .collect()
    }

    pub fn status(&self, reference: &str) -> Option<Outcome> {
        self.operations.get(reference).cloned()
    }

    /// Asked again with a reference already done: the same answer, nothing done twice.
    fn done(&self, reference: &str) -> Option<Outcome> {
        self.operations.get(reference).cloned()
    }

    fn record(&mut self, outcome: Outcome) -> Outcome {
        if !self.operations.contains_key(&outcome.reference) {
            self.performed.push(outcome.reference.clone());
        }
        self.operations
            .insert(outcome.reference.clone(), outcome.clone());
        outcome
    }

    /// A card charge (sale or authorisation), of a typed card or a kept one.
    pub fn charge(
        &mut self,
        request: &CardChargeRequest,
        challenge_base: &str,
        forced_decline: bool,
        today: (i32, u32),
    ) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        if request.tool == "C_INSTALLMENT" && request.installments.unwrap_or(0) < 2 {
            return Err(Refused(
                "installments: C_INSTALLMENT needs 2 or more".into(),
            ));
        }
        let kind = if request.capture {
            "charge"
        } else {
            "authorize"
        };
        let card = match (&request.card, &request.token) {
            (Some(card), None) => card.clone(),
            (None, Some(token)) => match self.tokens.get(token) {
                Some(card) => card.clone(),
                None => {
                    let outcome = declined(&request.reference, kind, "unknown card token", false);
                    return Ok(self.record(outcome));
                }
            },
            _ => return Err(Refused("give exactly one of card and token".into())),
        };
        check_card(&card)?;
        let mut approved = outcome(&request.reference, kind, Status::Approved, request.amount);
        approved.approval_code = Some(approval_code(&request.reference));
        if request.store {
            approved.token = Some(self.keep(&card));
        }
        if forced_decline {
            let outcome = declined(&request.reference, kind, test_cards::DECLINED, false);
            return Ok(self.record(outcome));
        }
        // A kept card was checked when it was kept: no second 3-D Secure step.
        let typed = request.token.is_none();
        let result = match test_cards::outcome(&card.number, &card.expiry, &card.cvc, today) {
            TestOutcome::Approved => approved,
            TestOutcome::Declined(reason) => declined(&request.reference, kind, reason, false),
            TestOutcome::Unavailable => {
                declined(&request.reference, kind, "發卡行或收單行暫時無法服務", true)
            }
            TestOutcome::AmountMismatch => Outcome {
                amount: if request.amount > 1 {
                    request.amount - 1
                } else {
                    request.amount + 1
                },
                ..approved
            },
            TestOutcome::Pending { paid } => {
                let later = if paid {
                    approved
                } else {
                    declined(&request.reference, kind, test_cards::DECLINED, false)
                };
                self.pending.insert(request.reference.clone(), later);
                outcome(&request.reference, kind, Status::Pending, 0)
            }
            TestOutcome::Challenge { password } if typed => {
                self.challenges.insert(
                    request.reference.clone(),
                    Challenge {
                        password,
                        return_url: request.return_url.clone(),
                        failures: 0,
                        then: approved,
                    },
                );
                Outcome {
                    challenge_url: Some(format!(
                        "{}/challenge/{}",
                        challenge_base.trim_end_matches('/'),
                        request.reference
                    )),
                    ..outcome(&request.reference, kind, Status::Challenge, 0)
                }
            }
            TestOutcome::Challenge { .. } => approved,
        };
        Ok(self.record(result))
    }

    /// A card checked for later charges, not charged: approved (with its token) or a
    /// challenge, as a charge of it would be.
    pub fn verify(
        &mut self,
        request: &CardChargeRequest,
        challenge_base: &str,
        today: (i32, u32),
    ) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        let mut as_charge = request.clone();
        as_charge.amount = as_charge.amount.max(1);
        as_charge.store = true;
        let mut answer = self.charge(&as_charge, challenge_base, false, today)?;
        // Nothing is charged by a check.
        answer.kind = "verify".into();
        answer.amount = 0;
        if let Some(later) = self.challenges.get_mut(&request.reference) {
            later.then.kind = "verify".into();
            later.then.amount = 0;
        }
        Ok(self.record(answer))
    }

    /// Keep a card; the token is all the gateway holds of it from now on.
    pub fn token(&mut self, request: &CardTokenRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        check_card(&request.card)?;
        let token = self.keep(&request.card);
        Ok(self.record(Outcome {
            token: Some(token),
            ..outcome(&request.reference, "token", Status::Approved, 0)
        }))
    }

    fn keep(&mut self, card: &Card) -> String {
        let token = format!("tok_{}", random_hex());
        self.tokens.insert(token.clone(), card.clone());
        token
    }

    /// The consumer's password at a challenge.
    pub fn answer_challenge(&mut self, reference: &str, password: &str) -> ChallengeAnswer {
        let Some(challenge) = self.challenges.get_mut(reference) else {
            return ChallengeAnswer::Unknown;
        };
        let decided = if password.trim() == challenge.password {
            challenge.then.clone()
        } else {
            challenge.failures += 1;
            if challenge.failures < CHALLENGE_TRIES {
                return ChallengeAnswer::Retry(CHALLENGE_TRIES - challenge.failures);
            }
            declined(reference, &challenge.then.kind, "3D驗證失敗", false)
        };
        let return_url = challenge.return_url.clone();
        self.challenges.remove(reference);
        let outcome = self.record(decided);
        ChallengeAnswer::Decided {
            return_url,
            callback: Box::new(Callback {
                kind: "charge.updated".into(),
                outcome,
            }),
        }
    }

    /// A pending card charge decided: its callback.
    pub fn resolve_pending(&mut self, reference: &str) -> Option<Callback> {
        let later = self.pending.remove(reference)?;
        let outcome = self.record(later);
        Some(Callback {
            kind: "charge.updated".into(),
            outcome,
        })
    }

    /// A capture of an authorisation (or of an AFP application when shipped).
    pub fn capture(&mut self, request: &FollowUpRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        let Some(payment) =
            self.approved(&request.payment_reference, &["authorize", "application"])
        else {
            return Ok(self.record(declined(
                &request.reference,
                "capture",
                "nothing to capture",
                false,
            )));
        };
        let taken = self
            .captured
            .get(&request.payment_reference)
            .copied()
            .unwrap_or(0);
        if taken + request.amount > payment.amount {
            return Ok(self.record(declined(
                &request.reference,
                "capture",
                "more than was authorised",
                false,
            )));
        }
        self.captured
            .insert(request.payment_reference.clone(), taken + request.amount);
        Ok(self.record(outcome(
            &request.reference,
            "capture",
            Status::Approved,
            request.amount,
        )))
    }

    /// An authorisation released.
    pub fn void(&mut self, request: &FollowUpRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        let Some(payment) =
            self.approved(&request.payment_reference, &["authorize", "application"])
        else {
            return Ok(self.record(declined(
                &request.reference,
                "void",
                "nothing to void",
                false,
            )));
        };
        if self.captured.contains_key(&request.payment_reference) {
            return Ok(self.record(declined(
                &request.reference,
                "void",
                "captured already",
                false,
            )));
        }
        let amount = payment.amount;
        if let Some(p) = self.operations.get_mut(&request.payment_reference) {
            p.status = Status::Declined;
            p.reason = Some("voided".into());
        }
        Ok(self.record(outcome(
            &request.reference,
            "void",
            Status::Approved,
            amount,
        )))
    }

    /// A refund of any payment: immediate, or queued for the batch when `batched`.
    pub fn refund(&mut self, request: &RefundRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        let paid = match self.operations.get(&request.payment_reference) {
            Some(p) if p.status == Status::Approved => match p.kind.as_str() {
                "authorize" | "application" => self
                    .captured
                    .get(&request.payment_reference)
                    .copied()
                    .unwrap_or(0),
                "charge" | "collection" | "wallet" => p.amount,
                _ => 0,
            },
            _ => 0,
        };
        let before = self
            .refunded
            .get(&request.payment_reference)
            .copied()
            .unwrap_or(0);
        if before + request.amount > paid {
            return Ok(self.record(declined(
                &request.reference,
                "refund",
                "more than was paid",
                false,
            )));
        }
        self.refunded
            .insert(request.payment_reference.clone(), before + request.amount);
        let status = if request.batched {
            Status::Pending
        } else {
            Status::Approved
        };
        Ok(self.record(outcome(
            &request.reference,
            "refund",
            status,
            request.amount,
        )))
    }

    /// A queued refund done at the batch.
    pub fn complete_refund(&mut self, reference: &str) -> Option<Callback> {
        self.settle(
            reference,
            "refund",
            Status::Approved,
            None,
            "refund.completed",
        )
    }

    /// A pay-later code or account issued.
    pub fn collection(&mut self, request: &CollectionRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        let digits = numeric(&request.reference);
        let mut collection = Collection {
            deadline: request.deadline.clone(),
            ..Collection::default()
        };
        match request.tool.as_str() {
            "CSTORECODE" => {
                collection.code = Some(format!("LLL{}", &digits[..11]));
            }
            "BARCODE" => {
                collection.barcodes = vec![
                    digits[..9].to_owned(),
                    digits[3..19].to_owned(),
                    digits[5..20].to_owned(),
                ];
            }
            _ => {
                collection.bank_code = Some("822".into());
                collection.account = Some(digits[..14].to_owned());
            }
        }
        Ok(self.record(Outcome {
            collection: Some(collection),
            ..outcome(
                &request.reference,
                "collection",
                Status::Issued,
                request.amount,
            )
        }))
    }

    /// A collection paid (by default its whole amount).
    pub fn pay_collection(&mut self, reference: &str, amount: Option<i64>) -> Option<Callback> {
        self.settle(
            reference,
            "collection",
            Status::Approved,
            amount,
            "collection.paid",
        )
    }

    pub fn expire_collection(&mut self, reference: &str) -> Option<Callback> {
        self.settle(
            reference,
            "collection",
            Status::Expired,
            None,
            "collection.expired",
        )
    }

    /// A wallet payment started: the consumer's step.
    pub fn wallet(&mut self, request: &WalletRequest, base: &str) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        let step = match &request.payment_code {
            Some(_) => WalletStep::default(),
            None => WalletStep {
                redirect_url: Some(format!(
                    "{}/wallet/{}",
                    base.trim_end_matches('/'),
                    request.reference
                )),
                qr_content: Some(format!("MYPAYACQ:{}:{}", request.tool, request.reference)),
            },
        };
        Ok(self.record(Outcome {
            wallet: Some(step),
            ..outcome(
                &request.reference,
                "wallet",
                Status::Pending,
                request.amount,
            )
        }))
    }

    pub fn decide_wallet(&mut self, reference: &str, approve: bool) -> Option<Callback> {
        let status = if approve {
            Status::Approved
        } else {
            Status::Declined
        };
        self.settle(reference, "wallet", status, None, "wallet.updated")
    }

    /// An application sent for review.
    pub fn application(&mut self, request: &ApplicationRequest) -> Result<Outcome, Refused> {
        if let Some(done) = self.done(&request.reference) {
            return Ok(done);
        }
        positive(request.amount)?;
        if request.applicant.is_empty() {
            return Err(Refused(
                "applicant: what the consumer declared is needed to review".into(),
            ));
        }
        Ok(self.record(outcome(
            &request.reference,
            "application",
            Status::Pending,
            request.amount,
        )))
    }

    pub fn review_application(&mut self, reference: &str, approve: bool) -> Option<Callback> {
        let status = if approve {
            Status::Approved
        } else {
            Status::Declined
        };
        self.settle(
            reference,
            "application",
            status,
            None,
            "application.reviewed",
        )
    }

    /// Move a waiting operation of `kind` to `status`: its callback, or `None` when no
    /// such operation waits (unknown, or decided already: nothing changes twice).
    fn settle(
        &mut self,
        reference: &str,
        kind: &str,
        status: Status,
        amount: Option<i64>,
        callback: &str,
    ) -> Option<Callback> {
        let op = self.operations.get_mut(reference)?;
        if op.kind != kind || op.status.is_final() {
            return None;
        }
        op.status = status;
        if let Some(a) = amount.filter(|a| *a > 0) {
            op.amount = a;
        }
        if status == Status::Approved {
            op.approval_code = Some(approval_code(reference));
        }
        if status == Status::Declined {
            op.reason = Some("declined".into());
        }
        Some(Callback {
            kind: callback.into(),
            outcome: op.clone(),
        })
    }

    fn approved(&self, reference: &str, kinds: &[&str]) -> Option<&Outcome> {
        self.operations
            .get(reference)
            .filter(|o| o.status == Status::Approved && kinds.contains(&o.kind.as_str()))
    }
}

fn outcome(reference: &str, kind: &str, status: Status, amount: i64) -> Outcome {
    Outcome {
        reference: reference.into(),
        kind: kind.into(),
        status,
        amount,
        approval_code: None,
        reason: None,
        retryable: false,
        challenge_url: None,
        token: None,
        collection: None,
        wallet: None,
    }
}

fn declined(reference: &str, kind: &str, reason: &str, retryable: bool) -> Outcome {
    Outcome {
        reason: Some(reason.into()),
        retryable,
        ..outcome(reference, kind, Status::Declined, 0)
    }
}

fn positive(amount: i64) -> Result<(), Refused> {
    if amount >= 1 {
        Ok(())
    } else {
        Err(Refused("amount must be a whole number ≥ 1".into()))
    }
}

fn check_card(card: &Card) -> Result<(), Refused> {
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(&card.number, 12..=19) {
        return Err(Refused("card.number must be 12 to 19 digits".into()));
    }
    if !digits(&card.expiry, 4..=4) {
        return Err(Refused("card.expiry must be MMYY".into()));
    }
    if !digits(&card.cvc, 3..=4) {
        return Err(Refused("card.cvc must be 3 or 4 digits".into()));
    }
    Ok(())
}

/// A six-digit approval code derived from the reference: asked again, the same.
fn approval_code(reference: &str) -> String {
    let sum = reference.bytes().fold(7919u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!("{:06}", sum % 1_000_000)
}

/// Twenty digits derived from a reference, for codes and accounts.
fn numeric(reference: &str) -> String {
    let mut h = 1_469_598_103_934_665_603u64;
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in reference.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211);
        }
        out.push_str(&format!("{:010}", h % 10_000_000_000));
    }
    out.truncate(20);
    out
}

pub fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    // Tokens and message ids only need to be unique within this test acquirer.
    let _ = getrandom::getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(reference: &str, number: &str, capture: bool) -> CardChargeRequest {
        CardChargeRequest {
            reference: reference.into(),
            tool: "CREDITCARD".into(),
            amount: 100,
            currency: "TWD".into(),
            capture,
            card: Some(Card {
                number: number.into(),
                expiry: "1230".into(),
                cvc: "123".into(),
            }),
            token: None,
            installments: None,
            store: false,
            return_url: None,
        }
    }

    #[test]
    fn a_reference_asked_twice_is_charged_once() {
        let mut books = Books::default();
        let first = books.charge(
            &charge("r1", "4111111111111111", true),
            "http://a",
            false,
            (2026, 1),
        );
        let again = books.charge(
            &charge("r1", "4111111111111111", true),
            "http://a",
            false,
            (2026, 1),
        );
        assert_eq!(first, again);
        assert_eq!(books.ledger().len(), 1);
        assert_eq!(books.ledger()[0].kind, "charge");
    }

    #[test]
    fn refunds_and_captures_never_exceed_what_was_paid() {
        let mut books = Books::default();
        books
            .charge(
                &charge("auth", "4111111111111111", false),
                "http://a",
                false,
                (2026, 1),
            )
            .expect("authorised");
        let capture = |r: &str, amount| FollowUpRequest {
            reference: r.into(),
            payment_reference: "auth".into(),
            amount,
        };
        assert_eq!(
            books.capture(&capture("c1", 60)).expect("answered").status,
            Status::Approved
        );
        assert_eq!(
            books.capture(&capture("c2", 60)).expect("answered").status,
            Status::Declined
        );
        let refund = |r: &str, amount| RefundRequest {
            reference: r.into(),
            payment_reference: "auth".into(),
            amount,
            batched: false,
        };
        assert_eq!(
            books.refund(&refund("f1", 61)).expect("answered").status,
            Status::Declined
        );
        assert_eq!(
            books.refund(&refund("f2", 60)).expect("answered").status,
            Status::Approved
        );
    }

    #[test]
    fn a_decided_collection_is_not_decided_again() {
        let mut books = Books::default();
        books
            .collection(&CollectionRequest {
                reference: "c".into(),
                tool: "CSTORECODE".into(),
                amount: 50,
                currency: "TWD".into(),
                deadline: "2026-12-31T00:00:00Z".into(),
            })
            .expect("issued");
        assert!(books.pay_collection("c", None).is_some());
        assert!(books.pay_collection("c", None).is_none());
        assert!(books.expire_collection("c").is_none());
    }

    #[test]
    fn faults_are_used_up() {
        let mut books = Books::default();
        books
            .add_fault(Fault {
                op: "charge".into(),
                fault: FaultKind::Error500,
                count: 2,
                delay_ms: 0,
            })
            .expect("set");
        assert!(books.take_fault("charge").is_some());
        assert!(books.take_fault("charge").is_some());
        assert!(books.take_fault("charge").is_none());
        assert!(
            books
                .add_fault(Fault {
                    op: "teleport".into(),
                    fault: FaultKind::Delay,
                    count: 1,
                    delay_ms: 0,
                })
                .is_err()
        );
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn faults_are_named_as_documented() {
        for (name, kind) in [
            ("drop_after_commit", FaultKind::DropAfterCommit),
            ("delay", FaultKind::Delay),
            ("error_500", FaultKind::Error500),
            ("decline", FaultKind::Decline),
        ] {
            let parsed: FaultKind =
                serde_json::from_value(serde_json::json!(name)).expect("a fault's name");
            assert_eq!(parsed, kind);
        }
    }
}

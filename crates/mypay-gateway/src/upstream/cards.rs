//! Cards through an upstream, as [`CardAcquirer`] asks for them: each request recorded
//! by its reference before it is sent, then sent signed; an answer that never came is
//! [`CardAnswer::Unknown`], for the resolver to ask about, never a second charge.

use super::client::{self, Asked, Sent};
use super::{Upstream, Upstreams};
use crate::ledger::card::CardInput;
use crate::ledger::connector::{
    Answering, CardAcquirer, CardAnswer, CardCharge, Keeping, Resolution, Resolving,
    StoredCardCharge,
};
use crate::store::{Store, UpstreamOperation};
use mypay_protocol::PaymentTool;
use mypay_upstream::messages::{
    self, Card, CardChargeRequest, CardTokenRequest, Outcome, Status, paths,
};
use std::sync::Arc;

pub struct HttpCards {
    upstreams: Arc<Upstreams>,
    http: reqwest::Client,
    store: Store,
}

impl HttpCards {
    pub fn new(upstreams: Arc<Upstreams>, store: Store) -> anyhow::Result<HttpCards> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpCards {
            upstreams,
            http,
            store,
        })
    }

    /// The upstream for `tool`, with the operation recorded under `reference` for it.
    /// `None`: no upstream moves this tool, or the record could not be written (then
    /// nothing is sent: a reference not recorded could not be resolved).
    async fn before_sending(
        &self,
        tool: PaymentTool,
        reference: &str,
        uid: u64,
        kind: &str,
    ) -> Option<&Upstream> {
        let upstream = self.upstreams.for_tool(tool)?;
        let record = UpstreamOperation {
            reference: reference.to_owned(),
            uid,
            kind: kind.to_owned(),
            upstream: upstream.name.clone(),
            created_at: jiff::Timestamp::now(),
            unresolved_at: None,
        };
        match self.store.record_upstream_operation(&record).await {
            Ok(()) => Some(upstream),
            Err(e) => {
                tracing::error!(error = %e, reference, "recording an upstream operation");
                None
            }
        }
    }

    async fn send_charge(&self, charge: &CardCharge<'_>, path: &str, kind: &str) -> CardAnswer {
        let Some(upstream) = self
            .before_sending(charge.tool, charge.attempt, charge.uid, kind)
            .await
        else {
            return CardAnswer::Unavailable;
        };
        let request = CardChargeRequest {
            capture: charge.capture,
            card: Some(card(charge.card)),
            return_url: charge.return_url.clone(),
            installments: charge.installments,
            ..charge_request(charge.attempt, charge.tool, charge.amount)
        };
        let sent = client::post(&self.http, upstream, path, charge.attempt, &request).await;
        answer(sent, charge.attempt, charge.amount)
    }
}

/// A sale of `amount` with `tool` under `reference`, of no card yet.
fn charge_request(reference: &str, tool: PaymentTool, amount: i64) -> CardChargeRequest {
    CardChargeRequest {
        reference: reference.to_owned(),
        tool: tool.code().to_owned(),
        amount,
        currency: "TWD".into(),
        capture: true,
        card: None,
        token: None,
        installments: None,
        store: false,
        return_url: None,
    }
}

fn card(card: &CardInput) -> Card {
    Card {
        number: card.pan().to_owned(),
        expiry: card.expiry().to_owned(),
        cvc: card.cvc().to_owned(),
    }
}

/// An upstream's answer to a charge, in the core's terms.
fn answer(sent: Sent, reference: &str, asked: i64) -> CardAnswer {
    match sent {
        Sent::Answered(outcome) => from_outcome(*outcome, reference, asked),
        // Refused before anything was done: the consumer may try again.
        Sent::Refused(_) => CardAnswer::Unavailable,
        Sent::Unknown | Sent::ServerError => CardAnswer::Unknown {
            reference: reference.to_owned(),
        },
    }
}

fn from_outcome(outcome: Outcome, reference: &str, asked: i64) -> CardAnswer {
    let acode = outcome.approval_code.clone().unwrap_or_default();
    match outcome.status {
        Status::Approved if outcome.amount == asked || outcome.amount == 0 => {
            CardAnswer::Approved { acode }
        }
        Status::Approved => CardAnswer::AmountMismatch {
            acode,
            actual_amount: outcome.amount,
        },
        Status::Declined if outcome.retryable => CardAnswer::Unavailable,
        Status::Declined | Status::Expired => CardAnswer::Declined {
            reason: outcome.reason.unwrap_or_else(|| "發卡行拒絕交易".into()),
        },
        Status::Challenge => match outcome.challenge_url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                CardAnswer::Challenge {
                    reference: reference.to_owned(),
                    url,
                }
            }
            _ => CardAnswer::Unavailable,
        },
        Status::Pending | Status::Issued => CardAnswer::Unknown {
            reference: reference.to_owned(),
        },
    }
}

/// What a status answer says of an operation.
pub fn resolution(asked: Asked) -> Resolution {
    match asked {
        Asked::Found(o) => match o.status {
            Status::Approved => Resolution::Paid {
                acode: o.approval_code.unwrap_or_default(),
                amount: o.amount,
            },
            Status::Declined | Status::Expired => Resolution::Failed {
                reason: o.reason.unwrap_or_else(|| "收單行確認交易失敗".into()),
            },
            Status::Challenge | Status::Pending | Status::Issued => Resolution::Unknown,
        },
        Asked::NotFound => Resolution::NeverPerformed,
        Asked::Unknown => Resolution::Unknown,
    }
}

impl CardAcquirer for HttpCards {
    fn charge<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        let kind = if charge.capture {
            "charge"
        } else {
            "authorize"
        };
        Box::pin(self.send_charge(charge, paths::CARD_CHARGES, kind))
    }

    fn verify<'a>(&'a self, charge: &'a CardCharge<'a>) -> Answering<'a> {
        Box::pin(self.send_charge(charge, paths::CARD_VERIFICATIONS, "verify"))
    }

    fn store_card<'a>(&'a self, card_input: &'a CardInput) -> Keeping<'a> {
        Box::pin(async move {
            let reference = crate::ledger::order::new_token();
            // A token is kept for a tool family's cards: the credit card's upstream.
            let upstream = self.upstreams.for_tool(PaymentTool::CreditCard)?;
            let request = CardTokenRequest {
                reference: reference.clone(),
                card: card(card_input),
            };
            match client::post(
                &self.http,
                upstream,
                paths::CARD_TOKENS,
                &reference,
                &request,
            )
            .await
            {
                Sent::Answered(outcome) => match *outcome {
                    Outcome {
                        status: Status::Approved,
                        token: Some(token),
                        ..
                    } if !token.is_empty() && token.len() <= 200 => Some(token),
                    _ => None,
                },
                _ => None,
            }
        })
    }

    fn charge_stored<'a>(&'a self, charge: &'a StoredCardCharge<'a>) -> Answering<'a> {
        Box::pin(async move {
            let Some(upstream) = self
                .before_sending(charge.tool, charge.attempt, charge.uid, "charge")
                .await
            else {
                return CardAnswer::Unavailable;
            };
            let request = CardChargeRequest {
                token: Some(charge.token.to_owned()),
                ..charge_request(charge.attempt, charge.tool, charge.amount)
            };
            let sent = client::post(
                &self.http,
                upstream,
                paths::CARD_CHARGES,
                charge.attempt,
                &request,
            )
            .await;
            answer(sent, charge.attempt, charge.amount)
        })
    }

    fn approval_code(&self, _uid: u64) -> String {
        // An upstream's approval codes come with its answers, never made up here.
        String::new()
    }

    fn status<'a>(&'a self, reference: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            let record = match self.store.upstream_operation(reference).await {
                Ok(Some(r)) => r,
                Ok(None) => return Resolution::NeverPerformed,
                Err(_) => return Resolution::Unknown,
            };
            let Some(upstream) = self.upstreams.named(&record.upstream) else {
                tracing::error!(
                    upstream = record.upstream,
                    reference,
                    "an operation's upstream is no longer configured"
                );
                return Resolution::Unknown;
            };
            resolution(client::status(&self.http, upstream, reference).await)
        })
    }
}

/// Kept for the protocol's other families: the outcome of an upstream's callback.
pub fn callback_resolution(outcome: &messages::Outcome) -> Resolution {
    resolution(Asked::Found(Box::new(outcome.clone())))
}

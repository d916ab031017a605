//! Collections, wallets, applications, captures, voids and refunds through an upstream
//! (protocol v1), as [`Movements`] asks for them: each recorded by its reference before
//! it is sent, so its callback finds its transaction.

use super::Upstreams;
use super::client::{self, Sent};
use crate::ledger::connector::{CollectionDetails, Moved, Movement, Movements, Moving, NotMoved};
use crate::store::{Store, UpstreamOperation};
use mypay_upstream::messages::{
    ApplicationRequest, CollectionRequest, FollowUpRequest, Outcome, RefundRequest, Status,
    WalletRequest, paths,
};
use std::sync::Arc;

pub struct HttpMovements {
    upstreams: Arc<Upstreams>,
    http: reqwest::Client,
    store: Store,
}

impl HttpMovements {
    pub fn new(upstreams: Arc<Upstreams>, store: Store) -> anyhow::Result<HttpMovements> {
        Ok(HttpMovements {
            upstreams,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            store,
        })
    }

    async fn send(&self, movement: &Movement) -> Result<Moved, NotMoved> {
        let (reference, uid, tool, kind) = match movement {
            Movement::Collect {
                reference,
                uid,
                tool,
                ..
            } => (reference, *uid, *tool, "collection"),
            Movement::Wallet {
                reference,
                uid,
                tool,
                ..
            } => (reference, *uid, *tool, "wallet"),
            Movement::Apply {
                reference,
                uid,
                tool,
                ..
            } => (reference, *uid, *tool, "application"),
            Movement::Capture {
                reference,
                uid,
                tool,
                ..
            } => (reference, *uid, *tool, "capture"),
            Movement::Void {
                reference,
                uid,
                tool,
            } => (reference, *uid, *tool, "void"),
            Movement::Refund {
                reference,
                uid,
                tool,
                ..
            } => (reference, *uid, *tool, "refund"),
        };
        let Some(upstream) = self.upstreams.for_tool(tool) else {
            return Err(NotMoved::Refused(format!(
                "no upstream moves {}",
                tool.code()
            )));
        };
        // The payment a follow-up acts on: the transaction's latest payment operation.
        let payment = match movement {
            Movement::Capture { .. } | Movement::Void { .. } | Movement::Refund { .. } => {
                match self.store.payment_reference(uid).await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        return Err(NotMoved::Refused(
                            "the upstream never moved this transaction's payment".into(),
                        ));
                    }
                    Err(_) => return Err(NotMoved::Refused("please retry".into())),
                }
            }
            _ => String::new(),
        };
        let record = UpstreamOperation {
            reference: reference.clone(),
            uid,
            kind: kind.to_owned(),
            upstream: upstream.name.clone(),
            created_at: jiff::Timestamp::now(),
            unresolved_at: None,
        };
        if let Err(e) = self.store.record_upstream_operation(&record).await {
            tracing::error!(error = %e, reference, "recording an upstream operation");
            // Nothing was sent: safe to refuse.
            return Err(NotMoved::Refused("please retry".into()));
        }
        let currency = "TWD".to_owned();
        let sent = match movement {
            Movement::Collect {
                tool,
                amount,
                deadline,
                ..
            } => {
                let body = CollectionRequest {
                    reference: reference.clone(),
                    tool: tool.code().to_owned(),
                    amount: *amount,
                    currency,
                    deadline: deadline.to_string(),
                };
                client::post(&self.http, upstream, paths::COLLECTIONS, reference, &body).await
            }
            Movement::Wallet {
                tool,
                amount,
                payment_code,
                ..
            } => {
                let body = WalletRequest {
                    reference: reference.clone(),
                    tool: tool.code().to_owned(),
                    amount: *amount,
                    currency,
                    payment_code: payment_code.clone(),
                    return_url: None,
                };
                client::post(&self.http, upstream, paths::WALLETS, reference, &body).await
            }
            Movement::Apply {
                tool,
                amount,
                applicant,
                ..
            } => {
                let body = ApplicationRequest {
                    reference: reference.clone(),
                    tool: tool.code().to_owned(),
                    amount: *amount,
                    currency,
                    applicant: applicant.clone(),
                };
                client::post(&self.http, upstream, paths::APPLICATIONS, reference, &body).await
            }
            Movement::Capture { amount, .. } => {
                let body = FollowUpRequest {
                    reference: reference.clone(),
                    payment_reference: payment,
                    amount: *amount,
                };
                client::post(&self.http, upstream, paths::CAPTURES, reference, &body).await
            }
            Movement::Void { .. } => {
                let body = FollowUpRequest {
                    reference: reference.clone(),
                    payment_reference: payment,
                    amount: 0,
                };
                client::post(&self.http, upstream, paths::VOIDS, reference, &body).await
            }
            Movement::Refund {
                amount, batched, ..
            } => {
                let body = RefundRequest {
                    reference: reference.clone(),
                    payment_reference: payment,
                    amount: *amount,
                    batched: *batched,
                };
                client::post(&self.http, upstream, paths::REFUNDS, reference, &body).await
            }
        };
        match sent {
            Sent::Answered(outcome) => moved(*outcome),
            Sent::Refused(why) => Err(NotMoved::Refused(why)),
            Sent::Unknown | Sent::ServerError => Err(NotMoved::Unknown),
        }
    }
}

/// An upstream's outcome, in the core's terms.
pub fn moved(outcome: Outcome) -> Result<Moved, NotMoved> {
    match outcome.status {
        Status::Approved => Ok(Moved::Done {
            amount: outcome.amount,
            acode: outcome.approval_code.unwrap_or_default(),
        }),
        Status::Declined | Status::Expired => Err(NotMoved::Refused(
            outcome.reason.unwrap_or_else(|| "declined".into()),
        )),
        Status::Issued => {
            let c = outcome.collection.unwrap_or_default();
            Ok(Moved::Issued(CollectionDetails {
                code: c.code,
                bank_code: c.bank_code,
                account: c.account,
                barcodes: c.barcodes,
            }))
        }
        Status::Pending => match outcome.wallet {
            Some(step) if step.redirect_url.is_some() || step.qr_content.is_some() => {
                Ok(Moved::Started {
                    redirect_url: step.redirect_url,
                    qr_content: step.qr_content,
                })
            }
            _ => Ok(Moved::Pending),
        },
        Status::Challenge => Err(NotMoved::Refused(
            "a challenge is not part of this operation".into(),
        )),
    }
}

impl Movements for HttpMovements {
    fn ask<'a>(&'a self, movement: &'a Movement) -> Moving<'a> {
        Box::pin(self.send(movement))
    }
}

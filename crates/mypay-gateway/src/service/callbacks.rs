//! Callbacks from upstreams (`POST /upstream/{name}/callback`): checked (signature, age,
//! replay) before anything is read from them, recorded with their transaction, then
//! applied when they decide something still open. A late or duplicated outcome is
//! recorded and changes nothing.

use super::Gateway;
use crate::ledger::connector::Resolution;
use crate::store::{ReceivedCallback, StoreError};
use crate::upstream::Upstreams;
use mypay_protocol::Prc;
use mypay_upstream::messages::Callback;
use mypay_upstream::signature::unix_now;

/// What became of a callback.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// It settled its transaction.
    Applied,
    /// Recorded; its transaction was settled already, or is not one it can settle.
    Recorded,
    /// Its `webhook-id` was seen before: nothing was done (409).
    Replayed,
    /// Signature missing, wrong or stale, or no such upstream: nothing was done (401).
    Refused,
    /// Signed, but not a callback of protocol v1 (400).
    Malformed,
}

pub async fn receive<'h>(
    core: &Gateway,
    upstreams: &Upstreams,
    name: &str,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
) -> Result<Received, StoreError> {
    let Some(upstream) = upstreams.named(name) else {
        return Ok(Received::Refused);
    };
    // Real time: signatures are stamped with the upstream's clock, not a test clock.
    let Ok(webhook_id) = upstream.secret.verify_headers(header, body, unix_now()) else {
        return Ok(Received::Refused);
    };
    let Ok(callback) = serde_json::from_slice::<Callback>(body) else {
        return Ok(Received::Malformed);
    };
    let reference = callback.outcome.reference.as_str();
    let operation = core.store.upstream_operation(reference).await?;
    // Only this upstream's own operations: one upstream cannot settle another's.
    let operation = operation.filter(|o| o.upstream == upstream.name);
    let uid = operation.as_ref().map(|o| o.uid);
    let fresh = core
        .store
        .record_callback(
            &ReceivedCallback {
                upstream: &upstream.name,
                webhook_id,
                reference,
                uid,
                kind: &callback.kind,
                body: std::str::from_utf8(body).unwrap_or(""),
            },
            core.now_for(""),
        )
        .await?;
    if !fresh {
        return Ok(Received::Replayed);
    }
    let Some(operation) = operation else {
        tracing::warn!(
            upstream = upstream.name,
            reference,
            "a callback about no operation of ours"
        );
        return Ok(Received::Recorded);
    };
    let applied = match operation.kind.as_str() {
        "charge" | "authorize" | "verify" => settle_card(core, operation.uid, &callback).await?,
        "collection" => collection_paid(core, operation.uid, &callback).await?,
        "wallet" => wallet_decided(core, operation.uid, reference, &callback).await?,
        "application" => reviewed(core, operation.uid, &callback).await?,
        "refund" => refund_completed(core, reference, &callback).await?,
        _ => false,
    };
    if applied {
        core.store
            .callback_applied(&upstream.name, webhook_id)
            .await?;
        Ok(Received::Applied)
    } else {
        Ok(Received::Recorded)
    }
}

/// A card charge's outcome: it settles an `A0001` order, or a charge waiting for its
/// consumer to come back from the challenge.
async fn settle_card(core: &Gateway, uid: u64, callback: &Callback) -> Result<bool, StoreError> {
    let resolution = crate::upstream::cards::callback_resolution(&callback.outcome);
    if resolution == Resolution::Unknown {
        return Ok(false);
    }
    let Some(order) = core.store.order(uid).await? else {
        return Ok(false);
    };
    match order.prc {
        Prc::Pending => {
            super::resolve::settle(core, &order, resolution, None, "the upstream's callback").await
        }
        Prc::Created => match super::challenge_resolved(
            core,
            uid,
            Some((&callback.outcome.reference, resolution)),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(super::CheckoutError::Store(e)) => Err(e),
            Err(_) => Ok(false),
        },
        _ => Ok(false),
    }
}

/// What a decision callback of a checkout step did: moved the order, or nothing (it had
/// moved on already).
fn moved(result: Result<super::Outcome, super::CheckoutError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(super::CheckoutError::Store(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// A pay-later code or account paid (with the amount paid).
async fn collection_paid(
    core: &Gateway,
    uid: u64,
    callback: &Callback,
) -> Result<bool, StoreError> {
    use mypay_upstream::messages::Status;
    if callback.outcome.status != Status::Approved {
        // Expired: the deadline's own timer ends the order.
        return Ok(false);
    }
    let amount = Some(callback.outcome.amount).filter(|a| *a > 0);
    moved(super::pay_later_paid(core, uid, amount).await)
}

async fn wallet_decided(
    core: &Gateway,
    uid: u64,
    reference: &str,
    callback: &Callback,
) -> Result<bool, StoreError> {
    use mypay_upstream::messages::Status;
    let approve = match callback.outcome.status {
        Status::Approved => true,
        Status::Declined | Status::Expired => false,
        _ => return Ok(false),
    };
    let Some(tool) = super::wallet_tool(reference) else {
        return Ok(false);
    };
    let Some(order) = core.store.order(uid).await? else {
        return Ok(false);
    };
    let Some(merchant) = core.store.merchant(&order.store_uid).await? else {
        return Ok(false);
    };
    if order.prc != Prc::Created {
        return Ok(false);
    }
    let acode = callback.outcome.approval_code.clone();
    moved(super::wallet_decided(core, &order, &merchant, tool, approve, acode).await)
}

async fn reviewed(core: &Gateway, uid: u64, callback: &Callback) -> Result<bool, StoreError> {
    use mypay_upstream::messages::Status;
    let approved = match callback.outcome.status {
        Status::Approved => true,
        Status::Declined | Status::Expired => false,
        _ => return Ok(false),
    };
    moved(super::review(core, uid, approved, None).await)
}

/// A batched refund done at its upstream.
async fn refund_completed(
    core: &Gateway,
    reference: &str,
    callback: &Callback,
) -> Result<bool, StoreError> {
    use mypay_upstream::messages::Status;
    if callback.outcome.status != Status::Approved {
        return Ok(false);
    }
    let Some(id) = reference
        .strip_prefix("refund-")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return Ok(false);
    };
    Ok(super::refund_completed(core, id).await?.is_some())
}

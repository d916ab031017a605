//! A merchant key's life, as MYPAY's (SPEC §3, the document's 金鑰 FAQ), on the
//! merchant's own clock: it lives 365 days; reminders are e-mailed 60, 30 and 20 days
//! before its end; an operator may extend it by a year while more than 7 days remain;
//! 7 days before its end a successor is made and e-mailed, both valid until the old one
//! ends. Keys that never end (the sandbox's published ones) have no life to tend.
//!
//! Each step is taken once, whichever node sees it first: the key's stage moves by
//! compare-and-set in the transaction that queues its e-mail (see `Store::age_key`).

use super::Gateway;
use crate::store::{AgingKey, KeyStep, StoreError};
use jiff::{SignedDuration, Timestamp};

/// Days before a key's end when each reminder goes, with the stage it marks.
pub const REMINDERS: [(i64, i64); 3] = [(1, 60), (2, 30), (3, 20)];
/// Days before a key's end when its successor is made; an extension is refused from then.
pub const RENEWAL_DAYS: i64 = 7;
/// The stage of a key whose successor has been made.
pub const RENEWED: i64 = 4;

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// The furthest step a key ending at `until` has reached at `now`: 0 none, 1–3 a
/// reminder, [`RENEWED`] its successor.
pub fn stage_at(until: Timestamp, now: Timestamp) -> i64 {
    let left = until.duration_since(now);
    if left <= days(RENEWAL_DAYS) {
        return RENEWED;
    }
    REMINDERS
        .iter()
        .rev()
        .find(|(_, d)| left <= days(*d))
        .map_or(0, |(stage, _)| *stage)
}

/// Whether a key ending at `until` may still be extended at `now`: more than 7 × 24 h
/// must remain.
pub fn extendable(until: Timestamp, now: Timestamp) -> bool {
    until.duration_since(now) > days(RENEWAL_DAYS)
}

/// Take every step of key life that has fallen due on its merchant's clock; how many
/// were taken here.
pub async fn tend(state: &Gateway) -> Result<usize, StoreError> {
    let mut taken = 0;
    for key in state.store.aging_keys().await? {
        let now = state.clocks.now_for(&key.store_uid);
        // An ended key has nothing left to say; its merchant was told before.
        if now >= key.valid_until {
            continue;
        }
        let due = stage_at(key.valid_until, now);
        if due <= key.life_stage {
            continue;
        }
        if step(state, &key, due, now).await? {
            taken += 1;
        }
    }
    Ok(taken)
}

async fn step(
    state: &Gateway,
    key: &AgingKey,
    due: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let to = match state.store.merchant(&key.store_uid).await? {
        Some(m) => m
            .settings
            .contact_email
            .unwrap_or_else(|| "operator".into()),
        None => return Ok(false),
    };
    let ends = crate::clock::taipei::display(key.valid_until);
    let store_uid = &key.store_uid;
    let (subject, body, successor) = if due == RENEWED {
        let new_key = super::merchants::new_key()?;
        let subject = format!("New API key for merchant {store_uid}");
        let body = format!(
            "The API key of merchant {store_uid} ends at {ends} (Taipei time). A new key has \
             been made; both work until then, and only the new one after.\n\n\
             New key: {new_key}\n\n\
             Put it in your system's settings before the old key ends."
        );
        (subject, body, Some(new_key))
    } else {
        let left = key
            .valid_until
            .duration_since(now)
            .as_hours()
            .div_euclid(24);
        let subject = format!("API key of merchant {store_uid} ends in {left} days");
        let body = format!(
            "The API key of merchant {store_uid} ends at {ends} (Taipei time), in {left} \
             days. Ask your operator to extend it by a year while more than {RENEWAL_DAYS} \
             days remain; {RENEWAL_DAYS} days before its end a new key is made and e-mailed \
             to you."
        );
        (subject, body, None)
    };
    let taken = state
        .store
        .age_key(&KeyStep {
            id: key.id,
            store_uid,
            from_stage: key.life_stage,
            to_stage: due,
            mail: Some((&to, &subject, &body)),
            successor: successor.as_deref(),
            now,
        })
        .await?;
    if taken {
        tracing::info!(
            store_uid = %store_uid,
            key_id = key.id,
            stage = due,
            "key life: {}",
            if due == RENEWED { "successor made and e-mailed" } else { "reminder e-mailed" }
        );
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + days(day)
    }

    #[test]
    fn stages_follow_the_days_left() {
        let end = at(365);
        assert_eq!(stage_at(end, at(0)), 0);
        assert_eq!(stage_at(end, at(304)), 0); // 61 days left
        assert_eq!(stage_at(end, at(305)), 1); // 60
        assert_eq!(stage_at(end, at(335)), 2); // 30
        assert_eq!(stage_at(end, at(345)), 3); // 20
        assert_eq!(stage_at(end, at(357)), 3); // 8
        assert_eq!(stage_at(end, at(358)), RENEWED); // 7
    }

    #[test]
    fn extension_is_refused_from_seven_days_before() {
        let end = at(365);
        assert!(extendable(end, at(357))); // 8 days left
        assert!(extendable(end, at(358) - SignedDuration::from_secs(1)));
        assert!(!extendable(end, at(358))); // exactly 7 × 24 h
        assert!(!extendable(end, at(364)));
    }
}

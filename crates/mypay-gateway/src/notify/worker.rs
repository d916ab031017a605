//! Delivering notices: claim a due one, POST it, record the attempt, schedule the next or
//! finish. One attempt is one row in `notice_attempts`, written before the next claim, so
//! a restart repeats no attempt that was recorded and loses none that was due.
//!
//! Success is a reply whose body is `8888` (white space ignored) with a 2xx status. A reply
//! slower than the timeout (5 s) is a failure logged as HTTP 429, as the document's
//! revision 1.0.6 says. After the last failed attempt, an alert goes to the merchant's
//! technical contact through the e-mail outbox.

use crate::app::AppState;
use crate::store::NoticeRow;
use jiff::{SignedDuration, Timestamp};
use mypay_protocol::notice::is_acknowledgement;
use std::time::Instant;

/// How long a claimed notice is ours before another worker may take it (real time).
const LEASE: SignedDuration = SignedDuration::from_secs(60);

pub async fn run(state: AppState) {
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::error!(error = %e, "notification worker");
        }
        tokio::select! {
            _ = state.notices_waiting.notified() => {}
            _ = tokio::time::sleep(state.settings.worker_poll) => {}
        }
    }
}

/// Deliver every notice due now; returns how many attempts were made.
pub async fn deliver_due(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let mut made = 0;
    loop {
        let real_now = Timestamp::now();
        let Some(notice) = state
            .store
            .claim_notice(state.clock.now(), real_now, real_now + LEASE)
            .await?
        else {
            return Ok(made);
        };
        attempt(state, &notice).await?;
        made += 1;
    }
}

enum Reply {
    Acknowledged(u16, String),
    Refused(Option<u16>, String),
}

async fn attempt(state: &AppState, notice: &NoticeRow) -> Result<(), crate::store::StoreError> {
    let started = Instant::now();
    let reply = post(state, notice).await;
    let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let at = state.clock.now();
    let attempts_made = notice.attempts + 1;
    let (status, body, outcome, http_status) = match &reply {
        Reply::Acknowledged(code, body) => (
            "delivered",
            body.clone(),
            "acknowledged",
            Some(i64::from(*code)),
        ),
        Reply::Refused(code, body) => {
            let finished = attempts_made >= notice.max_attempts;
            (
                if finished { "failed" } else { "pending" },
                body.clone(),
                "failed",
                code.map(i64::from),
            )
        }
    };
    let next = at
        .checked_add(SignedDuration::from_secs(notice.interval_secs))
        .unwrap_or(jiff::Timestamp::MAX);
    let alert_body;
    let merchant_contact;
    let alert = if status == "failed" {
        merchant_contact = state
            .store
            .merchant(&notice.store_uid)
            .await?
            .and_then(|m| m.settings.contact_email)
            .unwrap_or_else(|| "technical-contact@unknown".to_owned());
        alert_body = format!(
            "MYPAY LINK could not deliver the notice for transaction {} (prc {}) to {} after {} attempts. Last reply: {}",
            notice.uid, notice.prc, notice.url, attempts_made, body
        );
        Some((
            merchant_contact.as_str(),
            "交易回傳通知失敗 (notification delivery failed)",
            alert_body.as_str(),
        ))
    } else {
        None
    };
    tracing::info!(
        notice = notice.id,
        uid = notice.uid,
        attempt = attempts_made,
        outcome,
        status,
        elapsed_ms,
        "notice attempt"
    );
    state
        .store
        .record_attempt(
            notice,
            at,
            http_status,
            &body,
            elapsed_ms,
            outcome,
            status,
            next,
            alert,
        )
        .await
}

async fn post(state: &AppState, notice: &NoticeRow) -> Reply {
    // Settings may have been written before a switch to production: check at delivery too.
    let production = state.settings.mode == crate::config::Mode::Production;
    if let Err(e) = crate::ledger::merchant::check_notify_url(&notice.url, production) {
        return Reply::Refused(None, format!("not sent: {e}"));
    }
    let sent = state
        .http
        .post(&notice.url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(notice.body.clone())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Reply::Refused(
                Some(429),
                format!("no reply within {:?}", state.settings.notify_timeout),
            );
        }
        Err(e) => return Reply::Refused(None, format!("request failed: {e}")),
    };
    let code = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => {
            let text: String = String::from_utf8_lossy(&body).chars().take(2000).collect();
            if (200..300).contains(&code) && is_acknowledgement(&body) {
                Reply::Acknowledged(code, text)
            } else {
                Reply::Refused(Some(code), text)
            }
        }
        Err(e) if e.is_timeout() => Reply::Refused(
            Some(429),
            format!("no reply within {:?}", state.settings.notify_timeout),
        ),
        Err(e) => Reply::Refused(Some(code), format!("reading the reply failed: {e}")),
    }
}

//! The sandbox's test clocks: the shared one and merchants' own (`POST
//! /sandbox/merchants`), read and moved; a move runs everything that fell due before it
//! answers.

use super::read_body;
use crate::clock::{Clock, taipei};
use crate::http::page_error::PageError;
use crate::ledger::merchant::{MerchantSettings, SettingsChange};
use crate::service;
use crate::state::AppState;
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/merchants", post(create_merchant))
        .route("/sandbox/clock", get(clock))
        .route("/sandbox/clock/advance", post(advance))
}

fn clock_json(clock: &Clock, store_uid: Option<&str>) -> Value {
    let now = clock.now();
    json!({
        "now": now.to_string(),
        "taipei": taipei::display(now),
        "offset_seconds": clock.offset_seconds(),
        "store_uid": store_uid,
    })
}

#[derive(Deserialize)]
struct ClockQuery {
    store_uid: Option<String>,
}

/// The clock a sandbox call names: a merchant's own when `store_uid` is given, else the
/// shared one. A merchant without a clock of its own is refused, never moved on the
/// shared clock by mistake (that would move every other test's time).
async fn named_clock(state: &AppState, store_uid: Option<&str>) -> Result<Clock, PageError> {
    // Learn of clocks another node made, and where every clock stands now.
    state.follow_stored_clocks().await?;
    let Some(store_uid) = store_uid.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(state.clocks.shared().clone());
    };
    if let Some(clock) = state.clocks.own_clock(store_uid) {
        return Ok(clock);
    }
    if state.store.merchant(store_uid).await?.is_some() {
        Err(PageError::bad_request(format!(
            "store_uid: merchant {store_uid} runs on the sandbox's shared clock (only merchants \
             made by POST /sandbox/merchants have their own); move it without store_uid"
        )))
    } else {
        Err(PageError::not_found(format!(
            "store_uid: no merchant {store_uid:?}"
        )))
    }
}

/// `GET /sandbox/clock[?store_uid=…]`: the shared clock, or a merchant's own.
async fn clock(
    State(state): State<AppState>,
    Query(q): Query<ClockQuery>,
) -> Result<Response, PageError> {
    Ok(Json(read_clock(&state, q.store_uid.as_deref()).await?).into_response())
}

/// The shared clock, or merchant `store_uid`'s own, as the sandbox shows it.
pub(crate) async fn read_clock(
    state: &AppState,
    store_uid: Option<&str>,
) -> Result<Value, PageError> {
    let store_uid = store_uid.map(str::trim).filter(|s| !s.is_empty());
    let clock = named_clock(state, store_uid).await?;
    Ok(clock_json(&clock, store_uid))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    #[serde(deserialize_with = "mypay_protocol::lenient::i64")]
    pub seconds: i64,
    /// A merchant's own clock; the shared one when absent.
    pub store_uid: Option<String>,
}

async fn advance(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: Advance = read_body(&headers, &body)?;
    Ok(Json(advance_clock(&state, &req).await?).into_response())
}

/// Move the shared clock, or a merchant's own, forward, and run everything that fell
/// due before answering.
pub(crate) async fn advance_clock(state: &AppState, req: &Advance) -> Result<Value, PageError> {
    let store_uid = req
        .store_uid
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    // The clocks are the installation's: start from the stored one (another node may
    // have moved it), move it there, and follow.
    let clock = named_clock(state, store_uid).await?;
    // Counted from before the clock moves: the worker may make an attempt that falls due
    // as soon as it does, before the drain below begins.
    let attempts_before = state.deliveries.attempts_recorded();
    let Some(by) = clock.step(req.seconds) else {
        return Err(PageError::bad_request(
            "seconds: must be a whole number ≥ 0, and the clock at most 100 years ahead",
        ));
    };
    // Stored before anything runs at the new time: a restart, and every other node,
    // continues from here.
    match store_uid {
        None => {
            let offset = state.store.advance_clock(by, clock.offset_micros()).await?;
            clock.restore(offset, i64::MIN);
            state
                .store
                .save_clock_state(offset, clock.now().as_microsecond())
                .await?;
        }
        Some(store_uid) => {
            let stored = state
                .store
                .advance_merchant_clock(store_uid, by, clock.offset_micros(), clock.base_micros())
                .await?
                .ok_or_else(|| {
                    PageError::not_found(format!("store_uid: no clock of {store_uid}"))
                })?;
            state
                .clocks
                .follow(store_uid, stored.offset_us, stored.high_water_us);
        }
    }
    let timers = run_everything_due(state).await?;
    let attempts = state.deliveries.attempts_recorded() - attempts_before;
    let mut out = clock_json(&clock, store_uid);
    out["timers_run"] = json!(timers);
    out["notice_attempts"] = json!(attempts);
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewMerchant {
    name: Option<String>,
    /// One URL for the three transaction notices (交易完成, 非即時, 訂單確認).
    notify_url: Option<String>,
    completed_url: Option<String>,
    non_real_time_url: Option<String>,
    confirmation_url: Option<String>,
    refund_url: Option<String>,
    ewallet_url: Option<String>,
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    recurring_retry_days: Option<i64>,
}

/// `POST /sandbox/merchants`: a sandbox merchant with every tool on (the sample
/// merchant's settings) and a test clock of its own, for tests that share one sandbox.
/// Answers its `store_uid` and key (shown this once) and its clock.
async fn create_merchant(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: NewMerchant = read_body(&headers, &body)?;
    let mut settings = MerchantSettings::sandbox_defaults("Sandbox merchant");
    let change = SettingsChange {
        name: req.name.filter(|n| !n.trim().is_empty()),
        notify_url: req.notify_url,
        completed_url: req.completed_url,
        non_real_time_url: req.non_real_time_url,
        confirmation_url: req.confirmation_url,
        refund_url: req.refund_url,
        ewallet_url: req.ewallet_url,
        recurring_retry_days: req.recurring_retry_days,
        ..SettingsChange::default()
    };
    change
        .apply(&mut settings, &state.settings.notify_policy())
        .map_err(|e| PageError::bad_request(e.to_string()))?;
    let made = service::merchants::create_with_own_clock(&state, &settings).await?;
    let clock = state.clocks.of(&made.store_uid);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "store_uid": made.store_uid,
            "key": made.key,
            "name": settings.name,
            "clock": clock_json(&clock, Some(&made.store_uid)),
        })),
    )
        .into_response())
}

/// Run every timer and make every notice attempt due now, on this node or another, and
/// return when none is left (or after a minute, with a warning): what a clock advance
/// does before it answers. The timers this node ran.
async fn run_everything_due(state: &AppState) -> Result<usize, StoreError> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut timers = 0;
    // Keys' reminders and successors fall due on the same clocks.
    service::keys::tend(state).await?;
    loop {
        timers += service::timers::run_due(state).await?;
        state.deliveries.drain().await?;
        let now = state.clocks.shared().reading();
        // Timers another node holds still count, until it has run them.
        if !state.store.timers_due(now).await? && !state.store.notices_due(now).await? {
            return Ok(timers);
        }
        if std::time::Instant::now() >= give_up {
            tracing::warn!("clock advance answered with work still due");
            return Ok(timers);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

//! Sandbox helpers (SPEC §12), mounted only in sandbox mode: plain JSON under
//! `/sandbox/`, for tests and for merchants' CI. Errors answer a 4xx status with
//! `{"error": "…"}` (this is our API, not the document's), a [`PageError`].

pub mod cards;

use crate::app::AppState;
use crate::clock::{Clock, taipei};
use crate::ledger::counter;
use crate::page_error::PageError;
use crate::service::{self, CardForm, CheckoutError, Outcome};
use crate::store::{NoticeFilter, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mypay_protocol::PaymentTool;
use mypay_protocol::pfn::ToolFamily;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/orders/{uid}/pay", post(pay))
        .route(
            "/sandbox/orders/{uid}/offline-payment",
            post(offline_payment),
        )
        .route("/sandbox/orders/{uid}/abandon", post(abandon))
        .route("/sandbox/orders/{uid}/review", post(review))
        .route("/sandbox/orders/{uid}/settle", post(settle))
        .route("/sandbox/orders/{uid}/invoice", post(invoice_answer))
        .route(
            "/sandbox/recurring/{group_id}/next-charge",
            post(next_recurring_charge),
        )
        .route("/sandbox/ewallet/{id}/bind", post(bind_ewallet))
        .route("/sandbox/merchants", post(create_merchant))
        .route("/sandbox/clock", get(clock))
        .route("/sandbox/clock/advance", post(advance))
        .route("/sandbox/notifications", get(notifications))
        .route("/sandbox/notifications/{id}/resend", post(resend))
}

/// Read a body as JSON or as a form, by its content type; an empty body is an empty
/// object. A body of any other (or no) content type is refused naming the content type,
/// never guessed at.
fn read_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, PageError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_str("{}")
            .map_err(|e| PageError::bad_request(format!("body: {e}")));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media == "application/json" || media.ends_with("+json") {
        serde_json::from_slice(body).map_err(|e| PageError::bad_request(format!("body: {e}")))
    } else if media == "application/x-www-form-urlencoded" {
        let map: serde_json::Map<String, Value> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map_err(|e| PageError::bad_request(format!("body: {e}")))
    } else {
        let got = if media.is_empty() {
            "none".to_owned()
        } else {
            format!("{media:?}")
        };
        Err(PageError::refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content-type: send application/json or application/x-www-form-urlencoded (got {got})"
            ),
        ))
    }
}

/// The order's state after a helper's step, or the step's error.
async fn order_state(
    state: &AppState,
    uid: u64,
    outcome: Result<Outcome, CheckoutError>,
) -> Result<Response, PageError> {
    let outcome = outcome.map_err(|e| match e {
        CheckoutError::NotFound => no_order(uid),
        other => PageError::from(other),
    })?;
    match state.store.order(uid).await? {
        Some(order) => {
            let record = crate::records::query_record(&order);
            Ok(Json(json!({
                "uid": uid,
                "prc": order.prc.code(),
                "retmsg": record.retmsg,
                "needs_otp": outcome == Outcome::NeedsOtp,
                "pfn": record.pfn,
                "expired_date": record.expired_date,
                "result_content_type": record.result_content_type,
                "result_content": record.result_content,
                "bank_id": record.bank_id,
            }))
            .into_response())
        }
        None => Err(no_order(uid)),
    }
}

fn no_order(uid: u64) -> PageError {
    PageError::not_found(format!("uid: no order {uid}"))
}

async fn pay(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CardForm = read_body(&headers, &body)?;
    // The tool decides the flow: a code or account, a wallet, an application, or a card.
    let tool = form.pfn.as_deref().and_then(PaymentTool::parse);
    let outcome = match (tool, form.pfn.as_deref()) {
        (Some(tool), Some(pfn)) if counter::is_pay_later(tool) => {
            service::issue_pay_later(&state, uid, pfn).await
        }
        (Some(PaymentTool::PostPay | PaymentTool::Cardless | PaymentTool::Cash), Some(pfn)) => {
            service::apply_for(&state, uid, pfn).await
        }
        (Some(tool), Some(pfn))
            if matches!(
                tool.family(),
                ToolFamily::WalletOnline | ToolFamily::WalletOffline
            ) =>
        {
            service::pay_wallet(
                &state,
                uid,
                pfn,
                !form.decline.unwrap_or(false),
                form.wallet_code.as_deref(),
            )
            .await
        }
        _ => service::pay_card(&state, uid, &form).await,
    };
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
struct Review {
    /// Approve unless told otherwise.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    approve: Option<bool>,
}

/// `POST /sandbox/orders/{uid}/review`: the provider's answer to a post-pay (`282`) or
/// cardless (`275`) application now, instead of after its review time.
async fn review(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: Review = read_body(&headers, &body)?;
    let outcome = service::review(&state, uid, form.approve.unwrap_or(true), None).await;
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
struct InvoiceAnswer {
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    state: Option<i64>,
}

/// `POST /sandbox/orders/{uid}/invoice`: the value-added centre answers the order's
/// invoice now: `state` 1 keeps it waiting, 3 fails it, 2 issues it.
async fn invoice_answer(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: InvoiceAnswer = read_body(&headers, &body)?;
    let outcome = req
        .state
        .ok_or_else(|| PageError::bad_request("state: 1 (waiting), 2 (issued) or 3 (failed)"))?;
    match service::invoices::centre_answers(&state, uid, outcome).await {
        Ok(invoice) => Ok(Json(json!({
            "uid": uid,
            "state": invoice.state,
            "wordtrack": invoice.fields.wordtrack,
            "number": invoice.fields.number,
            "state_msg": invoice.fields.state_msg,
        }))
        .into_response()),
        Err(service::invoices::InvoiceError::NotFound) => Err(no_order(uid)),
        Err(service::invoices::InvoiceError::Refused(msg)) => Err(PageError::bad_request(msg)),
        Err(service::invoices::InvoiceError::Store(e)) => Err(PageError::from(e)),
    }
}

/// `POST /sandbox/orders/{uid}/settle`: the acquirer's reconciliation settles a paid
/// order (`600`, with `appropriation_date`).
async fn settle(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
) -> Result<Response, PageError> {
    let outcome = service::settle_order(&state, uid).await;
    order_state(&state, uid, outcome).await
}

#[derive(Deserialize)]
struct OfflinePayment {
    /// What the consumer paid; the order's amount when absent.
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_i64")]
    amount: Option<i64>,
}

/// `POST /sandbox/orders/{uid}/offline-payment`: the consumer paid a code, barcode,
/// virtual account or WebATM order (SPEC §12).
async fn offline_payment(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: OfflinePayment = read_body(&headers, &body)?;
    let outcome = service::pay_later_paid(&state, uid, form.amount).await;
    order_state(&state, uid, outcome).await
}

async fn abandon(
    State(state): State<AppState>,
    Path(uid): Path<u64>,
) -> Result<Response, PageError> {
    let outcome = service::abandon(&state, uid).await;
    order_state(&state, uid, outcome).await
}

/// `POST /sandbox/ewallet/{id}/bind`: bind a card like the bind page's form (`id` is the
/// bind request's number, or the ticket of its page's URL), with the `pay` helper's card
/// fields; `otp` answers a 3-D Secure step at once.
async fn bind_ewallet(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    use crate::service::ewallet::{self, BindOutcome};
    let form: CardForm = read_body(&headers, &body)?;
    let id = id
        .parse::<u64>()
        .ok()
        .or_else(|| state.tickets.open_wallet(id.trim_end_matches(".html")))
        .ok_or_else(|| PageError::not_found("no such bind request"))?;
    let outcome = ewallet::bind_card(
        &state,
        id,
        &form.card_number,
        &form.expiry,
        &form.cvc,
        form.otp.as_deref(),
    )
    .await
    .map_err(|e| match e {
        CheckoutError::NotFound => PageError::not_found("no such bind request"),
        CheckoutError::Store(e) => PageError::from(e),
        other => PageError::bad_request(other.to_string()),
    })?;
    let wallet = state
        .store
        .wallet(id)
        .await?
        .ok_or_else(|| PageError::not_found("no such bind request"))?;
    let status = match outcome {
        BindOutcome::Bound => "bound",
        BindOutcome::Failed => "failed",
        BindOutcome::NeedsOtp => "otp",
    };
    Ok(Json(json!({
        "status": status,
        "user_id": wallet.user_id,
        "cardno": wallet.card.map(|c| c.cardno).unwrap_or_default(),
        "virtual_pan": wallet.virtual_pan.unwrap_or_default(),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct NextCharge {
    /// Decline the series' next charge (true), or no longer (false).
    #[serde(default, deserialize_with = "mypay_protocol::lenient::opt_bool")]
    decline: Option<bool>,
    /// The merchant, when two merchants' series share the `group_id`.
    #[serde(default)]
    store_uid: Option<String>,
}

/// `POST /sandbox/recurring/{group_id}/next-charge`: `{"decline": true}` makes the next
/// charge of the series decline (its retry then follows as for any decline).
async fn next_recurring_charge(
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: NextCharge = read_body(&headers, &body)?;
    let decline = req.decline.ok_or_else(|| {
        PageError::bad_request("decline: true (the next charge declines) or false")
    })?;
    let series = service::recurring::decline_next(
        &state,
        req.store_uid.as_deref().filter(|s| !s.is_empty()),
        &group_id,
        decline,
    )
    .await
    .map_err(|e| match e {
        service::recurring::StopError::Refused(msg) => PageError::not_found(msg),
        service::recurring::StopError::Store(e) => PageError::from(e),
    })?;
    Ok(Json(json!({
        "group_id": series.group_id,
        "store_uid": series.store_uid,
        "uid": series.uid,
        "decline_next": decline,
    }))
    .into_response())
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
    crate::app::follow_stored_clock(state).await?;
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
    let store_uid = q
        .store_uid
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let clock = named_clock(&state, store_uid).await?;
    Ok(Json(clock_json(&clock, store_uid)).into_response())
}

#[derive(Deserialize)]
struct Advance {
    #[serde(deserialize_with = "mypay_protocol::lenient::i64")]
    seconds: i64,
    /// A merchant's own clock; the shared one when absent.
    store_uid: Option<String>,
}

async fn advance(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let req: Advance = read_body(&headers, &body)?;
    let store_uid = req
        .store_uid
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    // The clocks are the installation's: start from the stored one (another node may
    // have moved it), move it there, and follow.
    let clock = named_clock(&state, store_uid).await?;
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
    let timers = run_everything_due(&state).await?;
    let attempts = state.deliveries.attempts_recorded() - attempts_before;
    let mut out = clock_json(&clock, store_uid);
    out["timers_run"] = json!(timers);
    out["notice_attempts"] = json!(attempts);
    Ok(Json(out).into_response())
}

#[derive(Deserialize, Default)]
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
    let name = req.name.as_deref().map(str::trim).unwrap_or("");
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(PageError::bad_request(
            "name: at most 100 characters, none of them control characters",
        ));
    }
    let mut settings =
        crate::ledger::merchant::MerchantSettings::sandbox_defaults(if name.is_empty() {
            "Sandbox merchant"
        } else {
            name
        });
    let n = &mut settings.notify;
    if let Some(u) = &req.notify_url {
        n.set_transaction_url(u);
    }
    for (url, slot) in [
        (&req.completed_url, &mut n.completed),
        (&req.non_real_time_url, &mut n.non_real_time),
        (&req.confirmation_url, &mut n.confirmation),
        (&req.refund_url, &mut n.refund),
        (&req.ewallet_url, &mut n.ewallet),
    ] {
        if let Some(u) = url {
            *slot = Some(u.clone());
        }
    }
    service::merchants::check_notify_urls(&settings, &state.settings.notify_policy())
        .map_err(|e| PageError::bad_request(format!("notify URL: {e}")))?;
    if let Some(days) = req.recurring_retry_days {
        if !(1..=365).contains(&days) {
            return Err(PageError::bad_request(
                "recurring_retry_days: a whole number of days from 1 to 365",
            ));
        }
        settings.recurring_retry_days = days;
    }
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

#[derive(Deserialize)]
struct NoticeQuery {
    store_uid: Option<String>,
    uid: Option<u64>,
}

async fn notifications(
    State(state): State<AppState>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let filter = NoticeFilter {
        store_uid: q.store_uid,
        uid: q.uid,
    };
    let notices = state.store.notices(&filter).await?;
    let mut out = Vec::with_capacity(notices.len());
    for n in notices {
        let attempts = state.store.notice_attempts(n.id).await?;
        let mut v = serde_json::to_value(&n).unwrap_or(Value::Null);
        v["fields"] = serde_json::to_value(mypay_protocol::notice::TransactionNotice::from_form(
            n.body.as_bytes(),
        ))
        .unwrap_or(Value::Null);
        v["attempt_log"] = serde_json::to_value(attempts).unwrap_or(Value::Null);
        out.push(v);
    }
    Ok(Json(json!({ "notifications": out })).into_response())
}

/// One extra attempt, now, to the merchant's current URL for the notice's kind. It never
/// shortens what is left of the notice's schedule; its success ends it.
async fn resend(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, PageError> {
    match state.deliveries.resend(id).await? {
        Some(acknowledged) => Ok(Json(
            json!({ "resent": id, "notice_attempts": 1, "acknowledged": acknowledged }),
        )
        .into_response()),
        None => Err(PageError::not_found(format!("id: no notification {id}"))),
    }
}

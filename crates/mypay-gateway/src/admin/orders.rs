//! Orders: searched on every filter an operator asks for (keyset pages that stay fast on
//! a big table), and one order's timeline: everything that happened to it, in time order.

use super::{ErrorBody, Reader, error, internal};
use crate::records;
use crate::state::AppState;
use crate::store::{OrderRow, OrderSearch};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/v1/orders", get(search))
        .route("/admin/api/v1/orders/{uid}", get(order))
}

/// The search's filters, as the OpenAPI document describes them (the handler reads the
/// query string itself, to name any value it refuses).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct OrderFilters {
    store_uid: Option<String>,
    uid: Option<u64>,
    order_id: Option<String>,
    user_id: Option<String>,
    /// Four digits.
    card_last4: Option<String>,
    prc: Option<String>,
    /// The tool paid with (or preselected), by code or number (附錄一).
    pfn: Option<String>,
    min_cost: Option<i64>,
    max_cost: Option<i64>,
    /// Created at or after (RFC 3339).
    from: Option<String>,
    /// Created before (RFC 3339).
    to: Option<String>,
    /// 1 to 200, 50 when absent.
    limit: Option<i64>,
    /// The `next` of the page before.
    after: Option<String>,
}

/// Orders a page holds unless `limit` says otherwise, and at most.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

const FILTERS: [&str; 13] = [
    "store_uid",
    "uid",
    "order_id",
    "user_id",
    "card_last4",
    "prc",
    "pfn",
    "min_cost",
    "max_cost",
    "from",
    "to",
    "limit",
    "after",
];

fn bad(field: &str, problem: &str) -> super::Refusal {
    super::refusal(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("{field}: {problem}"),
    )
}

/// The search the query string asks for; a value that does not parse is refused by name.
pub(crate) fn parse_search(q: &HashMap<String, String>) -> Result<OrderSearch, super::Refusal> {
    if let Some(unknown) = q.keys().find(|k| !FILTERS.contains(&k.as_str())) {
        return Err(bad(
            unknown,
            &format!("not a filter; filters are {}", FILTERS.join(", ")),
        ));
    }
    let text = |name: &str, max: usize| -> Result<Option<String>, super::Refusal> {
        match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) if v.chars().count() <= max && !v.chars().any(char::is_control) => {
                Ok(Some(v.to_owned()))
            }
            Some(_) => Err(bad(name, &format!("at most {max} characters"))),
        }
    };
    let int = |name: &str| -> Result<Option<i64>, super::Refusal> {
        match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| bad(name, "a whole number ≥ 0")),
        }
    };
    let time = |name: &str| -> Result<Option<Timestamp>, super::Refusal> {
        match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<Timestamp>()
                .map(Some)
                .map_err(|_| bad(name, "an RFC 3339 time, e.g. 2026-01-31T16:00:00Z")),
        }
    };
    let card_last4 = text("card_last4", 4)?;
    if let Some(l4) = &card_last4
        && (l4.len() != 4 || !l4.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("card_last4", "four digits"));
    }
    let pfn = text("pfn", 20)?
        .map(|p| mypay_protocol::PaymentTool::parse(&p).map_or(p, |t| t.code().to_owned()));
    let limit = int("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad("limit", &format!("from 1 to {MAX_LIMIT}")));
    }
    let uid = int("uid")?.map(|u| u as u64);
    let after = match q.get("after").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|u| *u <= i64::MAX as u64)
                .ok_or_else(|| bad("after", "the `next` of the page before"))?,
        ),
    };
    Ok(OrderSearch {
        store_uid: text("store_uid", 20)?,
        uid,
        order_id: text("order_id", 100)?,
        user_id: text("user_id", 100)?,
        card_last4,
        prc: text("prc", 10)?,
        pfn,
        min_cost: int("min_cost")?,
        max_cost: int("max_cost")?,
        from: time("from")?,
        to: time("to")?,
        before_uid: after,
        limit,
    })
}

/// An order as a search lists it.
pub(crate) fn summary(o: &OrderRow) -> Value {
    json!({
        "uid": o.uid,
        "store_uid": o.store_uid,
        "order_id": o.order_id,
        "user_id": o.stored_request().user_id,
        "cost": o.cost,
        "currency": o.currency,
        "prc": o.prc.code(),
        "pfn": o.paid_pfn.as_deref().unwrap_or(&o.pfn),
        "cardno": o.cardno,
        "created_at": o.created_at,
        "finished_at": o.finished_at,
    })
}

/// `GET /admin/api/v1/orders?store_uid=&uid=&order_id=&user_id=&card_last4=&prc=&pfn=
/// &min_cost=&max_cost=&from=&to=&limit=&after=`: newest first; `next` is the `after` of
/// the next page, `null` on the last.
#[utoipa::path(
    get,
    path = "/admin/api/v1/orders",
    tag = "orders",
    summary = "Search orders, newest first, keyset pages",
    params(OrderFilters),
    responses(
        (status = 200, description = "orders and next", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 422, description = "a field refused, named in the error", body = ErrorBody)
    )
)]
pub(super) async fn search(
    State(state): State<AppState>,
    _: Reader,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let search = match parse_search(&q) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let page = match state.store.search_orders(&search).await {
        Ok(page) => page,
        Err(e) => return internal(e),
    };
    let next = page.next.map(|n| n.to_string());
    let list: Vec<Value> = page.orders.iter().map(summary).collect();
    Json(json!({"orders": list, "next": next})).into_response()
}

/// `GET /admin/api/v1/orders/{uid}`: the order's query record (as `api/queryorder`
/// answers it), its notices, and `timeline`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/orders/{uid}",
    tag = "orders",
    summary = "An order's query record, notices and timeline",
    params(("uid" = u64, Path, description = "the order's uid")),
    responses(
        (status = 200, description = "the order", body = Object),
        (status = 401, description = "no live bearer token or session", body = ErrorBody),
        (status = 404, description = "no such thing", body = ErrorBody)
    )
)]
pub(super) async fn order(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    _: Reader,
) -> Response {
    let Some(uid) = uid.parse::<u64>().ok().filter(|u| *u <= i64::MAX as u64) else {
        return error(StatusCode::NOT_FOUND, "uid: no such order");
    };
    match order_view(&state, uid).await {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "uid: no such order"),
        Err(e) => internal(e),
    }
}

/// The order with everything that happened to it; `None` when there is no such order.
pub(crate) async fn order_view(
    state: &AppState,
    uid: u64,
) -> Result<Option<Value>, crate::store::StoreError> {
    let Some(order) = state.store.order(uid).await? else {
        return Ok(None);
    };
    let store = &state.store;
    let reversals = store.reversals(uid).await?;
    let invoice = store.invoice(uid).await?;
    let mut record = records::query_record_with(&order, &reversals);
    if let Some(invoice) = &invoice {
        records::add_invoice(&mut record, invoice);
    }
    let mut view = serde_json::to_value(&record).unwrap_or_else(|_| json!({}));

    let mut timeline: Vec<(Timestamp, Value)> = Vec::new();
    let request: Value = serde_json::from_str(&order.request).unwrap_or(Value::Null);
    timeline.push((
        order.created_at,
        json!({"kind": "request", "cmd": "api/orders", "request": request}),
    ));
    for change in store.state_changes(uid).await? {
        let kind = if change.cause.contains("authorizedrequestpayment")
            || change.cause.contains("capture")
        {
            "capture"
        } else {
            "state"
        };
        timeline.push((
            change.at,
            json!({"kind": kind, "from": change.from_prc, "to": change.to_prc, "cause": change.cause}),
        ));
    }
    for op in store.upstream_operations_of(uid).await? {
        timeline.push((
            op.created_at,
            json!({"kind": "upstream", "operation": op.kind, "upstream": op.upstream,
                   "reference": op.reference, "unresolved_at": op.unresolved_at}),
        ));
    }
    for cb in store.callbacks_at(uid).await? {
        timeline.push((
            cb.at,
            json!({"kind": "callback", "upstream": cb.upstream, "webhook_id": cb.webhook_id,
                   "event": cb.kind, "applied": cb.applied}),
        ));
    }
    for r in &reversals {
        let what = match r.kind {
            crate::store::ReversalKind::Refund => "refund",
            crate::store::ReversalKind::Cancel => "cancel",
        };
        timeline.push((
            r.created_at,
            json!({"kind": "refund", "reversal": what, "id": r.id, "cost": r.cost,
                   "prc": r.prc.code(), "finished_at": r.finished_at}),
        ));
    }
    if let Some(invoice) = &invoice {
        timeline.push((
            order.finished_at.unwrap_or(order.updated_at),
            json!({"kind": "invoice", "state": invoice.state, "period": invoice.period,
                   "total": invoice.total, "allowed": invoice.allowed}),
        ));
    }
    let notices = store
        .notices(&crate::store::NoticeFilter {
            uid: Some(uid),
            ..Default::default()
        })
        .await?;
    let mut notice_list = Vec::with_capacity(notices.len());
    for n in &notices {
        notice_list.push(json!({
            "id": n.id, "kind": n.kind, "prc": n.prc, "state": notice_state(&n.status),
            "attempts": n.attempts, "next_attempt_at": n.next_attempt_at.to_string(),
        }));
        for a in store.notice_attempts(n.id).await? {
            let at = a.at.parse::<Timestamp>().unwrap_or(n.created_at);
            timeline.push((
                at,
                json!({"kind": "notice_attempt", "notice_id": n.id, "notice_kind": n.kind,
                       "attempt": a.attempt, "trigger": a.trigger, "url": a.url,
                       "http_status": a.http_status, "reply": a.reply, "outcome": a.outcome}),
            ));
        }
    }
    for mail in store.emails(None, Some(uid), 100).await? {
        timeline.push((
            mail.created_at,
            json!({"kind": "email", "id": mail.id, "to": mail.to, "subject": mail.subject,
                   "sent_at": mail.sent_at}),
        ));
    }
    for entry in store.audit_about(&format!("order:{uid}")).await? {
        let after: Value = serde_json::from_str(&entry.after).unwrap_or(Value::Null);
        timeline.push((
            entry.at,
            json!({"kind": "admin", "actor": entry.actor, "action": entry.action, "after": after}),
        ));
    }
    // Stable: things recorded at one instant keep the order they were gathered in.
    timeline.sort_by_key(|(at, _)| *at);
    let timeline: Vec<Value> = timeline
        .into_iter()
        .map(|(at, mut v)| {
            v["at"] = json!(at);
            v
        })
        .collect();
    if let Some(map) = view.as_object_mut() {
        map.insert("store_uid".into(), json!(order.store_uid));
        map.insert("notices".into(), json!(notice_list));
        map.insert("timeline".into(), json!(timeline));
    }
    Ok(Some(view))
}

/// A notice's state as the back office names it.
pub(crate) fn notice_state(status: &str) -> &'static str {
    match status {
        "delivered" => "acknowledged",
        "failed" => "failed",
        _ => "pending",
    }
}

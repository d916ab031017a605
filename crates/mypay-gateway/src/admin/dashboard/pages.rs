//! The dashboard's pages and forms: orders and their timelines, merchants with their keys
//! and client codes, dealers, notices, e-mails and the audit log. Reads are the admin
//! API's reads; every form is an operator's write through the same core calls.

use super::{Me, Signed, Words, form_refused, message_page, page};
use crate::admin::orders::{notice_state, order_view, parse_search, summary};
use crate::service::admins;
use crate::service::merchants::{Operator, OperatorError};
use crate::state::AppState;
use crate::store::NoticeFilter;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::Value;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders))
        .route("/orders/{uid}", get(order))
        .route("/notices", get(notices))
        .route("/notices/{id}/resend", post(resend_notice))
        .route("/emails", get(emails))
        .route("/emails/{id}/resend", post(resend_email))
        .route("/merchants", get(merchants).post(create_merchant))
        .route("/merchants/{store_uid}", get(merchant))
        .route("/merchants/{store_uid}/keys/rotate", post(rotate_key))
        .route("/merchants/{store_uid}/keys/{id}/extend", post(extend_key))
        .route("/merchants/{store_uid}/keys/{id}/revoke", post(revoke_key))
        .route("/merchants/{store_uid}/client-codes", post(issue_code))
        .route(
            "/merchants/{store_uid}/client-codes/{id}/revoke",
            post(revoke_code),
        )
        .route("/dealers", get(dealers).post(create_dealer))
        .route("/dealers/link", post(link_dealer))
        .route("/audit", get(audit))
}

type Fields = HashMap<String, String>;

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn retry(signed: &Signed) -> Response {
    message_page(
        signed.words,
        Some(&signed.me),
        StatusCode::SERVICE_UNAVAILABLE,
        signed.words.retry,
        &[],
    )
}

fn refused(signed: &Signed, e: OperatorError) -> Response {
    let (status, why) = match e {
        OperatorError::Refused(r) => (StatusCode::UNPROCESSABLE_ENTITY, r.to_string()),
        OperatorError::NoMerchant(s) => {
            (StatusCode::NOT_FOUND, format!("store_uid: no merchant {s}"))
        }
        OperatorError::Missing(why) => (StatusCode::NOT_FOUND, why),
        OperatorError::Conflict(why) => (StatusCode::CONFLICT, why),
        OperatorError::Store(e) => {
            tracing::error!(error = %e, "dashboard");
            return retry(signed);
        }
    };
    message_page(
        signed.words,
        Some(&signed.me),
        status,
        signed.words.refused,
        &[(String::new(), why)],
    )
}

fn not_found(signed: &Signed) -> Response {
    message_page(
        signed.words,
        Some(&signed.me),
        StatusCode::NOT_FOUND,
        signed.words.not_found,
        &[],
    )
}

fn operator(state: &AppState, signed: &Signed) -> Operator {
    Operator::of(&state.core).acting_as(signed.actor())
}

fn id(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|n| *n > 0)
}

// ---- orders ----

pub(crate) struct OrderLine {
    uid: String,
    store_uid: String,
    order_id: String,
    user_id: String,
    cost: String,
    prc: String,
    pfn: String,
    cardno: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    q: Fields,
    rows: Vec<OrderLine>,
    next: Option<String>,
    error: Option<String>,
}

impl OrdersPage<'_> {
    /// The search form's field as asked.
    fn field(&self, name: &str) -> &str {
        self.q.get(name).map_or("", String::as_str)
    }
}

async fn orders(
    State(state): State<AppState>,
    signed: Signed,
    Query(mut q): Query<Fields>,
) -> Response {
    q.remove("lang");
    // Empty fields of the search form are no filter.
    q.retain(|_, v| !v.trim().is_empty());
    let (rows, next, error) = match parse_search(&q) {
        Err(refusal) => {
            let text = refusal.text;
            (Vec::new(), None, Some(text))
        }
        Ok(search) => match state.store.search_orders(&search).await {
            Ok(found) => {
                let next = found.next.map(|after| {
                    let mut query = q.clone();
                    query.insert("after".into(), after.to_string());
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(query.iter())
                        .finish()
                });
                let found = found.orders;
                let rows = found
                    .iter()
                    .map(|o| {
                        let s = summary(o);
                        OrderLine {
                            uid: text(&s["uid"]),
                            store_uid: text(&s["store_uid"]),
                            order_id: text(&s["order_id"]),
                            user_id: text(&s["user_id"]),
                            cost: text(&s["cost"]),
                            prc: text(&s["prc"]),
                            pfn: text(&s["pfn"]),
                            cardno: text(&s["cardno"]),
                            created: crate::clock::taipei::display(o.created_at),
                        }
                    })
                    .collect();
                (rows, next, None)
            }
            Err(e) => {
                tracing::error!(error = %e, "dashboard search");
                return retry(&signed);
            }
        },
    };
    page(
        &signed,
        OrdersPage {
            w: signed.words,
            me: Some(&signed.me),
            q,
            rows,
            next,
            error,
        },
    )
}

struct Event {
    at: String,
    kind: String,
    detail: String,
}

struct NoticeLine {
    id: i64,
    kind: String,
    prc: String,
    state: String,
    attempts: String,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    uid: u64,
    facts: Vec<(String, String)>,
    notices: Vec<NoticeLine>,
    events: Vec<Event>,
    flash: Option<&'static str>,
}

async fn order(
    State(state): State<AppState>,
    signed: Signed,
    Path(uid): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let Some(uid) = uid.parse::<u64>().ok().filter(|u| *u <= i64::MAX as u64) else {
        return not_found(&signed);
    };
    let view = match order_view(&state, uid).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(&signed),
        Err(e) => {
            tracing::error!(error = %e, "dashboard order");
            return retry(&signed);
        }
    };
    let facts = [
        "store_uid",
        "order_id",
        "user_id",
        "prc",
        "cost",
        "actual_cost",
        "pfn",
        "cardno",
        "retmsg",
        "finishtime",
    ]
    .iter()
    .filter(|k| view.get(**k).is_some_and(|v| !v.is_null() && v != ""))
    .map(|k| ((*k).to_owned(), text(&view[*k])))
    .collect();
    let notices = view["notices"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|n| NoticeLine {
                    id: n["id"].as_i64().unwrap_or_default(),
                    kind: text(&n["kind"]),
                    prc: text(&n["prc"]),
                    state: text(&n["state"]),
                    attempts: text(&n["attempts"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let events = view["timeline"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    let at = e["at"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map(crate::clock::taipei::display)
                        .unwrap_or_default();
                    let mut detail = e.clone();
                    if let Some(map) = detail.as_object_mut() {
                        map.remove("at");
                        map.remove("kind");
                    }
                    Event {
                        at,
                        kind: text(&e["kind"]),
                        detail: detail.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let flash = q.contains_key("resent").then_some(signed.words.resent);
    page(
        &signed,
        OrderPage {
            w: signed.words,
            me: Some(&signed.me),
            uid,
            facts,
            notices,
            events,
            flash,
        },
    )
}

// ---- notices and e-mails ----

struct NoticeRowLine {
    id: i64,
    uid: u64,
    store_uid: String,
    kind: String,
    prc: String,
    state: String,
    attempts: i64,
    url: String,
}

#[derive(Template)]
#[template(path = "admin/notices.html")]
struct NoticesPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    state: String,
    rows: Vec<NoticeRowLine>,
    flash: Option<&'static str>,
}

async fn notices(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    let wanted = q.get("state").map(String::as_str).unwrap_or("");
    let status = match wanted {
        "pending" => Some("pending"),
        "acknowledged" => Some("delivered"),
        "failed" => Some("failed"),
        _ => None,
    };
    let filter = NoticeFilter {
        status,
        page: Some((i64::MAX, 100)),
        ..Default::default()
    };
    let rows = match state.store.notices(&filter).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "dashboard notices");
            return retry(&signed);
        }
    };
    let rows = rows
        .into_iter()
        .map(|n| NoticeRowLine {
            id: n.id,
            uid: n.uid,
            store_uid: n.store_uid,
            kind: n.kind,
            prc: n.prc,
            state: notice_state(&n.status).to_owned(),
            attempts: n.attempts,
            url: n.url,
        })
        .collect();
    let flash = q.contains_key("resent").then_some(signed.words.resent);
    page(
        &signed,
        NoticesPage {
            w: signed.words,
            me: Some(&signed.me),
            state: status.map(|_| wanted.to_owned()).unwrap_or_default(),
            rows,
            flash,
        },
    )
}

/// `POST /notices/{id}/resend`: one more attempt now; back to where the form was.
async fn resend_notice(
    State(state): State<AppState>,
    signed: Signed,
    Path(id_text): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let Some(id) = id(&id_text) else {
        return not_found(&signed);
    };
    let notice = match state.store.notice(id).await {
        Ok(Some(n)) => n,
        Ok(None) => return not_found(&signed),
        Err(e) => {
            tracing::error!(error = %e, "dashboard resend");
            return retry(&signed);
        }
    };
    let acknowledged = match state.deliveries.resend(id).await {
        Ok(Some(ack)) => ack,
        Ok(None) => return not_found(&signed),
        Err(e) => {
            tracing::error!(error = %e, "dashboard resend");
            return retry(&signed);
        }
    };
    operator(&state, &signed)
        .record(
            "notice.resend",
            &format!("order:{}", notice.uid),
            serde_json::json!({"notice_id": id, "state": notice_state(&notice.status)}),
            serde_json::json!({"notice_id": id, "acknowledged": acknowledged}),
        )
        .await;
    let back = if form.get("back").map(String::as_str) == Some("order") {
        format!("/orders/{}?resent=1", notice.uid)
    } else {
        "/notices?resent=1".to_owned()
    };
    Redirect::to(&back).into_response()
}

struct EmailLine {
    id: i64,
    to: String,
    subject: String,
    body: String,
    created: String,
    sent: bool,
    order_uid: String,
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct EmailsPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    rows: Vec<EmailLine>,
    flash: Option<&'static str>,
}

async fn emails(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    let rows = match state.store.emails(None, None, 100).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "dashboard e-mails");
            return retry(&signed);
        }
    };
    let rows = rows
        .into_iter()
        .map(|m| EmailLine {
            id: m.id,
            to: m.to,
            subject: m.subject,
            body: m.body,
            created: crate::clock::taipei::display(m.created_at),
            sent: m.sent_at.is_some(),
            order_uid: m.order_uid.map(|u| u.to_string()).unwrap_or_default(),
        })
        .collect();
    let flash = q.contains_key("resent").then_some(signed.words.resent);
    page(
        &signed,
        EmailsPage {
            w: signed.words,
            me: Some(&signed.me),
            rows,
            flash,
        },
    )
}

async fn resend_email(
    State(state): State<AppState>,
    signed: Signed,
    Path(id_text): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let Some(id) = id(&id_text) else {
        return not_found(&signed);
    };
    let original = match state.store.email(id).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(&signed),
        Err(e) => {
            tracing::error!(error = %e, "dashboard e-mail resend");
            return retry(&signed);
        }
    };
    match state
        .store
        .resend_email(id, state.clocks.shared().now())
        .await
    {
        Ok(Some(new_id)) => {
            let subject = original
                .order_uid
                .map_or_else(|| format!("email:{id}"), |u| format!("order:{u}"));
            operator(&state, &signed)
                .record(
                    "email.resend",
                    &subject,
                    serde_json::json!({"email_id": id}),
                    serde_json::json!({"email_id": new_id}),
                )
                .await;
            Redirect::to("/emails?resent=1").into_response()
        }
        Ok(None) => not_found(&signed),
        Err(e) => {
            tracing::error!(error = %e, "dashboard e-mail resend");
            retry(&signed)
        }
    }
}

// ---- merchants, keys, client codes ----

struct MerchantLine {
    store_uid: String,
    name: String,
    keys: String,
}

#[derive(Template)]
#[template(path = "admin/merchants.html")]
struct MerchantsPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    rows: Vec<MerchantLine>,
}

fn until_text(w: &Words, until: Option<jiff::Timestamp>) -> String {
    until.map_or_else(|| w.never.to_owned(), crate::clock::taipei::display)
}

async fn merchants(State(state): State<AppState>, signed: Signed) -> Response {
    let list = match Operator::of(&state.core).merchants().await {
        Ok(list) => list,
        Err(e) => return refused(&signed, e),
    };
    let rows = list
        .into_iter()
        .map(|m| MerchantLine {
            keys: m
                .keys
                .iter()
                .map(|k| until_text(signed.words, k.valid_until))
                .collect::<Vec<_>>()
                .join(", "),
            store_uid: m.store_uid,
            name: m.name,
        })
        .collect();
    page(
        &signed,
        MerchantsPage {
            w: signed.words,
            me: Some(&signed.me),
            rows,
        },
    )
}

async fn create_merchant(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let name = form.get("name").map(String::as_str).unwrap_or("");
    match operator(&state, &signed).create_merchant(name).await {
        Ok(made) => message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::CREATED,
            signed.words.done,
            &[
                ("store_uid".into(), made.store_uid),
                ("key".into(), made.key),
            ],
        ),
        Err(e) => refused(&signed, e),
    }
}

struct KeyLine {
    id: i64,
    from: String,
    until: String,
    state: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "admin/merchant.html")]
struct MerchantPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    store_uid: String,
    name: String,
    settings: String,
    keys: Vec<KeyLine>,
    codes: Vec<KeyLine>,
}

fn key_lines(w: &Words, records: Vec<crate::service::credentials::KeyRecord>) -> Vec<KeyLine> {
    records
        .into_iter()
        .map(|k| KeyLine {
            id: k.id,
            from: crate::clock::taipei::display(k.valid_from),
            until: until_text(w, k.valid_until),
            live: k.state == "valid",
            state: k.state.to_owned(),
        })
        .collect()
}

async fn merchant(
    State(state): State<AppState>,
    signed: Signed,
    Path(store_uid): Path<String>,
) -> Response {
    let operator = Operator::of(&state.core);
    let view = match operator.merchant(&store_uid).await {
        Ok(v) => v,
        Err(e) => return refused(&signed, e),
    };
    let keys = match operator.key_records(&store_uid).await {
        Ok(k) => k,
        Err(e) => return refused(&signed, e),
    };
    let codes = match operator.client_codes(&store_uid).await {
        Ok(c) => c,
        Err(e) => return refused(&signed, e),
    };
    let settings =
        serde_json::to_string_pretty(&crate::service::merchants::redacted(&view.settings))
            .unwrap_or_default();
    page(
        &signed,
        MerchantPage {
            w: signed.words,
            me: Some(&signed.me),
            name: view.settings.name.clone(),
            store_uid,
            settings,
            keys: key_lines(signed.words, keys),
            codes: key_lines(signed.words, codes),
        },
    )
}

async fn rotate_key(
    State(state): State<AppState>,
    signed: Signed,
    Path(store_uid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let revoke_old = form
        .get("revoke_old")
        .is_some_and(|v| v == "on" || v == "true");
    match operator(&state, &signed)
        .rotate_key(&store_uid, revoke_old)
        .await
    {
        Ok(made) => message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::CREATED,
            signed.words.done,
            &[
                ("store_uid".into(), made.store_uid),
                ("key".into(), made.key),
            ],
        ),
        Err(e) => refused(&signed, e),
    }
}

async fn extend_key(
    State(state): State<AppState>,
    signed: Signed,
    Path((store_uid, key_id)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let Some(key_id) = id(&key_id) else {
        return not_found(&signed);
    };
    match operator(&state, &signed)
        .extend_key(&store_uid, Some(key_id))
        .await
    {
        Ok(_) => Redirect::to(&format!("/merchants/{store_uid}")).into_response(),
        Err(e) => refused(&signed, e),
    }
}

async fn revoke_key(
    State(state): State<AppState>,
    signed: Signed,
    Path((store_uid, key_id)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let Some(key_id) = id(&key_id) else {
        return not_found(&signed);
    };
    match operator(&state, &signed)
        .revoke_key(&store_uid, key_id)
        .await
    {
        Ok(_) => Redirect::to(&format!("/merchants/{store_uid}")).into_response(),
        Err(e) => refused(&signed, e),
    }
}

async fn issue_code(
    State(state): State<AppState>,
    signed: Signed,
    Path(store_uid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    match operator(&state, &signed)
        .issue_client_code(&store_uid)
        .await
    {
        Ok(made) => message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::CREATED,
            signed.words.done,
            &[
                ("store_uid".into(), made.store_uid),
                ("id".into(), made.id.to_string()),
                ("code".into(), made.code),
            ],
        ),
        Err(e) => refused(&signed, e),
    }
}

async fn revoke_code(
    State(state): State<AppState>,
    signed: Signed,
    Path((store_uid, code_id)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let Some(code_id) = id(&code_id) else {
        return not_found(&signed);
    };
    match operator(&state, &signed)
        .revoke_client_code(Some(&store_uid), code_id)
        .await
    {
        Ok(_) => Redirect::to(&format!("/merchants/{store_uid}")).into_response(),
        Err(e) => refused(&signed, e),
    }
}

// ---- dealers ----

struct DealerLine {
    agent_uid: String,
    name: String,
    merchants: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/dealers.html")]
struct DealersPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    rows: Vec<DealerLine>,
}

async fn dealers(State(state): State<AppState>, signed: Signed) -> Response {
    let list = match Operator::of(&state.core).dealers().await {
        Ok(list) => list,
        Err(e) => return refused(&signed, e),
    };
    let rows = list
        .into_iter()
        .map(|d| DealerLine {
            agent_uid: d.agent_uid,
            name: d.name,
            merchants: d.merchants,
        })
        .collect();
    page(
        &signed,
        DealersPage {
            w: signed.words,
            me: Some(&signed.me),
            rows,
        },
    )
}

async fn create_dealer(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let name = form.get("name").map(String::as_str).unwrap_or("");
    match operator(&state, &signed).create_dealer(name).await {
        Ok(made) => message_page(
            signed.words,
            Some(&signed.me),
            StatusCode::CREATED,
            signed.words.done,
            &[
                ("agent_uid".into(), made.agent_uid),
                ("key".into(), made.key),
            ],
        ),
        Err(e) => refused(&signed, e),
    }
}

/// `POST /dealers/link`: `agent_uid`, `store_uid` and `action` (`attach` or `detach`).
async fn link_dealer(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(refusal) = form_refused(&signed, &form) {
        return refusal;
    }
    let field = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let attach = field("action") != "detach";
    match operator(&state, &signed)
        .link_dealer(field("agent_uid"), field("store_uid"), attach)
        .await
    {
        Ok(()) => Redirect::to("/dealers").into_response(),
        Err(e) => refused(&signed, e),
    }
}

// ---- audit ----

struct AuditLine {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    w: &'static Words,
    me: Option<&'a Me>,
    broken_at: Option<i64>,
    rows: Vec<AuditLine>,
    next: Option<i64>,
}

async fn audit(State(state): State<AppState>, signed: Signed, Query(q): Query<Fields>) -> Response {
    let after = q.get("after").and_then(|a| a.parse::<i64>().ok());
    let (entries, broken) = match (
        state.store.audit(after, 100).await,
        admins::verify_audit(&state.store).await,
    ) {
        (Ok(e), Ok(b)) => (e, b),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "dashboard audit");
            return retry(&signed);
        }
    };
    let next = (entries.len() == 100)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let rows = entries
        .into_iter()
        .map(|e| AuditLine {
            id: e.id,
            at: crate::clock::taipei::display(e.at),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            after: e.after,
        })
        .collect();
    page(
        &signed,
        AuditPage {
            w: signed.words,
            me: Some(&signed.me),
            broken_at: broken,
            rows,
            next,
        },
    )
}

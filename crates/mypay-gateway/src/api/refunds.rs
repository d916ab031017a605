//! `api/refund` (交易退款) and `api/refundcancel` (取消退款), SPEC §7: each row parsed
//! and planned here, the money moved by the core (`service::refund`).
//!
//! Both answer `{key, uid, code, msg, row_data}` (B200/B500) as the document's examples
//! do, refusals included; the multi-row form (`rows`) answers an array of those.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use super::lookup::merchant_order;
use crate::ledger::reversal::{self, RefundAsk, RefundPlan, Refundable};
use crate::records;
use crate::service::{self, MoneyError};
use crate::state::AppState;
use crate::store::{Merchant, OrderRow};
use mypay_protocol::messages::{RefundRequest, RefundResponse};
use mypay_protocol::{Command, PaymentTool, Prc};
use serde_json::Value;

/// The most rows one multi-row request may carry.
const MAX_ROWS: usize = 100;

pub async fn refund(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    each_row(state, request, Command::Refund).await
}

pub async fn cancel(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    each_row(state, request, Command::RefundCancel).await
}

/// Answer one request, or, in the multi-row form (`rows`), each row in turn with an array.
async fn each_row(
    state: &AppState,
    request: &Authenticated,
    command: Command,
) -> Result<Vec<u8>, ApiError> {
    let answer = async |one: &RefundRequest| match command {
        Command::RefundCancel => cancel_one(state, &request.merchant, one).await,
        _ => refund_one(state, &request.merchant, one).await,
    };
    let req: RefundRequest = parse_data(command, &request.data)?;
    match rows(command, &req.rows)? {
        None => serde_json::to_vec(&answer(&req).await?).map_err(ApiError::internal),
        Some(rows) => {
            // Each row stands alone: earlier rows may already be written, so a bad or
            // failing row is answered in its place, never by failing the whole request.
            let mut answers = Vec::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                let one = match parse_row(command, i, row, &request.merchant.store_uid) {
                    Ok(one) => answer(&one).await,
                    Err(e) => Err(e),
                };
                answers.push(one.unwrap_or_else(|e| RefundResponse {
                    key: text_field(row, "key"),
                    uid: text_field(row, "uid"),
                    code: e.code.code().to_owned(),
                    msg: e.msg,
                    row_data: None,
                }));
            }
            serde_json::to_vec(&answers).map_err(ApiError::internal)
        }
    }
}

/// The rows of the multi-row form, if the request uses it.
fn rows(command: Command, rows: &Option<Value>) -> Result<Option<Vec<Value>>, ApiError> {
    match rows {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(rows)) if rows.is_empty() => {
            Err(ApiError::new(command, "rows: must list at least one row"))
        }
        Some(Value::Array(rows)) if rows.len() > MAX_ROWS => Err(ApiError::new(
            command,
            format!("rows: at most {MAX_ROWS} rows per request"),
        )),
        Some(Value::Array(rows)) => Ok(Some(rows.clone())),
        Some(_) => Err(ApiError::new(command, "rows: must be an array")),
    }
}

fn parse_row(
    command: Command,
    i: usize,
    row: &Value,
    store_uid: &str,
) -> Result<RefundRequest, ApiError> {
    let text = serde_json::to_vec(row).map_err(ApiError::internal)?;
    let one = parse_data::<RefundRequest>(command, &text)
        .map_err(|e| ApiError::new(command, format!("rows[{i}].{}", e.msg)))?;
    // A row may name its merchant too; like the request's own, it must be the credentials'.
    let field = format!("rows[{i}].store_uid");
    super::auth::same_merchant(command, &field, one.store_uid.as_deref(), store_uid)?;
    Ok(one)
}

/// A row's `uid` or `key` as text, whatever its JSON type, for echoing it back.
fn text_field(row: &Value, name: &str) -> String {
    match row.get(name) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A refusal in the answer's own shape.
fn refused(uid: Option<&str>, key: Option<&str>, msg: impl Into<String>) -> RefundResponse {
    RefundResponse {
        key: key.unwrap_or_default().trim().to_owned(),
        uid: uid.unwrap_or_default().trim().to_owned(),
        code: Prc::NotDone.code().to_owned(),
        msg: msg.into(),
        row_data: None,
    }
}

/// Internal failures stay `400` (nothing changed); refusals become a B500 answer.
fn refusal_or_internal(e: ApiError, req: &RefundRequest) -> Result<RefundResponse, ApiError> {
    if e.is_internal() {
        Err(e)
    } else {
        Ok(refused(req.uid.as_deref(), req.key.as_deref(), e.msg))
    }
}

fn plan_for(
    order: &OrderRow,
    req: &RefundRequest,
    has_invoice: bool,
) -> Result<RefundPlan, reversal::Refused> {
    let items = records::order_items(order);
    reversal::plan_refund(
        Refundable {
            prc: order.prc,
            tool: order.paid_pfn.as_deref().and_then(PaymentTool::parse),
            paid: order.actual_cost.unwrap_or(order.cost),
            refunded: order.refunded,
            order_items: &items,
            has_invoice,
        },
        &RefundAsk {
            cost: req.cost.clone(),
            invoice_state: req.invoice_state,
            items: req.items.clone(),
        },
    )
}

async fn refund_one(
    state: &AppState,
    merchant: &Merchant,
    req: &RefundRequest,
) -> Result<RefundResponse, ApiError> {
    let command = Command::Refund;
    let order = match merchant_order(state, merchant, command, req).await {
        Ok(order) => order,
        Err(e) => return refusal_or_internal(e, req),
    };
    // An issued (or allowed) invoice is voided or allowed with the refund, checked first.
    let invoice = service::invoices::refundable_invoice(state, order.uid)
        .await
        .map_err(ApiError::internal)?;
    let plan = match plan_for(&order, req, invoice.is_some()) {
        Ok(plan) => plan,
        Err(e) => return Ok(refused(req.uid.as_deref(), req.key.as_deref(), e.0)),
    };
    let change = match &invoice {
        Some(invoice) => match service::invoices::refund_change(
            invoice,
            plan.invoice_state,
            plan.cost,
            plan.items.as_deref(),
            state.now_for(&order.store_uid),
        ) {
            Ok(change) => Some(change),
            Err(msg) => return Ok(refused(req.uid.as_deref(), req.key.as_deref(), msg)),
        },
        None => None,
    };
    let row = match service::refund(state, &order, merchant, &plan).await {
        Ok(row) => row,
        Err(MoneyError::Moved(_)) => {
            // Another refund (or a state change) got there first: explain with fresh facts.
            let fresh = state
                .store
                .order(order.uid)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("an order vanished during a refund"))?;
            let msg = match plan_for(&fresh, req, invoice.is_some()) {
                Err(e) => e.0,
                Ok(_) => "同時有另一筆退款變更了可退款餘額，請重新查詢後再試".to_owned(),
            };
            return Ok(refused(req.uid.as_deref(), req.key.as_deref(), msg));
        }
        Err(MoneyError::Refused(msg)) => {
            return Ok(refused(req.uid.as_deref(), req.key.as_deref(), msg));
        }
        Err(MoneyError::Store(e)) => return Err(ApiError::internal(e)),
        Err(MoneyError::Unavailable) => {
            return Err(ApiError::internal("the upstream did not answer"));
        }
    };
    if let Some(change) = &change {
        match service::invoices::apply_refund(state, change, row.id).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                uid = order.uid,
                "a refund's invoice change no longer applied"
            ),
            Err(e) => {
                tracing::error!(uid = order.uid, error = %e, "voiding or allowing an invoice")
            }
        }
    }
    Ok(RefundResponse {
        key: order.token.clone(),
        uid: order.uid.to_string(),
        code: Prc::Done.code().to_owned(),
        msg: if plan.real_time {
            "執行成功".to_owned()
        } else {
            "執行成功,退款申請中，將於次日 00:00 批次退款".to_owned()
        },
        row_data: plan.real_time.then(|| records::refund_row(&order, &row)),
    })
}

async fn cancel_one(
    state: &AppState,
    merchant: &Merchant,
    req: &RefundRequest,
) -> Result<RefundResponse, ApiError> {
    let command = Command::RefundCancel;
    let order = match merchant_order(state, merchant, command, req).await {
        Ok(order) => order,
        Err(e) => return refusal_or_internal(e, req),
    };
    if service::invoices::holds_queued_refunds(state, order.uid)
        .await
        .map_err(ApiError::internal)?
    {
        return Ok(refused(
            req.uid.as_deref(),
            req.key.as_deref(),
            "invoice: 此筆退款已作廢或折讓電子發票,無法取消 (the refund voided or allowed the e-invoice)",
        ));
    }
    if state.movements.is_some() {
        // Production asks the upstream for every refund as soon as it is recorded: one
        // waiting is the upstream's to finish, and cancelling only our record would leave
        // the money moving without it.
        return Ok(refused(
            req.uid.as_deref(),
            req.key.as_deref(),
            "無法取消此筆退款,退款已送交收單機構處理 (the refund was sent to the acquirer)。",
        ));
    }
    let cancelled = service::cancel_queued_refunds(state, &order)
        .await
        .map_err(ApiError::internal)?;
    if cancelled.is_empty() {
        return Ok(refused(
            req.uid.as_deref(),
            req.key.as_deref(),
            "無法取消此筆退款,原因為目前此筆狀態不是申請中。",
        ));
    }
    let total: i64 = cancelled.iter().map(|r| r.cost).sum();
    Ok(RefundResponse {
        key: order.token.clone(),
        uid: order.uid.to_string(),
        code: Prc::Done.code().to_owned(),
        msg: format!(
            "執行成功,已取消 {} 筆退款申請 (共 {total})",
            cancelled.len()
        ),
        row_data: None,
    })
}

//! `api/authorizedrequestpayment` (信用卡授權請款) and `api/cancelauthorization`
//! (信用卡取消授權), SPEC §8: parsed here, done by the core (`service::capture`,
//! `service::cancel_authorisation`). Both answer `{code, msg, content}` with the full
//! query record after the change.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use super::lookup::merchant_order;
use crate::records;
use crate::service::{self, MoneyError};
use crate::state::AppState;
use crate::store::OrderRow;
use mypay_protocol::messages::{RecordResponse, RefundRequest, UidKeyRequest};
use mypay_protocol::{Command, Prc};

pub async fn capture(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::AuthorizedRequestPayment;
    let req: RefundRequest = parse_data(command, &request.data)?;
    let merchant = &request.merchant;
    let order = merchant_order(state, merchant, command, &req).await?;
    let done = service::capture(
        state,
        &order,
        merchant,
        req.cost.as_deref(),
        req.items.as_deref(),
    )
    .await
    .map_err(|e| refused(command, e))?;
    let msg = if done.batch {
        "執行成功,請款處理進行中。"
    } else {
        "執行成功,請款完成。"
    };
    answer(state, order.uid, msg).await
}

pub async fn cancel(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::CancelAuthorization;
    let req: UidKeyRequest = parse_data(command, &request.data)?;
    let merchant = &request.merchant;
    let order = merchant_order(state, merchant, command, &req).await?;
    service::cancel_authorisation(state, &order, merchant)
        .await
        .map_err(|e| refused(command, e))?;
    answer(state, order.uid, "執行成功,取消授權完成").await
}

/// The document's answer for a capture or cancel the core refused.
fn refused(command: Command, e: MoneyError) -> ApiError {
    match e {
        MoneyError::Refused(msg) => ApiError::new(command, msg),
        MoneyError::Moved(from) => ApiError::new(
            command,
            format!("此筆交易狀態已變更 (不再是 {})，請重新查詢", from.code()),
        ),
        MoneyError::Store(e) => ApiError::internal(e),
        // Nothing recorded; the same request asked again is done once.
        MoneyError::Unavailable => ApiError::internal("the upstream did not answer"),
    }
}

/// `{code: B200, msg, content}` with the record as it is now.
async fn answer(state: &AppState, uid: u64, msg: &str) -> Result<Vec<u8>, ApiError> {
    let order: OrderRow = state
        .store
        .order(uid)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("an order vanished after its change"))?;
    let reversals = state
        .store
        .reversals(uid)
        .await
        .map_err(ApiError::internal)?;
    serde_json::to_vec(&RecordResponse {
        code: Prc::Done.code().to_owned(),
        msg: msg.to_owned(),
        content: records::query_record_with(&order, &reversals),
    })
    .map_err(ApiError::internal)
}

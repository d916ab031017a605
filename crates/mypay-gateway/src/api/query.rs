//! `api/queryorder` (交易查詢): the full query record of one of the merchant's orders.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::app::AppState;
use crate::records;
use mypay_protocol::Command;
use mypay_protocol::messages::UidKeyRequest;

pub async fn query(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::QueryOrder;
    let req: UidKeyRequest = parse_data(command, &request.data)?;
    let uid_text = req
        .uid
        .as_deref()
        .ok_or_else(|| ApiError::new(command, "uid: is required"))?;
    let key = req
        .key
        .as_deref()
        .ok_or_else(|| ApiError::new(command, "key: is required"))?;
    let uid: u64 = uid_text.trim().parse().map_err(|_| {
        ApiError::new(
            command,
            format!("uid: {uid_text:?} is not a transaction number"),
        )
    })?;
    let order = state
        .reader
        .order(uid)
        .await
        .map_err(ApiError::internal)?
        .filter(|o| o.store_uid == request.merchant.store_uid && o.token == key.trim())
        .ok_or_else(|| {
            ApiError::new(
                command,
                format!("uid/key: no order {uid} with this key for this merchant"),
            )
        })?;
    let record = records::query_record(&order);
    serde_json::to_vec(&record).map_err(ApiError::internal)
}

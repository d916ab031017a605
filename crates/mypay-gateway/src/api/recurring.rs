//! `api/disabledirectdebit` (定期定額式扣款取消, SPEC §9): parsed here, done by the core
//! (`service::recurring::stop`). Answers `{code, msg, order_id, group_id}` either way,
//! as the document's example does.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::service::recurring::{self, StopError};
use crate::state::AppState;
use mypay_protocol::messages::{DisableDirectDebitRequest, DisableDirectDebitResponse};
use mypay_protocol::{Command, Prc};

pub async fn disable(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::DisableDirectDebit;
    let req: DisableDirectDebitRequest = parse_data(command, &request.data)?;
    let order_id = req.order_id.clone().unwrap_or_default();
    let group_id = req.group_id.clone().unwrap_or_default();
    let answer = |code: Prc, msg: String, group_id: String| {
        super::to_json(
            &DisableDirectDebitResponse {
                code: code.code().to_owned(),
                msg,
                order_id: order_id.clone(),
                group_id,
            },
            128,
        )
    };
    for (field, value) in [
        ("order_id", &req.order_id),
        ("group_id", &req.group_id),
        ("stop_time", &req.stop_time),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            return answer(Prc::NotDone, format!("{field}: is required"), group_id);
        }
    }
    match recurring::stop(
        state,
        &request.merchant,
        &order_id,
        &group_id,
        req.stop_time.as_deref().unwrap_or(""),
        req.stop_reason.as_deref().unwrap_or(""),
    )
    .await
    {
        Ok(stopped) => answer(Prc::Done, "執行成功".to_owned(), stopped.group_id),
        Err(StopError::Refused(msg)) => answer(Prc::NotDone, msg, group_id),
        Err(StopError::Store(e)) => Err(ApiError::internal(e)),
    }
}

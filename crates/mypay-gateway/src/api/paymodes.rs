//! `api/paymentsupportpaymode` (特約商店可用支付工具查詢): the merchant's enabled tools
//! whose limits admit the amount, as codes (SPEC §11).

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::state::AppState;
use mypay_protocol::lenient::parse_integer;
use mypay_protocol::messages::{SupportPayModeRequest, SupportPayModeResponse};
use mypay_protocol::values::Currency;
use mypay_protocol::{Command, Prc};

pub async fn list(_state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::PaymentSupportPayMode;
    let req: SupportPayModeRequest = parse_data(command, &request.data)?;
    let cost_text = req
        .cost
        .as_deref()
        .ok_or_else(|| ApiError::new(command, "cost: is required"))?;
    let cost = parse_integer(cost_text).ok_or_else(|| {
        ApiError::new(
            command,
            format!("cost: must be a whole number, got {cost_text:?}"),
        )
    })?;
    if cost < 1 {
        return Err(ApiError::new(command, "cost: must be at least 1"));
    }
    Currency::parse(req.currency.as_deref())
        .ok_or_else(|| ApiError::new(command, "currency: must be TWD or CNY"))?;
    let content = request
        .merchant
        .settings
        .tools_for_amount(cost)
        .into_iter()
        .map(|t| t.code().to_owned())
        .collect();
    let answer = SupportPayModeResponse {
        code: Prc::Done.code().to_owned(),
        msg: "執行成功".to_owned(),
        content,
    };
    serde_json::to_vec(&answer).map_err(ApiError::internal)
}

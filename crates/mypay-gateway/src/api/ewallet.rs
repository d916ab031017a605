//! `api/ewalletbind` (MYPAY電子錢包綁定, SPEC §9): parsed here, recorded by the core
//! (`service::ewallet::open_bind`). A merchant sends the store form on `/api/init`, a
//! dealer the same fields on `/api/agent` for one of its merchants; both answer `B200`
//! with the bind page's URL.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use crate::service::ewallet::{self, WalletError};
use crate::state::AppState;
use mypay_protocol::messages::{EwalletBindRequest, EwalletBindResponse};
use mypay_protocol::{Command, Prc};

pub async fn bind(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::EwalletBind;
    let req: EwalletBindRequest = parse_data(command, &request.data)?;
    let answer = |code: Prc, msg: String, url: String| {
        super::to_json(
            &EwalletBindResponse {
                code: code.code().to_owned(),
                msg,
                url,
            },
            160,
        )
    };
    match ewallet::open_bind(state, &request.merchant, req).await {
        Ok(id) => answer(
            Prc::Done,
            "執行成功".to_owned(),
            format!(
                "{}/ewallet/{}.html",
                state.base_url,
                state.tickets.wallet_ticket(id)
            ),
        ),
        Err(WalletError::Refused(msg)) => answer(Prc::NotDone, msg, String::new()),
        Err(WalletError::Store(e)) => Err(ApiError::internal(e)),
    }
}

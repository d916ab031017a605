//! `api/queryorder` (交易查詢): the full query record of one of the merchant's orders.

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use super::lookup::merchant_order;
use crate::records;
use crate::state::AppState;
use mypay_protocol::messages::UidKeyRequest;
use mypay_protocol::{Command, Prc};

pub async fn query(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::QueryOrder;
    let req: UidKeyRequest = parse_data(command, &request.data)?;
    let order = merchant_order(state, &request.merchant, command, &req).await?;
    // An order awaiting payment has no refunds or cancellations to read.
    let reversals = if order.prc == Prc::Created {
        Vec::new()
    } else {
        state
            .store
            .reversals(order.uid)
            .await
            .map_err(ApiError::internal)?
    };
    let invoice = if order.prc == Prc::Created {
        None
    } else {
        state
            .store
            .invoice(order.uid)
            .await
            .map_err(ApiError::internal)?
    };
    // Built after the last await: the record (kilobytes) is then no part of the future.
    let mut record = records::query_record_with(&order, &reversals);
    if let Some(invoice) = &invoice {
        records::add_invoice(&mut record, invoice);
    }
    super::to_json(&record, 2048)
}

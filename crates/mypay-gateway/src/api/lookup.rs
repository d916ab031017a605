//! Finding the order a command names by `uid` + `key`, for the requesting merchant only.

use super::ApiError;
use crate::state::AppState;
use crate::store::{Merchant, OrderRow};
use mypay_protocol::Command;
use mypay_protocol::messages::{IssueInvoiceRequest, RefundRequest, UidKeyRequest};

/// A command's data that names one order by its `uid` and `key`.
pub trait NamesOrder {
    fn uid(&self) -> Option<&str>;
    fn key(&self) -> Option<&str>;
}

macro_rules! names_order {
    ($($request:ty),*) => {$(
        impl NamesOrder for $request {
            fn uid(&self) -> Option<&str> {
                self.uid.as_deref()
            }
            fn key(&self) -> Option<&str> {
                self.key.as_deref()
            }
        }
    )*};
}
names_order!(UidKeyRequest, RefundRequest, IssueInvoiceRequest);

/// The merchant's order `uid` whose `key` matches. A wrong key, another merchant's order
/// and a missing order get the same answer, so nothing leaks about other merchants.
pub async fn merchant_order(
    state: &AppState,
    merchant: &Merchant,
    command: Command,
    named: &impl NamesOrder,
) -> Result<OrderRow, ApiError> {
    let uid_text = named
        .uid()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::new(command, "uid: is required"))?;
    let key = named
        .key()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::new(command, "key: is required"))?;
    let uid: u64 = uid_text.parse().map_err(|_| {
        ApiError::new(
            command,
            format!("uid: {uid_text:?} is not a transaction number"),
        )
    })?;
    state
        .store
        .order(uid)
        .await
        .map_err(ApiError::internal)?
        .filter(|o| o.store_uid == merchant.store_uid && o.token == key)
        .ok_or_else(|| {
            ApiError::new(
                command,
                format!("uid/key: no order {uid} with this key for this merchant"),
            )
        })
}

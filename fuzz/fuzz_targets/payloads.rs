//! The lenient JSON of every command's payload (numbers as text or numbers, anything
//! else refused by name), and an order's validation against the sample merchant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_gateway::ledger::merchant::MerchantSettings;
use mypay_gateway::ledger::order::NewOrder;
use mypay_protocol::messages::{
    DisableDirectDebitRequest, EwalletBindRequest, IssueInvoiceRequest, OrderRequest,
    RefundRequest, SupportPayModeRequest, UidKeyRequest,
};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<UidKeyRequest>(data);
    let _ = serde_json::from_slice::<RefundRequest>(data);
    let _ = serde_json::from_slice::<DisableDirectDebitRequest>(data);
    let _ = serde_json::from_slice::<EwalletBindRequest>(data);
    let _ = serde_json::from_slice::<IssueInvoiceRequest>(data);
    let _ = serde_json::from_slice::<SupportPayModeRequest>(data);
    if let Ok(order) = serde_json::from_slice::<OrderRequest>(data) {
        let settings = MerchantSettings::sandbox_defaults("fuzz");
        let now =
            jiff::Timestamp::from_second(1_767_225_600).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        if let Ok(parsed) = NewOrder::parse("289151880002", order, &settings, now) {
            let _ = parsed.request_json();
        }
    }
});

//! Form bodies as the document's samples send them (PHP and Python forms with `\uXXXX`
//! escapes, Node.js JSON), read field by field: the outer request, and every kind of
//! notice a merchant's SDK reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_protocol::outer::OuterRequest;

fuzz_target!(|data: &[u8]| {
    let _ = OuterRequest::from_body(Some("application/x-www-form-urlencoded"), data);
    let _ = OuterRequest::from_body(Some("application/json"), data);
    let _ = mypay_protocol::notice::TransactionNotice::from_form(data).to_form();
    let _ = mypay_protocol::messages::RefundRow::from_form(data).to_form();
    let _ = mypay_protocol::notice::EwalletNotice::from_form(data).to_form();
    let _ = mypay_client::Notice::parse(data);
});

//! `api/issueinvoice` (電子發票開立) and `api/invoice` (電子發票查詢), SPEC §10: parsed
//! here, issued by the core (`service::invoices`).

use super::ApiError;
use super::auth::{Authenticated, parse_data};
use super::lookup::merchant_order;
use crate::ledger::invoice::{ChoiceFields, parse_choice};
use crate::records;
use crate::service::invoices::{self, InvoiceError};
use crate::state::AppState;
use crate::store::{InvoiceRow, Issued, OrderRow};
use mypay_protocol::messages::{IssueInvoiceRequest, IssueInvoiceResponse, UidKeyRequest};
use mypay_protocol::{Command, Prc};

pub async fn issue(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::IssueInvoice;
    let req: IssueInvoiceRequest = parse_data(command, &request.data)?;
    let order = merchant_order(state, &request.merchant, command, &req).await?;
    let choice = parse_choice(
        &ChoiceFields {
            input_type: req.invoice_input_type,
            rate_type: req.invoice_ratetype,
            cloud_type: req.invoice_cloud_type.as_deref(),
            mobile_code: req.invoice_mobile_code.as_deref(),
            natural_person: req.invoice_natural_person.as_deref(),
            tax_id: req.invoice_tax_id.as_deref(),
            love_code: req.invoice_love_code.as_deref(),
            b2b_title: req.invoice_b2b_title.as_deref(),
            b2b_id: req.invoice_b2b_id.as_deref(),
            b2b_address: req.invoice_b2b_address.as_deref(),
            b2b_post_zone: req.invoice_b2b_post_zone.as_deref(),
        },
        false,
    )
    .map_err(|e| ApiError::new(command, e))?;
    let issued = match invoices::issue(state, &order, &request.merchant, &choice).await {
        Ok(issued) => issued,
        Err(InvoiceError::Refused(msg)) => return Err(ApiError::new(command, msg)),
        Err(InvoiceError::NotFound) => {
            return Err(ApiError::new(
                command,
                "uid/key: no such order for this merchant",
            ));
        }
        Err(InvoiceError::Store(e)) => return Err(ApiError::internal(e)),
    };
    let (code, msg, invoice) = match &issued {
        Issued::Issued(row) => (Prc::Done, "發票處理完成".to_owned(), row),
        Issued::NoNumber(row) => (
            Prc::NotDone,
            format!("wordtrack: {}", row.fields.state_msg),
            row,
        ),
        Issued::Already(row) => (
            Prc::NotDone,
            format!(
                "uid: the transaction has an invoice already ({}{}, state {}); it is issued once",
                row.fields.wordtrack, row.fields.number, row.state
            ),
            row,
        ),
    };
    super::to_json(&answer(&order, invoice, code, msg), 1024)
}

fn answer(order: &OrderRow, invoice: &InvoiceRow, code: Prc, msg: String) -> IssueInvoiceResponse {
    let q = records::query_record(order);
    let f = &invoice.fields;
    IssueInvoiceResponse {
        uid: order.uid.to_string(),
        key: order.token.clone(),
        code: code.code().to_owned(),
        msg,
        order_id: q.order_id,
        actual_cost: q.actual_cost,
        actual_currency: q.actual_currency,
        state: invoice.state,
        state_msg: f.state_msg.clone(),
        date: f.issued.clone(),
        wordtrack: f.wordtrack.clone(),
        number: f.number.clone(),
        rand_code: f.rand_code.clone(),
        seller_ban: f.seller_ban.clone(),
        buyer_ban: f.buyer_ban.clone(),
        left_qrcode: f.left_qrcode.clone(),
        middle_barcode: f.middle_barcode.clone(),
        right_qrcode: f.right_qrcode.clone(),
        title_type: f.title_type,
        title: f.title.clone(),
        amount: f.amount.to_string(),
        sales_amount: f.sales_amount.to_string(),
        tax_amount: f.tax_amount.to_string(),
        order_detail: f.order_detail.clone(),
        ratetype: f.ratetype,
        input_type: f.input_type,
        echo_0: q.echo_0,
        echo_1: q.echo_1,
        echo_2: q.echo_2,
        echo_3: q.echo_3,
        echo_4: q.echo_4,
    }
}

pub async fn query(state: &AppState, request: &Authenticated) -> Result<Vec<u8>, ApiError> {
    let command = Command::Invoice;
    let req: UidKeyRequest = parse_data(command, &request.data)?;
    let order = merchant_order(state, &request.merchant, command, &req).await?;
    let invoice = invoices::invoice_of(state, order.uid)
        .await
        .map_err(ApiError::internal)?;
    let mut record = records::invoice_record(&order, invoice.as_ref());
    if invoice
        .as_ref()
        .is_some_and(|i| !i.fields.number.is_empty())
    {
        record.proof_url = format!(
            "{}/invoice/{}.html",
            state.base_url,
            state.tickets.invoice_ticket(order.uid)
        );
    }
    super::to_json(&record, 1536)
}

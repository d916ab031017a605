//! The two views of an order a merchant sees: the query record (`api/queryorder`) and the
//! transaction notice (交易回傳). Both are built from the same stored order here, so they
//! always agree.

use crate::clock::taipei;
use crate::ledger::merchant::supplier_name;
use crate::store::{OrderRow, ReversalKind, ReversalRow};
use mypay_protocol::Prc;
use mypay_protocol::messages::{Item, OrderEcho, QueryRecord, RefundRow};
use mypay_protocol::notice::TransactionNotice;
use mypay_protocol::values::TransactionMode;

/// The fields of the order's stored request that the merchant's views echo.
fn request(order: &OrderRow) -> OrderEcho {
    serde_json::from_str(&order.request).unwrap_or_default()
}

/// The items the order was created with (what refunds and captures must name).
pub fn order_items(order: &OrderRow) -> Vec<Item> {
    request(order).items.unwrap_or_default()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn finishtime(order: &OrderRow) -> String {
    // As the document's recorded capture answer: no finish time while a capture waits
    // for its batch.
    if order.prc == Prc::Capturing {
        return String::new();
    }
    order
        .finished_at
        .map(taipei::datetime14)
        .unwrap_or_default()
}

/// The tool the order was paid with, else its preselection.
fn pfn(order: &OrderRow) -> String {
    order.paid_pfn.clone().unwrap_or_else(|| order.pfn.clone())
}

fn transaction_mode(order: &OrderRow) -> i64 {
    if order.supplier_code.is_some() {
        TransactionMode::Collection as i64
    } else {
        TransactionMode::NotYet as i64
    }
}

fn retmsg(order: &OrderRow) -> String {
    if order.retmsg.is_empty() {
        order.prc.description().to_owned()
    } else {
        order.retmsg.clone()
    }
}

fn actual_cost(order: &OrderRow) -> i64 {
    if crate::ledger::state::shows_amount_paid(order.prc) {
        order.actual_cost.unwrap_or(order.cost)
    } else if order.prc == Prc::Failed {
        // The document's recorded cancellation answer keeps the authorised amount.
        order.actual_cost.unwrap_or(0)
    } else {
        0
    }
}

pub fn query_record(order: &OrderRow) -> QueryRecord {
    let mut req = request(order);
    let supplier = text(&order.supplier_code);
    let payment_name = payment_name(order, &req);
    QueryRecord {
        key: order.token.clone(),
        prc: order.prc.code().to_owned(),
        cardno: text(&order.cardno),
        acode: text(&order.acode),
        card_type: order.card_type.map(|c| c.to_string()).unwrap_or_default(),
        issuing_bank: text(&order.issuing_bank),
        issuing_bank_uid: text(&order.issuing_bank_uid),
        is_agent_charge: req.is_agent_charge.unwrap_or(0),
        transaction_mode: transaction_mode(order),
        supplier_name: supplier_name(&supplier).to_owned(),
        supplier_code: supplier,
        order_id: order.order_id.clone(),
        user_id: text(&req.user_id),
        uid: order.uid,
        cost: order.cost,
        currency: order.currency.clone(),
        actual_cost: actual_cost(order),
        actual_currency: order.currency.clone(),
        price: text(&req.price),
        actual_price: String::new(),
        recharge_code: text(&req.recharge_code),
        love_cost: 0,
        retmsg: retmsg(order),
        pay_mode_uid: mypay_protocol::PaymentTool::parse(&pfn(order))
            .and_then(|t| t.number())
            .map_or(0, i64::from),
        pfn: pfn(order),
        trans_type: order.trans_type,
        installment: text(&order.installment),
        appropriation_date: text(&order.appropriation_date),
        redeem: text(&order.redeem),
        finishtime: finishtime(order),
        result_type: 4,
        result_content_type: order
            .result_content_type
            .clone()
            .or_else(|| order.paid_pfn.clone())
            .unwrap_or_default(),
        result_content: order
            .result_content
            .clone()
            .unwrap_or_else(|| "{}".to_owned()),
        expired_date: order
            .pay_deadline
            .map(taipei::datetime14)
            .unwrap_or_default(),
        bank_id: text(&order.bank_id),
        items: req.items.take().unwrap_or_default(),
        echo_0: text(&req.echo_0),
        echo_1: text(&req.echo_1),
        echo_2: text(&req.echo_2),
        echo_3: text(&req.echo_3),
        echo_4: text(&req.echo_4),
        invoice_title_type: 1,
        invoice_amount: "0".to_owned(),
        invoice_sales_amount: "0".to_owned(),
        invoice_tax_amount: "0".to_owned(),
        invoice_order_detail: "[]".to_owned(),
        invoice_ratetype: 1,
        group_id: order
            .group_id
            .clone()
            .unwrap_or_else(|| text(&req.group_id)),
        store_group_id: if order.group_id.is_some() {
            text(&req.group_id)
        } else {
            String::new()
        },
        nois: order.nois.map(|n| n.to_string()).unwrap_or_default(),
        payment_name,
        ..QueryRecord::default()
    }
}

/// 定期定額式扣款名稱: a recurring transaction is named after the order's first item.
fn payment_name(order: &OrderRow, req: &OrderEcho) -> String {
    if order.group_id.is_none() {
        return String::new();
    }
    req.items
        .as_ref()
        .and_then(|items| items.first())
        .map(|item| item.name.clone())
        .unwrap_or_default()
}

/// The query record with the order's refunds (`refund_order`) and cancelled
/// authorisations (`cancel_order`).
pub fn query_record_with(order: &OrderRow, reversals: &[ReversalRow]) -> QueryRecord {
    let mut record = query_record(order);
    for r in reversals {
        let finish = r.finished_at.map(taipei::datetime14).unwrap_or_default();
        let actual = if r.prc == Prc::Refunded
            || (r.prc == Prc::Cancelled && r.kind == ReversalKind::Cancel)
        {
            r.cost
        } else {
            0
        };
        let mut entry = serde_json::json!({
            "uid": r.id.to_string(),
            "prc": r.prc.code(),
            "cost": r.cost.to_string(),
            "currency": order.currency,
            "actual_cost": actual.to_string(),
            "actual_currency": order.currency,
            "retmsg": r.retmsg,
            "finishtime": finish,
        });
        match r.kind {
            ReversalKind::Refund => {
                if let Some(fields) = entry.as_object_mut() {
                    fields.insert("appropriation_date".into(), "".into());
                    fields.insert("invoice_state".into(), r.invoice_state.unwrap_or(0).into());
                    fields.insert("invoice_allowance".into(), serde_json::json!([]));
                }
                record.refund_order.push(entry);
            }
            ReversalKind::Cancel => record.cancel_order.push(entry),
        }
    }
    record
}

/// 『退款完成回傳資訊』 of one refund: `row_data` of `api/refund` and the refund notice.
pub fn refund_row(order: &OrderRow, refund: &ReversalRow) -> RefundRow {
    let req = request(order);
    let done = refund.prc == Prc::Refunded;
    RefundRow {
        uid: order.uid,
        refund_uid: refund.id,
        key: order.token.clone(),
        prc: refund.prc.code().to_owned(),
        finishtime: refund
            .finished_at
            .map(taipei::datetime14)
            .unwrap_or_default(),
        order_id: order.order_id.clone(),
        user_id: text(&req.user_id),
        cost: refund.cost,
        currency: order.currency.clone(),
        actual_cost: if done { refund.cost } else { 0 },
        actual_currency: order.currency.clone(),
        retmsg: refund.retmsg.clone(),
        pfn: pfn(order),
        payment_name: payment_name(order, &req),
        nois: order.nois.map(|n| n.to_string()).unwrap_or_default(),
        group_id: order
            .group_id
            .clone()
            .unwrap_or_else(|| text(&req.group_id)),
        refund_type: refund.refund_type,
        expected_refund_date: refund.expected_refund_date.clone(),
        echo_0: text(&req.echo_0),
        echo_1: text(&req.echo_1),
        echo_2: text(&req.echo_2),
        echo_3: text(&req.echo_3),
        echo_4: text(&req.echo_4),
    }
}

pub fn transaction_notice(order: &OrderRow) -> TransactionNotice {
    let r = query_record(order);
    TransactionNotice {
        uid: r.uid.to_string(),
        key: r.key,
        prc: r.prc,
        finishtime: r.finishtime,
        cardno: r.cardno,
        acode: r.acode,
        card_type: r.card_type,
        issuing_bank: r.issuing_bank,
        issuing_bank_uid: r.issuing_bank_uid,
        is_agent_charge: r.is_agent_charge.to_string(),
        transaction_mode: r.transaction_mode.to_string(),
        supplier_name: r.supplier_name,
        supplier_code: r.supplier_code,
        order_id: r.order_id,
        user_id: r.user_id,
        cost: r.cost.to_string(),
        currency: r.currency,
        actual_cost: r.actual_cost.to_string(),
        actual_currency: r.actual_currency,
        price: r.price,
        actual_price: r.actual_price,
        recharge_code: r.recharge_code,
        love_cost: r.love_cost.to_string(),
        retmsg: r.retmsg,
        pfn: r.pfn,
        trans_type: r.trans_type.to_string(),
        redeem: r.redeem,
        installment: r.installment,
        payment_name: r.payment_name,
        nois: r.nois,
        group_id: r.group_id,
        bank_id: r.bank_id,
        expired_date: r.expired_date,
        result_type: r.result_type.to_string(),
        result_content_type: r.result_content_type,
        result_content: r.result_content,
        echo_0: r.echo_0,
        echo_1: r.echo_1,
        echo_2: r.echo_2,
        echo_3: r.echo_3,
        echo_4: r.echo_4,
    }
}

/// The invoice's date as `api/invoice` and the query record give it: `YYYYMMDD`.
fn invoice_date(f: &crate::store::InvoiceFields) -> String {
    f.issued.get(..8).unwrap_or("").to_owned()
}

fn allowances(
    invoice: &crate::store::InvoiceRow,
) -> Vec<mypay_protocol::messages::InvoiceAllowanceRecord> {
    invoice
        .allowances
        .iter()
        .map(|a| mypay_protocol::messages::InvoiceAllowanceRecord {
            uid: a.uid.to_string(),
            amount: a.amount,
            order_detail: a.order_detail.clone(),
        })
        .collect()
}

/// The query record's `invoice_*` fields from the transaction's invoice.
pub fn add_invoice(record: &mut QueryRecord, invoice: &crate::store::InvoiceRow) {
    let f = &invoice.fields;
    record.invoice_state = invoice.state;
    record.invoice_date = invoice_date(f);
    record.invoice_wordtrack = f.wordtrack.clone();
    record.invoice_number = f.number.clone();
    record.invoice_rand_code = f.rand_code.clone();
    record.invoice_seller_ban = f.seller_ban.clone();
    record.invoice_buyer_ban = f.buyer_ban.clone();
    record.invoice_left_qrcode = f.left_qrcode.clone();
    record.invoice_middle_barcode = f.middle_barcode.clone();
    record.invoice_right_qrcode = f.right_qrcode.clone();
    record.invoice_title_type = f.title_type;
    record.invoice_title = f.title.clone();
    record.invoice_print_type = f.print_type;
    record.invoice_print_device = f.print_device;
    record.invoice_amount = f.amount.to_string();
    record.invoice_sales_amount = f.sales_amount.to_string();
    record.invoice_tax_amount = f.tax_amount.to_string();
    record.invoice_order_detail = f.order_detail.clone();
    record.invoice_ratetype = f.ratetype;
    record.invoice_input_type = f.input_type;
    record.invoice_cloud_type = f.cloud_type.clone();
    record.invoice_mobile_code = f.mobile_code.clone();
    record.invoice_tax_id = f.tax_id.clone();
    record.invoice_natural_person = f.natural_person.clone();
    record.invoice_love_code = f.love_code.clone();
    record.invoice_b2b_title = f.b2b_title.clone();
    record.invoice_b2b_id = f.b2b_id.clone();
    record.invoice_b2b_post_zone = f.b2b_post_zone.clone();
    record.invoice_b2b_address = f.b2b_address.clone();
    record.invoice_allowance = allowances(invoice)
        .into_iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .collect();
}

/// 『電子發票查詢』回傳欄位 of `order` and its invoice (state 0 and empty fields without one).
pub fn invoice_record(
    order: &OrderRow,
    invoice: Option<&crate::store::InvoiceRow>,
) -> mypay_protocol::messages::InvoiceRecord {
    let q = query_record(order);
    let empty = crate::store::InvoiceFields::default();
    let f = invoice.map_or(&empty, |i| &i.fields);
    mypay_protocol::messages::InvoiceRecord {
        uid: order.uid.to_string(),
        key: order.token.clone(),
        prc: q.prc,
        order_id: q.order_id,
        cost: q.cost,
        currency: q.currency,
        actual_cost: q.actual_cost,
        actual_currency: q.actual_currency,
        state: invoice.map_or(0, |i| i.state),
        date: invoice_date(f),
        wordtrack: f.wordtrack.clone(),
        number: f.number.clone(),
        rand_code: f.rand_code.clone(),
        seller_ban: f.seller_ban.clone(),
        buyer_ban: f.buyer_ban.clone(),
        left_qrcode: f.left_qrcode.clone(),
        middle_barcode: f.middle_barcode.clone(),
        right_qrcode: f.right_qrcode.clone(),
        title_type: if invoice.is_some() { f.title_type } else { 1 },
        title: f.title.clone(),
        print_type: f.print_type,
        print_device: f.print_device,
        amount: f.amount.to_string(),
        sales_amount: f.sales_amount.to_string(),
        tax_amount: f.tax_amount.to_string(),
        order_detail: if invoice.is_some() {
            f.order_detail.clone()
        } else {
            "[]".to_owned()
        },
        ratetype: if invoice.is_some() { f.ratetype } else { 1 },
        input_type: f.input_type,
        cloud_type: f.cloud_type.clone(),
        mobile_code: f.mobile_code.clone(),
        tax_id: f.tax_id.clone(),
        natural_person: f.natural_person.clone(),
        m_post_zone: String::new(),
        m_address: String::new(),
        love_code: f.love_code.clone(),
        b2b_title: f.b2b_title.clone(),
        b2b_id: f.b2b_id.clone(),
        b2b_post_zone: f.b2b_post_zone.clone(),
        b2b_address: f.b2b_address.clone(),
        allowance: invoice.map(allowances).unwrap_or_default(),
        group_id: q.group_id,
        payment_name: q.payment_name,
        nois: q.nois,
        proof_url: String::new(),
        echo_0: q.echo_0,
        echo_1: q.echo_1,
        echo_2: q.echo_2,
        echo_3: q.echo_3,
        echo_4: q.echo_4,
    }
}

//! Typed requests and responses of the eleven commands, with the document's field names.
//!
//! Requests deserialize leniently (numbers as strings and strings as numbers, `""` as
//! absent) so that every sample client's JSON is read; fields the gateway must check are
//! validated by the gateway's domain types, not here. Responses serialize in the shapes of
//! the document's JSON examples: `code` as a string, `uid` as a number.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// 『商品項目』: one item of an order, a refund or a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(deserialize_with = "lenient::amount")]
    pub cost: i64,
    #[serde(deserialize_with = "lenient::amount")]
    pub amount: i64,
    #[serde(deserialize_with = "lenient::amount")]
    pub total: i64,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_url: Option<String>,
}

impl Item {
    /// An item of `amount` units at `cost` each (its `total` their product).
    pub fn new(id: &str, name: &str, cost: i64, amount: i64) -> Item {
        Item {
            id: id.to_owned(),
            name: name.to_owned(),
            cost,
            amount,
            total: cost.saturating_mul(amount),
            image_url: None,
        }
    }
}

macro_rules! lenient_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( text $tfield:ident, )*
            $( amount $afield:ident, )*
            $( int $ifield:ident, )*
            $( json $jfield:ident, )*
            $( items $items:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                #[serde(default, deserialize_with = "lenient::opt_string", skip_serializing_if = "Option::is_none")]
                pub $tfield: Option<String>,
            )*
            $(
                #[serde(default, deserialize_with = "lenient::opt_amount", skip_serializing_if = "Option::is_none")]
                pub $afield: Option<String>,
            )*
            $(
                #[serde(default, deserialize_with = "lenient::opt_i64", skip_serializing_if = "Option::is_none")]
                pub $ifield: Option<i64>,
            )*
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $jfield: Option<Value>,
            )*
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $items: Option<Vec<Item>>,
            )*
        }
    };
}

lenient_struct! {
    /// The fields of a stored `api/orders` request that query records, notices and refund
    /// rows echo back: read instead of the whole [`OrderRequest`], whose other fields a
    /// query would parse and allocate only to drop.
    pub struct OrderEcho {
        text user_id, text group_id, text price, text recharge_code,
        text echo_0, text echo_1, text echo_2, text echo_3, text echo_4,
        int is_agent_charge,
        items items,
    }
}

lenient_struct! {
    /// 『PayPage金流交易』欄位 (`api/orders`).
    pub struct OrderRequest {
        text store_uid, text user_id, text user_name, text user_real_name, text user_zipcode,
        text user_address, text user_sn_type, text user_sn, text user_phone,
        text user_cellphone_code, text user_cellphone, text user_email, text user_birthday,
        text currency, text order_id, text ip, text item,
        text regular, text regular_total, text regular_first_charge_date, text group_id,
        text echo_0, text echo_1, text echo_2, text echo_3, text echo_4,
        text pfn, text interface, text success_returl, text failure_returl,
        text virtual_pan, text creditcard_installment, text cardless_code,
        text each_code, text invoice_cloud_type, text invoice_tax_id, text invoice_mobile_code,
        text invoice_natural_person, text invoice_love_code, text invoice_b2b_title,
        text invoice_b2b_id, text invoice_b2b_address, text invoice_b2b_title_force,
        text invoice_b2b_id_force, text files_path, text price, text recharge_code,
        text creditcard_is_automatic_payment,
        amount cost, amount discount, amount shipping_fee,
        int enable_dcc, int limit_pay_days, int enable_quickpay, int enable_ewallet,
        int ewallet_type, int transaction_type, int issue_invoice_state, int invoice_ratetype,
        int invoice_input_type, int invoice_b2b_address_force, int agent_sms_fee_type,
        int agent_charge_fee_type, int agent_charge_fee, int is_agent_charge,
        json cardless_installment, json user_data, json recharge_items, json shipping_info,
        items items,
    }
}

lenient_struct! {
    /// 『交易查詢』 request (`api/queryorder`), and the `uid` + `key` pair of
    /// `api/invoice`, `api/cancelauthorization` and `api/refundcancel`.
    pub struct UidKeyRequest {
        text store_uid, text uid, text key,
    }
}

lenient_struct! {
    /// 『交易退款』 (`api/refund`); also the capture request of
    /// `api/authorizedrequestpayment` (same fields but `invoice_state`).
    pub struct RefundRequest {
        text store_uid, text uid, text key,
        amount cost,
        int invoice_state,
        json rows,
        items items,
    }
}

lenient_struct! {
    /// 取消定期定額式扣款 (`api/disabledirectdebit`).
    pub struct DisableDirectDebitRequest {
        text store_uid, text order_id, text group_id, text stop_time, text stop_reason,
    }
}

lenient_struct! {
    /// MYPAY電子錢包綁定 (`api/ewalletbind`).
    pub struct EwalletBindRequest {
        text store_uid, text user_id, text user_sn, text user_cellphone_code,
        text user_cellphone, text user_real_name, text user_email, text user_english_name,
        text user_address, text pfn, text ip, text success_returl, text failure_returl,
    }
}

lenient_struct! {
    /// 電子發票開立 (`api/issueinvoice`).
    pub struct IssueInvoiceRequest {
        text store_uid, text uid, text key, text invoice_cloud_type, text invoice_mobile_code,
        text invoice_natural_person, text invoice_love_code, text invoice_tax_id,
        text invoice_b2b_title, text invoice_b2b_id, text invoice_b2b_address,
        text invoice_b2b_post_zone,
        int invoice_input_type, int invoice_ratetype,
    }
}

lenient_struct! {
    /// 『可用支付工具查詢』 (`api/paymentsupportpaymode`).
    pub struct SupportPayModeRequest {
        text store_uid, text currency,
        amount cost,
    }
}

/// `{code, msg}`: every error, and the answer of commands that return nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMsg {
    pub code: String,
    pub msg: String,
}

/// 『PayPage金流交易』回傳欄位.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderResponse {
    pub code: String,
    pub msg: String,
    pub url: String,
    pub uid: u64,
    pub key: String,
}

/// 『可用支付工具查詢』回傳欄位.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportPayModeResponse {
    pub code: String,
    pub msg: String,
    pub content: Vec<String>,
}

/// 『交易查詢』回傳欄位: the full query record, in the field order and value types of the
/// document's example (numbers where the example has numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QueryRecord {
    pub key: String,
    pub prc: String,
    pub cardno: String,
    pub acode: String,
    pub card_type: String,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
    pub is_agent_charge: i64,
    pub transaction_mode: i64,
    pub supplier_name: String,
    pub supplier_code: String,
    pub order_id: String,
    pub user_id: String,
    pub uid: u64,
    pub cost: i64,
    pub currency: String,
    pub actual_cost: i64,
    pub actual_currency: String,
    pub price: String,
    pub actual_price: String,
    pub recharge_code: String,
    pub love_cost: i64,
    pub retmsg: String,
    pub pay_mode_uid: i64,
    pub pfn: String,
    pub trans_type: i64,
    pub redeem: String,
    pub installment: String,
    pub finishtime: String,
    pub store_group_id: String,
    pub group_id: String,
    pub nois: String,
    pub payment_name: String,
    pub bank_id: String,
    pub result_type: i64,
    pub result_content_type: String,
    pub result_content: String,
    pub expired_date: String,
    pub appropriation_date: String,
    pub refund_order: Vec<Value>,
    pub cancel_order: Vec<Value>,
    pub invoice_state: i64,
    pub invoice_date: String,
    pub invoice_wordtrack: String,
    pub invoice_number: String,
    pub invoice_rand_code: String,
    pub invoice_seller_ban: String,
    pub invoice_buyer_ban: String,
    pub invoice_left_qrcode: String,
    pub invoice_middle_barcode: String,
    pub invoice_right_qrcode: String,
    pub invoice_title_type: i64,
    pub invoice_title: String,
    pub invoice_print_type: i64,
    pub invoice_print_device: i64,
    pub invoice_amount: String,
    pub invoice_sales_amount: String,
    pub invoice_tax_amount: String,
    pub invoice_order_detail: String,
    pub invoice_ratetype: i64,
    pub invoice_input_type: i64,
    pub invoice_cloud_type: String,
    pub invoice_mobile_code: String,
    pub invoice_tax_id: String,
    pub invoice_natural_person: String,
    pub invoice_love_code: String,
    pub invoice_b2b_title: String,
    pub invoice_b2b_id: String,
    pub invoice_b2b_post_zone: String,
    pub invoice_b2b_address: String,
    pub invoice_allowance: Vec<Value>,
    pub items: Vec<Item>,
    pub echo_0: String,
    pub echo_1: String,
    pub echo_2: String,
    pub echo_3: String,
    pub echo_4: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_php_order_sample_reads() {
        // What PHP's json_encode makes of the document's order sample.
        let json = r#"{"store_uid":"289151880002","items":[{"id":"1","name":"\u5546\u54c1\u540d\u7a31","cost":"10","amount":"1","total":"10"}],"cost":10,"user_id":"phper","order_id":"1234567890","ip":"192.168.0.1","pfn":"0"}"#;
        let req: OrderRequest = serde_json::from_str(json).expect("reads");
        assert_eq!(req.cost.as_deref(), Some("10"));
        let items = req.items.expect("items");
        assert_eq!(items[0].name, "商品名稱");
        assert_eq!(items[0].total, 10);
        assert_eq!(req.pfn.as_deref(), Some("0"));
    }

    #[test]
    fn the_refund_sample_reads_with_numbers() {
        let json = r#"{"store_uid":"289151880002","uid":"88833","key":"k","cost":100,"invoice_state":6,"items":[{"id":"1","name":"n","cost":100,"amount":1,"total":100}]}"#;
        let req: RefundRequest = serde_json::from_str(json).expect("reads");
        assert_eq!(req.cost.as_deref(), Some("100"));
        assert_eq!(req.invoice_state, Some(6));
    }

    #[test]
    fn an_order_answer_has_the_documents_shape() {
        let answer = OrderResponse {
            code: "200".into(),
            msg: "資料正確".into(),
            url: "http://x/payment/81127.html".into(),
            uid: 81127,
            key: "af4e678325dd49f8036949c38ab04105".into(),
        };
        let v: Value = serde_json::to_value(&answer).expect("json");
        assert_eq!(v["code"], "200");
        assert_eq!(v["uid"], 81127);
    }
}

/// 『退款完成回傳資訊』: a refund's record (`row_data` of `api/refund`, and the refund notice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RefundRow {
    pub uid: u64,
    pub refund_uid: u64,
    pub key: String,
    pub prc: String,
    pub finishtime: String,
    pub order_id: String,
    pub user_id: String,
    pub cost: i64,
    pub currency: String,
    pub actual_cost: i64,
    pub actual_currency: String,
    pub retmsg: String,
    pub pfn: String,
    pub payment_name: String,
    pub nois: String,
    pub group_id: String,
    /// 1 直接線上退款, 2 手動退款(信用卡類), 3 手動退款(現金類).
    pub refund_type: i64,
    /// `YYYYMMDD`, for cash-type refunds.
    pub expected_refund_date: String,
    pub echo_0: String,
    pub echo_1: String,
    pub echo_2: String,
    pub echo_3: String,
    pub echo_4: String,
}

impl RefundRow {
    /// The refund notice's form body (退款完成回傳資訊, posted like the transaction notices).
    pub fn to_form(&self) -> String {
        let mut out = String::with_capacity(512);
        if let Ok(Value::Object(fields)) = serde_json::to_value(self) {
            for (name, value) in fields {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&name);
                out.push('=');
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                crate::outer::percent_encode_into(&text, &mut out);
            }
        }
        out
    }

    /// Read a posted refund notice (for merchants' receivers and tests). Numbers that do not
    /// parse read as 0; unknown fields are ignored.
    pub fn from_form(body: &[u8]) -> RefundRow {
        let mut fields = serde_json::Map::new();
        for pair in body.split(|&b| b == b'&') {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let decode = |b: &[u8]| {
                String::from_utf8_lossy(&crate::outer::percent_decode(b, true)).into_owned()
            };
            fields.insert(decode(name), Value::String(decode(value)));
        }
        let mut row = RefundRow::default();
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |name: &str| text(name).trim().parse::<i64>().unwrap_or(0);
        row.uid = number("uid").max(0) as u64;
        row.refund_uid = number("refund_uid").max(0) as u64;
        row.key = text("key");
        row.prc = text("prc");
        row.finishtime = text("finishtime");
        row.order_id = text("order_id");
        row.user_id = text("user_id");
        row.cost = number("cost");
        row.currency = text("currency");
        row.actual_cost = number("actual_cost");
        row.actual_currency = text("actual_currency");
        row.retmsg = text("retmsg");
        row.pfn = text("pfn");
        row.payment_name = text("payment_name");
        row.nois = text("nois");
        row.group_id = text("group_id");
        row.refund_type = number("refund_type");
        row.expected_refund_date = text("expected_refund_date");
        row.echo_0 = text("echo_0");
        row.echo_1 = text("echo_1");
        row.echo_2 = text("echo_2");
        row.echo_3 = text("echo_3");
        row.echo_4 = text("echo_4");
        row
    }
}

/// 『交易退款』回傳欄位, and the answer of `api/refundcancel` (`row_data` null there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundResponse {
    #[serde(default)]
    pub key: String,
    #[serde(deserialize_with = "lenient::string")]
    pub uid: String,
    pub code: String,
    pub msg: String,
    pub row_data: Option<RefundRow>,
}

/// The answer of `api/cancelauthorization` and `api/authorizedrequestpayment`: the full
/// query record in `content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordResponse {
    pub code: String,
    pub msg: String,
    pub content: QueryRecord,
}

/// The answer of `api/disabledirectdebit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisableDirectDebitResponse {
    pub code: String,
    pub msg: String,
    pub order_id: String,
    pub group_id: String,
}

/// The answer of `api/ewalletbind`: the binding page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EwalletBindResponse {
    pub code: String,
    pub msg: String,
    pub url: String,
}

#[cfg(test)]
mod response_tests {
    use super::*;

    #[test]
    fn the_documents_refundcancel_answer_reads() {
        let json = r#"{"key":"2b848830072c0db6273d5637ad4b8337","uid":"30587","code":"B500","msg":"無法取消此筆退款,原因為目前此筆狀態不是申請中。","row_data":null}"#;
        let r: RefundResponse = serde_json::from_str(json).expect("reads");
        assert_eq!(r.uid, "30587");
        assert!(r.row_data.is_none());
    }

    #[test]
    fn the_documents_disabledirectdebit_answer_reads() {
        let json = r#"{"code":"B500","msg":"停扣日必須大於今日","order_id":"F3DCB0AD-23F3-4721-BBBA-FAC8CDDB9E5F","group_id":"D0000000520"}"#;
        let r: DisableDirectDebitResponse = serde_json::from_str(json).expect("reads");
        assert_eq!(r.group_id, "D0000000520");
    }

    #[test]
    fn a_refund_row_round_trips() {
        let row = RefundRow {
            uid: 88833,
            refund_uid: 88834,
            prc: "230".into(),
            refund_type: 1,
            ..Default::default()
        };
        let back: RefundRow =
            serde_json::from_value(serde_json::to_value(&row).expect("json")).expect("reads");
        assert_eq!(back, row);
    }

    #[test]
    fn a_refund_notice_form_round_trips() {
        let row = RefundRow {
            uid: 88833,
            refund_uid: 88834,
            key: "1c943777706d68f757afdb9034213001".into(),
            prc: "230".into(),
            retmsg: "退款完成 & more".into(),
            cost: 100,
            refund_type: 3,
            expected_refund_date: "20261130".into(),
            ..Default::default()
        };
        let form = row.to_form();
        assert!(form.contains("refund_uid=88834"), "{form}");
        assert!(!form.contains("完成 &"), "values are encoded: {form}");
        assert_eq!(RefundRow::from_form(form.as_bytes()), row);
    }
}

/// 『電子發票開立』回傳欄位, in the field order and value types of the document's example
/// (`actual_cost` and `state` numbers, `date` `YYYYMMDDHHmmss`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IssueInvoiceResponse {
    pub uid: String,
    pub key: String,
    pub code: String,
    pub msg: String,
    pub order_id: String,
    pub actual_cost: i64,
    pub actual_currency: String,
    pub state: i64,
    pub state_msg: String,
    pub date: String,
    pub wordtrack: String,
    pub number: String,
    pub rand_code: String,
    pub seller_ban: String,
    pub buyer_ban: String,
    pub left_qrcode: String,
    pub middle_barcode: String,
    pub right_qrcode: String,
    pub title_type: i64,
    pub title: String,
    pub amount: String,
    pub sales_amount: String,
    pub tax_amount: String,
    pub order_detail: String,
    pub ratetype: i64,
    pub input_type: i64,
    pub echo_0: String,
    pub echo_1: String,
    pub echo_2: String,
    pub echo_3: String,
    pub echo_4: String,
}

/// 『電子發票折讓資訊』.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InvoiceAllowanceRecord {
    pub uid: String,
    pub amount: i64,
    pub order_detail: String,
}

/// 『電子發票查詢』回傳欄位, in the document's field order (its example's value types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct InvoiceRecord {
    pub uid: String,
    pub key: String,
    pub prc: String,
    pub order_id: String,
    pub cost: i64,
    pub currency: String,
    pub actual_cost: i64,
    pub actual_currency: String,
    pub state: i64,
    pub date: String,
    pub wordtrack: String,
    pub number: String,
    pub rand_code: String,
    pub seller_ban: String,
    pub buyer_ban: String,
    pub left_qrcode: String,
    pub middle_barcode: String,
    pub right_qrcode: String,
    pub title_type: i64,
    pub title: String,
    pub print_type: i64,
    pub print_device: i64,
    pub amount: String,
    pub sales_amount: String,
    pub tax_amount: String,
    pub order_detail: String,
    pub ratetype: i64,
    pub input_type: i64,
    pub cloud_type: String,
    pub mobile_code: String,
    pub tax_id: String,
    pub natural_person: String,
    pub m_post_zone: String,
    pub m_address: String,
    pub love_code: String,
    pub b2b_title: String,
    pub b2b_id: String,
    pub b2b_post_zone: String,
    pub b2b_address: String,
    pub allowance: Vec<InvoiceAllowanceRecord>,
    pub group_id: String,
    pub payment_name: String,
    pub nois: String,
    /// Not in the document: the printable proof (電子發票證明聯) of an issued invoice.
    #[serde(default)]
    pub proof_url: String,
    pub echo_0: String,
    pub echo_1: String,
    pub echo_2: String,
    pub echo_3: String,
    pub echo_4: String,
}

//! A new order (`api/orders`), validated: SPEC §4. Parse, don't validate: a [`NewOrder`]
//! exists only when every rule holds, and each refusal names its field.

use crate::ledger::merchant::MerchantSettings;
use mypay_protocol::messages::{Item, OrderRequest};
use mypay_protocol::values::Currency;
use mypay_protocol::{PaymentTool, Preselection};
use std::net::IpAddr;

/// A refusal of an order, naming the field (`msg` of a `100` answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct OrderRefused {
    pub field: String,
    pub problem: String,
}

fn refuse(field: impl Into<String>, problem: impl Into<String>) -> OrderRefused {
    OrderRefused {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The largest amount we accept in one order; keeps every sum far from overflow.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub store_uid: String,
    pub order_id: String,
    pub user_id: String,
    pub cost: i64,
    pub currency: Currency,
    pub preselection: Preselection,
    pub items: Vec<Item>,
    /// Authorise only (`creditcard_is_automatic_payment` = 0).
    pub authorise_only: bool,
    pub success_returl: Option<String>,
    pub failure_returl: Option<String>,
    /// The request as received (normalised JSON), kept for retries and echo fields.
    pub request: OrderRequest,
}

impl NewOrder {
    /// Validate `req` for the merchant `store_uid` (the one the credentials named).
    /// `now` is the gateway's clock, for the first charge date of a recurring order
    /// (its business date is worked out only for those).
    pub fn parse(
        store_uid: &str,
        mut req: OrderRequest,
        settings: &MerchantSettings,
        now: jiff::Timestamp,
    ) -> Result<NewOrder, OrderRefused> {
        if let Some(inner) = req.store_uid.as_deref()
            && inner != store_uid
        {
            return Err(refuse(
                "store_uid",
                format!("{inner:?} does not match the credentials' merchant {store_uid:?}"),
            ));
        }
        req.store_uid = Some(store_uid.to_owned());
        let user_id = required(&req.user_id, "user_id")?.to_owned();
        let order_id = order_id(req.order_id.as_deref())?.to_owned();
        let ip = required(&req.ip, "ip")?;
        if ip.trim().parse::<IpAddr>().is_err() {
            return Err(refuse(
                "ip",
                format!("{ip:?} is not an IPv4 or IPv6 address"),
            ));
        }
        let cost = amount(required(&req.cost, "cost")?, "cost")?;
        if cost <= 0 {
            return Err(refuse("cost", "must be greater than 0"));
        }
        let currency = Currency::parse(req.currency.as_deref())
            .ok_or_else(|| refuse("currency", "must be TWD or CNY"))?;

        let items = req.items.take().unwrap_or_default();
        if items.is_empty() {
            return Err(refuse(
                "items",
                "is required and must list at least one item",
            ));
        }
        let mut sum: i64 = 0;
        for (i, item) in items.iter().enumerate() {
            let field = |name: &str| format!("items[{i}].{name}");
            if item.id.trim().is_empty() {
                return Err(refuse(field("id"), "is required"));
            }
            if item.name.trim().is_empty() {
                return Err(refuse(field("name"), "is required"));
            }
            for (name, v) in [
                ("cost", item.cost),
                ("amount", item.amount),
                ("total", item.total),
            ] {
                if !(0..=MAX_AMOUNT).contains(&v) {
                    return Err(refuse(field(name), "is out of range"));
                }
            }
            // Each factor is at most MAX_AMOUNT, but their product can overflow i64.
            let product = item
                .cost
                .checked_mul(item.amount)
                .filter(|p| *p <= MAX_AMOUNT);
            if product != Some(item.total) {
                let shown = product.map_or_else(|| "out of range".to_owned(), |p| p.to_string());
                return Err(refuse(
                    field("total"),
                    format!(
                        "must equal cost × amount ({} × {} = {shown}), got {}",
                        item.cost, item.amount, item.total
                    ),
                ));
            }
            sum = sum
                .checked_add(item.total)
                .filter(|s| *s <= MAX_AMOUNT)
                .ok_or_else(|| {
                    refuse(
                        "items",
                        "the items' totals add up to more than the largest amount",
                    )
                })?;
        }
        let shipping = optional_amount(&req.shipping_fee, "shipping_fee")?;
        // The document writes cost = items + discount + shipping; merchants send the
        // discount positive (and subtract) or negative (and add): accept both.
        let discount = optional_amount(&req.discount, "discount")?.abs();
        let expected = sum + shipping - discount;
        if cost != expected {
            return Err(refuse(
                "cost",
                format!(
                    "must equal the items' totals + shipping_fee − discount ({sum} + {shipping} − {discount} = {expected}), got {cost}"
                ),
            ));
        }

        let preselection = Preselection::parse(req.pfn.as_deref()).ok_or_else(|| {
            refuse(
                "pfn",
                format!(
                    "{:?} is not a payment tool of 附錄一",
                    req.pfn.as_deref().unwrap_or("")
                ),
            )
        })?;
        match preselection {
            Preselection::Tool(tool) => check_tool(tool, cost, settings)?,
            Preselection::All | Preselection::MobilePay => {
                let usable = settings.usable().any(|s| {
                    s.min_amount <= cost && cost <= s.max_amount && preselection.allows(s.tool)
                });
                if !usable {
                    return Err(refuse(
                        "pfn",
                        format!("no enabled payment tool accepts the amount {cost}"),
                    ));
                }
            }
        }

        check_recurring(&req, preselection, now)?;

        // 『交易類型』: 1 online (the consumer pays), 2 in person (the merchant enters the
        // consumer's wallet code). Offline wallet tools exist only in person.
        let in_person = match req.transaction_type {
            None | Some(1) => false,
            Some(2) => true,
            Some(other) => {
                return Err(refuse(
                    "transaction_type",
                    format!("must be 1 (網路交易) or 2 (實體交易), got {other}"),
                ));
            }
        };
        if let Preselection::Tool(tool) = preselection
            && (tool.family() == mypay_protocol::pfn::ToolFamily::WalletOffline) != in_person
        {
            return Err(refuse(
                "transaction_type",
                if in_person {
                    format!(
                        "{} is not an in-person (被掃) tool; 2 needs one",
                        tool.code()
                    )
                } else {
                    format!(
                        "{} is paid in person (消費者被掃): send transaction_type 2",
                        tool.code()
                    )
                },
            ));
        }

        if let Some(text) = req
            .creditcard_installment
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            crate::ledger::plans::parse_limits(text)
                .map_err(|problem| refuse("creditcard_installment", problem))?;
        }

        match preselection {
            Preselection::Tool(PaymentTool::PostPay) => {
                crate::ledger::applications::check_shipping_info(req.shipping_info.as_ref())
                    .map_err(|(field, problem)| refuse(field, problem))?;
            }
            Preselection::Tool(PaymentTool::Each)
                if req.each_code.as_deref().is_none_or(|c| c.trim().is_empty()) =>
            {
                return Err(refuse("each_code", "is required for eACH (EACH)"));
            }
            Preselection::Tool(PaymentTool::Cardless) => {
                crate::ledger::applications::check_user_data(req.user_data.as_ref())
                    .map_err(|(field, problem)| refuse(field, problem))?;
            }
            _ => {}
        }

        if let Some(days) = req.limit_pay_days
            && !(1..=crate::ledger::counter::MAX_PAY_DAYS).contains(&days)
        {
            return Err(refuse(
                "limit_pay_days",
                format!(
                    "must be from 1 to {} days, got {days}",
                    crate::ledger::counter::MAX_PAY_DAYS
                ),
            ));
        }

        let authorise_only = match req.creditcard_is_automatic_payment.as_deref() {
            None | Some("1") => false,
            Some("0") => true,
            Some(other) => {
                return Err(refuse(
                    "creditcard_is_automatic_payment",
                    format!("must be 0 or 1, got {other:?}"),
                ));
            }
        };
        for (name, url) in [
            ("success_returl", &req.success_returl),
            ("failure_returl", &req.failure_returl),
        ] {
            if let Some(u) = url
                && crate::ledger::merchant::check_return_url(u).is_err()
            {
                return Err(refuse(name, "must be an http:// or https:// URL"));
            }
        }
        req.items = Some(items.clone());
        Ok(NewOrder {
            store_uid: store_uid.to_owned(),
            order_id,
            user_id,
            cost,
            currency,
            preselection,
            items,
            authorise_only,
            success_returl: req.success_returl.clone(),
            failure_returl: req.failure_returl.clone(),
            request: req,
        })
    }

    /// The request as stored: identical requests give identical text (retry detection).
    pub fn request_json(&self) -> String {
        serde_json::to_string(&self.request).unwrap_or_default()
    }
}

/// Recurring billing (SPEC §9) needs DIRECTDEBIT or DIRECTDEBIT_ABROAD and valid terms;
/// recurring fields on any other order are refused rather than ignored, and a bound
/// e-wallet cannot start a series (the document's FAQ).
fn check_recurring(
    req: &OrderRequest,
    preselection: Preselection,
    now: jiff::Timestamp,
) -> Result<(), OrderRefused> {
    let recurring = matches!(
        preselection,
        Preselection::Tool(PaymentTool::DirectDebit | PaymentTool::DirectDebitAbroad)
    );
    if !recurring {
        if req.regular.as_deref().is_some_and(|r| !r.trim().is_empty()) {
            return Err(refuse(
                "regular",
                "recurring billing needs pfn DIRECTDEBIT or DIRECTDEBIT_ABROAD",
            ));
        }
        return Ok(());
    }
    if req.enable_ewallet == Some(1)
        || req
            .virtual_pan
            .as_deref()
            .is_some_and(|v| !v.trim().is_empty())
    {
        return Err(refuse(
            "enable_ewallet",
            "a bound e-wallet card cannot start recurring billing (電子錢包不可用於定期定額)",
        ));
    }
    crate::ledger::recurring::parse_terms(
        req.regular.as_deref(),
        req.regular_total.as_deref(),
        req.regular_first_charge_date.as_deref(),
        req.group_id.as_deref(),
        crate::clock::taipei::date(now),
    )
    .map(|_| ())
    .map_err(|(field, problem)| refuse(field, problem))
}

fn check_tool(
    tool: PaymentTool,
    cost: i64,
    settings: &MerchantSettings,
) -> Result<(), OrderRefused> {
    let Some(setting) = settings.tool(tool) else {
        return Err(refuse(
            "pfn",
            format!("{} is not enabled for this merchant", tool.code()),
        ));
    };
    if cost < setting.min_amount || cost > setting.max_amount {
        return Err(refuse(
            "pfn",
            format!(
                "{} accepts amounts from {} to {}, got {cost}",
                tool.code(),
                setting.min_amount,
                setting.max_amount
            ),
        ));
    }
    Ok(())
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, OrderRefused> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refuse(field, "is required"))
}

/// The merchant's `order_id`, kept byte for byte: the document asks for a string of at
/// most 50 bytes and says nothing of its characters, so every character is allowed except
/// those that cannot survive the notices' forms and the merchants' logs unchanged:
/// control characters (CR, LF, tab, NUL, …) anywhere, and white space at either end, which
/// a merchant's system would trim and then fail to match. Nothing is trimmed here.
pub fn order_id(value: Option<&str>) -> Result<&str, OrderRefused> {
    let id = value.ok_or_else(|| refuse("order_id", "is required"))?;
    if id.trim().is_empty() {
        return Err(refuse("order_id", "is required"));
    }
    if id.len() > 50 {
        return Err(refuse(
            "order_id",
            format!("must be at most 50 bytes, got {}", id.len()),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(refuse(
            "order_id",
            "must not contain control characters (CR, LF, tab, …)",
        ));
    }
    if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        return Err(refuse(
            "order_id",
            "must not begin or end with white space (it is kept byte for byte)",
        ));
    }
    Ok(id)
}

fn amount(text: &str, field: &str) -> Result<i64, OrderRefused> {
    let v = mypay_protocol::lenient::parse_integer(text)
        .ok_or_else(|| refuse(field, format!("must be a whole number, got {text:?}")))?;
    if v.abs() > MAX_AMOUNT {
        return Err(refuse(field, "is out of range"));
    }
    Ok(v)
}

fn optional_amount(value: &Option<String>, field: &str) -> Result<i64, OrderRefused> {
    value.as_deref().map_or(Ok(0), |v| amount(v, field))
}

/// Rebuild `items` from the older format: `item` (count) and `i_[n]_id/name/cost/amount/total`
/// (SPEC §4), numbered from 0 or 1.
pub fn items_from_legacy(
    raw: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<Item>, OrderRefused> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let count = raw
        .get("item")
        .and_then(text)
        .and_then(|t| t.trim().parse::<usize>().ok())
        .ok_or_else(|| refuse("item", "must give the number of i_[n]_* items"))?;
    if count == 0 || count > 1000 {
        return Err(refuse("item", "must be between 1 and 1000"));
    }
    let start = if raw.contains_key("i_0_id") || raw.contains_key("i_0_name") {
        0
    } else {
        1
    };
    let mut items = Vec::with_capacity(count);
    for n in start..start + count {
        let get = |name: &str| {
            let key = format!("i_{n}_{name}");
            raw.get(&key)
                .and_then(text)
                .ok_or_else(|| refuse(key, "is required"))
        };
        let num = |name: &str| -> Result<i64, OrderRefused> {
            let t = get(name)?;
            amount(&t, &format!("i_{n}_{name}"))
        };
        items.push(Item {
            id: get("id")?,
            name: get("name")?,
            cost: num("cost")?,
            amount: num("amount")?,
            total: num("total")?,
            image_url: None,
        });
    }
    Ok(items)
}

/// Whether an order's consumer gets quick checkout (『啟用快速結帳』: on unless the order
/// says 0, and only for a consumer the merchant names).
pub fn quickpay_on(request: &OrderRequest) -> bool {
    request.enable_quickpay != Some(0)
        && request
            .user_id
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
}

/// A fresh per-order `key`: 32 hex digits from the OS's random source.
pub fn new_token() -> String {
    crate::hex::hex(&random_16())
}

/// 16 bytes from the OS's random source, fetched 4 KiB at a time per thread: one system
/// call per order was a visible share of an order's cost; the bytes are the same.
fn random_16() -> [u8; 16] {
    use std::cell::RefCell;
    const REFILL: usize = 4096;
    thread_local! {
        static POOL: RefCell<(Box<[u8; REFILL]>, usize)> =
            RefCell::new((Box::new([0; REFILL]), REFILL));
    }
    POOL.with_borrow_mut(|(pool, used)| {
        if *used + 16 > REFILL {
            // Without randomness the gateway must not hand out keys at all.
            getrandom::getrandom(&mut pool[..])
                .expect("the operating system's random source failed");
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&pool[*used..*used + 16]);
        // Bytes handed out are not kept where a later reader of the pool could see them.
        pool[*used..*used + 16].fill(0);
        *used += 16;
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MerchantSettings {
        MerchantSettings::sandbox_defaults("test")
    }

    fn today() -> jiff::Timestamp {
        "2027-01-31T02:00:00Z".parse().expect("timestamp")
    }

    fn request(json: &str) -> OrderRequest {
        serde_json::from_str(json).expect("json")
    }

    const SAMPLE: &str = r#"{"store_uid":"289151880002","items":[{"id":"1","name":"商品名稱","cost":"10","amount":"1","total":"10"}],"cost":"10","user_id":"phper","order_id":"1234567890","ip":"127.0.0.1","pfn":"0"}"#;

    #[test]
    fn the_documents_sample_is_a_valid_order() {
        let order =
            NewOrder::parse("289151880002", request(SAMPLE), &settings(), today()).expect("valid");
        assert_eq!(order.cost, 10);
        assert_eq!(order.preselection, Preselection::All);
    }

    #[test]
    fn a_wrong_sum_names_cost() {
        let json = SAMPLE.replace(r#""cost":"10","user_id""#, r#""cost":"11","user_id""#);
        let err = NewOrder::parse("289151880002", request(&json), &settings(), today())
            .expect_err("refused");
        assert_eq!(err.field, "cost");
    }

    #[test]
    fn a_negative_or_positive_discount_both_subtract() {
        for d in ["2", "-2"] {
            let json = SAMPLE.replace(
                r#""cost":"10","user_id""#,
                &format!(r#""cost":"8","discount":"{d}","user_id""#),
            );
            NewOrder::parse("289151880002", request(&json), &settings(), today()).expect("valid");
        }
    }

    #[test]
    fn item_totals_must_be_cost_times_amount() {
        let json = SAMPLE.replace(
            r#""amount":"1","total":"10""#,
            r#""amount":"2","total":"10""#,
        );
        let err = NewOrder::parse("289151880002", request(&json), &settings(), today())
            .expect_err("refused");
        assert_eq!(err.field, "items[0].total");
    }

    #[test]
    fn huge_quantities_are_refused_not_overflowed() {
        let json = SAMPLE.replace(
            r#""cost":"10","amount":"1","total":"10""#,
            r#""cost":"999999999999","amount":"999999999999","total":"1""#,
        );
        let err = NewOrder::parse("289151880002", request(&json), &settings(), today())
            .expect_err("refused");
        assert_eq!(err.field, "items[0].total");
    }

    #[test]
    fn a_bad_ip_or_long_order_id_is_refused() {
        let json = SAMPLE.replace("127.0.0.1", "999.1.1.1");
        assert_eq!(
            NewOrder::parse("289151880002", request(&json), &settings(), today())
                .expect_err("ip")
                .field,
            "ip"
        );
        let json = SAMPLE.replace("1234567890", &"x".repeat(51));
        assert_eq!(
            NewOrder::parse("289151880002", request(&json), &settings(), today())
                .expect_err("id")
                .field,
            "order_id"
        );
    }

    #[test]
    fn a_tool_outside_its_limits_is_refused() {
        // A CVS code takes at least 30 in the sandbox.
        let json = SAMPLE.replace(r#""pfn":"0""#, r#""pfn":"CSTORECODE""#);
        let err = NewOrder::parse("289151880002", request(&json), &settings(), today())
            .expect_err("refused");
        assert_eq!(err.field, "pfn");
        let json = SAMPLE.replace(r#""pfn":"0""#, r#""pfn":"BITCOIN""#);
        assert_eq!(
            NewOrder::parse("289151880002", request(&json), &settings(), today())
                .expect_err("pfn")
                .field,
            "pfn"
        );
    }

    #[test]
    fn another_merchants_store_uid_is_refused() {
        let err =
            NewOrder::parse("111", request(SAMPLE), &settings(), today()).expect_err("refused");
        assert_eq!(err.field, "store_uid");
    }

    #[test]
    fn legacy_items_are_read() {
        let raw: serde_json::Value = serde_json::json!({
            "item": "2",
            "i_1_id": "a", "i_1_name": "A", "i_1_cost": 5, "i_1_amount": "2", "i_1_total": "10",
            "i_2_id": "b", "i_2_name": "B", "i_2_cost": "1", "i_2_amount": 1, "i_2_total": 1,
        });
        let items = items_from_legacy(raw.as_object().expect("object")).expect("items");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].total, 10);
        assert_eq!(items[1].name, "B");
    }
}

//! Taiwan e-invoices (電子發票, SPEC §10): the buyer's choices as the document's value tables
//! define them, checked field by field; amounts and tax; the two-month periods; and the
//! codes printed on the proof (電子發票證明聯) laid out as the Ministry of Finance's barcode
//! spec (電子發票證明聯一維及二維條碼規格說明). Pure: no storage, no clock of its own.

use aes::Aes128;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use jiff::civil::Date;

/// The IV of the left QR code's check code, fixed by the MOF spec.
const CHECK_CODE_IV: &str = "Dt8lyToo17X/XkXaQvihuA==";

/// What one QR code of the proof holds at most (bytes of UTF-8): a version 6 code at error
/// correction L, the size the proof prints (byte mode: 134). Items that do not fit in
/// either code are left out of the codes; the counts say so.
pub const QR_CAPACITY: usize = 134;

/// 『電子發票開立類型』.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// 1 雲端發票 (a carrier).
    Cloud,
    /// 2 發票捐贈 (a love code).
    Donation,
    /// 3 實體發票 (B2B, printed by the merchant).
    Paper,
}

impl InputType {
    pub fn code(self) -> i64 {
        match self {
            InputType::Cloud => 1,
            InputType::Donation => 2,
            InputType::Paper => 3,
        }
    }
}

/// 『電子發票稅率別』.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateType {
    /// 1 應稅 (5 %).
    Taxable,
    /// 2 零稅率.
    Zero,
    /// 3 免稅.
    Exempt,
}

impl RateType {
    pub fn code(self) -> i64 {
        match self {
            RateType::Taxable => 1,
            RateType::Zero => 2,
            RateType::Exempt => 3,
        }
    }
}

/// What the buyer asked for, checked: its carrier, donation or B2B title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerChoice {
    pub input_type: InputType,
    pub rate_type: RateType,
    /// 『雲端發票類型』 (2 mobile barcode, 3 citizen certificate, 4 e-mail); cloud only.
    pub cloud_type: Option<i64>,
    pub mobile_code: String,
    pub natural_person: String,
    /// A buyer's BAN on a cloud invoice (optional) or the B2B buyer's.
    pub tax_id: String,
    pub love_code: String,
    pub b2b_title: String,
    pub b2b_id: String,
    pub b2b_address: String,
    pub b2b_post_zone: String,
}

impl BuyerChoice {
    /// The buyer's BAN as the codes carry it: `00000000` for a consumer.
    pub fn buyer_ban(&self) -> &str {
        match self.input_type {
            InputType::Paper => &self.b2b_id,
            _ if !self.tax_id.is_empty() => &self.tax_id,
            _ => "",
        }
    }

    /// Whether sales and tax are split: with a buyer BAN (B2B), as the MOF rules want.
    pub fn splits_tax(&self) -> bool {
        !self.buyer_ban().is_empty()
    }
}

/// The invoice fields of a request, as sent (`api/orders` or `api/issueinvoice`).
#[derive(Debug, Clone, Default)]
pub struct ChoiceFields<'a> {
    pub input_type: Option<i64>,
    pub rate_type: Option<i64>,
    pub cloud_type: Option<&'a str>,
    pub mobile_code: Option<&'a str>,
    pub natural_person: Option<&'a str>,
    pub tax_id: Option<&'a str>,
    pub love_code: Option<&'a str>,
    pub b2b_title: Option<&'a str>,
    pub b2b_id: Option<&'a str>,
    pub b2b_address: Option<&'a str>,
    pub b2b_post_zone: Option<&'a str>,
}

fn text(v: Option<&str>) -> String {
    v.map(str::trim).unwrap_or("").to_owned()
}

/// Check the buyer's choice; the error names the field and what is wrong. `on_paypage`:
/// the order's own fields, where the document forbids a B2B (paper) invoice.
pub fn parse_choice(f: &ChoiceFields<'_>, on_paypage: bool) -> Result<BuyerChoice, String> {
    let input_type = match f.input_type {
        None | Some(1) => InputType::Cloud,
        Some(2) => InputType::Donation,
        Some(3) if on_paypage => {
            return Err(
                "invoice_input_type: 3 (實體發票) cannot be issued with a PayPage payment; issue it with api/issueinvoice after the payment".into(),
            );
        }
        Some(3) => InputType::Paper,
        Some(other) => {
            return Err(format!(
                "invoice_input_type: {other} is not 1 (雲端發票), 2 (發票捐贈) or 3 (實體發票)"
            ));
        }
    };
    let rate_type = match f.rate_type {
        None | Some(1) => RateType::Taxable,
        Some(2) => RateType::Zero,
        Some(3) => RateType::Exempt,
        Some(other) => {
            return Err(format!(
                "invoice_ratetype: {other} is not 1 (應稅), 2 (零稅率) or 3 (免稅)"
            ));
        }
    };
    let mut choice = BuyerChoice {
        input_type,
        rate_type,
        cloud_type: None,
        mobile_code: String::new(),
        natural_person: String::new(),
        tax_id: String::new(),
        love_code: String::new(),
        b2b_title: String::new(),
        b2b_id: String::new(),
        b2b_address: String::new(),
        b2b_post_zone: String::new(),
    };
    match input_type {
        InputType::Cloud => {
            let cloud = match text(f.cloud_type).as_str() {
                "" | "4" => 4,
                "2" => 2,
                "3" => 3,
                other => {
                    return Err(format!(
                        "invoice_cloud_type: {other:?} is not 2 (手機條碼), 3 (自然人憑證條碼) or 4 (E-Mail)"
                    ));
                }
            };
            choice.cloud_type = Some(cloud);
            if cloud == 2 {
                let code = text(f.mobile_code);
                if !mobile_code_valid(&code) {
                    return Err(
                        "invoice_mobile_code: a mobile barcode is / and 7 of 0-9, A-Z, '.', '+', '-'"
                            .into(),
                    );
                }
                choice.mobile_code = code;
            }
            if cloud == 3 {
                let code = text(f.natural_person);
                if !natural_person_valid(&code) {
                    return Err(
                        "invoice_natural_person: a citizen certificate barcode is 2 capital letters and 14 digits"
                            .into(),
                    );
                }
                choice.natural_person = code;
            }
            let tax_id = text(f.tax_id);
            if !tax_id.is_empty() && !ban_valid(&tax_id) {
                return Err(format!(
                    "invoice_tax_id: {tax_id:?} is not a valid 統一編號"
                ));
            }
            choice.tax_id = tax_id;
        }
        InputType::Donation => {
            let code = text(f.love_code);
            if !(3..=7).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err("invoice_love_code: a love code is 3 to 7 digits".into());
            }
            choice.love_code = code;
        }
        InputType::Paper => {
            let title = text(f.b2b_title);
            if title.is_empty() || title.chars().count() > 60 || title.chars().any(char::is_control)
            {
                return Err("invoice_b2b_title: the buyer's name, 1 to 60 characters".into());
            }
            let id = text(f.b2b_id);
            if !ban_valid(&id) {
                return Err(format!("invoice_b2b_id: {id:?} is not a valid 統一編號"));
            }
            let address = text(f.b2b_address);
            if address.is_empty()
                || address.chars().count() > 100
                || address.chars().any(char::is_control)
            {
                return Err("invoice_b2b_address: the buyer's address, 1 to 100 characters".into());
            }
            let zone = text(f.b2b_post_zone);
            if !zone.is_empty() && (zone.len() > 6 || !zone.bytes().all(|b| b.is_ascii_digit())) {
                return Err("invoice_b2b_post_zone: a postal code of 3 to 6 digits".into());
            }
            choice.b2b_title = title;
            choice.b2b_id = id;
            choice.b2b_address = address;
            choice.b2b_post_zone = zone;
        }
    }
    Ok(choice)
}

/// 手機條碼: `/` and 7 of `0-9A-Z.+-`.
pub fn mobile_code_valid(code: &str) -> bool {
    code.len() == 8
        && code.starts_with('/')
        && code[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b"+-.".contains(&b))
}

/// 自然人憑證條碼: 2 capital letters and 14 digits.
pub fn natural_person_valid(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 16
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..].iter().all(u8::is_ascii_digit)
}

/// A 統一編號 by its checksum, the rule since 2023-04-01: each digit times 1,2,1,2,1,2,4,1,
/// the digits of each product summed, the total divisible by 5; when the 7th digit is 7
/// (its product 28 counts as 10 or as 1), the total plus one may be instead.
pub fn ban_valid(ban: &str) -> bool {
    const WEIGHTS: [u32; 8] = [1, 2, 1, 2, 1, 2, 4, 1];
    let digits: Vec<u32> = ban.chars().filter_map(|c| c.to_digit(10)).collect();
    if ban.len() != 8 || digits.len() != 8 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| {
            let p = d * w;
            p / 10 + p % 10
        })
        .sum();
    sum.is_multiple_of(5) || (digits[6] == 7 && (sum + 1).is_multiple_of(5))
}

/// Sales and tax of a total (tax included). Only an invoice with a buyer BAN splits them:
/// taxable, sales = total / 1.05 rounded half up, tax = total − sales (so the two always
/// add up to the total). Consumers' invoices carry sales = total and no tax, as the
/// document's examples; zero-rated and exempt invoices have no tax either.
pub fn sales_and_tax(total: i64, rate: RateType, split: bool) -> (i64, i64) {
    if !split || rate != RateType::Taxable {
        return (total, 0);
    }
    // total / 1.05 = total * 20 / 21, rounded half up in whole dollars.
    let sales = (total * 20 * 2 + 21) / (21 * 2);
    (sales, total - sales)
}

/// An invoice period (期別): the ROC year and the period's even month, `yyyMM` (Jan–Feb is
/// `…02`, Nov–Dec `…12`), of a date in Taipei.
pub fn period(date: Date) -> String {
    let month = date.month();
    let even = if month % 2 == 0 { month } else { month + 1 };
    format!("{:03}{:02}", i32::from(date.year()) - 1911, even)
}

/// A period as `merchant invoice-track --period` takes it: `yyyMM` with an even month.
pub fn parse_period(text: &str) -> Option<String> {
    let t = text.trim();
    if t.len() != 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: u32 = t[..3].parse().ok()?;
    let month: u32 = t[3..].parse().ok()?;
    (year >= 100 && month.is_multiple_of(2) && (2..=12).contains(&month)).then(|| t.to_owned())
}

/// `yyyMMdd` in the ROC calendar.
pub fn roc_date7(date: Date) -> String {
    format!(
        "{:03}{:02}{:02}",
        i32::from(date.year()) - 1911,
        date.month(),
        date.day()
    )
}

/// A word track: two capital letters.
pub fn track_valid(track: &str) -> bool {
    track.len() == 2 && track.bytes().all(|b| b.is_ascii_uppercase())
}

/// The 24-character check code of the left QR code: Base64 of AES-128-CBC (PKCS#7) of the
/// invoice number and random code, under the merchant's QR key (32 hex digits), with the
/// spec's IV. `None` when the key is not 32 hex digits.
pub fn check_code(number: &str, random: &str, qr_key_hex: &str) -> Option<String> {
    let key: [u8; 16] = crate::hex::unhex(&qr_key_hex.to_ascii_lowercase())?
        .try_into()
        .ok()?;
    let iv: [u8; 16] = base64::engine::general_purpose::STANDARD
        .decode(CHECK_CODE_IV)
        .ok()?
        .try_into()
        .ok()?;
    let plain = format!("{number}{random}");
    let sealed = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// A QR key as `merchant set --invoice-qr-key` takes it: 32 hex digits.
pub fn qr_key_valid(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One line of the invoice: name, quantity, unit price, amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub amount: i64,
}

impl From<&mypay_protocol::messages::Item> for Line {
    /// An order's, refund's or capture's item as an invoice line.
    fn from(i: &mypay_protocol::messages::Item) -> Line {
        Line {
            name: i.name.clone(),
            quantity: i.amount,
            unit_price: i.cost,
            amount: i.total,
        }
    }
}

/// What the proof's codes are made of.
#[derive(Debug, Clone)]
pub struct CodeFacts<'a> {
    /// Word track and 8 digits, e.g. `JH00000242`.
    pub number: &'a str,
    pub date: Date,
    pub random: &'a str,
    pub sales: i64,
    pub total: i64,
    /// Empty for a consumer.
    pub buyer_ban: &'a str,
    pub seller_ban: &'a str,
    pub check_code: &'a str,
    pub lines: &'a [Line],
}

/// The left and right QR codes' texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCodes {
    pub left: String,
    pub right: String,
}

/// A line as the codes record it: `name:quantity:unit price:`. A name's `:` would end its
/// field early, so it becomes a full-width colon.
fn coded_line(line: &Line) -> String {
    format!(
        "{}:{}:{}:",
        line.name.replace(':', "："),
        line.quantity,
        line.unit_price
    )
}

/// The two QR codes (MOF spec): the left one's 77 characters (number, ROC date, random
/// code, sales and total as 8 hex digits, buyer and seller BAN, check code), then
/// `:**********:`, the items recorded on the two codes together, the invoice's items, the
/// encoding `1` (UTF-8), and as many `name:qty:price:` as fit; the right one `**` and the
/// items that follow, as many as fit. Items are never split between the codes.
pub fn qr_codes(f: &CodeFacts<'_>) -> QrCodes {
    let buyer = if f.buyer_ban.is_empty() {
        "00000000"
    } else {
        f.buyer_ban
    };
    let head = format!(
        "{}{}{}{:08x}{:08x}{}{}{}",
        f.number,
        roc_date7(f.date),
        f.random,
        f.sales.max(0),
        f.total.max(0),
        buyer,
        f.seller_ban,
        f.check_code
    );
    let coded: Vec<String> = f.lines.iter().map(coded_line).collect();
    let total_items = coded.len();
    // How many lines each code takes, in order, given the left code's fixed part.
    let fits = |start: usize, room: usize| -> usize {
        let mut used = 0;
        let mut n = 0;
        for line in &coded[start..] {
            if used + line.len() > room {
                break;
            }
            used += line.len();
            n += 1;
        }
        n
    };
    // The counts' width depends on the counts; the left code's fixed part with the
    // largest counts it can carry is what the room is measured against.
    let fixed = |recorded: usize| format!("{head}:**********:{recorded}:{total_items}:1:").len();
    let left_n = fits(0, QR_CAPACITY.saturating_sub(fixed(total_items)));
    let right_n = fits(left_n, QR_CAPACITY - 2);
    let recorded = left_n + right_n;
    let mut left = format!("{head}:**********:{recorded}:{total_items}:1:");
    for line in &coded[..left_n] {
        left.push_str(line);
    }
    let mut right = String::from("**");
    for line in &coded[left_n..recorded] {
        right.push_str(line);
    }
    QrCodes { left, right }
}

/// The middle Code-39 barcode: the period (`yyyMM`, even month), the number, the random
/// code: 19 characters.
pub fn middle_barcode(period: &str, number: &str, random: &str) -> String {
    format!("{period}{number}{random}")
}

/// 『商品細項』 of the lines, as the document's JSON text (its field order).
pub fn order_detail(lines: &[Line]) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Row<'a> {
        description: &'a str,
        quantity: String,
        unit_price: String,
        amount: String,
    }
    let rows: Vec<Row<'_>> = lines
        .iter()
        .map(|l| Row {
            description: &l.name,
            quantity: l.quantity.to_string(),
            unit_price: l.unit_price.to_string(),
            amount: l.amount.to_string(),
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i16, m: i8, d: i8) -> Date {
        jiff::civil::date(y, m, d)
    }

    #[test]
    fn bans_by_the_current_checksum() {
        for ok in [
            "04595257", "00501508", "00000074", "62140097", "28915188", "22099131",
        ] {
            assert!(ban_valid(ok), "{ok}");
        }
        for bad in [
            "04595258",
            "12345678",
            "0459525",
            "045952570",
            "0459525a",
            "",
            "１２３４５６７８",
        ] {
            assert!(!ban_valid(bad), "{bad}");
        }
    }

    #[test]
    fn carriers_and_love_codes() {
        assert!(mobile_code_valid("/NFVIAZP"));
        assert!(mobile_code_valid("/A+B-C.9"));
        for bad in ["NFVIAZPX", "/nfviazp", "/NFVIAZ", "/NFVIAZPP", "/NFV AZP"] {
            assert!(!mobile_code_valid(bad), "{bad}");
        }
        assert!(natural_person_valid("AB12345678901234"));
        for bad in ["A112345678901234", "ab12345678901234", "AB1234567890123"] {
            assert!(!natural_person_valid(bad), "{bad}");
        }
        fn f(love: &str) -> ChoiceFields<'_> {
            ChoiceFields {
                input_type: Some(2),
                love_code: Some(love),
                ..Default::default()
            }
        }
        assert!(parse_choice(&f("241"), true).is_ok());
        assert!(parse_choice(&f("1234567"), true).is_ok());
        for bad in ["12", "12345678", "12a"] {
            let e = parse_choice(&f(bad), true).expect_err(bad);
            assert!(e.starts_with("invoice_love_code:"), "{e}");
        }
    }

    #[test]
    fn paper_invoices_only_after_the_payment() {
        let f = ChoiceFields {
            input_type: Some(3),
            b2b_title: Some("測試公司"),
            b2b_id: Some("04595257"),
            b2b_address: Some("台北市"),
            ..Default::default()
        };
        let e = parse_choice(&f, true).expect_err("PayPage");
        assert!(e.starts_with("invoice_input_type:"), "{e}");
        let choice = parse_choice(&f, false).expect("api/issueinvoice");
        assert_eq!(choice.buyer_ban(), "04595257");
        assert!(choice.splits_tax());
        let bad = ChoiceFields {
            b2b_id: Some("04595258"),
            ..f.clone()
        };
        assert!(
            parse_choice(&bad, false)
                .expect_err("ban")
                .starts_with("invoice_b2b_id:")
        );
    }

    #[test]
    fn tax_is_split_only_with_a_buyer_ban() {
        assert_eq!(sales_and_tax(10, RateType::Taxable, false), (10, 0));
        assert_eq!(sales_and_tax(105, RateType::Taxable, true), (100, 5));
        assert_eq!(sales_and_tax(5500, RateType::Taxable, true), (5238, 262));
        // 10 / 1.05 = 9.52 → 10, tax 0; 11 / 1.05 = 10.476 → 10, tax 1.
        assert_eq!(sales_and_tax(10, RateType::Taxable, true), (10, 0));
        assert_eq!(sales_and_tax(11, RateType::Taxable, true), (10, 1));
        assert_eq!(sales_and_tax(100, RateType::Zero, true), (100, 0));
        assert_eq!(sales_and_tax(100, RateType::Exempt, true), (100, 0));
        for total in 0..3000 {
            let (s, t) = sales_and_tax(total, RateType::Taxable, true);
            assert_eq!(s + t, total);
            // Half up: |sales × 1.05 − total| ≤ 0.525.
            assert!((s * 105 - total * 100).abs() <= 53, "{total}: {s} {t}");
        }
    }

    #[test]
    fn periods_are_two_months_in_the_roc_calendar() {
        assert_eq!(period(date(2022, 4, 27)), "11104");
        assert_eq!(period(date(2022, 3, 1)), "11104");
        assert_eq!(period(date(2026, 2, 28)), "11502");
        assert_eq!(period(date(2026, 1, 1)), "11502");
        assert_eq!(period(date(2025, 12, 31)), "11412");
        assert_eq!(roc_date7(date(2022, 3, 1)), "1110301");
        assert_eq!(parse_period("11502").as_deref(), Some("11502"));
        for bad in ["11501", "11500", "11514", "1150", "abcde"] {
            assert!(parse_period(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_documents_codes_are_laid_out_field_by_field() {
        // The document's api/issueinvoice example: JH00000242, 2022-04-27, random 3385,
        // one item 商品名稱 × 1 at 10, seller 28915188, no buyer.
        let lines = [Line {
            name: "商品名稱".into(),
            quantity: 1,
            unit_price: 10,
            amount: 10,
        }];
        let codes = qr_codes(&CodeFacts {
            number: "JH00000242",
            date: date(2022, 4, 27),
            random: "3385",
            sales: 10,
            total: 10,
            buyer_ban: "",
            seller_ban: "28915188",
            check_code: "AzucYuoKTbrLpvBKlKWNMA==",
            lines: &lines,
        });
        assert_eq!(
            codes.left,
            "JH00000242111042733850000000a0000000a0000000028915188AzucYuoKTbrLpvBKlKWNMA==:**********:1:1:1:商品名稱:1:10:"
        );
        assert_eq!(codes.right, "**");
        assert_eq!(
            middle_barcode(&period(date(2022, 4, 27)), "JH00000242", "3385"),
            "11104JH000002423385"
        );
        // SPEC §10's: JH00000011 of 2022-03-01, random code 9899.
        let spec = qr_codes(&CodeFacts {
            number: "JH00000011",
            date: date(2022, 3, 1),
            random: "9899",
            sales: 10,
            total: 10,
            buyer_ban: "",
            seller_ban: "28915188",
            check_code: "AzucYuoKTbrLpvBKlKWNMA==",
            lines: &lines,
        });
        assert!(
            spec.left
                .starts_with("JH00000011111030198990000000a0000000a0000000028915188"),
            "{}",
            spec.left
        );
        assert_eq!(&spec.left[77..], ":**********:1:1:1:商品名稱:1:10:");
        assert_eq!(
            middle_barcode(&period(date(2022, 3, 1)), "JH00000011", "9899"),
            "11104JH000000119899"
        );
        assert_eq!(
            order_detail(&lines),
            r#"[{"Description":"商品名稱","Quantity":"1","UnitPrice":"10","Amount":"10"}]"#
        );
    }

    #[test]
    fn items_that_do_not_fit_the_left_code_go_right_then_are_counted_out() {
        let lines: Vec<Line> = (0..40)
            .map(|i| Line {
                name: format!("品項{i}"),
                quantity: 1,
                unit_price: 100,
                amount: 100,
            })
            .collect();
        let codes = qr_codes(&CodeFacts {
            number: "AB00000001",
            date: date(2026, 3, 1),
            random: "0001",
            sales: 4000,
            total: 4000,
            buyer_ban: "",
            seller_ban: "28915188",
            check_code: "AAAAAAAAAAAAAAAAAAAAAA==",
            lines: &lines,
        });
        assert!(codes.left.len() <= QR_CAPACITY, "{}", codes.left.len());
        assert!(codes.right.len() <= QR_CAPACITY, "{}", codes.right.len());
        assert!(codes.right.starts_with("**品項"), "{}", codes.right);
        let fields: Vec<&str> = codes.left[77..].split(':').collect();
        let recorded: usize = fields[2].parse().expect("recorded");
        assert_eq!(fields[3], "40");
        assert_eq!(fields[4], "1");
        let on_codes = codes.left.matches("品項").count() + codes.right.matches("品項").count();
        assert_eq!(on_codes, recorded);
        assert!(recorded < 40);
    }

    #[test]
    fn the_check_code_is_24_characters_of_base64() {
        let code =
            check_code("JH00000242", "3385", "0123456789ABCDEF0123456789ABCDEF").expect("key");
        assert_eq!(code.len(), 24);
        assert!(code.ends_with("=="));
        assert!(check_code("JH00000242", "3385", "short").is_none());
    }
}

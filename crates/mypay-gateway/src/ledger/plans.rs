//! Card instalments (C_INSTALLMENT) and bonus points (C_REDEEM): which instalment counts
//! an order offers (`creditcard_installment`), and the `installment` / `redeem` JSON of
//! the query record and the notices (『分期資訊』, 『紅利資訊』).

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Instalment counts offered when the order does not limit them.
pub const DEFAULT_PERIODS: [u32; 3] = [3, 6, 12];

/// `creditcard_installment`: instalment counts, each with the issuing banks (3-digit
/// codes) that offer it; an empty list means every bank.
pub type InstallmentLimits = BTreeMap<u32, Vec<String>>;

/// Read `creditcard_installment` (`{"3": ["013", "822"], "6": ["822"]}`); the error names
/// what is wrong.
pub fn parse_limits(text: &str) -> Result<InstallmentLimits, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("is not JSON ({e}); expected {{\"3\": [\"013\", \"822\"]}}"))?;
    let object = value
        .as_object()
        .ok_or("must be a JSON object of instalment counts")?;
    let mut limits = InstallmentLimits::new();
    for (key, banks) in object {
        let periods: u32 = key
            .parse()
            .ok()
            .filter(|n| (2..=60).contains(n))
            .ok_or_else(|| format!("{key:?} is not an instalment count from 2 to 60"))?;
        let banks = banks
            .as_array()
            .ok_or_else(|| format!("\"{key}\" must list bank codes"))?
            .iter()
            .map(|b| match b {
                Value::String(s) if s.len() == 3 && s.bytes().all(|c| c.is_ascii_digit()) => {
                    Ok(s.clone())
                }
                other => Err(format!("\"{key}\": {other} is not a 3-digit bank code")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        limits.insert(periods, banks);
    }
    if limits.is_empty() {
        return Err("must offer at least one instalment count".into());
    }
    Ok(limits)
}

/// The instalment counts an order offers.
pub fn offered_periods(limits: Option<&InstallmentLimits>) -> Vec<u32> {
    match limits {
        Some(l) => l.keys().copied().collect(),
        None => DEFAULT_PERIODS.to_vec(),
    }
}

/// Whether a card from `bank` may pay in `periods` instalments.
pub fn bank_offers(limits: Option<&InstallmentLimits>, periods: u32, bank: &str) -> bool {
    match limits {
        None => DEFAULT_PERIODS.contains(&periods),
        Some(l) => l
            .get(&periods)
            .is_some_and(|banks| banks.is_empty() || banks.iter().any(|b| b == bank)),
    }
}

/// 『分期資訊』: the total split into `periods`, the first instalment taking the remainder.
pub fn installment_json(total: i64, periods: u32) -> String {
    let n = i64::from(periods.max(1));
    let every = total / n;
    let first = total - every * (n - 1);
    json!({"period_number": periods, "total": total, "first": first, "every": every}).to_string()
}

/// 『紅利資訊』 of the sandbox: points cover a tenth of the amount (type 2, 部分), the
/// consumer pays the rest.
pub fn redeem_json(total: i64) -> (String, i64) {
    let used = total / 10;
    let paid = total - used;
    (
        json!({"type": "2", "used": used.to_string(), "amount": paid.to_string()}).to_string(),
        paid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_what_is_wrong() {
        let l = parse_limits(r#"{"3": ["013", "822", "808"], "6": ["822", "812"]}"#).expect("ok");
        assert_eq!(offered_periods(Some(&l)), [3, 6]);
        assert!(bank_offers(Some(&l), 6, "822"));
        assert!(!bank_offers(Some(&l), 6, "013"));
        assert!(!bank_offers(Some(&l), 12, "822"));
        assert!(parse_limits("[3, 6]").is_err());
        assert!(
            parse_limits(r#"{"1": []}"#)
                .expect_err("count")
                .contains("\"1\"")
        );
        assert!(
            parse_limits(r#"{"3": ["13"]}"#)
                .expect_err("code")
                .contains("bank code")
        );
        assert!(bank_offers(None, 3, "999") && !bank_offers(None, 5, "999"));
    }

    #[test]
    fn instalments_add_up_to_the_total() {
        let v: Value = serde_json::from_str(&installment_json(1000, 3)).expect("json");
        assert_eq!(v["first"], 334);
        assert_eq!(v["every"], 333);
        assert_eq!(v["period_number"], 3);
        let (redeem, paid) = redeem_json(1000);
        assert_eq!(paid, 900);
        assert!(redeem.contains("\"used\":\"100\""));
    }
}

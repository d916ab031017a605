//! Recurring billing (定期定額, SPEC §9): the terms an order asks for and the date each
//! period falls due. Pure rules; the scheduler (`service::recurring`) charges them.

use jiff::Span;
use jiff::civil::Date;

pub use mypay_protocol::values::Regular;

/// The date period `n` (from 1) of a series of `regular` falls due, counted from `first`
/// (period 1's date), never from an earlier period's: a monthly series from Jan 31 is
/// charged on Feb 28 (or 29), Mar 31, Apr 30. `None` past the calendar's end, or for a
/// one-off's later periods.
pub fn due_date(regular: Regular, first: Date, n: u32) -> Option<Date> {
    let steps = i64::from(n.checked_sub(1)?);
    // The fallible spans: a period far enough out is past the calendar, not a panic.
    let span = match regular {
        Regular::Weekly => Span::new().try_days(steps.checked_mul(7)?),
        Regular::Fortnightly => Span::new().try_days(steps.checked_mul(14)?),
        Regular::Monthly => Span::new().try_months(steps),
        Regular::Quarterly => Span::new().try_months(steps.checked_mul(3)?),
        Regular::HalfYearly => Span::new().try_months(steps.checked_mul(6)?),
        Regular::Yearly => Span::new().try_years(steps),
        Regular::Once if steps == 0 => Ok(Span::new()),
        Regular::Once => return None,
    }
    .ok()?;
    // jiff clamps a day past the month's end to its last day (Jan 31 + 1 month =
    // Feb 28/29), which is the document's rule.
    first.checked_add(span).ok()
}

/// The recurring terms of an order, valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub regular: Regular,
    /// Periods in all; `None` means no end (`regular_total` 0).
    pub total: Option<u32>,
    /// Period 1's date (Asia/Taipei).
    pub first: Date,
    /// The merchant's own series id, if it gave one.
    pub store_group_id: Option<String>,
}

impl Terms {
    /// Whether period `n` exists in the series.
    pub fn has_period(&self, n: u32) -> bool {
        n >= 1
            && self.total.is_none_or(|t| n <= t)
            && due_date(self.regular, self.first, n).is_some()
    }
}

/// At most this many periods may be asked for (a weekly series of 20 years).
pub const MAX_TOTAL: u32 = 1040;

/// Read the recurring fields of an order on `today` (Asia/Taipei): `(field, problem)`
/// when one is wrong.
pub fn parse_terms(
    regular: Option<&str>,
    total: Option<&str>,
    first_charge_date: Option<&str>,
    group_id: Option<&str>,
    today: Date,
) -> Result<Terms, (&'static str, String)> {
    let regular_text = regular.map(str::trim).filter(|r| !r.is_empty()).ok_or((
        "regular",
        "is required for recurring billing (W, F, M, S, H, A or O)".to_owned(),
    ))?;
    let regular = Regular::parse(regular_text).ok_or_else(|| {
        (
            "regular",
            format!("{regular_text:?} is not one of W, F, M, S, H, A, O (分期類型定義)"),
        )
    })?;
    let total = match total.map(str::trim).filter(|t| !t.is_empty()) {
        None => {
            return Err((
                "regular_total",
                "is required (the number of periods, 0 for no end)".to_owned(),
            ));
        }
        Some(text) => match text.parse::<u32>() {
            Ok(0) if regular == Regular::Once => Some(1),
            Ok(0) => None,
            Ok(n) if n <= MAX_TOTAL => Some(if regular == Regular::Once { 1 } else { n }),
            _ => {
                return Err((
                    "regular_total",
                    format!("must be a whole number from 0 to {MAX_TOTAL}, got {text:?}"),
                ));
            }
        },
    };
    let first = match first_charge_date.map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(text) => {
            let date = parse_date8(text).ok_or_else(|| {
                (
                    "regular_first_charge_date",
                    format!("must be a date YYYYMMDD, got {text:?}"),
                )
            })?;
            if date < today {
                return Err((
                    "regular_first_charge_date",
                    format!("must not be before today ({})", date8(today)),
                ));
            }
            date
        }
    };
    let store_group_id = group_id
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| {
            if g.len() > 50 || g.chars().any(|c| !c.is_ascii_graphic()) {
                Err((
                    "group_id",
                    "must be at most 50 printable ASCII characters".to_owned(),
                ))
            } else {
                Ok(g.to_owned())
            }
        })
        .transpose()?;
    Ok(Terms {
        regular,
        total,
        first,
        store_group_id,
    })
}

/// `YYYYMMDD` as a date.
pub fn parse_date8(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i16 = text.get(..4)?.parse().ok()?;
    let month: i8 = text.get(4..6)?.parse().ok()?;
    let day: i8 = text.get(6..)?.parse().ok()?;
    Date::new(year, month, day).ok()
}

/// A date as `YYYYMMDD`.
pub fn date8(date: Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn monthly_from_the_31st_clamps_each_month_from_the_first_date() {
        let first = date(2027, 1, 31);
        let dates: Vec<String> = (1..=13)
            .map(|n| date8(due_date(Regular::Monthly, first, n).expect("date")))
            .collect();
        assert_eq!(
            dates,
            [
                "20270131", "20270228", "20270331", "20270430", "20270531", "20270630", "20270731",
                "20270831", "20270930", "20271031", "20271130", "20271231", "20280131"
            ]
        );
        // A leap year's February.
        assert_eq!(
            due_date(Regular::Monthly, date(2028, 1, 31), 2),
            Some(date(2028, 2, 29))
        );
    }

    #[test]
    fn from_february_29th() {
        let first = date(2028, 2, 29);
        assert_eq!(due_date(Regular::Yearly, first, 2), Some(date(2029, 2, 28)));
        assert_eq!(due_date(Regular::Yearly, first, 5), Some(date(2032, 2, 29)));
        assert_eq!(
            due_date(Regular::Quarterly, first, 2),
            Some(date(2028, 5, 29))
        );
        assert_eq!(
            due_date(Regular::HalfYearly, first, 3),
            Some(date(2029, 2, 28))
        );
    }

    #[test]
    fn weeks_cross_the_year() {
        let first = date(2027, 12, 20);
        assert_eq!(due_date(Regular::Weekly, first, 3), Some(date(2028, 1, 3)));
        assert_eq!(
            due_date(Regular::Fortnightly, first, 2),
            Some(date(2028, 1, 3))
        );
    }

    #[test]
    fn a_period_past_the_calendar_is_none_not_a_panic() {
        let first = date(2027, 1, 31);
        for regular in [Regular::Weekly, Regular::Monthly, Regular::Yearly] {
            assert_eq!(due_date(regular, first, u32::MAX), None);
        }
    }

    #[test]
    fn a_one_off_has_one_period() {
        let terms = parse_terms(Some("O"), Some("0"), None, None, date(2027, 1, 1)).expect("ok");
        assert!(terms.has_period(1));
        assert!(!terms.has_period(2));
    }

    #[test]
    fn terms_name_the_wrong_field() {
        let today = date(2027, 3, 10);
        let field = |r, t, d| parse_terms(r, t, d, None, today).expect_err("refused").0;
        assert_eq!(field(None, Some("1"), None), "regular");
        assert_eq!(field(Some("X"), Some("1"), None), "regular");
        assert_eq!(field(Some("M"), None, None), "regular_total");
        assert_eq!(field(Some("M"), Some("-1"), None), "regular_total");
        assert_eq!(
            field(Some("M"), Some("1"), Some("20270309")),
            "regular_first_charge_date"
        );
        assert_eq!(
            field(Some("M"), Some("1"), Some("2027-03-11")),
            "regular_first_charge_date"
        );
        let ok = parse_terms(Some("M"), Some("0"), Some("20270310"), None, today).expect("ok");
        assert_eq!(ok.total, None);
        assert!(ok.has_period(500));
    }
}

//! Tools where the consumer applies and a provider reviews (SPEC §5): post-pay (AFP,
//! `282` review → `284` approved → the merchant ships and captures → `250`, or `300`) and
//! cardless instalments (CARDLESS, `265` bound → `275` under review → `250`, or `A0002`
//! when the consumer gives up). Also the checks of what these orders must carry:
//! `shipping_info` (『後付款送貨資訊』) and `user_data` (『無卡分期消費者資訊』).

use serde_json::Value;

/// Seconds the sandbox's provider takes to review an application (on the test clock).
pub const REVIEW_SECONDS: i64 = 60;

/// Check `shipping_info` of a post-pay order; the error names the field.
pub fn check_shipping_info(info: Option<&Value>) -> Result<(), (String, String)> {
    let refuse = |field: &str, problem: &str| Err((field.to_owned(), problem.to_owned()));
    let Some(info) = info else {
        return refuse("shipping_info", "is required for post-pay (AFP)");
    };
    let Some(object) = info.as_object() else {
        return refuse("shipping_info", "must be an object");
    };
    let text = |k: &str| {
        object
            .get(k)
            .map(|v| match v {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            })
            .unwrap_or_default()
    };
    for field in ["name", "ship_address", "tel"] {
        if text(field).is_empty() {
            return refuse(&format!("shipping_info.{field}"), "is required");
        }
    }
    match text("shipment_type").as_str() {
        // 純宅配: a postal code.
        "" | "2" => {
            if text("zip_code").is_empty() {
                return refuse(
                    "shipping_info.zip_code",
                    "is required for home delivery (2)",
                );
            }
        }
        // 超商店到店: which chain and which store.
        "4" => {
            if !matches!(text("cvs").as_str(), "1" | "2") {
                return refuse(
                    "shipping_info.cvs",
                    "must be 1 (7-11) or 2 (全家) for store pickup (4)",
                );
            }
            for field in ["cvs_store", "cvs_store_name"] {
                if text(field).is_empty() {
                    return refuse(
                        &format!("shipping_info.{field}"),
                        "is required for store pickup (4)",
                    );
                }
            }
        }
        _ => {
            return refuse(
                "shipping_info.shipment_type",
                "must be 2 (純宅配) or 4 (超商店到店)",
            );
        }
    }
    Ok(())
}

/// Check `user_data` of a cardless-instalment order; the error names the field.
pub fn check_user_data(data: Option<&Value>) -> Result<(), (String, String)> {
    let refuse = |field: &str, problem: &str| Err((field.to_owned(), problem.to_owned()));
    let Some(data) = data else {
        return refuse(
            "user_data",
            "is required for cardless instalments (CARDLESS)",
        );
    };
    let Some(object) = data.as_object() else {
        return refuse("user_data", "must be an object");
    };
    for field in ["user_real_name", "user_sn", "user_address"] {
        let present = object
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !present {
            return refuse(&format!("user_data.{field}"), "is required");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shipping_info_needs_its_fields_by_shipment_type() {
        let home = json!({"shipment_type": 2, "name": "王小明", "ship_address": "台北市", "tel": "0912345678", "zip_code": "100"});
        assert!(check_shipping_info(Some(&home)).is_ok());
        let err = check_shipping_info(None).expect_err("missing");
        assert_eq!(err.0, "shipping_info");
        let mut store = home.clone();
        store["shipment_type"] = json!(4);
        assert_eq!(
            check_shipping_info(Some(&store)).expect_err("cvs").0,
            "shipping_info.cvs"
        );
        store["cvs"] = json!(1);
        store["cvs_store"] = json!("123456");
        store["cvs_store_name"] = json!("台北門市");
        assert!(check_shipping_info(Some(&store)).is_ok());
        let mut no_tel = home;
        no_tel["tel"] = json!("");
        assert_eq!(
            check_shipping_info(Some(&no_tel)).expect_err("tel").0,
            "shipping_info.tel"
        );
    }

    #[test]
    fn user_data_needs_the_applicant() {
        assert_eq!(check_user_data(None).expect_err("missing").0, "user_data");
        let ok =
            json!({"user_real_name": "王小明", "user_sn": "A123456789", "user_address": "台北市"});
        assert!(check_user_data(Some(&ok)).is_ok());
        let mut bad = ok;
        bad["user_sn"] = json!("");
        assert_eq!(
            check_user_data(Some(&bad)).expect_err("sn").0,
            "user_data.user_sn"
        );
    }
}

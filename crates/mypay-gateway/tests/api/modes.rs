use crate::helpers::{assert_mentions, spawn_app};
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use serde_json::json;

#[tokio::test]
async fn payment_modes_list_the_tools_whose_limits_fit() {
    let app = spawn_app().await;
    let modes = app.client.payment_modes(1000, "TWD").await.expect("B200");
    assert!(modes.contains(&"CREDITCARD".to_owned()));
    assert!(modes.contains(&"CSTORECODE".to_owned()));
    assert!(modes.contains(&"WECHAT".to_owned()));
    // A CVS code takes 30 to 20,000 in the sandbox.
    let small = app.client.payment_modes(10, "TWD").await.expect("B200");
    assert!(!small.contains(&"CSTORECODE".to_owned()));
    assert!(small.contains(&"CREDITCARD".to_owned()));
    app.finish().await;
}

#[tokio::test]
async fn payment_modes_follow_the_merchants_settings() {
    let app = spawn_app().await;
    app.update_merchant(|s| {
        s.tools
            .retain(|t| matches!(t.tool.code(), "CREDITCARD" | "LINEPAYON"))
    })
    .await;
    let modes = app.client.payment_modes(500, "TWD").await.expect("B200");
    assert_eq!(modes, vec!["CREDITCARD".to_owned(), "LINEPAYON".to_owned()]);
    app.finish().await;
}

#[tokio::test]
async fn payment_modes_refuse_a_cost_below_one_with_b500() {
    let app = spawn_app().await;
    for cost in [json!("0"), json!("abc"), json!(null)] {
        let answer = app
            .api(
                "api/paymentsupportpaymode",
                &json!({"store_uid": SAMPLE_STORE_UID, "cost": cost}),
            )
            .await;
        assert_mentions(&answer, "B500", "cost");
    }
    let answer = app
        .api(
            "api/paymentsupportpaymode",
            &json!({"cost": "10", "currency": "USD"}),
        )
        .await;
    assert_mentions(&answer, "B500", "currency");
    app.finish().await;
}

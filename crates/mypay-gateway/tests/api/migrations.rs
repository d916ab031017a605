//! A database made by an earlier version upgrades in place and keeps its data.

use crate::helpers::fresh_db_path;
use mypay_gateway::store::Store;
use std::borrow::Cow;

#[tokio::test]
async fn a_first_schema_database_with_notices_upgrades_keeping_them() {
    let path = fresh_db_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("folder");
    }
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("db");
        let mut first = sqlx::migrate!("./migrations");
        first.migrations = Cow::Owned(first.migrations[..1].to_vec());
        first.run(&pool).await.expect("the first migration");
        sqlx::raw_sql(
            "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency, authorise_only, prc, created_at, updated_at)
                 VALUES ('289151880002', 'OLD-1', 'k', '{}', 'all', 10, 'TWD', 0, '250', 0, 0);
             INSERT INTO order_events (uid, from_prc, to_prc, at, cause)
                 VALUES (1, NULL, '200', 0, 'api/orders'), (1, '200', '250', 0, 'card');
             INSERT INTO notices (uid, store_uid, kind, prc, url, body, status, max_attempts, interval_secs, next_attempt_at, created_at)
                 VALUES (1, '289151880002', 'completed', '250', 'http://shop/notify', 'uid=1', 'delivered', 5, 300, 0, 0);
             INSERT INTO notice_attempts (notice_id, attempt, at, http_status, reply, elapsed_ms, outcome)
                 VALUES (1, 1, 0, 200, '8888', 3, 'delivered');",
        )
        .execute(&pool)
        .await
        .expect("old data");
        pool.close().await;
    }

    let store = Store::open(&path).await.expect("the upgrade runs");
    let pool = store.pool();
    let kept: (i64, i64, String) =
        sqlx::query_as("SELECT id, ref_uid, status FROM notices WHERE uid = 1")
            .fetch_one(pool)
            .await
            .expect("the notice is kept");
    assert_eq!(kept, (1, 0, "delivered".to_owned()));
    let reply: String = sqlx::query_scalar("SELECT reply FROM notice_attempts WHERE notice_id = 1")
        .fetch_one(pool)
        .await
        .expect("its delivery log is kept");
    assert_eq!(reply, "8888");
    let refunded: i64 = sqlx::query_scalar("SELECT refunded FROM orders WHERE uid = 1")
        .fetch_one(pool)
        .await
        .expect("orders gained the refund total");
    assert_eq!(refunded, 0);
    // Its history was written with a creation row: listed as it is, not a second time.
    let history: Vec<(Option<String>, String)> = store
        .events(1)
        .await
        .expect("history")
        .into_iter()
        .map(|e| (e.from_prc, e.to_prc))
        .collect();
    assert_eq!(
        history,
        vec![
            (None, "200".to_owned()),
            (Some("200".to_owned()), "250".to_owned())
        ]
    );
    let problems: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(pool)
        .await
        .expect("check");
    assert!(problems.is_empty(), "{problems:?}");
}

//! A database made by an earlier version upgrades in place and keeps its data. (The old
//! version's rows can only be written with its SQL; what is kept is read back through
//! the storage interface.)

use crate::helpers::fresh_database;
use mypay_gateway::store::{Created, DatabaseUrl, NewOrderRow, NoticeFilter, Store, StoreOptions};
use std::borrow::Cow;

#[tokio::test]
async fn a_first_schema_database_with_notices_upgrades_keeping_them() {
    let dir = std::env::temp_dir().join(format!("mypay-upgrade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    let path = dir.join("mypay.sqlite");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("db");
        let mut first = sqlx::migrate!("./migrations/sqlite");
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

    let store = Store::open(&DatabaseUrl::Sqlite(path), &StoreOptions::default())
        .await
        .expect("the upgrade runs");
    let kept = store
        .notices(&NoticeFilter {
            uid: Some(1),
            ..Default::default()
        })
        .await
        .expect("notices");
    let kept: Vec<(i64, &str, &str)> = kept
        .iter()
        .map(|n| (n.id, n.status.as_str(), n.body.as_str()))
        .collect();
    assert_eq!(
        kept,
        [(1, "delivered", "uid=1")],
        "the notice and its body are kept"
    );
    let log = store.notice_attempts(1).await.expect("attempts");
    assert_eq!(log.len(), 1, "its delivery log is kept");
    assert_eq!(log[0].reply, "8888");
    let order = store
        .order(1)
        .await
        .expect("read")
        .expect("the order is kept");
    assert_eq!(order.refunded, 0, "orders gained the refund total");
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
}

/// An unpaid order written before PostgreSQL kept the request's digest (its migration
/// 0010; SQLite's schema before its newest migration, the same story) is still its
/// request's transaction after the upgrade: the same request again is a retry of it, and
/// another request under the same id a new transaction.
#[tokio::test]
async fn an_unpaid_order_from_an_earlier_schema_is_still_its_requests_transaction() {
    let database = fresh_database();
    let request = r#"{"store_uid":"289151880002","order_id":"OLD-2","cost":"10"}"#;
    let insert = format!(
        "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency, authorise_only, prc, created_at, updated_at)
             VALUES ('289151880002', 'OLD-2', 'old-key', '{request}', 'all', 10, 'TWD', 0, '200', 0, 0)"
    );
    // The same steps on either driver's pool: the earlier schema, then an order of then.
    macro_rules! old_database {
        ($pool:expr, $before:expr) => {{
            $before.run(&$pool).await.expect("the earlier schema");
            let inserted = sqlx::raw_sql(&insert).execute(&$pool).await;
            inserted.expect("old order");
            $pool.close().await;
        }};
    }
    match &*database {
        DatabaseUrl::Sqlite(path) => {
            std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("db");
            let mut before = sqlx::migrate!("./migrations/sqlite");
            let last = before.migrations.len() - 1;
            before.migrations = Cow::Owned(before.migrations[..last].to_vec());
            old_database!(pool, before);
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("db");
            let mut before = sqlx::migrate!("./migrations/postgres");
            before.migrations = Cow::Owned(
                before
                    .migrations
                    .iter()
                    .filter(|m| m.version < 10)
                    .cloned()
                    .collect(),
            );
            old_database!(pool, before);
        }
    }

    let store = Store::open(&database, &StoreOptions::default())
        .await
        .expect("the upgrade runs");
    let order = |request: &str, token: &str| NewOrderRow {
        store_uid: "289151880002".into(),
        order_id: "OLD-2".into(),
        pfn: "all",
        cost: 10,
        currency: "TWD",
        authorise_only: false,
        request_json: request.into(),
        strict: false,
        token: token.into(),
        user_id: "u".into(),
        now: jiff::Timestamp::UNIX_EPOCH,
    };
    assert_eq!(
        store
            .create_order(order(request, "new-key"))
            .await
            .expect("the same request"),
        Created::Retry {
            uid: 1,
            token: "old-key".into()
        },
        "the same request again is the stored transaction"
    );
    let other = store
        .create_order(order(r#"{"order_id":"OLD-2","cost":"20"}"#, "other-key"))
        .await
        .expect("another request");
    assert!(
        matches!(other, Created::New { uid, .. } if uid != 1),
        "another request under the id is a new transaction: {other:?}"
    );
    // Both unpaid now, each its own request's.
    assert_eq!(
        store
            .create_order(order(r#"{"order_id":"OLD-2","cost":"20"}"#, "third-key"))
            .await
            .expect("its retry"),
        match other {
            Created::New { uid, token } => Created::Retry { uid, token },
            _ => unreachable!(),
        }
    );
}

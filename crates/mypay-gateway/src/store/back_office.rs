//! What the back office reads: orders searched on a big table (keyset pages, each filter
//! backed by an index), and the raw trail of one order for its timeline.

use super::admins::{AUDIT_COLUMNS, audit_entry};
use super::sql::{Arg, Backend, Exec};
use super::storage::BackOffice;
use super::{AuditEntry, Columns, OrderRow, StoreResult, UpstreamOperation, micros, timestamp};
use jiff::Timestamp;

/// A search of orders: every filter given must hold. Newest first, below `before_uid`.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    pub store_uid: Option<String>,
    pub uid: Option<u64>,
    pub order_id: Option<String>,
    pub user_id: Option<String>,
    pub card_last4: Option<String>,
    pub prc: Option<String>,
    /// The tool paid with, or the one preselected.
    pub pfn: Option<String>,
    pub min_cost: Option<i64>,
    pub max_cost: Option<i64>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    pub before_uid: Option<u64>,
    pub limit: i64,
}

/// Orders a search looks at per page, at most, unless it names an order (`uid`,
/// `order_id`) or a consumer or card (`user_id`, `card_last4`), whose indexes find
/// their few orders directly: the other filters (a merchant, a state, a tool, amounts,
/// times) are checked on the orders of one stretch of uids, so a page costs the same on
/// any size of table.
pub const SCAN_WINDOW: u64 = 50_000;

/// A page of a search: its orders, newest first, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub orders: Vec<OrderRow>,
    /// The `after` of the next page; `None` when nothing older is left to look at.
    pub next: Option<u64>,
}

impl OrderSearch {
    /// Whether an index finds this search's few orders.
    fn selective(&self) -> bool {
        self.uid.is_some()
            || self.order_id.is_some()
            || self.user_id.is_some()
            || self.card_last4.is_some()
    }
}

/// One change of an order's state, with its raw time.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub from_prc: Option<String>,
    pub to_prc: String,
    pub at: Timestamp,
    pub cause: String,
}

/// A signed callback an upstream sent about an order.
#[derive(Debug, Clone)]
pub struct CallbackRecord {
    pub at: Timestamp,
    pub upstream: String,
    pub webhook_id: String,
    pub kind: String,
    pub applied: bool,
}

#[async_trait::async_trait]
impl<B: Backend> BackOffice for B {
    async fn search_orders(&self, q: &OrderSearch) -> StoreResult<SearchPage> {
        let before = match q.before_uid {
            Some(u) => u.min(i64::MAX as u64) as i64,
            None => {
                let newest = self
                    .pool()
                    .one("SELECT COALESCE(MAX(uid), 0) FROM orders", &[])
                    .await?
                    .int(0)?;
                newest.saturating_add(1)
            }
        };
        let bottom = if q.selective() {
            0
        } else {
            before.saturating_sub(SCAN_WINDOW as i64).max(0)
        };
        // The stretch of uids is written into the statement, not bound: PostgreSQL plans a
        // statement it has seen five times for any parameters, and planned for any
        // stretch it scans the primary key for an order id instead of probing its index.
        let mut sql = format!(
            "SELECT {} FROM orders WHERE uid < {before}",
            OrderRow::COLUMNS
        );
        if bottom > 0 {
            sql.push_str(&format!(" AND uid >= {bottom}"));
        }
        let mut args: Vec<Arg<'_>> = Vec::new();
        let texts: Vec<(&str, &str)> = [
            (" AND store_uid = $?", q.store_uid.as_deref()),
            (" AND order_id = $?", q.order_id.as_deref()),
            (" AND user_id = $?", q.user_id.as_deref()),
            (" AND card_last4 = $?", q.card_last4.as_deref()),
            (" AND prc = $?", q.prc.as_deref()),
            (" AND (paid_pfn = $? OR pfn = $?)", q.pfn.as_deref()),
        ]
        .into_iter()
        .filter_map(|(c, v)| Some((c, v?)))
        .collect();
        for (condition, value) in texts {
            args.push(value.into());
            sql.push_str(&condition.replace("$?", &format!("${}", args.len())));
        }
        let ints: Vec<(&str, i64)> = [
            (" AND uid = $?", q.uid.map(|u| u as i64)),
            (" AND cost >= $?", q.min_cost),
            (" AND cost <= $?", q.max_cost),
            (" AND created_at >= $?", q.from.map(micros)),
            (" AND created_at < $?", q.to.map(micros)),
        ]
        .into_iter()
        .filter_map(|(c, v)| Some((c, v?)))
        .collect();
        for (condition, value) in ints {
            args.push(value.into());
            sql.push_str(&condition.replace("$?", &format!("${}", args.len())));
        }
        if q.order_id.is_some() && q.store_uid.is_none() {
            // The order-id index leads with the merchant: probing it once per merchant
            // finds an order id among millions of orders, where no merchant is named,
            // without another index for every order written to keep up.
            sql.push_str(" AND store_uid IN (SELECT store_uid FROM merchants)");
        }
        args.push(q.limit.into());
        sql.push_str(&format!(" ORDER BY uid DESC LIMIT ${}", args.len()));
        let rows = self.fetch(&sql, &args).await?;
        let orders = rows
            .iter()
            .map(OrderRow::from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // A full page goes on below its last order; a short one below the stretch it
        // looked at, while there is anything below it.
        let next = if orders.len() as i64 == q.limit {
            orders.last().map(|o| o.uid)
        } else if bottom > 1 {
            Some(bottom as u64)
        } else {
            None
        };
        Ok(SearchPage { orders, next })
    }

    async fn state_changes(&self, uid: u64) -> StoreResult<Vec<StateChange>> {
        let rows = self
            .fetch(
                "SELECT from_prc, to_prc, at, cause FROM order_events WHERE uid = $1 ORDER BY id",
                &[uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StateChange {
                    from_prc: r.opt_text(0)?,
                    to_prc: r.text(1)?,
                    at: timestamp(r.int(2)?),
                    cause: r.text(3)?,
                })
            })
            .collect()
    }

    async fn upstream_operations_of(&self, uid: u64) -> StoreResult<Vec<UpstreamOperation>> {
        let rows = self
            .fetch(
                "SELECT reference, uid, kind, upstream, created_at, unresolved_at
                 FROM upstream_operations WHERE uid = $1 ORDER BY created_at",
                &[uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UpstreamOperation {
                    reference: r.text(0)?,
                    uid: r.int(1)? as u64,
                    kind: r.text(2)?,
                    upstream: r.text(3)?,
                    created_at: timestamp(r.int(4)?),
                    unresolved_at: r.opt_int(5)?.map(timestamp),
                })
            })
            .collect()
    }

    async fn callbacks_at(&self, uid: u64) -> StoreResult<Vec<CallbackRecord>> {
        let rows = self
            .fetch(
                "SELECT received_at, upstream, webhook_id, kind,
                        CAST(CASE WHEN applied THEN 1 ELSE 0 END AS BIGINT)
                 FROM upstream_callbacks WHERE uid = $1 ORDER BY received_at",
                &[uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CallbackRecord {
                    at: timestamp(r.int(0)?),
                    upstream: r.text(1)?,
                    webhook_id: r.text(2)?,
                    kind: r.text(3)?,
                    applied: r.int(4)? != 0,
                })
            })
            .collect()
    }

    async fn audit_about(&self, subject: &str) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .fetch(
                &format!("SELECT {AUDIT_COLUMNS} FROM admin_audit WHERE subject = $1 ORDER BY id"),
                &[subject.into()],
            )
            .await?;
        rows.iter().map(audit_entry).collect()
    }
}

//! Group commit for new orders.
//!
//! With `synchronous=FULL` every commit is an fsync, and one fsync per order caps the
//! gateway far below what the rest of the hot path can do. Handlers hand their order to
//! this single writer task instead; it takes every order waiting in the channel (up to a
//! batch limit), writes them in one transaction, commits once, and only then answers each
//! handler. An order is never answered before it is durable.
//!
//! Being the only writer of new orders also makes the `order_id` rules of SPEC §4
//! race-free on one node: the check "is the same request still unpaid?" and the insert
//! happen in the same serial transaction.

use super::{WriteHealth, direct};
use crate::store::orders::LatestOrder;
use crate::store::sql::WriteGate;
use crate::store::{CommitObserver, Created, NewOrderRow, StoreError, ask, micros};
use rusqlite::TransactionBehavior;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

struct Job {
    order: NewOrderRow,
    reply: oneshot::Sender<Result<Created, String>>,
}

#[derive(Clone)]
pub struct OrderWriter {
    tx: mpsc::Sender<Job>,
}

impl OrderWriter {
    /// Start the writer on a thread of its own with its own connection to the file.
    pub(super) fn spawn(
        path: &Path,
        max_batch: usize,
        on_commit: Option<CommitObserver>,
        health: Arc<WriteHealth>,
        gate: WriteGate,
    ) -> Result<OrderWriter, StoreError> {
        let conn = direct::open(path, false)?;
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * 4);
        std::thread::Builder::new()
            .name("order-writer".into())
            .spawn(move || run(conn, rx, max_batch, on_commit, &health, &gate))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the order writer: {e}")))?;
        Ok(OrderWriter { tx })
    }

    /// Store `order` (durably) and say which transaction it is.
    pub(super) async fn create(&self, order: NewOrderRow) -> Result<Created, StoreError> {
        ask(&self.tx, |reply| Job { order, reply }, "the order writer")
            .await?
            .map_err(StoreError::Database)
    }
}

/// The writer thread: wait for one order, wait for the turn to write, take every other
/// order waiting by then, write them all, answer them all. Ends when every sender is gone.
fn run(
    mut conn: rusqlite::Connection,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
    health: &WriteHealth,
    gate: &WriteGate,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        let turn = gate.turn_blocking();
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let written = write_batch(&mut conn, &batch);
        drop(turn);
        health.noted(&written);
        match written {
            Ok(answers) => {
                if let Some(observe) = &on_commit {
                    observe(batch.len());
                }
                for (job, answer) in batch.drain(..).zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, size = batch.len(), "order batch failed; nothing of it was written");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// The latest transaction of one `(store_uid, order_id)`, newest first by the index's
/// implicit `uid` column: one index seek.
const LATEST: &str = "SELECT uid, token, request, prc FROM orders
    WHERE store_uid = ?1 AND order_id = ?2 ORDER BY uid DESC LIMIT 1";

const INSERT: &str = "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost,
    currency, authorise_only, prc, created_at, updated_at, user_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '200', ?9, ?9, ?10)";

/// Write one batch in one transaction, with two prepared statements run once per order:
/// a lookup of the latest transaction of its `order_id`, and its insert.
///
/// (Multi-row statements were tried: SQLite builds a temporary table for an `IN (VALUES
/// …)` list, a `GROUP BY` and a `RETURNING` clause, which cost more than the statements
/// they replaced.) The creation is not written again as an `order_events` row: the
/// order's row records it (`created_at`), and every page a commit touches is written to
/// the WAL and synced, so a second table and index per order cost a third of the commit.
fn write_batch(conn: &mut rusqlite::Connection, batch: &[Job]) -> Result<Vec<Created>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut answers: Vec<Created> = Vec::with_capacity(batch.len());
    {
        let mut latest = tx.prepare_cached(LATEST)?;
        let mut insert = tx.prepare_cached(INSERT)?;
        // Orders created earlier in this batch, by (store_uid, order_id): the index of
        // the job whose answer is that new transaction. They are newer than any stored.
        let mut created_here: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, job) in batch.iter().enumerate() {
            let key = (job.order.store_uid.as_str(), job.order.order_id.as_str());
            let answer = if let Some(&first) = created_here.get(&key) {
                // Created a moment ago, so still unpaid.
                match &answers[first] {
                    Created::New { uid, token } => LatestOrder {
                        uid: *uid,
                        token,
                        request: &batch[first].order.request_json,
                        unpaid: true,
                    }
                    .reuse_for(&job.order),
                    _ => None,
                }
            } else {
                let mut rows = latest.query((key.0, key.1))?;
                match rows.next()? {
                    Some(row) => LatestOrder {
                        uid: row.get::<_, i64>(0)? as u64,
                        token: text(row, 1)?,
                        request: text(row, 2)?,
                        unpaid: text(row, 3)? == "200",
                    }
                    .reuse_for(&job.order),
                    None => None,
                }
            };
            let answer = match answer {
                Some(answer) => answer,
                None => {
                    let o = &job.order;
                    let at = micros(o.now);
                    insert.execute(rusqlite::params![
                        o.store_uid,
                        o.order_id,
                        o.token,
                        o.request_json,
                        o.pfn,
                        o.cost,
                        o.currency,
                        o.authorise_only,
                        at,
                        o.user_id,
                    ])?;
                    created_here.insert(key, i);
                    Created::New {
                        uid: tx.last_insert_rowid() as u64,
                        token: o.token.clone(),
                    }
                }
            };
            answers.push(answer);
        }
    }
    tx.commit()?;
    Ok(answers)
}

/// A text column read in place (no copy of a stored request just to compare it).
fn text<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<&'r str, StoreError> {
    row.get_ref(column)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("orders column {column}: {e}")))
}

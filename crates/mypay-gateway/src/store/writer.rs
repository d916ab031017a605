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

use super::{Store, StoreError, micros};
use crate::ledger::order::NewOrder;
use jiff::Timestamp;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

/// The answer for one new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new transaction.
    New { uid: u64, token: String },
    /// The same request while the first is still unpaid: the same transaction (a safe retry).
    Retry { uid: u64, token: String },
    /// The merchant requires unique `order_id`s and this one was used.
    DuplicateOrderId,
}

struct Job {
    order: NewOrder,
    request_json: String,
    strict: bool,
    token: String,
    now: Timestamp,
    reply: oneshot::Sender<Result<Created, String>>,
}

#[derive(Clone)]
pub struct OrderWriter {
    tx: mpsc::Sender<Job>,
}

impl OrderWriter {
    /// Start the writer task on `store`.
    pub fn spawn(store: Store, max_batch: usize) -> OrderWriter {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        tokio::spawn(run(store, rx, max_batch.max(1)));
        OrderWriter { tx }
    }

    /// Store `order` (durably) and say which transaction it is.
    pub async fn create(
        &self,
        order: NewOrder,
        strict: bool,
        token: String,
        now: Timestamp,
    ) -> Result<Created, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request_json = order.request_json();
        let job = Job {
            order,
            request_json,
            strict,
            token,
            now,
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Corrupt("the order writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the order writer dropped a request".into()))?
            .map_err(StoreError::Corrupt)
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        match write_batch(&store, &batch).await {
            Ok(answers) => {
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

async fn write_batch(store: &Store, batch: &[Job]) -> Result<Vec<Created>, sqlx::Error> {
    let mut tx = store.pool.begin().await?;
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        let o = &job.order;
        let previous = sqlx::query(
            "SELECT uid, token, request, prc FROM orders WHERE store_uid = ? AND order_id = ? ORDER BY uid DESC LIMIT 1",
        )
        .bind(&o.store_uid)
        .bind(&o.order_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(prev) = previous {
            let same_request = prev.try_get::<String, _>("request")? == job.request_json;
            let unpaid = prev.try_get::<String, _>("prc")? == "200";
            if same_request && unpaid {
                answers.push(Created::Retry {
                    uid: prev.try_get::<i64, _>("uid")? as u64,
                    token: prev.try_get("token")?,
                });
                continue;
            }
            if job.strict {
                answers.push(Created::DuplicateOrderId);
                continue;
            }
        }
        let at = micros(job.now);
        let uid: i64 = sqlx::query_scalar(
            "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency, authorise_only, prc, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '200', ?, ?) RETURNING uid",
        )
        .bind(&o.store_uid)
        .bind(&o.order_id)
        .bind(&job.token)
        .bind(&job.request_json)
        .bind(o.preselection.as_text())
        .bind(o.cost)
        .bind(o.currency.code())
        .bind(o.authorise_only)
        .bind(at)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES (?, NULL, '200', ?, 'api/orders')")
            .bind(uid)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        answers.push(Created::New {
            uid: uid as u64,
            token: job.token.clone(),
        });
    }
    tx.commit().await?;
    Ok(answers)
}

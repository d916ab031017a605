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

use super::{Store, StoreError, direct, micros};
use crate::ledger::order::NewOrder;
use jiff::Timestamp;
use rusqlite::{ToSql, TransactionBehavior, params_from_iter};
use std::collections::HashMap;
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
    /// Start the writer on a thread of its own with its own connection to `store`'s file.
    pub fn spawn(store: &Store, max_batch: usize) -> Result<OrderWriter, StoreError> {
        let conn = direct::open(&store.path, false)?;
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * 4);
        std::thread::Builder::new()
            .name("order-writer".into())
            .spawn(move || run(conn, rx, max_batch))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the order writer: {e}")))?;
        Ok(OrderWriter { tx })
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

/// The writer thread: wait for one order, take every other one already waiting, write
/// them all, answer them all. Ends when every sender is gone.
fn run(mut conn: rusqlite::Connection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_batch(&mut conn, &batch) {
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

/// What the batch knows of the latest transaction of one `(store_uid, order_id)`.
#[derive(Clone)]
enum Latest {
    /// Already in the database.
    Stored {
        uid: u64,
        token: String,
        request: String,
        unpaid: bool,
    },
    /// Created earlier in this batch: the job at this index.
    InBatch(usize),
}

/// Write one batch in one transaction and a handful of statements, whatever its size: one
/// read of the latest transaction of every `order_id` in it, one multi-row insert of the
/// new orders, one of their creation events.
fn write_batch(conn: &mut rusqlite::Connection, batch: &[Job]) -> Result<Vec<Created>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

    let mut latest: HashMap<(&str, &str), Latest> = HashMap::with_capacity(batch.len());
    for chunk in pow2_chunks(batch, 256) {
        let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT uid, store_uid, order_id, token, request, prc FROM orders WHERE uid IN (
                 SELECT MAX(uid) FROM orders WHERE (store_uid, order_id) IN (VALUES {tuples})
                 GROUP BY store_uid, order_id)"
        );
        let mut statement = tx.prepare_cached(&sql)?;
        let keys = chunk
            .iter()
            .flat_map(|j| [j.order.store_uid.as_str(), j.order.order_id.as_str()]);
        let mut rows = statement.query(params_from_iter(keys))?;
        while let Some(row) = rows.next()? {
            let store_uid: String = row.get("store_uid")?;
            let order_id: String = row.get("order_id")?;
            // Borrow the key from the batch so the map needs no owned strings.
            let Some(job) = chunk
                .iter()
                .find(|j| j.order.store_uid == store_uid && j.order.order_id == order_id)
            else {
                continue;
            };
            latest.insert(
                (job.order.store_uid.as_str(), job.order.order_id.as_str()),
                Latest::Stored {
                    uid: row.get::<_, i64>("uid")? as u64,
                    token: row.get("token")?,
                    request: row.get("request")?,
                    unpaid: row.get::<_, String>("prc")? == "200",
                },
            );
        }
    }

    // Decide every job in arrival order.
    enum Decision {
        Done(Created),
        New,
        /// The same request as the new order at this index of the batch.
        SameAs(usize),
    }
    let mut decisions: Vec<Decision> = Vec::with_capacity(batch.len());
    let mut fresh: Vec<usize> = Vec::new();
    for (i, job) in batch.iter().enumerate() {
        let key = (job.order.store_uid.as_str(), job.order.order_id.as_str());
        let decision = match latest.get(&key) {
            Some(Latest::Stored {
                uid,
                token,
                request,
                unpaid,
            }) if *unpaid && *request == job.request_json => Decision::Done(Created::Retry {
                uid: *uid,
                token: token.clone(),
            }),
            Some(Latest::InBatch(first)) if batch[*first].request_json == job.request_json => {
                Decision::SameAs(*first)
            }
            Some(_) if job.strict => Decision::Done(Created::DuplicateOrderId),
            _ => Decision::New,
        };
        if matches!(decision, Decision::New) {
            fresh.push(i);
            latest.insert(key, Latest::InBatch(i));
        }
        decisions.push(decision);
    }

    let mut uids: HashMap<usize, u64> = HashMap::with_capacity(fresh.len());
    for chunk in pow2_chunks(&fresh, 128) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, '200', ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost, currency, authorise_only, prc, created_at, updated_at)
             VALUES {rows} RETURNING uid, token"
        );
        // Values computed per row, kept alive here so the parameters can borrow them.
        let derived: Vec<(&str, &str, i64)> = chunk
            .iter()
            .map(|&i| {
                let o = &batch[i].order;
                (
                    o.preselection.as_text(),
                    o.currency.code(),
                    micros(batch[i].now),
                )
            })
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 10);
        for (&i, (pfn, currency, at)) in chunk.iter().zip(&derived) {
            let (job, o) = (&batch[i], &batch[i].order);
            values.extend([
                &o.store_uid as &dyn ToSql,
                &o.order_id,
                &job.token,
                &job.request_json,
                pfn,
                &o.cost,
                currency,
                &o.authorise_only,
                at,
                at,
            ]);
        }
        let mut statement = tx.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(values))?;
        // RETURNING gives no order guarantee: match rows by their (random, unique) token.
        while let Some(row) = rows.next()? {
            let token: String = row.get("token")?;
            let uid = row.get::<_, i64>("uid")? as u64;
            if let Some(&i) = chunk.iter().find(|&&i| batch[i].token == token) {
                uids.insert(i, uid);
            }
        }
        drop(rows);
        drop(statement);
        let events = vec!["(?, NULL, '200', ?, 'api/orders')"; chunk.len()].join(", ");
        let sql =
            format!("INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES {events}");
        let mut values: Vec<i64> = Vec::with_capacity(chunk.len() * 2);
        for &i in chunk {
            let uid = uids
                .get(&i)
                .copied()
                .ok_or_else(|| StoreError::Corrupt("an inserted order returned no uid".into()))?;
            values.extend([uid as i64, micros(batch[i].now)]);
        }
        tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    }
    tx.commit()?;

    // Every new order has its uid here: the events insert above refused otherwise.
    let uid_of = |i: usize| uids.get(&i).copied().unwrap_or_default();
    Ok(decisions
        .into_iter()
        .enumerate()
        .map(|(i, decision)| match decision {
            Decision::Done(created) => created,
            Decision::New => Created::New {
                uid: uid_of(i),
                token: batch[i].token.clone(),
            },
            Decision::SameAs(first) => Created::Retry {
                uid: uid_of(first),
                token: batch[first].token.clone(),
            },
        })
        .collect())
}

/// Split `items` into chunks whose sizes are powers of two (largest first, at most `max`).
/// A multi-row statement's text depends on its row count, and prepared statements are
/// cached by text: with only a few sizes they stay prepared instead of being parsed
/// again for every batch.
fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = (1usize << rest.len().ilog2()).min(max);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::pow2_chunks;

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        let items: Vec<u32> = (0..203).collect();
        let sizes: Vec<usize> = pow2_chunks(&items, 128).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![128, 64, 8, 2, 1]);
        let joined: Vec<u32> = pow2_chunks(&items, 128).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(pow2_chunks::<u32>(&[], 8).count(), 0);
    }
}

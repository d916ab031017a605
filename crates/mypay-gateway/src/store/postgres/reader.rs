//! Batched point reads of orders, for `api/queryorder` and every page of an order.
//!
//! A read by primary key costs the server little and the round trip much: under load,
//! most of a lookup's cost was the statement's own overhead on both sides. Lookups are
//! handed to a few reader tasks; each takes every lookup waiting (up to a limit), reads
//! them with one `WHERE uid = ANY(…)`, and answers each. Alone, a lookup is one round
//! trip, as before; under load, one round trip serves many.

use crate::store::{OrderRow, StoreError, StoreResult, ask};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};

const READERS: usize = 4;
const MAX_BATCH: usize = 256;

struct Lookup {
    uid: i64,
    reply: oneshot::Sender<StoreResult<Option<OrderRow>>>,
}

pub(super) struct OrderReader {
    tx: mpsc::Sender<Lookup>,
    /// The longest a lookup waits, queue included: the pool's acquire timeout.
    within: Duration,
}

impl OrderReader {
    pub(super) fn spawn(pool: PgPool, within: Duration) -> OrderReader {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..READERS {
            tokio::spawn(run(pool.clone(), rx.clone()));
        }
        OrderReader { tx, within }
    }

    /// One order, or `Unavailable` once the lookup has waited as long as a statement
    /// waits for a connection. While the server is away each reader's batch waits that
    /// long for a connection; a lookup queued behind it would otherwise wait twice (a
    /// read changes nothing, so giving up on it is safe).
    pub(super) async fn order(&self, uid: i64) -> StoreResult<Option<OrderRow>> {
        let asked = ask(&self.tx, |reply| Lookup { uid, reply }, "the order reader");
        match tokio::time::timeout(self.within, asked).await {
            Ok(answer) => answer?,
            Err(_) => Err(StoreError::Unavailable(
                "the order reader did not answer in time".into(),
            )),
        }
    }
}

async fn run(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Lookup>>>) {
    let sql = format!(
        "SELECT {} FROM orders WHERE uid = ANY($1)",
        OrderRow::COLUMNS
    );
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(l) => batch.push(l),
                None => return,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(l) => batch.push(l),
                    Err(_) => break,
                }
            }
        }
        let uids: Vec<i64> = batch.iter().map(|l| l.uid).collect();
        let read: StoreResult<HashMap<u64, OrderRow>> = async {
            let rows = sqlx::query(&sql).bind(&uids).fetch_all(&pool).await?;
            rows.iter()
                .map(|r| OrderRow::from_row(r).map(|o| (o.uid, o)))
                .collect()
        }
        .await;
        match read {
            Ok(found) => {
                for l in batch {
                    // The same order asked twice in one batch gets it twice.
                    let row = found.get(&(l.uid as u64)).cloned();
                    let _ = l.reply.send(Ok(row));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for l in batch {
                    let _ = l.reply.send(Err(match &e {
                        StoreError::Unavailable(_) => StoreError::Unavailable(message.clone()),
                        _ => StoreError::Database(message.clone()),
                    }));
                }
            }
        }
    }
}

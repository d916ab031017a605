//! Batched reads of orders by `uid`, for `api/queryorder`.
//!
//! sqlx runs each SQLite connection on its own thread, so every statement costs two
//! thread hand-offs; under load those hand-offs, not SQLite, were most of a query's cost.
//! Concurrent lookups are gathered here and answered by one `SELECT … WHERE uid IN (…)`.
//! Reads see committed data only, exactly as a single lookup would.

use super::{OrderRow, Store, StoreError};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<Option<OrderRow>, String>>;

#[derive(Clone)]
pub struct OrderReader {
    tx: mpsc::Sender<(u64, Reply)>,
}

impl OrderReader {
    /// Start `tasks` reader tasks on `store`, each answering up to `max_batch` lookups at once.
    pub fn spawn(store: Store, tasks: usize, max_batch: usize) -> OrderReader {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(store.clone(), rx.clone(), max_batch.max(1)));
        }
        OrderReader { tx }
    }

    pub async fn order(&self, uid: u64) -> Result<Option<OrderRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((uid, reply))
            .await
            .map_err(|_| StoreError::Corrupt("the order reader has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the order reader dropped a request".into()))?
            .map_err(StoreError::Corrupt)
    }
}

async fn run(
    store: Store,
    rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<(u64, Reply)>>>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, max_batch).await == 0 {
                return;
            }
        }
        let uids: Vec<u64> = batch.iter().map(|(uid, _)| *uid).collect();
        match store.orders_by_uid(&uids).await {
            Ok(found) => {
                for (uid, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(found.get(&uid).cloned()));
                }
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

impl Store {
    /// The orders among `uids` that exist. A uid asked for twice is answered once; the
    /// caller gets a clone per request.
    pub async fn orders_by_uid(&self, uids: &[u64]) -> Result<HashMap<u64, OrderRow>, StoreError> {
        let mut wanted: Vec<i64> = uids.iter().filter_map(|&u| i64::try_from(u).ok()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = HashMap::with_capacity(wanted.len());
        // Fixed statement sizes keep the prepared-statement cache small and warm.
        for chunk in wanted.chunks(64) {
            let size = chunk.len().next_power_of_two();
            let sql = format!(
                "SELECT * FROM orders WHERE uid IN ({})",
                vec!["?"; size].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for i in 0..size {
                query = query.bind(chunk[i.min(chunk.len() - 1)]);
            }
            for row in query.fetch_all(&self.pool).await? {
                let order = OrderRow::from_row(&row)?;
                out.insert(order.uid, order);
            }
        }
        Ok(out)
    }
}

//! Reads of orders by `uid`, for `api/queryorder`.
//!
//! A point read by primary key from SQLite's page cache takes a few microseconds: less
//! than handing it to another thread and waking the handler again, which is what sqlx
//! does for every statement and what most of a query's cost was under load. So lookups
//! run right on the request's thread, on one of a few dedicated read-only connections
//! (see [`super::direct`]). Reads see committed data only.

use super::direct;
use crate::store::{OrderRow, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// The read, made once: the statement cache is keyed by its text.
static BY_UID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM orders WHERE uid = ?", OrderRow::COLUMNS));

#[derive(Clone)]
pub(super) struct OrderReader {
    connections: Arc<[Mutex<rusqlite::Connection>]>,
    next: Arc<AtomicUsize>,
}

impl OrderReader {
    /// Open `count` read-only connections to the file.
    pub(super) fn open(path: &Path, count: usize) -> Result<OrderReader, StoreError> {
        let connections = (0..count.max(1))
            .map(|_| direct::open(path, true).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OrderReader {
            connections: connections.into(),
            next: Default::default(),
        })
    }

    pub(super) fn order(&self, uid: u64) -> Result<Option<OrderRow>, StoreError> {
        let Ok(uid) = i64::try_from(uid) else {
            return Ok(None);
        };
        // Take a free connection if there is one, else wait for the next in turn.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        let conn = (0..n)
            .find_map(|i| self.connections[(start + i) % n].try_lock().ok())
            // A poisoned lock only means a reader panicked; the connection is intact.
            .unwrap_or_else(|| {
                self.connections[start % n]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            });
        let mut statement = conn.prepare_cached(&BY_UID)?;
        let mut rows = statement.query([uid])?;
        rows.next()?.map(OrderRow::from_row).transpose()
    }
}

//! Reads on the request's own thread: orders by `uid` (for `api/queryorder` and every
//! page of an order), and the directory's generation (see [`super::changes`]).
//!
//! A point read by primary key from SQLite's page cache takes a few microseconds: less
//! than handing it to another thread and waking the handler again, which is what sqlx
//! does for every statement and what most of a query's cost was under load. So reads
//! run right on the request's thread, on one of a few dedicated read-only connections
//! (see [`super::direct`]). Reads see committed data only.

use super::direct;
use crate::store::{OrderRow, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

/// The read, made once: the statement cache is keyed by its text.
static BY_UID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM orders WHERE uid = ?", OrderRow::COLUMNS));

/// A read connection.
struct Reader {
    conn: rusqlite::Connection,
}

#[derive(Clone)]
pub(super) struct Readers {
    connections: Arc<[Mutex<Reader>]>,
    next: Arc<AtomicUsize>,
}

impl Readers {
    /// Open `count` read-only connections to the file.
    pub(super) fn open(path: &Path, count: usize) -> Result<Readers, StoreError> {
        let connections = (0..count.max(1))
            .map(|_| direct::open(path, true).map(|conn| Mutex::new(Reader { conn })))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Readers {
            connections: connections.into(),
            next: Default::default(),
        })
    }

    /// A free connection if there is one, else the next in turn, once it is free.
    fn reader(&self) -> MutexGuard<'_, Reader> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        (0..n)
            .find_map(|i| self.connections[(start + i) % n].try_lock().ok())
            // A poisoned lock only means a reader panicked; the connection is intact.
            .unwrap_or_else(|| {
                self.connections[start % n]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            })
    }

    pub(super) fn order(&self, uid: u64) -> Result<Option<OrderRow>, StoreError> {
        let Ok(uid) = i64::try_from(uid) else {
            return Ok(None);
        };
        let reader = self.reader();
        let mut statement = reader.conn.prepare_cached(&BY_UID)?;
        let mut rows = statement.query([uid])?;
        rows.next()?.map(OrderRow::from_row).transpose()
    }

    /// The directory's generation as stored now (committed before the call).
    pub(super) fn directory_generation(&self) -> Result<u64, StoreError> {
        let reader = self.reader();
        let generation: i64 = reader
            .conn
            .prepare_cached("SELECT value FROM directory_generation WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(generation as u64)
    }
}

//! How a gateway on a SQLite file learns that merchants or keys changed, whichever
//! process changed them (the gateway itself, the `merchant` command beside it).
//!
//! The database is the truth: its triggers bump the directory's generation in every
//! changing transaction. Asking it on every API request, though, costs a read
//! transaction (`PRAGMA data_version` and the read cost a tenth of `api/orders`: every
//! order's commit is a change to SQLite). So every process that commits a change of
//! merchants or keys then appends a line to a file beside the database
//! (`<database>-directory`), and a request asks only whether that file grew (one
//! `fstat`): a change committed before a request began is seen by it. A change made
//! without the gateway's code (SQL by hand) is seen within [`POLL`], when the
//! generation is read again.

use crate::store::StoreError;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the generation is read from the database whatever the file says.
pub(super) const POLL: Duration = Duration::from_millis(500);

pub(super) struct DirectoryFile {
    path: PathBuf,
    file: File,
    /// The generation last read, after the file had the length kept with it.
    seen: Mutex<Option<Seen>>,
}

#[derive(Clone, Copy)]
struct Seen {
    length: u64,
    generation: u64,
    read_at: Instant,
}

impl DirectoryFile {
    pub(super) fn open(database: &Path) -> Result<DirectoryFile, StoreError> {
        let mut path = database.as_os_str().to_owned();
        path.push("-directory");
        let path = PathBuf::from(path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        Ok(DirectoryFile {
            path,
            file,
            seen: Mutex::new(None),
        })
    }

    /// The file's length now.
    pub(super) fn length(&self) -> Result<u64, StoreError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.path.display())))
    }

    /// The generation read when the file was `length` long, if it was, less than
    /// [`POLL`] ago.
    pub(super) fn known_at(&self, length: u64) -> Option<u64> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.filter(|s| s.length == length && s.read_at.elapsed() < POLL)
            .map(|s| s.generation)
    }

    /// `generation` was read from the database after the file was `length` long.
    pub(super) fn remember(&self, length: u64, generation: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let newer = seen.is_none_or(|s| (length, generation) >= (s.length, s.generation));
        if newer {
            *seen = Some(Seen {
                length,
                generation,
                read_at: Instant::now(),
            });
        }
    }

    /// This process committed a change: tell every process on the file.
    pub(super) fn announce(&self, generation: u64) {
        // O_APPEND: each line lands whole at the end, whichever process writes.
        if let Err(e) = (&self.file).write_all(format!("{generation}\n").as_bytes()) {
            tracing::error!(error = %e, path = %self.path.display(), "announcing a change of merchants or keys");
        }
    }
}

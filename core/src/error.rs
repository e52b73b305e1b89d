//! The core's one error type. Each variant is something a caller can act on: ask for the
//! key again, show the field errors, tell the worker the disk is full, use an addendum.

use std::path::PathBuf;

use crate::model::{FieldError, RecordId};

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key does not open this store. Nothing was changed; ask for the key again.
    #[error("the key does not open this store")]
    WrongKey,
    /// Another program holds this store open (`holder` says which, as it wrote itself down).
    /// One program at a time writes a store; close the other and retry.
    #[error("this store is open in another program ({holder}); close it and try again")]
    InUse {
        /// The holder's own description: process id and program name.
        holder: String,
    },
    /// The key must be 32 bytes (64 hex characters).
    #[error("a store key is 32 bytes (64 hex characters): {reason}")]
    BadKey {
        /// Why the key was refused.
        reason: String,
    },
    /// The store is locked; unlock it with its key first.
    #[error("the store is locked")]
    Locked,
    /// The database file was damaged. It was moved aside (never deleted) to `quarantined_to`;
    /// the store was rebuilt from what had not yet left the device.
    #[error("the database was damaged and has been moved to {quarantined_to}")]
    Corrupt {
        /// Where the damaged files now are.
        quarantined_to: PathBuf,
    },
    /// The database was written by a newer version of the app.
    #[error("the database has schema version {found}; this version understands up to {supported}")]
    SchemaTooNew {
        /// The version on disk.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// The store was written in a format this version does not read. Nothing was changed.
    #[error("the store was written in another format ({found:?}); nothing was changed")]
    UnsupportedFormat {
        /// The format line found.
        found: String,
    },
    /// The record was refused; nothing was stored. Each entry names a field and the reason.
    #[error("invalid {kind}: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The kind of record.
        kind: &'static str,
        /// Every problem found.
        errors: Vec<FieldError>,
    },
    /// No record with this id is on the device.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// The id.
        id: RecordId,
    },
    /// The note is finalized and can never change; write an addendum instead.
    #[error("note {id} is finalized; corrections are made with an addendum")]
    Finalized {
        /// The note.
        id: RecordId,
    },
    /// The signature was refused: wrong role, wrong signer, wrong state.
    #[error("signature refused: {reason}")]
    SignatureRefused {
        /// Why.
        reason: String,
    },
    /// The device storage is full. Nothing was stored and nothing stored was damaged; free
    /// space and retry.
    #[error("the device storage is full; nothing was saved")]
    DiskFull,
    /// The change could not be written to the records database (`reason`), and could not
    /// be taken back out of the queue of work to send either: it is kept, is sent at the
    /// next sync and appears in the records once the store is opened with room to spare.
    /// Entering it again would make a duplicate.
    #[error(
        "{reason}; the change was kept in the queue of work to send and will appear once \
         there is room: do not enter it again"
    )]
    KeptForLater {
        /// Why the records database refused it.
        reason: String,
    },
    /// A document's bytes could not be read (damaged, truncated, or over the size limits).
    #[error("document {id} could not be read: {reason}")]
    Document {
        /// The record.
        id: RecordId,
        /// Why.
        reason: String,
    },
    /// A file system operation failed.
    #[error("file system error at {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The PIN matched neither safety PIN; nothing changed.
    #[error("wrong PIN")]
    WrongPin,
    /// The embedded database failed in a way not covered above.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Shorthand for results in the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether SQLite failed for want of space: a write refused as full, or the shared-memory
/// index of a write-ahead log that could not be given its pages.
pub(crate) fn out_of_space(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            f.code == rusqlite::ErrorCode::DiskFull
                || f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
                || f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMMAP
        }
        _ => false,
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if out_of_space(&e) {
            return Error::DiskFull;
        }
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Error::Storage("database file is damaged".into())
            }
            _ => Error::Storage(e.to_string()),
        }
    }
}

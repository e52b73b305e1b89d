//! The embedded SQLite backend: one connection, serialized behind a mutex, in WAL mode with
//! `synchronous=FULL` so that an acknowledged change survives a power cut.
//!
//! Urgent transactions (distress alarms and their stream) go ahead of ordinary ones: while
//! one waits, ordinary transactions that win the lock give it back, so an alarm waits for
//! at most the transaction in progress, never for a queue of bulk syncs.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::{Row, Tx, Val};
use crate::error::{Error, Result};
use crate::keys::{Key, KeySource};

pub(super) const MIGRATIONS: super::Migrations = &[
    (1, include_str!("../../migrations/sqlite/001_initial.sql")),
    (2, include_str!("../../migrations/sqlite/002_safety.sql")),
    (3, include_str!("../../migrations/sqlite/003_console.sql")),
    (4, include_str!("../../migrations/sqlite/004_review.sql")),
    (
        5,
        include_str!("../../migrations/sqlite/005_device_cursor.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/006_safety_console.sql"),
    ),
    (7, include_str!("../../migrations/sqlite/007_audit_key.sql")),
    (
        8,
        include_str!("../../migrations/sqlite/008_device_signing_key.sql"),
    ),
];

/// An open SQLite database.
pub struct SqliteDb {
    conn: Mutex<Connection>,
    urgent_waiting: AtomicUsize,
    /// A read-only connection: in WAL mode it reads beside the writer, never waiting for it.
    reader: Mutex<Connection>,
}

/// Counts an urgent transaction as waiting until dropped.
struct Urgent<'a>(&'a AtomicUsize);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SqliteDb {
    /// Opens (creating) the encrypted file with the key from `key`. A new database gets a
    /// new key; a database left in the clear by an earlier version is encrypted in place
    /// under its key first; a wrong or missing key is refused, naming the key's place.
    pub fn open(path: &Path, source: &KeySource) -> Result<SqliteDb> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
            // Only the server's own user may enter the directory that holds the database
            // (and, by default, its keys).
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |e| Error::Config(format!("cannot restrict {}: {e}", dir.display())),
                )?;
            }
        }
        let state = file_state(path)?;
        let key = match (source.load("db-key")?, state) {
            (Some(k), _) => k,
            (None, FileState::Missing | FileState::Plain) => source.create("db-key")?,
            (None, FileState::Encrypted) => {
                return Err(Error::Config(format!(
                    "db-key: no key at {}, and {} is encrypted: give --db-key-file (or \
                     FIELDNOTE_DB_KEY) with the key it was created with",
                    source.describe(),
                    path.display()
                )));
            }
        };
        if state == FileState::Plain {
            encrypt_in_place(path, &key)?;
        }
        let conn = open_keyed(path, &key, source)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
        )
        .map_err(sql_err)?;
        let reader = open_keyed(path, &key, source)?;
        reader
            .execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 10000;")
            .map_err(sql_err)?;
        Ok(SqliteDb {
            conn: Mutex::new(conn),
            urgent_waiting: AtomicUsize::new(0),
            reader: Mutex::new(reader),
        })
    }

    pub(super) fn tx<R>(
        &self,
        urgent: bool,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>,
    ) -> Result<R> {
        let _urgent = urgent.then(|| {
            self.urgent_waiting.fetch_add(1, Ordering::SeqCst);
            Urgent(&self.urgent_waiting)
        });
        let mut conn = loop {
            let conn = self
                .conn
                .lock()
                .map_err(|_| Error::Internal("database lock poisoned".into()))?;
            if urgent || self.urgent_waiting.load(Ordering::SeqCst) == 0 {
                break conn;
            }
            drop(conn);
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        drop(_urgent);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let mut wrapper = SqliteTx { tx };
        let out = f(&mut wrapper)?;
        wrapper.tx.commit().map_err(sql_err)?;
        Ok(out)
    }
}

impl SqliteDb {
    /// Runs read-only `f` on the reader connection, beside any write in progress.
    pub(super) fn read<R>(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let mut conn = self
            .reader
            .lock()
            .map_err(|_| Error::Internal("database lock poisoned".into()))?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
            .map_err(sql_err)?;
        let mut wrapper = SqliteTx { tx };
        let out = f(&mut wrapper)?;
        wrapper.tx.commit().map_err(sql_err)?;
        Ok(out)
    }
}

/// What is at a database's path before it is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileState {
    /// Nothing, or an empty file: a new database.
    Missing,
    /// An SQLite file in the clear (written before the database was encrypted).
    Plain,
    /// Anything else: an encrypted database (or a damaged file, which the key check tells).
    Encrypted,
}

fn file_state(path: &Path) -> Result<FileState> {
    use std::io::Read;
    let mut header = [0u8; 16];
    match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileState::Missing),
        Err(e) => Err(Error::Config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
        Ok(mut f) => {
            let n = f
                .read(&mut header)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            Ok(if n == 0 {
                FileState::Missing
            } else if &header == b"SQLite format 3\0" {
                FileState::Plain
            } else {
                FileState::Encrypted
            })
        }
    }
}

/// Opens the database with `key` and reads from it, so that a wrong key fails here.
fn open_keyed(path: &Path, key: &Key, source: &KeySource) -> Result<Connection> {
    let conn = Connection::open(path).map_err(sql_err)?;
    // SQLCipher would log a failed decryption to stderr; the error below says it instead.
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    conn.execute_batch(key.pragma().as_str()).map_err(sql_err)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(conn),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            ) =>
        {
            Err(Error::Config(format!(
                "db-key: the key from {} does not open {} (a wrong key, or a damaged file); \
                 nothing was changed",
                source.describe(),
                path.display()
            )))
        }
        Err(e) => Err(sql_err(e)),
    }
}

/// Encrypts a database written in the clear: everything is copied into an encrypted file
/// beside it, which then replaces it; the clear file and its journal are removed.
fn encrypt_in_place(path: &Path, key: &Key) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".encrypting");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    {
        let plain = Connection::open(path).map_err(sql_err)?;
        plain
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(sql_err)?;
        let attach = zeroize::Zeroizing::new(format!(
            "ATTACH DATABASE '{}' AS encrypted KEY \"x'{}'\";",
            tmp.display().to_string().replace('\'', "''"),
            key.to_hex().as_str()
        ));
        plain.execute_batch(attach.as_str()).map_err(sql_err)?;
        plain
            .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
            .map_err(sql_err)?;
        plain
            .execute_batch("DETACH DATABASE encrypted;")
            .map_err(sql_err)?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::Config(format!("cannot encrypt {}: {e}", path.display())))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(side));
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    tracing::info!("the embedded database was encrypted in place");
    Ok(())
}

struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// The queries are written once with PostgreSQL's `$1`, `$2` placeholders. SQLite reads `$N`
/// as a *named* parameter numbered by first appearance, so `... = $2 WHERE id = $1` would
/// bind the two values swapped; `?N` is SQLite's positional form, so every `$N` becomes `?N`.
fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let mut stmt = self.tx.prepare_cached(&positional(sql)).map_err(sql_err)?;
        Ok(stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(sql_err)? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let mut stmt = self.tx.prepare_cached(&positional(sql)).map_err(sql_err)?;
        let n = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sql_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err)? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match row.get_ref(i).map_err(sql_err)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(i) => Val::Int(i),
                    ValueRef::Real(f) => Val::Int(f as i64),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                });
            }
            out.push(vals);
        }
        Ok(out)
    }

    fn for_update(&self) -> &'static str {
        ""
    }
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Database(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn placeholders_bind_by_number_whatever_their_order() {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
        let sql = "SELECT $2 || '-' || $1 || '-' || $2";
        assert_eq!(positional(sql), "SELECT ?2 || '-' || ?1 || '-' || ?2");
        let got: String = conn
            .query_row(&positional(sql), ["first", "second"], |r| r.get(0))
            .expect("query");
        assert_eq!(got, "second-first-second");
    }
}

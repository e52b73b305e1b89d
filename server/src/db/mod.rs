//! The server's database: embedded SQLite by default, PostgreSQL for agencies that outgrow
//! one machine. Every query is written once, in the SQL both understand (`$1`-style
//! parameters introduced in order, `ON CONFLICT`, `RETURNING`); only the schema files and
//! row locking differ. Work runs in synchronous transactions on a blocking thread
//! (`tokio::task::spawn_blocking`), so the service code reads top to bottom.
//!
//! Nothing lives only in one process: sequence numbers, rate-limit counters and the audit
//! chain's head are rows, so several server processes can share one PostgreSQL.

mod pg;
mod sqlite;

use std::path::Path;

use crate::audit::AuditKey;
use crate::error::{Error, Result};
use crate::keys::KeySource;

/// A value bound to or read from a query.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Val {
    /// SQL NULL.
    #[default]
    Null,
    /// An integer (BIGINT).
    Int(i64),
    /// Text.
    Text(String),
    /// Binary data (BLOB / BYTEA).
    Bytes(Vec<u8>),
}

impl Val {
    /// The integer, or 0.
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            _ => 0,
        }
    }

    /// The integer, if not NULL.
    pub fn opt_int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, or an empty string.
    pub fn text(&self) -> String {
        match self {
            Val::Text(s) => s.clone(),
            _ => String::new(),
        }
    }

    /// The text, if not NULL.
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The bytes (taking them), or empty.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Val::Bytes(b) => b,
            Val::Text(s) => s.into_bytes(),
            _ => Vec::new(),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Bytes(v)
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Val::Bytes(v.to_vec())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// One result row.
pub type Row = Vec<Val>;

/// Builds a parameter list: `params![a, b]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::db::Val] };
    ($($v:expr),+ $(,)?) => { &[$($crate::db::Val::from($v)),+] as &[$crate::db::Val] };
}

/// A transaction in progress.
pub trait Tx {
    /// Runs a statement; returns rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>>;
    /// ` FOR UPDATE` where the database locks rows, empty where it locks the whole file.
    fn for_update(&self) -> &'static str;

    /// The audit chain's key (every transaction [`Db`] runs has it).
    fn audit_key(&self) -> Option<&AuditKey> {
        None
    }

    /// The clause that lets several processes share due rows without two taking one
    /// (`FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite, whose writer is alone).
    fn skip_locked(&self) -> &'static str {
        if self.for_update().is_empty() {
            ""
        } else {
            " FOR UPDATE SKIP LOCKED"
        }
    }

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row; [`Error::Internal`] when there is none.
    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| Error::Internal("a query expected to return a row returned none".into()))
    }

    /// Increments a named counter and returns its new value. The row stays locked until the
    /// transaction ends, which makes counter values commit in order across processes.
    fn next_counter(&mut self, name: &str, by: i64) -> Result<i64> {
        Ok(self.query_one(
            "UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value",
            params![by, name],
        )?[0]
            .int())
    }
}

/// Where the database lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// An SQLite file, encrypted with SQLCipher under `key`.
    Sqlite {
        /// The file.
        path: std::path::PathBuf,
        /// Its key.
        key: KeySource,
    },
    /// A PostgreSQL connection URL (its storage encryption is the host's).
    Postgres(String),
}

/// Which database, where, and the keys outside it.
#[derive(Clone, Debug)]
pub struct DbConfig {
    /// The database.
    pub location: Location,
    /// The audit chain's key.
    pub audit_key: KeySource,
}

impl DbConfig {
    /// The embedded database at `path`, with both keys in files beside it (`db.key`,
    /// `audit.key`): tests and tools reading a server's data directory.
    pub fn sqlite_in(data_dir: &Path) -> DbConfig {
        DbConfig {
            location: Location::Sqlite {
                path: sqlite_path(data_dir),
                key: KeySource::File(data_dir.join(DB_KEY_FILE)),
            },
            audit_key: KeySource::File(data_dir.join(AUDIT_KEY_FILE)),
        }
    }

    /// PostgreSQL at `url`, with the audit key from `audit_key`.
    pub fn postgres(url: &str, audit_key: KeySource) -> DbConfig {
        DbConfig {
            location: Location::Postgres(url.to_string()),
            audit_key,
        }
    }
}

/// The embedded database key's default file, in the data directory.
pub const DB_KEY_FILE: &str = "db.key";
/// The audit key's default file, in the data directory.
pub const AUDIT_KEY_FILE: &str = "audit.key";

enum Backend {
    Sqlite(Box<sqlite::SqliteDb>),
    Postgres(pg::PgDb),
}

/// The database.
pub struct Db {
    backend: Backend,
    /// The audit chain's key, once loaded (always, for a database [`Db::open`] returned).
    audit_key: Option<AuditKey>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backend {
            Backend::Sqlite(_) => "Db::Sqlite",
            Backend::Postgres(_) => "Db::Postgres",
        })
    }
}

/// A transaction that knows the audit key.
struct Keyed<'a> {
    tx: &'a mut dyn Tx,
    key: Option<&'a AuditKey>,
}

impl Tx for Keyed<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        self.tx.exec(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        self.tx.query(sql, params)
    }
    fn for_update(&self) -> &'static str {
        self.tx.for_update()
    }
    fn audit_key(&self) -> Option<&AuditKey> {
        self.key
    }
}

impl Db {
    /// Opens the database, brings its schema up to date and loads the audit key (making
    /// one on a new database; see [`crate::audit::load_key`]). The embedded database is
    /// opened with its key, made on first start and refused when wrong.
    pub fn open(config: &DbConfig) -> Result<Db> {
        let (backend, migrations) = match &config.location {
            Location::Sqlite { path, key } => (
                Backend::Sqlite(Box::new(sqlite::SqliteDb::open(path, key)?)),
                sqlite::MIGRATIONS,
            ),
            Location::Postgres(url) => (Backend::Postgres(pg::PgDb::open(url)?), pg::MIGRATIONS),
        };
        let mut db = Db {
            backend,
            audit_key: None,
        };
        migrate(&db, migrations)?;
        db.audit_key = Some(crate::audit::load_key(&db, &config.audit_key)?);
        Ok(db)
    }

    fn run<R>(
        &self,
        urgent: bool,
        read: bool,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>,
    ) -> Result<R> {
        let key = self.audit_key.as_ref();
        let mut keyed = |tx: &mut dyn Tx| f(&mut Keyed { tx, key });
        match &self.backend {
            Backend::Sqlite(db) if read => db.read(&mut keyed),
            Backend::Sqlite(db) => db.tx(urgent, &mut keyed),
            Backend::Postgres(db) => db.tx(urgent || read, &mut keyed),
        }
    }

    /// Runs `f` in one transaction, committing when it returns `Ok`. On PostgreSQL a
    /// transaction that lost a deadlock or a serialization race is retried.
    pub fn tx<R>(&self, mut f: impl FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        self.run(false, false, &mut f)
    }

    /// [`Db::tx`] for work that must not queue behind bulk sync (distress alarms and their
    /// delivery): on SQLite it takes the connection next; on PostgreSQL it uses a few
    /// connections kept for it, so it never queues for a connection.
    pub fn urgent_tx<R>(&self, mut f: impl FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        self.run(true, false, &mut f)
    }

    /// Runs read-only `f` without waiting for writers: on SQLite on a second, read-only
    /// connection; on PostgreSQL on the urgent connections. Writing in `f` fails.
    pub fn read_tx<R>(&self, mut f: impl FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        self.run(false, true, &mut f)
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }
}

/// Default SQLite location inside a data directory.
pub fn sqlite_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("fieldnote-server.db")
}

/// The numbered migrations of one backend, as (version, sql).
pub(crate) type Migrations = &'static [(i64, &'static str)];

/// Applies migrations newer than the stored version, each in its own transaction. The
/// version lives in a `schema_version` table (the same on both databases).
pub(crate) fn migrate(db: &Db, migrations: Migrations) -> Result<()> {
    db.tx(|tx| {
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            params![],
        )?;
        Ok(())
    })?;
    for (version, sql) in migrations {
        db.tx(|tx| {
            // Serializes concurrent server starts on one PostgreSQL.
            if !tx.for_update().is_empty() {
                tx.exec("LOCK TABLE schema_version IN EXCLUSIVE MODE", params![])?;
            }
            let current = tx
                .query_opt("SELECT max(version) FROM schema_version", params![])?
                .and_then(|r| r[0].opt_int())
                .unwrap_or(0);
            if current >= *version {
                return Ok(());
            }
            for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
                tx.exec(statement, params![])?;
            }
            tx.exec(
                "INSERT INTO schema_version (version) VALUES ($1)",
                params![*version],
            )?;
            Ok(())
        })?;
    }
    Ok(())
}

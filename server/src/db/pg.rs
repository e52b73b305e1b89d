//! The PostgreSQL backend: a connection pool whose connections keep their prepared
//! statements, transactions at READ COMMITTED with explicit row locks, and retries when
//! PostgreSQL aborts a transaction that lost a deadlock or a serialization race.

use std::collections::HashMap;

use postgres::NoTls;
use postgres::types::{ToSql, Type};

use super::{Row, Tx, Val};
use crate::error::{Error, Result};

pub(super) const MIGRATIONS: super::Migrations = &[
    (1, include_str!("../../migrations/postgres/001_initial.sql")),
    (2, include_str!("../../migrations/postgres/002_safety.sql")),
    (3, include_str!("../../migrations/postgres/003_console.sql")),
    (4, include_str!("../../migrations/postgres/004_review.sql")),
    (
        5,
        include_str!("../../migrations/postgres/005_device_cursor.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/006_safety_console.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/007_audit_key.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/008_device_signing_key.sql"),
    ),
];

/// How many times a transaction that PostgreSQL aborted for a deadlock or serialization
/// failure is tried again.
const RETRIES: usize = 8;

/// A connection and the statements prepared on it.
pub struct PgConn {
    /// Always `Some` until dropped.
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

impl Drop for PgConn {
    /// The blocking client runs its own small runtime and cannot be dropped on a tokio
    /// thread; when the last handle goes away inside one, the close happens on a thread of
    /// its own.
    fn drop(&mut self) {
        let client = self.client.take();
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(client));
        } else {
            drop(client);
        }
    }
}

/// Opens connections for the pool.
pub struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: Some(self.config.connect(NoTls)?),
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), postgres::Error> {
        match conn.client.as_mut() {
            Some(c) => c.simple_query("").map(|_| ()),
            None => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.as_ref().is_none_or(postgres::Client::is_closed)
    }
}

/// A PostgreSQL connection pool.
pub struct PgDb {
    pool: r2d2::Pool<Manager>,
    /// A few connections kept for urgent work (alarms), so that an alarm never waits for a
    /// connection behind bulk syncs.
    urgent: r2d2::Pool<Manager>,
}

impl PgDb {
    /// Connects and migrates.
    pub fn open(url: &str) -> Result<PgDb> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| Error::Config(format!("database-url: {e}")))?;
        let connect = |size, idle| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(idle))
                .connection_timeout(std::time::Duration::from_secs(10))
                .build(Manager {
                    config: config.clone(),
                })
                .map_err(|e| Error::Database(format!("cannot connect to PostgreSQL: {e}")))
        };
        let (pool, urgent) = (connect(16, 4)?, connect(4, 1)?);
        Ok(PgDb { pool, urgent })
    }

    pub(super) fn tx<R>(
        &self,
        urgent: bool,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>,
    ) -> Result<R> {
        let pool = if urgent { &self.urgent } else { &self.pool };
        let mut conn = pool
            .get()
            .map_err(|e| Error::Database(format!("no database connection: {e}")))?;
        let PgConn { client, statements } = &mut *conn;
        let client = client
            .as_mut()
            .ok_or_else(|| Error::Internal("connection already closed".into()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = client.transaction().map_err(pg_err)?;
            let mut wrapper = PgTx {
                tx: Some(tx),
                statements,
            };
            let result = f(&mut wrapper).and_then(|out| {
                wrapper
                    .tx
                    .take()
                    .map(|t| t.commit().map_err(pg_err))
                    .transpose()?;
                Ok(out)
            });
            match result {
                Err(Error::Retry(_)) if attempt < RETRIES => {
                    std::thread::sleep(std::time::Duration::from_millis(5 * attempt as u64));
                    continue;
                }
                Err(Error::Retry(msg)) => return Err(Error::Database(msg)),
                other => return other,
            }
        }
    }
}

struct PgTx<'a> {
    tx: Option<postgres::Transaction<'a>>,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl<'a> PgTx<'a> {
    /// The transaction and the statement for `sql`, prepared once per connection.
    fn prepared(
        &mut self,
        sql: &str,
    ) -> Result<(&mut postgres::Transaction<'a>, postgres::Statement)> {
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| Error::Internal("transaction already finished".into()))?;
        let stmt = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = tx.prepare(sql).map_err(pg_err)?;
                self.statements.insert(sql.to_string(), s.clone());
                s
            }
        };
        Ok((tx, stmt))
    }
}

/// NULL of whatever type the statement expects.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        Ok(postgres::types::IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn to_params(params: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Val::Null => Box::new(PgNull),
                Val::Int(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
                Val::Bytes(b) => Box::new(b.clone()),
            }
        })
        .collect()
}

fn convert_row(row: &postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map(|o| o.map_or(Val::Null, Val::Int))
        } else if *t == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map(|o| o.map_or(Val::Null, |x| Val::Int(x.into())))
        } else if *t == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map(|o| o.map_or(Val::Null, |x| Val::Int(x.into())))
        } else if *t == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)
                .map(|o| o.map_or(Val::Null, Val::Bytes))
        } else {
            row.try_get::<_, Option<String>>(i)
                .map(|o| o.map_or(Val::Null, Val::Text))
        };
        out.push(v.map_err(pg_err)?);
    }
    Ok(out)
}

impl Tx for PgTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let boxed = to_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let (tx, stmt) = self.prepared(sql)?;
        tx.execute(&stmt, &refs).map_err(pg_err)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let boxed = to_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let (tx, stmt) = self.prepared(sql)?;
        tx.query(&stmt, &refs)
            .map_err(pg_err)?
            .iter()
            .map(convert_row)
            .collect()
    }

    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }
}

fn pg_err(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                // Two copies of one message inserted at once: the retry finds the first.
                || *c == SqlState::UNIQUE_VIOLATION =>
        {
            Error::Retry(e.to_string())
        }
        _ => Error::Database(e.to_string()),
    }
}

//! Numbered SQL migrations, tracked with `PRAGMA user_version`.
//!
//! Each file in `core/migrations/<database>/NNN_name.sql` runs once, in order, inside one
//! transaction that also sets `user_version`, so a crash leaves the database wholly at the old
//! or the new version. A database newer than this code is refused. A migration whose first
//! line is `-- reproject` changes derived tables; the store rebuilds them from the documents.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// One migration.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) sql: &'static str,
}

impl Migration {
    fn reprojects(&self) -> bool {
        self.sql.starts_with("-- reproject")
    }
}

/// Migrations of the main database.
pub(crate) const MAIN: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/main/001_records.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/main/002_search_and_plans.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/main/003_note_facts.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/main/004_sync.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/main/005_masshealth_index.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/main/006_record_bodies.sql"),
    },
];

/// Migrations of the outbox database.
pub(crate) const OUTBOX: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/outbox/001_outbox.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/outbox/002_priority.sql"),
    },
];

/// Migrations of the safety database.
pub(crate) const SAFETY: &[Migration] = &[Migration {
    version: 1,
    sql: include_str!("../../migrations/safety/001_safety.sql"),
}];

/// What a migration run did.
#[derive(Debug, Default)]
pub(crate) struct Migrated {
    pub(crate) from: u32,
    pub(crate) reproject: bool,
}

/// The version the code expects for `set`.
pub(crate) fn latest(set: &[Migration]) -> u32 {
    set.last().map_or(0, |m| m.version)
}

/// Brings `conn` up to `target` (the latest when `None`).
pub(crate) fn migrate(
    conn: &mut Connection,
    set: &[Migration],
    target: Option<u32>,
) -> Result<Migrated> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = latest(set);
    if found > supported {
        return Err(Error::SchemaTooNew { found, supported });
    }
    let target = target.unwrap_or(supported);
    let mut out = Migrated {
        from: found,
        reproject: false,
    };
    for m in set
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        if m.reprojects() && found > 0 {
            // Committed with the migration, cleared by the rebuild's own commit: a crash in
            // between leaves the flag, and the next open rebuilds.
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('reproject_pending', 1)",
                [],
            )?;
        }
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        out.reproject |= m.reprojects() && found > 0;
    }
    Ok(out)
}

//! The server's data at rest and its keys: the embedded database is SQLCipher-encrypted
//! under a key kept in a file (made on first start), refused with a clear message when the
//! key is wrong or missing, and a database an earlier version wrote in the clear is
//! encrypted in place with nothing lost. The audit key is pinned by its fingerprint: another
//! key is refused, and a chain written before chains were keyed is re-chained under the key.
#![allow(clippy::unwrap_used, missing_docs)]

use fieldnote_server::db::{Db, DbConfig, Location, sqlite_path};
use fieldnote_server::keys::{Key, KeySource};
use fieldnote_server::{audit, params};

fn open(dir: &std::path::Path) -> fieldnote_server::Result<Db> {
    Db::open(&DbConfig::sqlite_in(dir))
}

fn sha256(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Writes a recognisable row: a team whose name is searched for in the raw file.
fn write_marker(db: &Db, marker: &str) {
    fieldnote_server::demo::bootstrap(db).unwrap();
    db.tx(|tx| {
        let agency = tx.query_one("SELECT id FROM agencies LIMIT 1", params![])?[0].text();
        tx.exec(
            "INSERT INTO teams (id, agency_id, name) VALUES ($1, $2, $3)",
            params![uuid::Uuid::now_v7().to_string(), &agency, marker],
        )?;
        Ok(())
    })
    .unwrap();
}

fn marker_count(db: &Db, marker: &str) -> i64 {
    db.tx(|tx| {
        Ok(tx.query_one(
            "SELECT COUNT(*) FROM teams WHERE name = $1",
            params![marker],
        )?[0]
            .int())
    })
    .unwrap()
}

fn file_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        path.extension().is_none_or(|x| x != "key")
            && std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
    })
}

#[test]
fn the_embedded_database_is_encrypted_under_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "Marker Team Quokka";
    {
        let db = open(dir.path()).unwrap();
        write_marker(&db, marker);
    }
    let key_file = dir.path().join("db.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64, "a raw 256-bit key, as hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }
    let db_file = sqlite_path(dir.path());
    let header = std::fs::read(&db_file).unwrap();
    assert_ne!(
        &header[..16],
        b"SQLite format 3\0",
        "the file is not plain SQLite"
    );
    assert!(
        !file_contains(dir.path(), marker.as_bytes()),
        "the marker is readable in a file of the data directory"
    );
    // Opened again with its key, everything is there.
    let db = open(dir.path()).unwrap();
    assert_eq!(marker_count(&db, marker), 1);
}

#[test]
fn a_wrong_or_missing_database_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).unwrap());
    let db_file = sqlite_path(dir.path());
    let before = sha256(&db_file);
    let wrong = DbConfig {
        location: Location::Sqlite {
            path: db_file.clone(),
            key: KeySource::Value(Key::generate()),
        },
        ..DbConfig::sqlite_in(dir.path())
    };
    let err = Db::open(&wrong).unwrap_err().to_string();
    assert!(
        err.contains("db-key") && err.contains("does not open"),
        "a wrong key is named: {err}"
    );
    std::fs::remove_file(dir.path().join("db.key")).unwrap();
    let err = open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("db-key") && err.contains("no key"),
        "a missing key is named, and no new key is made for an existing database: {err}"
    );
    assert!(!dir.path().join("db.key").exists());
    assert_eq!(
        sha256(&db_file),
        before,
        "the database file was not touched"
    );
    // A key file that is not a key is named as such.
    std::fs::write(dir.path().join("db.key"), "not a key").unwrap();
    let err = open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("64 hexadecimal characters"), "{err}");
}

#[test]
fn a_database_written_in_the_clear_is_encrypted_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = sqlite_path(dir.path());
    // A database as an earlier version left it: plain SQLite with a table and a row.
    {
        let conn = rusqlite::Connection::open(&db_file).unwrap();
        conn.execute_batch(
            "CREATE TABLE legacy_note (body TEXT); INSERT INTO legacy_note VALUES ('Marker Wombat');",
        )
        .unwrap();
    }
    let db = open(dir.path()).unwrap();
    let kept = db
        .tx(|tx| Ok(tx.query_one("SELECT body FROM legacy_note", params![])?[0].text()))
        .unwrap();
    assert_eq!(kept, "Marker Wombat");
    drop(db);
    assert!(!file_contains(dir.path(), b"Marker Wombat"));
    assert!(dir.path().join("db.key").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("encrypting"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_audit_key_is_pinned_to_its_database() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path()).unwrap();
        fieldnote_server::demo::bootstrap(&db).unwrap();
    }
    // Another key (a second server given the wrong file) is refused, naming the setting.
    let other = DbConfig {
        audit_key: KeySource::Value(Key::generate()),
        ..DbConfig::sqlite_in(dir.path())
    };
    let err = Db::open(&other).unwrap_err().to_string();
    assert!(
        err.contains("audit-key") && err.contains("not the key"),
        "{err}"
    );
    // A lost key file is not silently replaced.
    std::fs::remove_file(dir.path().join("audit.key")).unwrap();
    let err = open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("audit-key") && err.contains("no key"), "{err}");
    assert!(!dir.path().join("audit.key").exists());
}

#[test]
fn an_unkeyed_chain_is_rechained_under_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let entries = {
        let db = open(dir.path()).unwrap();
        fieldnote_server::demo::bootstrap(&db).unwrap();
        fieldnote_server::demo::seed(&db, 1, 2).unwrap();
        // Turn the chain back into what an earlier version wrote: plain SHA-256, no key
        // fingerprint.
        db.tx(|tx| {
            for i in 0..6 {
                audit::append(
                    tx,
                    &audit::Entry {
                        at: i,
                        actor: "system",
                        device: None,
                        action: "test.entry",
                        target: "-",
                        detail: "{}",
                    },
                )?;
            }
            let rows = tx.query(
                "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
                 FROM audit ORDER BY seq",
                params![],
            )?;
            let mut prev = audit::GENESIS.to_string();
            for r in rows {
                let s = audit::stored(r);
                let h = legacy(&prev, &s);
                tx.exec(
                    "UPDATE audit SET prev_hash = $1, hash = $2 WHERE seq = $3",
                    params![&prev, &h, s.seq],
                )?;
                prev = h;
            }
            tx.exec("DELETE FROM server_settings", params![])?;
            Ok(tx.query_one("SELECT COUNT(*) FROM audit", params![])?[0].int())
        })
        .unwrap()
    };
    assert!(entries > 5);
    std::fs::remove_file(dir.path().join("audit.key")).unwrap();
    let db = open(dir.path()).unwrap();
    let v = db.tx(|tx| audit::verify(tx)).unwrap();
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, entries + 1, "one entry records the re-chaining");
    let detail = db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT detail FROM audit WHERE action = 'audit.keyed'",
                params![],
            )?[0]
                .text())
        })
        .unwrap();
    assert!(detail.contains("\"unkeyed_chain_intact\":true"), "{detail}");
}

fn legacy(prev: &str, s: &audit::Stored) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        prev.to_string(),
        s.seq.to_string(),
        s.at.to_string(),
        s.actor.clone(),
        s.device.clone().unwrap_or_default(),
        s.action.clone(),
        s.target.clone(),
        s.detail.clone(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

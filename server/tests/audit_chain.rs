//! The audit chain finds tampering, on SQLite and PostgreSQL: after a scenario fills the log,
//! each kind of alteration is made to a copy of the intact state (any column of any entry
//! edited, an entry deleted from the middle or the end, a hash copied from another entry) and the
//! verifier must name the first broken entry; the untouched chain verifies. And the embedded
//! database's directory is closed to other users.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, TestServer};
use fieldnote_protocol::ServerRole;
use fieldnote_server::audit;
use fieldnote_server::params;

fn tampering_is_found(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("t");
    server.add_user("w.t", ServerRole::Worker, Some(&team));
    let mut phone = server.device("w.t");
    let member = phone.add_member(4);
    for n in 0..5 {
        phone.write_note(member, &format!("Visit {n}."));
        phone.sync();
    }
    let intact = server.db.tx(|tx| audit::verify(tx)).unwrap();
    assert_eq!(intact.first_broken, None);
    let n = intact.entries;
    assert!(n >= 6, "the scenario wrote {n} entries");
    let mid = n / 2;

    // Each alteration runs in a transaction that is rolled back, so every case starts from
    // the intact chain.
    // (alteration, what it is, the entry it touches, the first entry found broken: the one
    // altered, or the one after a gap).
    let cases: Vec<(String, String, Option<i64>, i64)> = vec![
        (
            "UPDATE audit SET actor = 'someone-else' WHERE seq = $1".into(),
            "actor edited".into(),
            Some(mid),
            mid,
        ),
        (
            "UPDATE audit SET detail = '{}' WHERE seq = $1".into(),
            "detail edited".into(),
            Some(mid),
            mid,
        ),
        (
            "UPDATE audit SET at = at + 1 WHERE seq = $1".into(),
            "time edited".into(),
            Some(mid),
            mid,
        ),
        (
            "UPDATE audit SET target = 'x' WHERE seq = $1".into(),
            "target edited".into(),
            Some(1),
            1,
        ),
        (
            "DELETE FROM audit WHERE seq = $1".into(),
            "middle entry deleted".into(),
            Some(mid),
            mid + 1,
        ),
        (
            "DELETE FROM audit WHERE seq = $1".into(),
            "last entry deleted".into(),
            Some(n),
            n,
        ),
        (
            "UPDATE audit SET hash = (SELECT hash FROM audit WHERE seq = 1) WHERE seq = $1".into(),
            "hash replaced".into(),
            Some(mid),
            mid,
        ),
    ];
    for (sql, what, seq, want) in cases {
        let found = server
            .db
            .tx(|tx| {
                tx.exec(&sql, params![seq.unwrap()])?;
                let v = audit::verify(tx)?;
                Err::<(), _>(fieldnote_server::Error::BadRequest(format!(
                    "{:?}",
                    v.first_broken
                )))
            })
            .unwrap_err();
        let broken = found.to_string();
        assert!(
            broken.contains(&format!("Some({want})")),
            "{what}: the verifier said {broken}, expected entry {want}"
        );
    }
    assert_eq!(
        server.db.tx(|tx| audit::verify(tx)).unwrap().first_broken,
        None
    );
}

#[test]
fn sqlite_tampering_is_found() {
    tampering_is_found(Backend::Sqlite);
}

#[test]
fn postgres_tampering_is_found() {
    tampering_is_found(Backend::Postgres);
}

/// The embedded database's directory is closed to every user but the server's own.
#[cfg(unix)]
#[test]
fn the_embedded_store_is_readable_by_the_server_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(Backend::Sqlite);
    let mode = std::fs::metadata(server.dir.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "data directory mode {mode:o}");
}

/// Every entry from `from` on, re-hashed with `hash` (an attacker who can write the
/// database and recomputes the chain after editing a row).
fn rehash_from(
    tx: &mut dyn fieldnote_server::db::Tx,
    from: i64,
    hash: &dyn Fn(&str, i64, &audit::Entry<'_>) -> String,
) -> fieldnote_server::Result<()> {
    let rows = tx.query(
        "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
         FROM audit WHERE seq >= $1 ORDER BY seq",
        params![from],
    )?;
    let mut prev = tx
        .query_opt("SELECT hash FROM audit WHERE seq = $1", params![from - 1])?
        .map_or_else(|| audit::GENESIS.to_string(), |r| r[0].text());
    for r in rows {
        let s = audit::stored(r);
        let e = audit::Entry {
            at: s.at,
            actor: &s.actor,
            device: s.device.as_deref(),
            action: &s.action,
            target: &s.target,
            detail: &s.detail,
        };
        let h = hash(&prev, s.seq, &e);
        tx.exec(
            "UPDATE audit SET prev_hash = $1, hash = $2 WHERE seq = $3",
            params![&prev, &h, s.seq],
        )?;
        prev = h;
    }
    Ok(())
}

/// The plain SHA-256 chain anyone can compute from the rows alone.
fn sha256_chain(prev: &str, seq: i64, e: &audit::Entry<'_>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        prev.to_string(),
        seq.to_string(),
        e.at.to_string(),
        e.actor.to_string(),
        e.device.unwrap_or("").to_string(),
        e.action.to_string(),
        e.target.to_string(),
        e.detail.to_string(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Someone who can write the database edits an entry and recomputes every hash after it:
/// without the key (plain SHA-256, or a key of their own) verification names the edited
/// entry; with the stolen key itself the chain verifies, but a checkpoint the auditor kept
/// from before says the history under it was rewritten.
fn a_rewritten_and_rehashed_row_fails(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("t");
    server.add_user("w.t", ServerRole::Worker, Some(&team));
    let mut phone = server.device("w.t");
    let member = phone.add_member(4);
    phone.write_note(member, "Visit.");
    phone.sync();
    let kept = server.db.tx(|tx| audit::checkpoint(tx)).unwrap();
    let n = server.db.tx(|tx| audit::verify(tx)).unwrap().entries;
    let mid = n / 2;
    let forged_key = audit::AuditKey::new(fieldnote_server::keys::Key::generate());
    let real_key = server
        .db
        .tx(|tx| Ok(tx.audit_key().unwrap().clone()))
        .unwrap();
    type Hash = Box<dyn Fn(&str, i64, &audit::Entry<'_>) -> String>;
    let attempts: Vec<(&str, Hash)> = vec![
        ("plain SHA-256", Box::new(sha256_chain)),
        (
            "a key of the attacker's",
            Box::new(move |p, s, e| forged_key.entry_hash(p, s, e)),
        ),
    ];
    for (what, hash) in &attempts {
        let found = server
            .db
            .tx(|tx| {
                tx.exec(
                    "UPDATE audit SET actor = 'someone-else' WHERE seq = $1",
                    params![mid],
                )?;
                rehash_from(tx, mid, hash.as_ref())?;
                let v = audit::verify(tx)?;
                Err::<(), _>(fieldnote_server::Error::BadRequest(format!(
                    "{:?}",
                    v.first_broken
                )))
            })
            .unwrap_err()
            .to_string();
        assert!(
            found.contains(&format!("Some({mid})")),
            "re-hashed with {what}: the verifier said {found}"
        );
    }
    // An insider with the key: the chain alone cannot tell, the kept checkpoint can.
    let checks = server
        .db
        .tx(|tx| {
            tx.exec(
                "UPDATE audit SET actor = 'someone-else' WHERE seq = $1",
                params![mid],
            )?;
            rehash_from(tx, mid, &|p, s, e| real_key.entry_hash(p, s, e))?;
            let v = audit::verify(tx)?;
            assert_eq!(v.first_broken, None, "re-hashed with the key itself");
            let checks = audit::verify_checkpoints(tx, std::slice::from_ref(&kept))?;
            Err::<(), _>(fieldnote_server::Error::BadRequest(format!("{checks:?}")))
        })
        .unwrap_err()
        .to_string();
    assert!(checks.contains("Rewritten"), "{checks}");

    // Untouched, the checkpoint holds; altered, forged or from another server, it does not.
    let check = |c: &audit::Checkpoint| {
        server
            .db
            .tx(|tx| audit::verify_checkpoints(tx, std::slice::from_ref(c)))
            .unwrap()[0]
            .clone()
    };
    assert_eq!(check(&kept), audit::CheckpointCheck::Holds);
    let moved = audit::Checkpoint {
        seq: kept.seq - 1,
        ..kept.clone()
    };
    assert_eq!(check(&moved), audit::CheckpointCheck::BadSignature);
    let other = TestServer::start(Backend::Sqlite);
    let foreign = other.db.tx(|tx| audit::checkpoint(tx)).unwrap();
    assert_eq!(check(&foreign), audit::CheckpointCheck::OtherKey);
    let truncated = server
        .db
        .tx(|tx| {
            tx.exec("DELETE FROM audit WHERE seq >= $1", params![kept.seq])?;
            tx.exec(
                "UPDATE counters SET value = $1 WHERE name = 'audit'",
                params![kept.seq - 1],
            )?;
            let c = audit::verify_checkpoints(tx, std::slice::from_ref(&kept))?;
            Err::<(), _>(fieldnote_server::Error::BadRequest(format!("{c:?}")))
        })
        .unwrap_err()
        .to_string();
    assert!(truncated.contains("Truncated"), "{truncated}");
}

#[test]
fn sqlite_a_rewritten_and_rehashed_row_fails() {
    a_rewritten_and_rehashed_row_fails(Backend::Sqlite);
}

#[test]
fn postgres_a_rewritten_and_rehashed_row_fails() {
    a_rewritten_and_rehashed_row_fails(Backend::Postgres);
}

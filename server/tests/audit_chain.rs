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

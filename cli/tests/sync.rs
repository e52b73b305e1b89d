//! The command-line device against a real server on loopback: sign in, write offline, sync
//! with a second device of the same user, see the status, sign out.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use fieldnote_protocol::ServerRole;
use fieldnote_server::admin::{NewUser, insert_user};
use fieldnote_server::params;

fn fieldnote(store: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldnote"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("FIELDNOTE_PASSWORD", "a long test password")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn login_write_sync_status_logout() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = fieldnote_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("server"),
        database_url: None,
        tls_cert: None,
        tls_key: None,
        plain_http_behind_proxy: false,
        safety: Default::default(),
        timer_interval: Some(std::time::Duration::from_secs(1)),
        auth: Default::default(),
    };
    let db = rt.block_on(fieldnote_server::open_db(&config)).unwrap();
    fieldnote_server::demo::bootstrap(&db).unwrap();
    let hash = fieldnote_server::auth::hash_password("a long test password").unwrap();
    db.tx(|tx| {
        let agency = tx.query_one("SELECT id FROM agencies", params![])?[0].text();
        tx.exec(
            "INSERT INTO teams (id, agency_id, name) VALUES ('t', $1, 'T')",
            params![agency],
        )?;
        insert_user(
            tx,
            &NewUser {
                username: "worker".into(),
                display_name: "Test Worker".into(),
                role: ServerRole::Worker,
                team_id: Some("t".into()),
                password: String::new(),
            },
            &hash,
        )
    })
    .unwrap();
    let server = rt
        .block_on(fieldnote_server::start_with(&config, db))
        .unwrap();
    let url = server.url();

    let phone = dir.path().join("phone");
    let (ok, out, err) = fieldnote(&phone, &["login", "--server", &url, "--user", "worker"]);
    assert!(ok, "{err}");
    assert!(out.contains("Test Worker"), "{out}");
    let (_, m, _) = fieldnote(
        &phone,
        &[
            "member",
            "add",
            "--given",
            "Posy",
            "--family",
            "Larkspur",
            "--dob",
            "1991-04-05",
            "--masshealth-id",
            "100200300401",
            "--program",
            "csp",
        ],
    );
    let (ok, _, err) = fieldnote(
        &phone,
        &[
            "note",
            "write",
            "--member",
            &m,
            "--program",
            "csp",
            "--minutes",
            "20",
            "--narrative",
            "Met at the pantry to plan groceries.",
        ],
    );
    assert!(ok, "{err}");
    let (_, status, _) = fieldnote(&phone, &["status"]);
    assert!(status.contains("3 waiting"), "{status}");
    let (ok, out, err) = fieldnote(&phone, &["sync"]);
    assert!(ok, "{err}");
    assert!(out.contains("sent 3"), "{out}");
    let (_, status, _) = fieldnote(&phone, &["status"]);
    assert!(status.contains("0 waiting"), "{status}");

    // A second phone of the same worker receives it.
    let tablet = dir.path().join("tablet");
    assert!(fieldnote(&tablet, &["login", "--server", &url, "--user", "worker"]).0);
    let (ok, out, _) = fieldnote(&tablet, &["sync"]);
    assert!(ok && out.contains("received 3"), "{out}");
    let (_, hits, _) = fieldnote(&tablet, &["search", "pantry"]);
    assert!(hits.contains("pantry"), "{hits}");

    // Plain http to a non-loopback address is refused before anything is sent.
    let other = dir.path().join("other");
    let (ok, _, err) = fieldnote(
        &other,
        &[
            "login",
            "--server",
            "http://10.1.2.3:7878",
            "--user",
            "worker",
        ],
    );
    assert!(!ok && err.contains("insecure"), "{err}");

    assert!(fieldnote(&phone, &["logout"]).0);
    let (ok, _, err) = fieldnote(&phone, &["sync"]);
    assert!(!ok && err.contains("not signed in"), "{err}");
    rt.block_on(server.shutdown()).unwrap();
}

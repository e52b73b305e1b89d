//! The command-line device against a real server on loopback: sign in, write offline, sync
//! with a second device of the same user, see the status, sign out.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, fieldnote};

#[test]
fn login_write_sync_status_logout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = server.url.clone();

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
}

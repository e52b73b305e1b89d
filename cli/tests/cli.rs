//! The command-line device end to end: a scripted session on a real encrypted store.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

fn run(store: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldnote"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap()
}

fn ok(store: &std::path::Path, args: &[&str]) -> String {
    let out = run(store, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_device_nobody_signed_in_on_signs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    ok(&store, &["init"]);
    let m = ok(
        &store,
        &[
            "member",
            "add",
            "--given",
            "Arlo",
            "--family",
            "Testvale",
            "--dob",
            "1990-02-03",
            "--masshealth-id",
            "100200300400",
            "--program",
            "csp",
        ],
    );
    let n = ok(
        &store,
        &[
            "note",
            "write",
            "--member",
            &m,
            "--program",
            "csp",
            "--minutes",
            "30",
            "--narrative",
            "Met at the library",
        ],
    );
    // Offline, a device signs only as the user signed in on it: nobody is, so nothing is
    // signed, and the note stays a draft.
    let refused = run(&store, &["note", "finalize", &n]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("sign in first"), "{err}");
    let shown = ok(&store, &["--json", "show", &n]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["attestations"].as_array().unwrap().len(), 0);
}

#[test]
fn a_scripted_session_writes_finalizes_signs_and_finds() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    ok(&store, &["init"]);
    assert!(
        dir.path().join("device.key").exists(),
        "the key lives beside, not inside, the store"
    );
    let server = common::Server::start(dir.path());
    let (signed_in, _, err) = common::fieldnote(
        &store,
        &["login", "--server", &server.url, "--user", "worker"],
    );
    assert!(signed_in, "{err}");
    let m = ok(
        &store,
        &[
            "member",
            "add",
            "--given",
            "Arlo",
            "--family",
            "Testvale",
            "--dob",
            "1990-02-03",
            "--masshealth-id",
            "100200300400",
            "--program",
            "csp_ji",
        ],
    );
    let n = ok(
        &store,
        &[
            "note",
            "write",
            "--member",
            &m,
            "--program",
            "csp_ji",
            "--minutes",
            "30",
            "--narrative",
            "Met at the courthouse about the housing application",
        ],
    );
    assert!(ok(&store, &["note", "finalize", &n]).contains("content hash"));
    ok(
        &store,
        &[
            "note",
            "write",
            "--member",
            &m,
            "--program",
            "csp_ji",
            "--minutes",
            "5",
            "--narrative",
            "Hearing moved to Tuesday",
            "--addendum-to",
            &n,
        ],
    );
    let p = ok(
        &store,
        &[
            "plan",
            "create",
            "--member",
            &m,
            "--program",
            "csp_ji",
            "--goal",
            "Stable housing",
        ],
    );
    let sig = ok(
        &store,
        &[
            "plan",
            "sign",
            &p,
            "--role",
            "worker",
            "--name",
            "W. Ambervale",
        ],
    );
    assert!(sig.contains("Worker: signed by W. Ambervale"), "{sig}");
    assert!(sig.contains("complete: false"));

    let hits = ok(&store, &["--json", "search", "housing \"court"]);
    let hits: serde_json::Value = serde_json::from_str(&hits).unwrap();
    assert_eq!(
        hits.as_array().unwrap().len(),
        0,
        "every word must match; \"court is not courthouse"
    );
    let hits: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--json", "search", "housing courthouse"])).unwrap();
    assert_eq!(hits[0]["note_id"], n.as_str());

    let timeline = ok(&store, &["timeline", &m]);
    assert!(
        timeline.contains("(final)") && timeline.contains("Addendum"),
        "{timeline}"
    );
    assert_eq!(ok(&store, &["check"]), "ok");
}

#[test]
fn bad_input_names_the_field_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    ok(&store, &["init"]);
    let out = run(
        &store,
        &[
            "member",
            "add",
            "--given",
            "",
            "--family",
            "X",
            "--dob",
            "1990-01-01",
            "--masshealth-id",
            "12",
            "--program",
            "csp",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("given_name: is required") && err.contains("masshealth_id"),
        "{err}"
    );
    assert!(err.contains("nothing was saved"));
    let out = run(
        &store,
        &[
            "member",
            "add",
            "--given",
            "A",
            "--family",
            "X",
            "--dob",
            "1990-13-01",
            "--masshealth-id",
            "100200300400",
            "--program",
            "csp",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("dob: use YYYY-MM-DD"));
    assert_eq!(ok(&store, &["member", "list"]), "0 members");

    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let out = run(
        &store,
        &["--key-file", wrong.to_str().unwrap(), "member", "list"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the key does not open this store"));
}

/// A damaged or deleted outbox never silently drops unsent work: the next command warns in
/// words, and `status` still counts what waits to be sent.
#[test]
fn a_lost_outbox_is_told_and_nothing_waits_in_vain() {
    for how in ["damaged", "deleted"] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("device");
        ok(&store, &["init"]);
        let m = ok(
            &store,
            &[
                "member",
                "add",
                "--given",
                "Noor",
                "--family",
                "Testline",
                "--dob",
                "1988-04-05",
                "--masshealth-id",
                "100200300401",
                "--program",
                "csp",
            ],
        );
        for text in ["First visit.", "Second visit."] {
            ok(
                &store,
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
                    text,
                ],
            );
        }
        let before = ok(&store, &["status"]);
        let waiting = |s: &str| -> usize {
            s.lines()
                .find_map(|l| l.split(" waiting to be sent").next()?.trim().parse().ok())
                .unwrap_or(0)
        };
        let n = waiting(&before);
        assert!(n >= 3, "{before}");
        let outbox = store.join("outbox.db");
        if how == "damaged" {
            let mut bytes = std::fs::read(&outbox).unwrap();
            for b in bytes.iter_mut().take(4096) {
                *b ^= 0x5a;
            }
            std::fs::write(&outbox, &bytes).unwrap();
        } else {
            std::fs::remove_file(&outbox).unwrap();
        }
        let _ = std::fs::remove_file(store.join("outbox.db-wal"));
        let out = run(&store, &["status"]);
        let err = String::from_utf8_lossy(&out.stderr);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{how}: {err}");
        assert!(
            err.contains("queued again"),
            "{how}: the person is told: {err}"
        );
        assert!(
            waiting(&said) >= 3,
            "{how}: still waiting after the loss: {said}"
        );
    }
}

/// Two programs writing to one store at once: each write either succeeds or is refused
/// naming the program that holds the store; every reported success is saved and waits to
/// be sent, and no refused write leaves anything behind.
#[test]
fn two_programs_on_one_store_never_half_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    ok(&store, &["init"]);
    let m = ok(
        &store,
        &[
            "member",
            "add",
            "--given",
            "Ivo",
            "--family",
            "Testgate",
            "--dob",
            "1980-01-02",
            "--masshealth-id",
            "100200300403",
            "--program",
            "csp",
        ],
    );
    let before = ok(&store, &["--json", "status"]);
    let pending = |s: &str| -> u64 {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["sync"]["pending"]
            .as_u64()
            .unwrap()
    };
    let start = pending(&before);
    let results: Vec<(bool, String)> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let (store, m) = (&store, &m);
                s.spawn(move || {
                    let text = format!("Concurrent visit {i}.");
                    let out = run(
                        store,
                        &[
                            "note",
                            "write",
                            "--member",
                            m,
                            "--program",
                            "csp",
                            "--minutes",
                            "15",
                            "--narrative",
                            &text,
                        ],
                    );
                    (
                        out.status.success(),
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    )
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let saved = results.iter().filter(|(ok, _)| *ok).count() as u64;
    for (ok, err) in &results {
        assert!(
            *ok || err.contains("open in another program (process"),
            "a refused write names the holder: {err}"
        );
    }
    assert!(saved >= 1);
    let after = ok(&store, &["--json", "status"]);
    assert_eq!(
        pending(&after),
        start + saved,
        "every saved note waits to be sent"
    );
    let found = ok(&store, &["--json", "search", "Concurrent visit"]);
    let found: serde_json::Value = serde_json::from_str(&found).unwrap();
    assert_eq!(
        found.as_array().map_or(0, Vec::len) as u64,
        saved,
        "{found}"
    );
}

/// The key lives beside the store whatever the spelling of its path (`dir/` is `dir`), is
/// readable by its owner only, and a key readable by others is used with a warning.
#[test]
fn the_key_file_is_beside_the_store_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let with_slash = format!("{}/", dir.path().join("device").display());
    let out = Command::new(env!("CARGO_BIN_EXE_fieldnote"))
        .args(["--store", &with_slash, "init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.path().join("device.key");
    assert!(key.exists(), "the key is beside the store");
    assert!(!dir.path().join("device").join(".key").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".writing"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key mode {mode:o}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
        let out = run(&dir.path().join("device"), &["status"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("can be read by other users"), "{err}");
    }
}

/// Distress works while another program holds the store: `alarm raise` opens only the
/// safety database, so it never meets the store's lock.
#[test]
fn an_alarm_is_raised_while_another_program_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    ok(&store, &["init"]);
    let key = std::fs::read_to_string(dir.path().join("device.key")).unwrap();
    let held =
        fieldnote_core::Store::open(&store, fieldnote_core::StoreKey::from_hex(&key).unwrap())
            .unwrap();
    let refused = run(&store, &["status"]);
    assert!(!refused.status.success(), "the store is held");
    let out = run(&store, &["--wait", "0", "alarm", "raise", "panic"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("recorded"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        held.safety().pending_len().unwrap(),
        1,
        "the alarm waits to be sent"
    );
    drop(held);
    let status = ok(&store, &["status"]);
    assert!(
        status.contains("1 alarm or visit messages waiting"),
        "status counts the waiting alarm: {status}"
    );
}

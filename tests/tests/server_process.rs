//! The server as it ships: `fieldnote-server` started as a process the way the README starts
//! it (with `--demo`, on the embedded store and on PostgreSQL, one process and two), driven
//! by the real `fieldnote` CLI as the phones. Nothing here calls the server's library: if
//! the binary stops its safety timers, ignores a flag or mishandles a signal, these fail.
//!
//! Ladders are set to their shortest allowed timeouts (30 s a tier) and the grace period to
//! its shortest (60 s), so the escalation tests take about a minute and the missed check-in
//! tests about two; they run side by side.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

use fieldnote_protocol::safety::{SafetySettings, Tier, TierTarget};
use fieldnote_server::db::{Db, DbConfig};
use fieldnote_server::params;
use fieldnote_tests::process::{ServerProcess, cli, eventually, http, sign_in};

/// A fresh PostgreSQL database on the server `scripts/postgres` starts; its URL.
fn fresh_pg_database() -> String {
    let base = std::env::var("FIELDNOTE_TEST_PG_URL")
        .expect("FIELDNOTE_TEST_PG_URL is not set: run ./scripts/test, which starts PostgreSQL");
    fieldnote_tests::pg::fresh_database(&base).unwrap()
}

/// The shortest ladder the settings allow: supervisors, then directors, 30 s each.
fn short_ladder() -> SafetySettings {
    SafetySettings {
        grace_secs: 60,
        fallback_secs: 15,
        ladder: vec![
            Tier {
                label: "team supervisor".into(),
                target: TierTarget::TeamSupervisors,
                ack_timeout_secs: 30,
            },
            Tier {
                label: "program director".into(),
                target: TierTarget::ProgramDirectors,
                ack_timeout_secs: 30,
            },
        ],
    }
}

/// Signs the north team's supervisor in and gives the team the short ladder; returns the
/// supervisor's token.
fn configure_short_ladder(url: &str) -> String {
    let (token, team) = sign_in(
        url,
        "supervisor.north",
        fieldnote_tests::process::DEMO_PASSWORD,
    );
    let (status, body) = http(
        "PUT",
        &format!("{url}/v1/teams/{team}/safety"),
        Some(&token),
        Some(&serde_json::to_value(short_ladder()).unwrap()),
    );
    assert_eq!(status, 200, "ladder saved: {body}");
    token
}

/// A phone signed in as `user` (the CLI on its own encrypted store).
fn phone(url: &str, user: &str) -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    cli(
        store.path(),
        &[
            "login",
            "--server",
            url,
            "--user",
            user,
            "--device-name",
            "phone",
        ],
    );
    store
}

/// The id in "alarm <id> recorded" / "session <id> started".
fn printed_id(out: &str, word: &str) -> String {
    out.split_whitespace()
        .skip_while(|w| *w != word)
        .nth(1)
        .unwrap_or_else(|| panic!("no {word} id in {out:?}"))
        .to_string()
}

/// The audit actions recorded for `target`, oldest first.
fn audit_actions(db: &Db, target: &str) -> Vec<String> {
    db.tx(|tx| {
        Ok(tx
            .query(
                "SELECT action FROM audit WHERE target = $1 ORDER BY seq",
                params![target],
            )?
            .into_iter()
            .map(|r| r[0].text())
            .collect::<Vec<_>>())
    })
    .unwrap()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

/// An alarm as the supervisor's list shows it.
fn alarm(url: &str, token: &str, id: &str) -> Option<serde_json::Value> {
    let (status, list) = http("GET", &format!("{url}/v1/alarms"), Some(token), None);
    assert_eq!(status, 200, "{list}");
    list.as_array()?
        .iter()
        .find(|a| a["id"].as_str() == Some(id))
        .cloned()
}

/// A panic nobody acknowledges goes to tier 2 after its 30 s, then to everyone on the
/// ladder after 30 s more, each step exactly once, whichever of `servers` runs the timers.
fn panic_escalates(servers: &[&ServerProcess], db: &Db, token: &str) {
    let url = &servers[0].url;
    let worker = phone(url, "worker1.north");
    let id = printed_id(&cli(worker.path(), &["alarm", "raise", "panic"]), "alarm");
    let first = alarm(url, token, &id).expect("the supervisor sees the alarm");
    assert_eq!(first["tier"], 1);
    let due = first["escalates_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("the alarm says when the next tier is alerted: {first}"));
    let raised_at = first["raised_at"].as_i64().unwrap();
    assert!(due - raised_at >= 30_000, "tier 1 has its 30 s: {first}");
    let second = eventually(Duration::from_secs(75), Duration::from_millis(500), || {
        alarm(url, token, &id).filter(|a| a["tier"] == 2)
    });
    // Server time, as the server reads it (the machine's clock).
    let seen = fieldnote_core::Timestamp::now().millis();
    assert!(
        seen >= due - 1_000,
        "tier 2 only once tier 1's time is up ({} ms early): first {first}, then {second}",
        due - seen
    );
    assert_eq!(second["tier_label"], "program director");
    let last = eventually(Duration::from_secs(75), Duration::from_millis(500), || {
        alarm(url, token, &id).filter(|a| a["exhausted"] == true)
    });
    assert_eq!(last["state"], "raised", "nobody acknowledged");
    assert!(
        last["escalates_at"].is_null(),
        "nothing after the broadcast"
    );
    // Every process ran its timers all along; each step happened once.
    std::thread::sleep(Duration::from_secs(3));
    let actions = audit_actions(db, &id);
    assert_eq!(count(&actions, "alarm.raise.panic"), 1, "{actions:?}");
    assert_eq!(count(&actions, "alarm.escalate"), 1, "{actions:?}");
    assert_eq!(count(&actions, "alarm.ladder_exhausted"), 1, "{actions:?}");
}

/// A visit whose end and grace period pass unchecked raises one missed check-in alarm.
fn missed_check_in_raised_once(servers: &[&ServerProcess], db: &Db, token: &str) {
    let url = &servers[servers.len() - 1].url;
    let worker = phone(url, "worker2.north");
    let session = printed_id(
        &cli(
            worker.path(),
            &[
                "session",
                "start",
                "--place",
                "home visit, Dorchester",
                "--minutes",
                "1",
            ],
        ),
        "session",
    );
    // Expected end in 60 s, then 60 s of grace.
    let missed = eventually(Duration::from_secs(150), Duration::from_secs(1), || {
        let (_, list) = http("GET", &format!("{url}/v1/alarms"), Some(token), None);
        list.as_array()?
            .iter()
            .find(|a| a["session_id"].as_str() == Some(&session))
            .cloned()
    });
    assert_eq!(missed["kind"], "missed_check_in");
    assert_eq!(missed["place"], "home visit, Dorchester");
    std::thread::sleep(Duration::from_secs(3));
    let ids: Vec<String> = db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT id FROM alarms WHERE session_id = $1",
                    params![&session],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(ids.len(), 1, "one missed check-in alarm: {ids:?}");
    let actions = audit_actions(db, &ids[0]);
    assert_eq!(
        count(&actions, "alarm.raise.missed_check_in"),
        1,
        "{actions:?}"
    );
}

#[test]
fn embedded_server_escalates_and_raises_missed_check_ins() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = ServerProcess::start(
        &["--demo", "--listen", "127.0.0.1:0", "--data-dir", dir],
        &[],
    );
    let token = configure_short_ladder(&server.url);
    let db = Db::open(&DbConfig::sqlite_in(data.path())).unwrap();
    std::thread::scope(|s| {
        let missed = s.spawn(|| missed_check_in_raised_once(&[&server], &db, &token));
        panic_escalates(&[&server], &db, &token);
        missed.join().unwrap();
    });
}

#[test]
fn two_processes_on_postgres_escalate_and_raise_missed_check_ins_once() {
    let url = fresh_pg_database();
    // Both processes chain the audit log with one key, from one file.
    let keys = tempfile::tempdir().unwrap();
    let audit_key = keys.path().join("audit.key");
    let a = ServerProcess::start(
        &[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--data-dir",
            keys.path().to_str().unwrap(),
        ],
        &[],
    );
    let data = tempfile::tempdir().unwrap();
    let b = ServerProcess::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[
            ("FIELDNOTE_DATABASE_URL", url.as_str()),
            ("FIELDNOTE_AUDIT_KEY_FILE", audit_key.to_str().unwrap()),
        ],
    );
    let token = configure_short_ladder(&a.url);
    let db = Db::open(&DbConfig::postgres(
        &url,
        fieldnote_server::keys::KeySource::File(audit_key.clone()),
    ))
    .unwrap();
    std::thread::scope(|s| {
        let missed = s.spawn(|| missed_check_in_raised_once(&[&a, &b], &db, &token));
        panic_escalates(&[&a, &b], &db, &token);
        missed.join().unwrap();
    });
    for server in [&a, &b] {
        let (status, health) = http("GET", &format!("{}/health", server.url), None, None);
        assert_eq!(status, 200);
        assert_eq!(health["database"], "postgres");
        assert_eq!(health["safety_timers"], "running", "{health}");
    }
}

/// The health check says the timers run, and they keep running long after start-up (the
/// shipped binary once stopped them as soon as it began to serve).
#[test]
fn health_reports_timers_running_for_the_life_of_the_process() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(2));
        let (status, health) = http("GET", &format!("{}/health", server.url), None, None);
        assert_eq!(status, 200, "{health}");
        assert_eq!(health["status"], "ok");
        assert_eq!(health["database"], "sqlite");
        assert_eq!(health["safety_timers"], "running", "{health}");
        let ago = health["safety_timers_last_run_ms_ago"].as_i64().unwrap();
        assert!(ago < 3_000, "the timers ran {ago} ms ago");
    }
}

/// SIGTERM stops the server cleanly (exit 0) and promptly; what it stored is there when it
/// starts again, and the first administrator's password is printed only once.
#[test]
fn sigterm_stops_cleanly_and_a_restart_keeps_the_data() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let mut server = ServerProcess::start(
        &["--demo", "--listen", "127.0.0.1:0", "--data-dir", dir],
        &[],
    );
    let (admin, password) = server.first_admin();
    assert!(!server.demo_users().is_empty(), "the demo users are listed");
    let code = server.terminate(Duration::from_secs(15));
    assert_eq!(code, Some(0), "log:\n{}", server.log());
    assert!(
        server.log().contains("shutting down"),
        "the signal is logged:\n{}",
        server.log()
    );
    let again = ServerProcess::start(&["--listen", "127.0.0.1:0", "--data-dir", dir], &[]);
    assert!(
        !again
            .stdout
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("First start")),
        "the password is shown once"
    );
    sign_in(&again.url, &admin, &password);
    sign_in(
        &again.url,
        "worker1.north",
        fieldnote_tests::process::DEMO_PASSWORD,
    );
}

/// Every setting the README documents as an environment variable is read from it.
#[test]
fn configuration_comes_from_the_environment() {
    let data = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let server = ServerProcess::start(
        &[],
        &[
            ("FIELDNOTE_LISTEN", &listen),
            ("FIELDNOTE_DATA_DIR", data.path().to_str().unwrap()),
            ("FIELDNOTE_TOKEN_TTL", "120"),
            ("FIELDNOTE_TIMER_INTERVAL", "2"),
        ],
    );
    assert_eq!(server.url, format!("http://{listen}"));
    assert!(
        fieldnote_server::db::sqlite_path(data.path()).exists(),
        "the embedded store is in FIELDNOTE_DATA_DIR"
    );
    let (admin, password) = server.first_admin();
    let (status, body) = http(
        "POST",
        &format!("{}/v1/auth/login", server.url),
        None,
        Some(&serde_json::json!({
            "username": admin, "password": password, "device_name": "env test"
        })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 120, "FIELDNOTE_TOKEN_TTL is used");
}

/// Settings that cannot work stop the server at once with a message naming the setting,
/// never a panic, and leave nothing behind.
#[test]
fn impossible_settings_are_refused_by_name() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("store");
    let dir = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--timer-interval", "0"], "--timer-interval"),
        (&["--trusted-proxy", "the proxy"], "--trusted-proxy"),
        (&["--db-key", "short"], "db-key"),
        (&["--listen", "0.0.0.0:0"], "plain HTTP"),
        (&["--tls-cert", "/nonexistent.pem"], "--tls-key"),
        (&["--console-idle-secs", "1"], "--console-idle-secs"),
    ];
    for (args, says) in cases {
        let out = std::process::Command::new(fieldnote_tests::process::binary("fieldnote-server"))
            .args(["--data-dir", dir])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(1) | Some(2)),
            "{args:?} exits with an error status: {err}"
        );
        assert!(err.contains(says), "{args:?} says {says:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(
        !Path::new(dir).exists(),
        "a refused start creates no store and no administrator"
    );
}

fn server_command(args: &[&str]) -> std::process::Output {
    std::process::Command::new(fieldnote_tests::process::binary("fieldnote-server"))
        .args(args)
        .output()
        .unwrap()
}

/// The binary keeps its embedded database encrypted under the key file it made, refuses
/// another key by name and without touching the file, and its audit subcommands sign a
/// checkpoint and find a rewritten entry afterwards.
#[test]
fn the_binary_encrypts_its_store_and_verifies_its_audit_log() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let mut server = ServerProcess::start(
        &["--demo", "--listen", "127.0.0.1:0", "--data-dir", dir],
        &[],
    );
    let (user, _) = server.demo_users()[0].clone();
    for _ in 0..3 {
        sign_in(&server.url, &user, fieldnote_server::demo::DEMO_PASSWORD);
    }
    server.terminate(Duration::from_secs(10));
    let db_file = fieldnote_server::db::sqlite_path(data.path());
    let raw = std::fs::read(&db_file).unwrap();
    assert!(
        !raw.windows(user.len()).any(|w| w == user.as_bytes()),
        "a demo user name is readable in the database file"
    );
    assert!(data.path().join("db.key").exists() && data.path().join("audit.key").exists());

    let wrong = "ab".repeat(32);
    let out = server_command(&["--data-dir", dir, "--db-key", &wrong]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("db-key") && err.contains("does not open"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db_file).unwrap(),
        raw,
        "the refused start changed nothing"
    );

    let out = server_command(&["--data-dir", dir, "audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoint = data.path().join("checkpoint.json");
    std::fs::write(&checkpoint, &out.stdout).unwrap();
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        c["seq"].as_i64().unwrap() > 0 && c["signature"].is_string(),
        "{c}"
    );
    let cp = checkpoint.to_str().unwrap();
    let out = server_command(&["--data-dir", dir, "audit", "verify", "--checkpoint", cp]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("intact") && said.contains("Holds"), "{said}");

    // An entry under the checkpoint is rewritten: the verifier exits 1 and names it.
    let db = Db::open(&DbConfig::sqlite_in(data.path())).unwrap();
    db.tx(|tx| {
        tx.exec(
            "UPDATE audit SET actor = 'someone-else' WHERE seq = 2",
            fieldnote_server::params![],
        )
    })
    .unwrap();
    drop(db);
    let out = server_command(&["--data-dir", dir, "audit", "verify", "--checkpoint", cp]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("BROKEN at entry 2"), "{said}");
}

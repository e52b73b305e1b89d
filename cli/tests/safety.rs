//! Safety from the command-line device against a real server: the process killed with
//! SIGKILL between the press and the send still delivers its alarm, once, after restart;
//! sessions start, check in and end with the duress PIN, which prints what the cancel PIN
//! prints and raises a duress alarm on the server.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{PASSWORD, Server, fieldnote};
use fieldnote_server::params;

fn device_file(store: &std::path::Path) -> std::path::PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".device");
    p.into()
}

/// Points the signed-in store at another server URL.
fn point_at(store: &std::path::Path, url: &str) {
    let path = device_file(store);
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    saved["credentials"]["server"] = url.into();
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();
}

fn alarms(server: &Server) -> Vec<(String, String)> {
    server
        .db
        .tx(|tx| {
            Ok(tx
                .query("SELECT id, kind FROM alarms ORDER BY raised_at", params![])?
                .into_iter()
                .map(|r| (r[0].text(), r[1].text()))
                .collect())
        })
        .unwrap()
}

#[test]
fn an_alarm_survives_kill_9_between_press_and_send() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let phone = dir.path().join("phone");
    assert!(
        fieldnote(
            &phone,
            &["login", "--server", &server.url, "--user", "worker"]
        )
        .0
    );

    // A server that accepts connections and never answers: the send hangs.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hole.incoming() {
            held.push(c);
        }
    });
    point_at(&phone, &hole_url);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldnote"))
        .arg("--store")
        .arg(&phone)
        .args([
            "alarm",
            "raise",
            "panic",
            "--latitude",
            "42.31",
            "--longitude",
            "-71.05",
        ])
        .env("FIELDNOTE_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.ends_with("recorded\n"), "{line}");
    let id = line.split_whitespace().nth(1).unwrap().to_string();
    // SIGKILL while it waits for the server.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(alarms(&server).is_empty());

    point_at(&phone, &server.url);
    let (ok, out, err) = fieldnote(&phone, &["sync"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("synced"), "{out}");
    assert_eq!(alarms(&server), vec![(id.clone(), "panic".to_string())]);
    // Sending again changes nothing: exactly one alarm.
    assert!(fieldnote(&phone, &["alarm", "send"]).0);
    assert_eq!(alarms(&server).len(), 1);
    let (ok, status, err) = fieldnote(&phone, &["alarm", "status", &id]);
    assert!(ok, "{err}");
    assert!(
        status.contains("Raised") && status.contains("nobody yet"),
        "{status}"
    );

    // The supervisor acknowledges from their own device; the worker sees who. Their device
    // is registered only with their authenticator's code.
    let desk = dir.path().join("desk");
    let login = ["login", "--server", &server.url, "--user", "supervisor"];
    let (ok, _, err) = fieldnote(&desk, &login);
    assert!(!ok && err.contains("6-digit code"), "{err}");
    let (ok, _, err) = fieldnote(&desk, &[&login[..], &["--code", "000000"]].concat());
    assert!(!ok && err.contains("code is wrong"), "{err}");
    let code = common::supervisor_code();
    let (ok, _, err) = fieldnote(&desk, &[&login[..], &["--code", &code]].concat());
    assert!(ok, "{err}");
    let (_, list, _) = fieldnote(&desk, &["alarm", "list"]);
    assert!(list.contains(&id) && list.contains("Test Worker"), "{list}");
    let (ok, out, err) = fieldnote(&desk, &["alarm", "ack", &id]);
    assert!(ok && out.contains("Test Supervisor"), "{out}{err}");
    let (_, status, _) = fieldnote(&phone, &["alarm", "status", &id]);
    assert!(
        status.contains("Acknowledged") && status.contains("Test Supervisor"),
        "{status}"
    );
    let (ok, out, err) = fieldnote(
        &desk,
        &[
            "alarm",
            "resolve",
            &id,
            "--outcome",
            "called the worker; safe",
            "--reportable",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("incident report due by"), "{out}");
}

#[test]
fn sessions_and_the_duress_pin_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let phone = dir.path().join("phone");
    assert!(
        fieldnote(
            &phone,
            &["login", "--server", &server.url, "--user", "worker"]
        )
        .0
    );
    assert!(
        fieldnote(
            &phone,
            &["session", "pins", "--cancel", "2468", "--duress", "1357"]
        )
        .0
    );

    let visit = |pin: &str| {
        let (ok, out, err) = fieldnote(
            &phone,
            &[
                "session",
                "start",
                "--place",
                "home visit",
                "--minutes",
                "30",
            ],
        );
        assert!(ok && out.contains("started"), "{out}{err}");
        let (ok, _, err) = fieldnote(&phone, &["session", "check-in"]);
        assert!(ok, "{err}");
        let (ok, _, err) = fieldnote(&phone, &["session", "extend", "--minutes", "45"]);
        assert!(ok, "{err}");
        let (ok, out, err) = fieldnote(&phone, &["session", "end", "--pin", pin]);
        assert!(ok, "{err}");
        out.lines().next().unwrap().to_string()
    };
    let cancelled = visit("2468");
    assert!(alarms(&server).is_empty());
    let duress = visit("1357");
    assert_eq!(
        cancelled, duress,
        "the duress PIN prints what the cancel PIN prints"
    );
    assert_eq!(
        alarms(&server)
            .iter()
            .map(|a| a.1.as_str())
            .collect::<Vec<_>>(),
        vec!["duress"]
    );

    // Bad input is refused with the field named, and nothing is queued.
    let (ok, _, err) = fieldnote(
        &phone,
        &["session", "start", "--place", "x", "--minutes", "-5"],
    );
    assert!(!ok && err.contains("expected_end"), "{err}");
    let (ok, _, err) = fieldnote(&phone, &["session", "end", "--pin", "0000"]);
    assert!(!ok, "{err}");
}

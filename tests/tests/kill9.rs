//! Crash durability: a child process writes notes and reports each acknowledged one; the
//! parent kills it with SIGKILL at random moments, 32 rounds on one store. After every kill,
//! every acknowledged note is present and whole, amendments and finalizations included, and
//! SQLite's integrity check passes on both databases.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use fieldnote_tests::{ACK, KEY_ENV};
use rand::Rng;

struct Acked {
    id: RecordId,
    round: u64,
    n: u64,
    amended: bool,
}

#[test]
fn every_acknowledged_note_survives_kill_9() {
    let rounds: u64 = std::env::var("KILL9_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let key_hex = key.to_hex().to_string();
    let mut acked: Vec<Acked> = Vec::new();
    let mut rng = rand::rng();
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(dir.path())
            .arg(round.to_string())
            .env(KEY_ENV, &key_hex)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Sometimes during open and replay, mostly mid-stream.
        let wait = if round % 4 == 0 {
            rng.random_range(0..15)
        } else {
            rng.random_range(15..250)
        };
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer must have been killed"
        );
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.len() == 6 && parts[0] == ACK && parts[5] == "END" {
                acked.push(Acked {
                    id: parts[1].parse().unwrap(),
                    round: parts[2].parse().unwrap(),
                    n: parts[3].parse().unwrap(),
                    amended: parts[4] == "true",
                });
            }
        }

        let store = Store::open(dir.path(), key.clone()).unwrap();
        let conn = store.main_connection_for_test();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        for a in &acked {
            let record = store
                .get(a.id)
                .unwrap_or_else(|e| panic!("round {round}: acked note {} lost: {e}", a.id));
            let RecordBody::ContactNote(note) = &record.body else {
                panic!("wrong kind")
            };
            assert!(
                note.narrative
                    .starts_with(&format!("round {} note {} ", a.round, a.n))
            );
            assert_eq!(
                note.narrative.ends_with(" amended"),
                a.amended,
                "round {round}: amendment of {}",
                a.id
            );
            assert_eq!(
                record.is_finalized(),
                a.n % 3 == 2,
                "round {round}: finalization of {}",
                a.id
            );
        }
        let check: String = store
            .outbox_connection_for_test()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}: outbox");
    }
    assert!(
        acked.len() as u64 >= rounds,
        "the writer acknowledged {} notes in {rounds} rounds",
        acked.len()
    );
    eprintln!(
        "{} acknowledged notes across {rounds} kills, all present",
        acked.len()
    );
}

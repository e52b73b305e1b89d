//! Crash during a schema migration: a store written by an older version (version 1, a few
//! hundred records) is opened by a child process that runs the migrations and rebuilds the
//! projections, and is killed with SIGKILL at random moments. After each kill the database
//! is wholly at one version (never between), passes SQLite's integrity check, and opening it
//! again finishes the upgrade with every record listed, the same as an upgrade that was
//! never interrupted.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey, synthetic};
use fieldnote_tests::KEY_ENV;
use rand::{Rng, SeedableRng};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_migration_killed_midway_is_wholly_old_or_new_then_completes() {
    let rounds: u64 = std::env::var("KILL9_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let key = StoreKey::generate();
    let old = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut records = Vec::new();
    for _ in 0..40 {
        let member = new_id();
        records.push((member, RecordBody::Member(synthetic::member(&mut rng))));
        for _ in 0..8 {
            let note = synthetic::note(
                &mut rng,
                member,
                Program::Csp,
                new_id(),
                Timestamp::now(),
                60,
            );
            records.push((new_id(), RecordBody::ContactNote(note)));
        }
    }
    Store::create_at_version_for_test(old.path(), &key, 1, &records).unwrap();
    let expected_notes = records
        .iter()
        .filter(|(_, b)| matches!(b, RecordBody::ContactNote(_)))
        .count();
    // An upgrade nobody interrupted, for comparison.
    let clean = tempfile::tempdir().unwrap();
    copy_dir(old.path(), clean.path());
    let reference = Store::open(clean.path(), key.clone()).unwrap();
    let reference_caseload = reference.caseload().unwrap().len();
    let latest = Store::schema_state_for_test(clean.path(), &key).unwrap();
    drop(reference);

    let mut seen_versions = std::collections::BTreeSet::new();
    let mut interrupted = 0;
    let mut rebuild_pending = 0;
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(old.path(), dir.path());
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg("--open")
            .arg(dir.path())
            .env(KEY_ENV, key.to_hex().as_str())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..120)));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if !String::from_utf8_lossy(&out.stdout).contains("OPENED") {
            interrupted += 1;
        }
        let (main, _, pending) = Store::schema_state_for_test(dir.path(), &key).unwrap();
        rebuild_pending += usize::from(pending);
        assert!(
            main >= 1 && main <= latest.0,
            "round {round}: version {main}"
        );
        seen_versions.insert(main);

        let store = Store::open(dir.path(), key.clone()).unwrap();
        let check: String = store
            .main_connection_for_test()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        assert_eq!(
            Store::schema_state_for_test(dir.path(), &key).unwrap(),
            latest,
            "round {round}: the upgrade finished and no rebuild is left pending"
        );
        assert_eq!(
            store.caseload().unwrap().len(),
            reference_caseload,
            "round {round}"
        );
        let notes = store.ids_of_kind(RecordKind::ContactNote).unwrap().len();
        assert_eq!(notes, expected_notes, "round {round}: every note listed");
    }
    println!(
        "migration kill -9: {rounds} rounds, {interrupted} interrupted before the open \
         finished ({rebuild_pending} between the migration and the end of the projection \
         rebuild), versions seen after a kill: {seen_versions:?}"
    );
    assert!(
        interrupted > 0,
        "no round was interrupted: the kills came too late"
    );
}

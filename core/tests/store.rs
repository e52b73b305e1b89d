//! Behaviour of the encrypted store: records, validation, finality, signatures, search,
//! keys, damage, disk full.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::model::*;
use fieldnote_core::{AttestationKind, Error, Signer, Store, StoreKey, synthetic};

#[test]
fn a_saved_note_reads_back_and_appears_on_the_timeline_and_caseload() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let note = f.note(m, Program::Csp, "Walked to the pharmacy together.");
    let id = f
        .store
        .create(RecordBody::ContactNote(note.clone()))
        .unwrap();
    let f = f.reopen();
    assert_eq!(f.store.get(id).unwrap().body, RecordBody::ContactNote(note));
    let timeline = f.store.timeline(m).unwrap();
    assert!(
        timeline
            .iter()
            .any(|t| t.record_id == id && t.kind == "contact_note")
    );
    let caseload = f.store.caseload().unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(
        caseload[0].enrollments,
        vec![("csp".to_string(), "active".to_string())]
    );
    assert!(caseload[0].last_contact_at.is_some());
}

#[test]
fn invalid_records_name_each_field_and_store_nothing() {
    let mut f = Fixture::new();
    let mut m = fieldnote_core::synthetic::member(&mut rng());
    m.given_name = "  ".into();
    m.masshealth_id = "123".into();
    let err = f.store.create(RecordBody::Member(m)).unwrap_err();
    assert_eq!(fields(&err), vec!["given_name", "masshealth_id"]);
    assert!(f.store.caseload().unwrap().is_empty());

    let unknown = new_id();
    let err = f
        .store
        .create(RecordBody::ContactNote(f.note(unknown, Program::Csp, "x")))
        .unwrap_err();
    assert_eq!(fields(&err), vec!["member_id"]);

    let m = f.member(Program::Csp);
    let big = "word ".repeat(MAX_NARRATIVE_BYTES / 5 + 10);
    let err = f
        .store
        .create(RecordBody::ContactNote(f.note(m, Program::Csp, &big)))
        .unwrap_err();
    assert_eq!(fields(&err), vec!["narrative"]);
    assert!(err.to_string().contains("limit is 65536 bytes"), "{err}");

    let consent = Consent {
        member_id: m,
        program: Program::Csp,
        recipient: Contact {
            name: "Clinic".into(),
            ..Default::default()
        },
        scope: "treatment coordination".into(),
        purpose: "care coordination".into(),
        substance_use_part2: false,
        refused: false,
        signed_by: "member".into(),
        signed_at: Timestamp::parse("2026-06-01T12:00:00Z").unwrap(),
        expires_on: Day::parse("2026-05-01"),
        revoked_at: None,
        recorded_by: f.worker,
    };
    let err = f.store.create(RecordBody::Consent(consent)).unwrap_err();
    assert_eq!(fields(&err), vec!["expires_on"]);
    assert_eq!(
        f.store.timeline(m).unwrap().len(),
        1,
        "only the enrollment is stored"
    );
}

#[test]
fn a_finalized_note_never_changes_and_takes_addenda() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let id = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Csp,
            "Draft text",
        )))
        .unwrap();
    f.store
        .update(id, |b| {
            if let RecordBody::ContactNote(n) = b {
                n.narrative = "Edited draft text".into();
            }
        })
        .unwrap();

    let addendum = f.note(m, Program::Csp, "Too early");
    let err = f.store.add_addendum(id, addendum.clone()).unwrap_err();
    assert_eq!(fields(&err), vec!["addendum_to"]);

    let mut stranger = f.worker_signer();
    stranger.staff_id = Some(new_id());
    assert!(matches!(
        f.store.finalize_note(id, stranger),
        Err(Error::SignatureRefused { .. })
    ));
    let mut supervisor = f.worker_signer();
    supervisor.role = Role::Supervisor;
    assert!(matches!(
        f.store.finalize_note(id, supervisor),
        Err(Error::SignatureRefused { .. })
    ));

    let att = f.store.finalize_note(id, f.worker_signer()).unwrap();
    assert!(att.verify());
    assert_eq!(att.kind, AttestationKind::Finalize);
    let err = f.store.update(id, |b| {
        if let RecordBody::ContactNote(n) = b {
            n.narrative = "tampered".into();
        }
    });
    assert!(matches!(err, Err(Error::Finalized { .. })));
    assert!(matches!(
        f.store.finalize_note(id, f.worker_signer()),
        Err(Error::Finalized { .. })
    ));

    let add = f.store.add_addendum(id, addendum).unwrap();
    let f = f.reopen();
    let rec = f.store.get(id).unwrap();
    assert!(rec.is_finalized());
    let RecordBody::ContactNote(n) = rec.body else {
        panic!()
    };
    assert_eq!(n.narrative, "Edited draft text");
    assert!(!rec.attestations[0].is_stale(&RecordBody::ContactNote(n)));
    let RecordBody::ContactNote(a) = f.store.get(add).unwrap().body else {
        panic!()
    };
    assert_eq!(a.addendum_to, Some(id));
}

#[test]
fn finalizing_enforces_program_documentation_duties() {
    let mut f = Fixture::new();
    let m = f.member(Program::Tm);
    let mut note = f.note(m, Program::Tm, "Session at the park.");
    note.planned_activity = None;
    note.member_response = Some(" ".into());
    note.modality = Modality::Telehealth;
    let id = f.store.create(RecordBody::ContactNote(note)).unwrap();
    let err = f.store.finalize_note(id, f.worker_signer()).unwrap_err();
    assert_eq!(
        fields(&err),
        vec!["telehealth_reason", "planned_activity", "member_response"]
    );
    assert!(!f.store.get(id).unwrap().is_finalized());
}

fn member_signer(f: &Fixture) -> Signer {
    Signer {
        staff_id: None,
        name: "Member Brightwater".into(),
        role: Role::Member,
        witness: Some(f.worker),
    }
}

#[test]
fn plan_signatures_go_stale_when_content_changes() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let mut plan = fieldnote_core::synthetic::service_plan(m, Program::Csp, f.worker);
    plan.status = PlanStatus::Draft;
    let id = f.store.create(RecordBody::Plan(plan)).unwrap();
    assert!(matches!(
        f.store.sign_plan(id, f.worker_signer()),
        Err(Error::SignatureRefused { .. })
    ));
    f.store
        .update(id, |b| {
            if let RecordBody::Plan(p) = b {
                p.status = PlanStatus::Completed;
            }
        })
        .unwrap();
    let pcp = Signer {
        role: Role::Pcp,
        ..member_signer(&f)
    };
    assert!(matches!(
        f.store.sign_plan(id, pcp),
        Err(Error::SignatureRefused { .. })
    ));
    let unwitnessed = Signer {
        witness: None,
        ..member_signer(&f)
    };
    assert!(matches!(
        f.store.sign_plan(id, unwitnessed),
        Err(Error::SignatureRefused { .. })
    ));

    f.store.sign_plan(id, f.worker_signer()).unwrap();
    f.store.sign_plan(id, member_signer(&f)).unwrap();
    let s = f.store.plan_signatures(id).unwrap();
    assert!(!s.complete());
    assert!(matches!(
        s.roles[0].1,
        fieldnote_core::store::SignatureState::Current { .. }
    ));
    assert!(matches!(
        s.roles[2].1,
        fieldnote_core::store::SignatureState::Missing
    ));

    f.store
        .update(id, |b| {
            if let RecordBody::Plan(p) = b {
                p.goals[0]
                    .statement
                    .set("Move into stable housing by spring");
            }
        })
        .unwrap();
    let s = f.store.plan_signatures(id).unwrap();
    assert!(matches!(
        s.roles[0].1,
        fieldnote_core::store::SignatureState::Stale { .. }
    ));
    assert!(matches!(
        s.roles[1].1,
        fieldnote_core::store::SignatureState::Stale { .. }
    ));
}

#[test]
fn search_treats_operators_and_quotes_as_text() {
    let mut f = Fixture::new();
    let m = f.member(Program::CspJi);
    let a = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::CspJi,
            "Court date moved; discussed NEAR term housing",
        )))
        .unwrap();
    f.store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::CspJi,
            "Pharmacy visit",
        )))
        .unwrap();
    let hits = f.store.search("court housing", 20).unwrap();
    assert_eq!(hits.iter().map(|h| h.note_id).collect::<Vec<_>>(), vec![a]);
    assert!(hits[0].snippet.contains("[Court]"), "{}", hits[0].snippet);
    for hostile in [
        "\"",
        "court\" OR \"x",
        "NEAR(court",
        "*",
        "narrative:court",
        "a AND",
        "-court",
        "'; DROP TABLE notes; --",
    ] {
        f.store
            .search(hostile, 20)
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
    }
    assert_eq!(
        f.store.search("NEAR", 20).unwrap().len(),
        1,
        "NEAR is a word here"
    );
}

#[test]
fn a_wrong_key_is_told_apart_and_changes_nothing() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    let wrong = StoreKey::from_hex(&"ab".repeat(32)).unwrap();
    assert!(matches!(
        Store::open(&dir, wrong.clone()),
        Err(Error::WrongKey)
    ));
    assert!(!dir.join("quarantine").exists());
    // Without the key-check file, a wrong key is still never taken for damage.
    std::fs::rename(dir.join("keycheck"), dir.join("keycheck.bak")).unwrap();
    assert!(matches!(Store::open(&dir, wrong), Err(Error::WrongKey)));
    std::fs::rename(dir.join("keycheck.bak"), dir.join("keycheck")).unwrap();
    let store = Store::open(&dir, key()).unwrap();
    assert_eq!(store.caseload().unwrap()[0].member_id, m);
    assert!(matches!(
        StoreKey::from_hex("abc"),
        Err(Error::BadKey { .. })
    ));
}

#[test]
fn a_damaged_database_is_quarantined_and_rebuilt_from_the_outbox() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let note = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Csp,
            "Unsent note",
        )))
        .unwrap();
    f.store.finalize_note(note, f.worker_signer()).unwrap();
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    // Overwrite the start of the file (SQLCipher's salt and first page).
    let db = dir.join("fieldnote.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let original_len = bytes.len();
    for b in bytes.iter_mut().take(4096) {
        *b ^= 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.join("fieldnote.db-wal"));

    let store = Store::open(&dir, key()).unwrap();
    let report = store.open_report().clone();
    let q = report.quarantined.expect("quarantined");
    assert_eq!(
        std::fs::metadata(q.join("fieldnote.db")).unwrap().len() as usize,
        original_len
    );
    assert!(report.replayed >= 4);
    assert!(store.get(note).unwrap().is_finalized());
    assert_eq!(store.caseload().unwrap()[0].member_id, m);
}

#[test]
fn entries_the_main_database_lost_are_replayed_from_the_outbox() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let note = f
        .store
        .create(RecordBody::ContactNote(f.note(m, Program::Csp, "Latest")))
        .unwrap();
    // Simulate the main database losing its last commit (power loss with synchronous=NORMAL).
    let conn = f.store.main_connection_for_test();
    conn.execute_batch(&format!(
        "DELETE FROM doc_chunks WHERE record_id = '{note}'; DELETE FROM records WHERE id = '{note}';
         DELETE FROM notes WHERE id = '{note}';
         UPDATE meta SET value = value - 1 WHERE key = 'outbox_seq';"
    ))
    .unwrap();
    assert!(f.store.get(note).is_err());
    let f = f.reopen();
    assert_eq!(f.store.open_report().replayed, 1);
    assert_eq!(f.store.search("Latest", 5).unwrap().len(), 1);
}

#[test]
fn a_full_disk_is_a_clear_error_and_damages_nothing() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let keep = f
        .store
        .create(RecordBody::ContactNote(f.note(m, Program::Csp, "kept")))
        .unwrap();
    let pages: u32 = f
        .store
        .main_connection_for_test()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    f.store.limit_pages_for_test(pages).unwrap();
    let big = "lorem ipsum ".repeat(5000);
    let mut saw_full = false;
    for _ in 0..20 {
        match f
            .store
            .create(RecordBody::ContactNote(f.note(m, Program::Csp, &big)))
        {
            Err(Error::DiskFull) => {
                saw_full = true;
                break;
            }
            Err(other) => panic!("unexpected {other:?}"),
            Ok(_) => {}
        }
    }
    assert!(saw_full);
    let mut f = f.reopen();
    assert_eq!(
        f.store
            .check_integrity()
            .map(|r| r.notices().is_empty())
            .ok(),
        Some(true)
    );
    let RecordBody::ContactNote(n) = f.store.get(keep).unwrap().body else {
        panic!()
    };
    assert_eq!(n.narrative, "kept");
    let before = f.store.outbox_len().unwrap();
    f.store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Csp,
            "after space was freed",
        )))
        .unwrap();
    assert_eq!(f.store.outbox_len().unwrap(), before + 1);
}

#[test]
fn locking_keeps_drafts() {
    let mut f = Fixture::new();
    let m = f.member(Program::Cares);
    let draft = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Cares,
            "half written",
        )))
        .unwrap();
    let f = f.reopen();
    assert!(!f.store.get(draft).unwrap().is_finalized());
}

#[test]
fn a_database_from_a_newer_app_is_refused() {
    let f = Fixture::new();
    f.store
        .main_connection_for_test()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    match Store::open(&dir, key()) {
        Err(Error::SchemaTooNew { found: 99, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn a_batch_with_one_invalid_record_stores_nothing() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let good = f.note(m, Program::Csp, "fine");
    let mut bad = f.note(m, Program::Csp, "bad");
    bad.duration_minutes = 2000;
    let err = f
        .store
        .create_batch(vec![
            RecordBody::ContactNote(good.clone()),
            RecordBody::ContactNote(bad),
        ])
        .unwrap_err();
    assert_eq!(fields(&err), vec!["duration_minutes"]);
    assert_eq!(f.store.timeline(m).unwrap().len(), 1);
    let outbox = f.store.outbox_len().unwrap();
    let ids = f
        .store
        .create_batch(vec![
            RecordBody::ContactNote(good.clone()),
            RecordBody::ContactNote(good),
        ])
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(f.store.outbox_len().unwrap(), outbox + 2);
}

#[test]
fn lists_timelines_and_search_load_no_document() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    for i in 0..30 {
        f.store
            .create(RecordBody::ContactNote(f.note(
                m,
                Program::Csp,
                &format!("visit number {i}"),
            )))
            .unwrap();
    }
    let f = f.reopen();
    assert_eq!(f.store.caseload().unwrap().len(), 1);
    assert_eq!(f.store.timeline(m).unwrap().len(), 31);
    assert_eq!(f.store.search("visit", 20).unwrap().len(), 20);
    assert_eq!(f.store.documents_loaded(), 0);
    f.store.get(m).unwrap();
    assert_eq!(f.store.documents_loaded(), 1);
}

#[test]
fn a_remote_change_to_a_finalized_note_is_visible_as_tampering() {
    let mut a = Fixture::new();
    let m = a.member(Program::Csp);
    let id = a
        .store
        .create(RecordBody::ContactNote(a.note(
            m,
            Program::Csp,
            "Signed words",
        )))
        .unwrap();
    let mut b = Fixture::new();
    for rid in [m, id] {
        b.store
            .merge_remote(rid, &a.store.document_bytes(rid).unwrap())
            .unwrap();
    }
    // Device B edits the draft while A finalizes it; A then receives B's edit.
    b.store
        .update(id, |body| {
            if let RecordBody::ContactNote(n) = body {
                n.narrative = "Changed words".into();
            }
        })
        .unwrap();
    a.store.finalize_note(id, a.worker_signer()).unwrap();
    assert!(a.store.get(id).unwrap().finalized_content_intact());
    a.store
        .merge_remote(id, &b.store.document_bytes(id).unwrap())
        .unwrap();
    let rec = a.store.get(id).unwrap();
    assert!(rec.is_finalized());
    assert!(!rec.finalized_content_intact());
    let mut forged = rec.attestations[0].clone();
    forged.signer.name = "Someone Else".into();
    assert!(!forged.verify());
    assert!(matches!(
        a.store.merge_remote_attestation(&forged),
        Err(Error::SignatureRefused { .. })
    ));
}

#[test]
fn a_damaged_page_found_by_the_integrity_check_is_quarantined_and_rebuilt() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let mut notes = Vec::new();
    for i in 0..60 {
        let n = f.note(
            m,
            Program::Csp,
            &format!("visit {i} {}", "details ".repeat(60)),
        );
        notes.push(f.store.create(RecordBody::ContactNote(n)).unwrap());
    }
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    let db = dir.join("fieldnote.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 40 * 2048);
    for b in &mut bytes[20 * 2048 + 100..20 * 2048 + 300] {
        *b ^= 0xff;
    }
    std::fs::write(&db, &bytes).unwrap();

    let mut store = Store::open(&dir, key()).unwrap();
    let moved = store
        .check_integrity()
        .unwrap()
        .quarantined
        .expect("damage found");
    assert!(
        moved.join("fieldnote.db").exists(),
        "the damaged file is kept"
    );
    assert!(store.check_integrity().unwrap().notices().is_empty());
    for id in notes {
        assert!(store.get(id).is_ok(), "note {id} rebuilt from the outbox");
    }
    assert_eq!(
        store.ids_of_kind(RecordKind::ContactNote).unwrap().len(),
        60
    );
    assert_eq!(store.search("visit", 100).unwrap().len(), 60);
}

#[test]
fn a_store_in_another_format_is_refused_not_taken_for_damage() {
    let mut f = Fixture::new();
    f.member(Program::Csp);
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    let check = std::fs::read_to_string(dir.join("keycheck")).unwrap();
    let mac = check.lines().nth(1).unwrap().to_string();
    std::fs::write(
        dir.join("keycheck"),
        format!("fieldnote-store-format 0\n{mac}\n"),
    )
    .unwrap();
    assert!(matches!(
        Store::open(&dir, key()),
        Err(Error::UnsupportedFormat { .. })
    ));
    assert!(!dir.join("quarantine").exists());
}

#[test]
fn a_much_edited_document_is_compacted_into_a_snapshot_and_reads_back() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let plan = f.plan(m, Program::Csp);
    for i in 0..40 {
        f.store
            .update(plan, |b| {
                if let RecordBody::Plan(p) = b {
                    p.summary.set(format!("revision {i}"));
                }
            })
            .unwrap();
    }
    let chunks: i64 = f
        .store
        .main_connection_for_test()
        .query_row(
            "SELECT count(*) FROM doc_chunks WHERE record_id = ?1",
            [plan.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(chunks <= 16, "{chunks} chunks after 41 changes");
    let f = f.reopen();
    let RecordBody::Plan(p) = f.store.get(plan).unwrap().body else {
        panic!()
    };
    assert_eq!(p.summary.as_str(), "revision 39");
}

/// On a full disk the first refused write used to stay queued while the person was told
/// "nothing was saved" (re-typing it made a duplicate). When the queued entry cannot be
/// taken back, the error now says it was kept, and it is: the record appears, once, when
/// the store is opened with room.
#[test]
fn a_write_refused_on_a_full_disk_is_either_withdrawn_or_told_as_kept() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let pages: u32 = f
        .store
        .main_connection_for_test()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // The records database is full, and the outbox refuses to give anything back.
    f.store
        .main_connection_for_test()
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
        .unwrap();
    f.store
        .outbox_connection_for_test()
        .execute_batch(
            "CREATE TEMP TRIGGER no_withdrawal BEFORE DELETE ON outbox
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
        )
        .unwrap();
    let before = f.store.outbox_len().unwrap();
    let big = "a long visit narrative ".repeat(2000);
    let mut saved = 0;
    let err = loop {
        match f
            .store
            .create(RecordBody::ContactNote(f.note(m, Program::Csp, &big)))
        {
            Ok(_) if saved < 50 => saved += 1,
            Ok(_) => panic!("the records database never filled"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::KeptForLater { .. }), "{err:?}");
    let said = err.to_string();
    assert!(
        said.contains("do not enter it again") && said.contains("full"),
        "{said}"
    );
    let queued = f.store.outbox_len().unwrap() - before;
    assert!(queued > saved);
    // With room again (a new connection has no page cap and no trigger), the kept note is
    // there, once, and still waits to be sent.
    let f = f.reopen();
    let found = f.store.search("long visit narrative", 100).unwrap().len();
    assert_eq!(found, queued, "each saved or kept note appears once");
    assert_eq!(f.store.outbox_len().unwrap(), before + queued);
}

/// One program at a time holds a store: a second open is refused naming the holder, and
/// the store opens again as soon as the first handle is closed (the lock goes with it,
/// crash or not).
#[test]
fn a_second_program_on_one_store_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let first = Store::open(dir.path(), key.clone()).unwrap();
    let err = Store::open(dir.path(), key.clone()).unwrap_err();
    match &err {
        Error::InUse { holder } => {
            assert!(holder.contains(&std::process::id().to_string()), "{holder}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("open in another program"), "{err}");
    drop(first);
    Store::open(dir.path(), key).unwrap();
}

/// `check` covers all three databases: damage inside the outbox or the safety database is
/// found (not only at open), moved aside, and what they held unsent is queued again.
#[test]
fn check_finds_damage_in_every_database_and_requeues_what_it_held() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    for i in 0..40 {
        let n = f.note(
            m,
            Program::Csp,
            &format!("visit {i} {}", "details ".repeat(60)),
        );
        f.store.create(RecordBody::ContactNote(n)).unwrap();
    }
    let alarm = f
        .store
        .safety()
        .raise_alarm(fieldnote_protocol::safety::AlarmKind::Panic, None)
        .unwrap();
    let pending_alarms = f.store.safety().pending_len().unwrap();
    assert!(pending_alarms >= 1, "{alarm:?}");
    let dir = f.dir.path().to_path_buf();
    f.store.lock();
    // Damage a page in the middle of the outbox, and the end of the safety database's
    // file (its outbox table's rows stay readable on their own pages).
    let safety_len = std::fs::metadata(dir.join("safety.db")).unwrap().len() as usize;
    for (file, at) in [
        ("outbox.db", 20 * 2048 + 100),
        ("safety.db", safety_len - 1500),
    ] {
        let path = dir.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > at + 300, "{file}: {} bytes", bytes.len());
        for b in &mut bytes[at..at + 200] {
            *b ^= 0xff;
        }
        std::fs::write(&path, &bytes).unwrap();
    }
    let mut store = Store::open(&dir, key()).unwrap();
    let found = store.check_integrity().unwrap();
    assert!(found.outbox_quarantined.is_some(), "{found:?}");
    assert!(found.outbox_requeued.unwrap() >= 41, "{found:?}");
    assert!(!found.notices().is_empty());
    assert!(store.outbox_len().unwrap() >= 41);
    assert!(found.safety_quarantined.is_some(), "{found:?}");
    assert_eq!(found.safety_recovered, Some(pending_alarms), "{found:?}");
    assert!(
        store.check_integrity().unwrap().notices().is_empty(),
        "whole again"
    );
    assert_eq!(store.safety().pending_len().unwrap(), pending_alarms);
}

/// A damaged key-check file is not taken for a wrong key: the right key, which reads the
/// records, opens the store and the file is rewritten; a wrong key is still refused and
/// changes nothing.
#[test]
fn a_damaged_keycheck_is_not_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let id = {
        let mut s = Store::open(dir.path(), key.clone()).unwrap();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        s.create(RecordBody::Member(fieldnote_core::synthetic::member(
            &mut rng,
        )))
        .unwrap()
    };
    let check = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("keycheck")
        })
        .expect("a key-check file");
    for damage in [
        "",
        "garbage\n",
        "fieldnote-store-format 1 (sqlcipher 4, page 2048)\nzz\n",
    ] {
        std::fs::write(&check, damage).unwrap();
        assert!(matches!(
            Store::open(dir.path(), StoreKey::generate()),
            Err(Error::WrongKey | Error::UnsupportedFormat { .. })
        ));
        let s = Store::open(dir.path(), key.clone()).unwrap();
        assert!(s.get(id).is_ok(), "{damage:?}");
        drop(s);
        assert!(
            matches!(
                Store::open(dir.path(), StoreKey::generate()),
                Err(Error::WrongKey)
            ),
            "rewritten: a wrong key is told apart again"
        );
    }
}

/// Control characters (terminal escapes, bells) are refused wherever text is kept (line
/// breaks and tabs stay allowed in narratives), dates of birth before 1900 are refused, and
/// a finalization's name is checked like a plan signature's: required, at most 200
/// characters, no control characters. Nothing refused is stored.
#[test]
fn control_characters_impossible_births_and_bad_signer_names_are_refused() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let before = f.store.outbox_len().unwrap();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    let mut member = fieldnote_core::synthetic::member(&mut rng);
    member.given_name = "Ada\u{1b}[2J".into();
    let err = f
        .store
        .create(RecordBody::Member(member.clone()))
        .unwrap_err();
    assert_eq!(fields(&err), ["given_name"], "{err}");
    member.given_name = "Ada".into();
    member.date_of_birth = Day::parse("1800-01-01").unwrap();
    let err = f.store.create(RecordBody::Member(member)).unwrap_err();
    assert_eq!(fields(&err), ["date_of_birth"], "{err}");
    let err = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Csp,
            "Rang the bell\u{7}.",
        )))
        .unwrap_err();
    assert_eq!(fields(&err), ["narrative"], "{err}");
    assert_eq!(
        f.store.outbox_len().unwrap(),
        before,
        "nothing refused was stored"
    );
    // Line breaks and tabs belong in a narrative.
    let n = f
        .store
        .create(RecordBody::ContactNote(f.note(
            m,
            Program::Csp,
            "First line.\n\tSecond line.",
        )))
        .unwrap();
    for (name, why) in [
        ("", "is required"),
        (&"x".repeat(70_000)[..], "at most 200"),
        ("Worker\u{1b}[31m", "control characters"),
    ] {
        let signer = Signer {
            name: name.to_string(),
            ..f.worker_signer()
        };
        let err = f.store.finalize_note(n, signer).unwrap_err();
        assert!(err.to_string().contains(why), "{name:?}: {err}");
    }
    assert!(!f.store.get(n).unwrap().is_finalized());
}

/// Issue 18, findings 9 and 11: a note or plan under a program the member is not enrolled
/// in, a note dated before the member was born, and a second member with a MassHealth ID
/// already on the device are refused, each naming its field; IDs are stored trimmed.
#[test]
fn records_must_fit_the_member_they_concern() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    // Not enrolled in TM: neither a TM note nor a TM plan.
    let tm_note = f.note(m, Program::Tm, "Outreach call");
    let err = f
        .store
        .create(RecordBody::ContactNote(tm_note))
        .unwrap_err();
    assert_eq!(fields(&err), vec!["program"], "{err}");
    let tm_plan = synthetic::service_plan(m, Program::Tm, f.worker);
    let err = f.store.create(RecordBody::Plan(tm_plan)).unwrap_err();
    assert_eq!(fields(&err), vec!["program"], "{err}");
    // Moving a CSP note to TM is refused the same way.
    let n = f
        .store
        .create(RecordBody::ContactNote(f.note(m, Program::Csp, "Visit")))
        .unwrap();
    let err = f
        .store
        .update(n, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.program = Program::Tm;
            }
        })
        .unwrap_err();
    assert_eq!(fields(&err), vec!["program"], "{err}");

    // A note dated before the member was born.
    let born = match f.store.get(m).unwrap().body {
        RecordBody::Member(member) => member.date_of_birth,
        _ => unreachable!(),
    };
    let mut early = f.note(m, Program::Csp, "Too early");
    early.started_at =
        Timestamp::parse(&format!("{}T12:00:00Z", born.0 - chrono::Days::new(2))).unwrap();
    let err = f.store.create(RecordBody::ContactNote(early)).unwrap_err();
    assert!(fields(&err).contains(&"started_at".to_string()), "{err}");

    // MassHealth IDs: trimmed, and one member per ID.
    let mut member = synthetic::member(&mut rng());
    member.masshealth_id = "  100999888777 ".into();
    let first = f.store.create(RecordBody::Member(member.clone())).unwrap();
    let RecordBody::Member(stored) = f.store.get(first).unwrap().body else {
        unreachable!()
    };
    assert_eq!(stored.masshealth_id, "100999888777");
    member.given_name = "Other".into();
    let err = f
        .store
        .create(RecordBody::Member(member.clone()))
        .unwrap_err();
    assert_eq!(fields(&err), vec!["masshealth_id"], "{err}");
    assert!(err.to_string().contains(&first.to_string()), "{err}");
    // Editing the member itself is not a duplicate of itself.
    f.store
        .update(first, |b| {
            if let RecordBody::Member(m) = b {
                m.given_name = "Renamed".into();
            }
        })
        .unwrap();
    // Nor may a batch hold the same ID twice.
    member.masshealth_id = "100999888666".into();
    let err = f
        .store
        .create_batch(vec![
            RecordBody::Member(member.clone()),
            RecordBody::Member(member),
        ])
        .unwrap_err();
    assert_eq!(fields(&err), vec!["masshealth_id"], "{err}");
}

/// The command layer stores exactly what was entered (issue: `plan create` filled a real
/// plan with demo text and marked CSP-JI plans conflict-checked; `member add` gave the
/// member a random team): the member and enrollment carry the request's fields and the
/// signed-in user's team, in one batch; the plan holds the entered problems, strengths,
/// summary and goals and is conflict-checked only when the worker says so.
#[test]
fn commands_store_exactly_what_was_entered() {
    use fieldnote_core::commands::{NewGoal, NewMember, NewPlan};
    let mut f = Fixture::new();
    let new = NewMember {
        given_name: "Rowan".into(),
        family_name: "Quillfeather".into(),
        date_of_birth: Day::parse("1988-04-05").unwrap(),
        masshealth_id: unique_masshealth_id(),
        primary_language: "Portuguese".into(),
        program: Program::CspJi,
        referred_at: Some(Timestamp::parse("2026-10-01T09:00:00-04:00").unwrap()),
        referral_source: ReferralSource::Probation,
        referral_reason: Some("Released last week".into()),
        referral_facility: None,
    };
    let added = f.store.add_member(new.clone(), f.worker).unwrap();
    let RecordBody::Member(m) = f.store.get(added.member_id).unwrap().body else {
        panic!("a member")
    };
    assert_eq!(
        (
            m.given_name.as_str(),
            m.family_name.as_str(),
            m.primary_language.as_str()
        ),
        ("Rowan", "Quillfeather", "Portuguese")
    );
    assert_eq!(
        (m.date_of_birth, m.masshealth_id),
        (new.date_of_birth, new.masshealth_id)
    );
    let RecordBody::Enrollment(e) = f.store.get(added.enrollment_id).unwrap().body else {
        panic!("an enrollment")
    };
    assert_eq!(e.member_id, added.member_id);
    assert_eq!(
        e.team_id, f.team,
        "the signed-in user's team, not a random one"
    );
    assert_eq!(e.assigned_worker, f.worker);
    assert_eq!(e.referral.source, ReferralSource::Probation);
    assert_eq!(e.referral.received_at, new.referred_at.unwrap());
    assert_eq!(e.referral.reason.as_deref(), Some("Released last week"));

    let plan = NewPlan {
        member_id: added.member_id,
        program: Program::CspJi,
        problems_and_needs: "Needs an ID card and a bed".into(),
        strengths: "Keeps appointments".into(),
        summary: "Housing first".into(),
        goals: vec![NewGoal {
            statement: "Get a state ID".into(),
            addresses_criminogenic: vec![CriminogenicFactor::EducationEmployment],
        }],
        supervision_conflict_checked: false,
        youth_signs: false,
        kind: None,
    };
    let id = f.store.create_plan(plan, f.worker).unwrap();
    let RecordBody::Plan(p) = f.store.get(id).unwrap().body else {
        panic!("a plan")
    };
    assert_eq!(p.problems_and_needs.as_str(), "Needs an ID card and a bed");
    assert_eq!(p.strengths.as_str(), "Keeps appointments");
    assert_eq!(p.summary.as_str(), "Housing first");
    assert_eq!(p.goals.len(), 1);
    assert_eq!(p.goals[0].statement.as_str(), "Get a state ID");
    assert_eq!(
        p.goals[0].addresses_criminogenic,
        [CriminogenicFactor::EducationEmployment]
    );
    assert!(
        p.goals[0].objectives.is_empty() && p.goals[0].tasks.is_empty(),
        "nothing invented"
    );
    assert!(!p.supervision_conflict_checked, "never assumed");
    assert_eq!(p.kind, PlanKind::ServicePlan);

    // Every bad field of member and enrollment at once; nothing stored.
    let before = f.store.caseload().unwrap().len();
    let bad = NewMember {
        given_name: "".into(),
        date_of_birth: Day::parse("1800-01-01").unwrap(),
        masshealth_id: "x".into(),
        ..new
    };
    let err = f.store.add_member(bad, f.worker).unwrap_err();
    let named = fields(&err);
    assert!(named.len() >= 3, "{named:?}");
    assert_eq!(f.store.caseload().unwrap().len(), before);
}

/// The command layer's significant change and override: a change lands on the member's
/// enrollment in the program named, refused by field when its description is empty, it
/// lies in the future or the member is not in that program; an override is granted only
/// by a signed-in supervisor or director, in their name, with a last day exactly when it
/// is an extension, and a reason.
#[test]
fn significant_changes_and_overrides_are_commands_with_their_checks() {
    use fieldnote_core::commands::{NewOverride, NewSignificantChange};
    let mut f = Fixture::signed_in_as(fieldnote_protocol::ServerRole::Supervisor);
    let m = f.member(Program::Csp);
    let enrollment = f
        .store
        .record_significant_change(NewSignificantChange {
            member_id: m,
            program: Program::Csp,
            at: None,
            description: "Lost housing".into(),
        })
        .unwrap();
    let RecordBody::Enrollment(e) = f.store.get(enrollment).unwrap().body else {
        panic!("an enrollment")
    };
    assert_eq!(e.significant_changes.len(), 1);
    assert_eq!(e.significant_changes[0].description, "Lost housing");
    let err = f
        .store
        .record_significant_change(NewSignificantChange {
            member_id: m,
            program: Program::Csp,
            at: Some(Timestamp::from_millis(
                Timestamp::now().millis() + 86_400_000,
            )),
            description: " ".into(),
        })
        .unwrap_err();
    assert_eq!(fields(&err), ["description", "at"]);
    let err = f
        .store
        .record_significant_change(NewSignificantChange {
            member_id: m,
            program: Program::Tm,
            at: None,
            description: "x".into(),
        })
        .unwrap_err();
    assert_eq!(fields(&err), ["program"]);

    let waiver = |kind, until, reason: &str| NewOverride {
        member_id: m,
        program: Program::Csp,
        rule_id: "csp-11".into(),
        kind,
        until,
        reason: reason.into(),
    };
    let err = f
        .store
        .grant_override(waiver(OverrideKind::Waiver, Day::parse("2027-01-01"), ""))
        .unwrap_err();
    assert_eq!(fields(&err), ["until", "reason"]);
    let id = f
        .store
        .grant_override(waiver(OverrideKind::Waiver, None, "member declines"))
        .unwrap();
    let RecordBody::Override(o) = f.store.get(id).unwrap().body else {
        panic!("an override")
    };
    assert_eq!((o.rule_id.as_str(), o.by), ("CSP-11", f.worker));
    let err = f
        .store
        .grant_override(waiver(
            OverrideKind::Extension,
            Day::parse("2027-01-01"),
            "later",
        ))
        .unwrap_err();
    assert_eq!(fields(&err), ["rule_id"], "CSP-11 takes no extension");

    let mut worker = Fixture::new();
    let m = worker.member(Program::Csp);
    let err = worker
        .store
        .grant_override(NewOverride {
            member_id: m,
            ..waiver(OverrideKind::Waiver, None, "member declines")
        })
        .unwrap_err();
    assert_eq!(fields(&err), ["by"]);
}

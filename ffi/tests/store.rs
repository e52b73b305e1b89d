//! The FFI object from Rust: the unlock gate and its lockout across restarts, the idle lock,
//! the key leaving on lock, panics caught at the boundary, and bad input refused by field.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use fieldnote_ffi::{
    FieldnoteError, FieldnoteStore, Program, ReferralSource, StoreConfig, default_store_config,
    diagnostic_panic,
};

fn key(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

fn open(dir: &std::path::Path, config: StoreConfig) -> Arc<FieldnoteStore> {
    FieldnoteStore::new(dir.to_string_lossy().into_owned(), config).unwrap()
}

#[test]
fn lockout_counts_durably_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        pin_attempts: 2,
        first_lockout_secs: 600,
        ..default_store_config()
    };
    let store = open(dir.path(), config);
    store.unlock(key(1), None).unwrap();
    store.set_unlock_pin(Some("123456".into())).unwrap();
    store.lock();
    assert!(store.is_locked());

    // The PIN is required, then counted.
    assert!(matches!(
        store.unlock(key(1), None),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "pin"
    ));
    assert_eq!(
        store.unlock(key(1), Some("000000".into())),
        Err(FieldnoteError::PinRejected {
            reason: "the PIN is wrong".into(),
            attempts_left: 1
        })
    );
    assert!(matches!(
        store.unlock(key(1), Some("000000".into())),
        Err(FieldnoteError::LockedOut {
            retry_after_secs: 600,
            ..
        })
    ));
    drop(store);

    // A new process: still locked out, even with the right PIN and key.
    let restarted = open(dir.path(), config);
    assert!(matches!(
        restarted.unlock(key(1), Some("123456".into())),
        Err(FieldnoteError::LockedOut { retry_after_secs, .. }) if retry_after_secs > 590
    ));
    assert!(restarted.is_locked());
}

#[test]
fn the_right_pin_resets_the_count_and_a_wrong_key_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_store_config());
    store.unlock(key(2), None).unwrap();
    store.set_unlock_pin(Some("2468".into())).unwrap();
    store.lock();
    for _ in 0..4 {
        assert!(matches!(
            store.unlock(key(2), Some("1111".into())),
            Err(FieldnoteError::PinRejected { .. })
        ));
    }
    store.unlock(key(2), Some("2468".into())).unwrap();
    store.lock();
    // The count restarted: four more wrong PINs are still only rejections.
    for left in (1..=4).rev() {
        assert!(matches!(
            store.unlock(key(2), Some("1111".into())),
            Err(FieldnoteError::PinRejected { attempts_left, .. }) if attempts_left == left
        ));
    }
    assert!(matches!(
        store.unlock(key(3), Some("2468".into())),
        Err(FieldnoteError::WrongKey { .. })
    ));
    store.unlock(key(2), Some("2468".into())).unwrap();
    assert!(!store.is_locked());
}

#[test]
fn idle_timeout_locks_and_calls_then_refuse_with_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        StoreConfig {
            idle_lock_secs: 1,
            ..default_store_config()
        },
    );
    store.unlock(key(4), None).unwrap();
    assert!(store.caseload().unwrap().is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    assert!(matches!(
        store.caseload(),
        Err(FieldnoteError::Locked { .. })
    ));
    store.unlock(key(4), None).unwrap();
    assert!(store.caseload().is_ok());
}

#[test]
fn bad_input_is_refused_by_field_and_panics_become_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_store_config());
    assert!(matches!(
        store.unlock(vec![0; 31], None),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "key"
    ));
    assert!(matches!(
        store.caseload(),
        Err(FieldnoteError::Locked { .. })
    ));
    store.unlock(key(5), None).unwrap();
    assert!(matches!(
        store.timeline("42".into()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "member_id"
    ));
    assert!(matches!(
        store.today(Some(-5)),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "now_ms"
    ));
    assert!(matches!(
        store.create_record("{\"kind\": \"spaceship\"}".into()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "json"
    ));
    // Writing needs the identity a sign-in brings.
    assert!(matches!(
        store.create_service_plan(fieldnote_ffi::NewPlan {
            member_id: "0190a000-0000-7000-8000-000000000000".into(),
            program: Program::Csp,
            problems_and_needs: String::new(),
            strengths: String::new(),
            summary: "s".into(),
            goals: vec!["g".into()],
            supervision_conflict_checked: false,
            youth_signs: false,
            kind: None,
        }),
        Err(FieldnoteError::SignInRequired { .. })
    ));
    assert!(matches!(
        diagnostic_panic(),
        Err(FieldnoteError::Internal { reason }) if reason.contains("diagnostic panic")
    ));
    // The store still works after a panic.
    assert!(store.caseload().is_ok());
    assert!(matches!(
        FieldnoteStore::new(" ".into(), default_store_config()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "dir"
    ));
}

#[test]
fn distress_works_with_the_records_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_store_config());
    // Nothing opened yet: refused, typed.
    assert!(matches!(
        store.raise_alarm(fieldnote_ffi::DistressKind::Panic, None),
        Err(FieldnoteError::Locked { .. })
    ));
    store.open_safety(key(6)).unwrap();
    assert!(store.is_locked());
    let id = store
        .raise_alarm(fieldnote_ffi::DistressKind::Panic, None)
        .unwrap();
    assert_eq!(
        store.alarm(id.clone()).unwrap().status,
        fieldnote_ffi::AlarmProgress::Pending
    );
    // The alarm is durable: a new process finds it.
    drop(store);
    let again = open(dir.path(), default_store_config());
    again.unlock(key(6), None).unwrap();
    again.lock();
    assert_eq!(
        again.alarm(id).unwrap().status,
        fieldnote_ffi::AlarmProgress::Pending
    );
    assert_eq!(again.visible_alarms().unwrap().len(), 1);
}

#[test]
fn any_record_kind_travels_as_json_and_is_validated_by_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), default_store_config());
    store.unlock(key(7), None).unwrap();
    let member = store
        .create_record(
            r#"{"kind": "member", "body": {"given_name": "Test", "family_name": "Member",
                "preferred_name": null, "date_of_birth": "1991-02-03",
                "primary_language": "English", "masshealth_id": "100200300401",
                "pcp": null, "guardian": null, "phone": null, "location": null}}"#
                .into(),
        )
        .unwrap();
    let consent = |scope: &str| {
        format!(
            r#"{{"kind": "consent", "body": {{"member_id": "{member}", "program": "csp",
                "recipient": {{"name": "Housing Authority", "organization": null,
                               "phone": null, "email": null}},
                "scope": "{scope}", "purpose": "housing application",
                "substance_use_part2": false, "refused": false, "signed_by": "Test Member",
                "signed_at": "2026-11-02T15:00:00Z", "expires_on": "2027-11-02",
                "revoked_at": null, "recorded_by": "0190a000-0000-7000-8000-000000000001"}}}}"#
        )
    };
    let id = store.create_record(consent("contact details")).unwrap();
    assert!(
        store
            .record_json(id.clone())
            .unwrap()
            .contains("contact details")
    );
    store
        .update_record(id.clone(), consent("contact details and income"))
        .unwrap();
    assert!(
        store
            .record_json(id.clone())
            .unwrap()
            .contains("contact details and income")
    );
    // The core's validation names the field; nothing changes.
    let oversized = consent(&"x".repeat(20_000));
    assert!(matches!(
        store.update_record(id.clone(), oversized),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "scope"
    ));
    // A record cannot change kind.
    assert!(matches!(
        store.update_record(id.clone(), consent("x").replace("\"consent\"", "\"incident\"")),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "json" || problems[0].field == "kind"
    ));
    assert!(
        store
            .record_json(id)
            .unwrap()
            .contains("contact details and income")
    );
    assert!(matches!(
        store.record_json("0190a000-0000-7000-8000-00000000dead".into()),
        Err(FieldnoteError::NotFound { .. })
    ));
}

/// A lost outbox reaches the shell: after the outbox file is deleted, unlocking queues the
/// records again and `repairs` says so, in a sentence the shell shows.
#[test]
fn a_lost_outbox_is_reported_to_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    // Records written by the core on this store (the phone's own writes, without a server).
    {
        use fieldnote_core::model::RecordBody;
        use rand::SeedableRng;
        let mut core =
            fieldnote_core::Store::open(dir.path(), fieldnote_core::StoreKey::from_bytes([3; 32]))
                .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        core.create(RecordBody::Member(fieldnote_core::synthetic::member(
            &mut rng,
        )))
        .unwrap();
        core.create(RecordBody::Member(fieldnote_core::synthetic::member(
            &mut rng,
        )))
        .unwrap();
    }
    let store = open(dir.path(), default_store_config());
    store.unlock(key(3), None).unwrap();
    let clean = store.repairs().unwrap();
    assert!(clean.messages.is_empty() && clean.records_requeued.is_none());
    let waiting = store.sync_status().unwrap().pending;
    assert!(waiting >= 2);
    store.lock();
    std::fs::remove_file(dir.path().join("outbox.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("outbox.db-wal"));
    store.unlock(key(3), None).unwrap();
    let r = store.repairs().unwrap();
    assert_eq!(r.records_requeued, Some(2), "{r:?}");
    assert!(
        r.messages.iter().any(|m| m.contains("queued again")),
        "{r:?}"
    );
    assert!(store.sync_status().unwrap().pending >= waiting);
}

/// Issue 20 through the shells' door: a significant change and a waiver are typed calls
/// that reach the core's commands; a waiver from a worker, or of a rule that takes none,
/// is refused naming the field.
#[test]
fn significant_changes_and_waivers_go_through_the_core_commands() {
    let open_as = |role: fieldnote_protocol::ServerRole| {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut core = fieldnote_core::Store::open(
                dir.path(),
                fieldnote_core::StoreKey::from_bytes([5; 32]),
            )
            .unwrap();
            core.set_identity(&fieldnote_protocol::Identity {
                user_id: "user.one".into(),
                staff_id: "00000000-0000-4000-8000-000000000051".into(),
                display_name: "S. Tester".into(),
                role,
                team_id: "00000000-0000-4000-8000-000000000052".into(),
            })
            .unwrap();
        }
        let store = open(dir.path(), default_store_config());
        store.unlock(key(5), None).unwrap();
        let member = store
            .add_member(fieldnote_ffi::NewMember {
                given_name: "Arlo".into(),
                family_name: "Testvale".into(),
                date_of_birth: "1990-02-03".into(),
                masshealth_id: "100200300411".into(),
                primary_language: "English".into(),
                program: Program::CspJi,
                referred_at_ms: None,
                referral_source: ReferralSource::Probation,
                referral_reason: None,
                referral_facility: None,
            })
            .unwrap();
        (dir, store, member)
    };
    let (_d, sup, member) = open_as(fieldnote_protocol::ServerRole::Supervisor);
    let enrollment = sup
        .record_significant_change(member.clone(), Program::CspJi, "Lost housing".into(), None)
        .unwrap();
    assert!(
        sup.record_json(enrollment)
            .unwrap()
            .contains("Lost housing")
    );
    sup.grant_waiver(
        member.clone(),
        Program::CspJi,
        "JI-6".into(),
        "declines".into(),
    )
    .unwrap();
    assert!(matches!(
        sup.grant_waiver(member.clone(), Program::CspJi, "JI-1".into(), "no".into()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "rule_id"
    ));
    assert!(matches!(
        sup.grant_extension(member, Program::CspJi, "JI-2".into(), "someday".into(), "x".into()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "until"
    ));
    let (_d, worker, member) = open_as(fieldnote_protocol::ServerRole::Worker);
    assert!(matches!(
        worker.grant_waiver(member, Program::CspJi, "JI-6".into(), "declines".into()),
        Err(FieldnoteError::Invalid { problems, .. }) if problems[0].field == "by"
    ));
}

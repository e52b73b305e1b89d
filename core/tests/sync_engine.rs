//! The device's half of sync, without a network: what a request carries and in which
//! order, and what applying responses does to the store (acknowledgements, rejections,
//! purges, duplicates).
#![allow(clippy::unwrap_used)]

use fieldnote_core::model::*;
use fieldnote_core::store::{RecordSyncState, Store, StoreKey};
use fieldnote_core::synthetic;
use fieldnote_protocol as proto;
use rand::SeedableRng;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreKey::generate()).unwrap();
    (dir, s)
}

fn member_and_note(s: &mut Store) -> (RecordId, RecordId) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let m = s
        .create(RecordBody::Member(synthetic::member(&mut rng)))
        .unwrap();
    s.create(RecordBody::Enrollment(synthetic::enrollment(
        m,
        Program::Csp,
        new_id(),
        new_id(),
        Timestamp::now(),
    )))
    .unwrap();
    let note = synthetic::note(&mut rng, m, Program::Csp, new_id(), Timestamp::now(), 20);
    let n = s.create(RecordBody::ContactNote(note)).unwrap();
    (m, n)
}

fn accept_all(req: &proto::SyncRequest) -> proto::SyncResponse {
    proto::SyncResponse {
        cursor: proto::Cursor { feed: 5, grant: 1 },
        acks: req
            .upload
            .iter()
            .map(|u| proto::Ack {
                entry: u.entry,
                record_id: u.item.record_id.clone(),
                outcome: proto::Outcome::Accepted,
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn safety_records_are_sent_first() {
    let (_d, mut s) = store();
    let (m, n) = member_and_note(&mut s);
    let incident = s
        .create(RecordBody::Incident(Incident {
            member_id: Some(m),
            program: Program::CspJi,
            occurred_at: Timestamp::now(),
            location: "Parking lot".into(),
            category: IncidentCategory::Other,
            description: "Worker felt threatened during a visit.".into(),
            actions_taken: "Left the visit and called the supervisor.".into(),
            reported_to_plan_at: None,
            reported_to_masshealth_at: None,
            alarm_id: None,
            reporter: new_id(),
        }))
        .unwrap();
    let req = s.prepare_sync().unwrap().request;
    let order: Vec<String> = req
        .upload
        .iter()
        .map(|u| u.item.record_id.clone())
        .collect();
    // The incident, written last, goes before the note; its member and the member's
    // enrollment go before it, so that the server knows whose caseload the incident is on
    // and which programs the member's notes may be under.
    assert_eq!(
        [&order[0], &order[2], &order[3]],
        [&m.to_string(), &incident.to_string(), &n.to_string()],
        "the member and enrollment, then the incident written last, then the note"
    );
    assert_eq!(s.record_sync_state(n).unwrap(), RecordSyncState::Pending);
}

#[test]
fn acknowledged_entries_leave_the_outbox_and_duplicates_are_harmless() {
    let (_d, mut s) = store();
    let (_, n) = member_and_note(&mut s);
    let req = s.prepare_sync().unwrap().request;
    assert_eq!(
        req.upload.len(),
        3,
        "the member, the enrollment and the note"
    );
    let resp = accept_all(&req);
    let applied = s.apply_sync(&resp).unwrap();
    assert_eq!(applied.accepted, 3);
    assert_eq!(s.outbox_len().unwrap(), 0);
    assert_eq!(s.record_sync_state(n).unwrap(), RecordSyncState::Synced);
    // The same response again (a duplicate delivery) changes nothing.
    s.apply_sync(&resp).unwrap();
    assert_eq!(s.outbox_len().unwrap(), 0);
    assert_eq!(s.prepare_sync().unwrap().request.cursor, resp.cursor);
    assert!(s.sync_status().unwrap().last_synced_at.is_some());
}

#[test]
fn a_rejected_edit_is_kept_as_a_draft_and_the_record_takes_the_server_state() {
    let (_d, mut s) = store();
    let (_, n) = member_and_note(&mut s);
    let server_state = s.document_bytes(n).unwrap();
    let first = s.prepare_sync().unwrap().request;
    s.apply_sync(&accept_all(&first)).unwrap();
    s.update(n, |b| {
        if let RecordBody::ContactNote(c) = b {
            c.narrative = "An edit the server will refuse.".into();
        }
    })
    .unwrap();
    let req = s.prepare_sync().unwrap().request;
    let up = &req.upload[0];
    let resp = proto::SyncResponse {
        cursor: proto::Cursor { feed: 9, grant: 1 },
        acks: vec![proto::Ack {
            entry: up.entry,
            record_id: up.item.record_id.clone(),
            outcome: proto::Outcome::Rejected {
                reason: "this note is finalized".into(),
                server_state: Some(server_state),
                server_attestations: vec![],
            },
        }],
        ..Default::default()
    };
    let applied = s.apply_sync(&resp).unwrap();
    assert_eq!(applied.rejected, 1);
    let RecordBody::ContactNote(c) = s.get(n).unwrap().body else {
        panic!("a note")
    };
    assert_ne!(c.narrative, "An edit the server will refuse.");
    let drafts = s.rejected_drafts().unwrap();
    assert_eq!(drafts.len(), 1);
    assert!(
        drafts[0]
            .content
            .contains("An edit the server will refuse.")
    );
    assert_eq!(
        s.record_sync_state(n).unwrap(),
        RecordSyncState::Rejected {
            reason: "this note is finalized".into()
        }
    );
    assert_eq!(
        s.search("refuse", 5).unwrap().len(),
        0,
        "search follows the server state"
    );
    assert_eq!(s.outbox_len().unwrap(), 0);
}

#[test]
fn purging_a_member_keeps_unsent_edits() {
    let (_d, mut s) = store();
    let (m, n) = member_and_note(&mut s);
    let resp = proto::SyncResponse {
        purge: vec![m.to_string()],
        ..Default::default()
    };
    let applied = s.apply_sync(&resp).unwrap();
    assert_eq!(applied.purged, 3);
    assert!(s.caseload().unwrap().is_empty());
    assert!(s.get(n).is_err());
    assert_eq!(s.outbox_len().unwrap(), 0);
    let drafts = s.rejected_drafts().unwrap();
    assert_eq!(drafts.len(), 3, "every unsent record is kept");
    assert!(
        drafts
            .iter()
            .all(|d| d.reason.contains("no longer on your caseload"))
    );
}

#[test]
fn a_signed_in_device_refuses_what_the_server_would() {
    let (_d, mut s) = store();
    let staff = new_id();
    s.set_identity(&proto::Identity {
        user_id: "u1".into(),
        staff_id: staff.to_string(),
        display_name: "Worker".into(),
        role: proto::ServerRole::Worker,
        team_id: new_id().to_string(),
    })
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let m = s
        .create(RecordBody::Member(synthetic::member(&mut rng)))
        .unwrap();
    s.create(RecordBody::Enrollment(synthetic::enrollment(
        m,
        Program::Csp,
        staff,
        new_id(),
        Timestamp::now(),
    )))
    .unwrap();
    let someone_else = synthetic::note(&mut rng, m, Program::Csp, new_id(), Timestamp::now(), 10);
    let err = s.create(RecordBody::ContactNote(someone_else)).unwrap_err();
    assert!(err.to_string().contains("author"), "{err}");
    let mine = synthetic::note(&mut rng, m, Program::Csp, staff, Timestamp::now(), 10);
    assert!(s.create(RecordBody::ContactNote(mine)).is_ok());
    // Another user cannot take over this store without wiping it.
    let err = s
        .set_identity(&proto::Identity {
            user_id: "u2".into(),
            staff_id: new_id().to_string(),
            display_name: "Other".into(),
            role: proto::ServerRole::Worker,
            team_id: String::new(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("another user"), "{err}");
}

fn damage(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    for b in bytes.iter_mut().take(4096) {
        *b ^= 0x5a;
    }
    std::fs::write(path, &bytes).unwrap();
    for side in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        let _ = std::fs::remove_file(std::path::PathBuf::from(p));
    }
}

fn uploaded_ids(s: &mut Store) -> std::collections::BTreeSet<String> {
    s.prepare_sync()
        .unwrap()
        .request
        .upload
        .iter()
        .map(|u| u.item.record_id.clone())
        .collect()
}

/// A damaged outbox, or one found empty (deleted, replaced), never drops unsent work: the
/// records written since the outbox was last emptied are queued again from the main
/// database, signatures included, and the open report says so in words for the person.
#[test]
fn a_lost_outbox_requeues_unsent_work() {
    for how in ["damaged", "deleted"] {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::generate();
        let (m, n) = {
            let mut s = Store::open(dir.path(), key.clone()).unwrap();
            let (m, n) = member_and_note(&mut s);
            s.finalize_note(
                n,
                fieldnote_core::Signer::staff(new_id(), "Worker", Role::Worker),
            )
            .ok();
            assert!(s.sync_status().unwrap().pending >= 2);
            (m, n)
        };
        let outbox = dir.path().join("outbox.db");
        match how {
            "damaged" => damage(&outbox),
            _ => {
                std::fs::remove_file(&outbox).unwrap();
                let _ = std::fs::remove_file(dir.path().join("outbox.db-wal"));
            }
        }
        let mut s = Store::open(dir.path(), key.clone()).unwrap();
        let report = s.open_report().clone();
        assert_eq!(
            report.outbox_quarantined.is_some(),
            how == "damaged",
            "{how}"
        );
        // The member, their enrollment and the note.
        assert_eq!(report.outbox_requeued, Some(3), "{how}: {report:?}");
        let notices = report.notices();
        assert!(
            notices.iter().any(|n| n.contains("queued again")),
            "{how}: {notices:?}"
        );
        assert!(s.sync_status().unwrap().pending >= 2, "{how}");
        let ids = uploaded_ids(&mut s);
        assert!(
            ids.contains(&m.to_string()) && ids.contains(&n.to_string()),
            "{how}"
        );
        // Work written after the repair is not taken for work already applied: it survives
        // the loss of the main database too (rebuilt from the outbox).
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let later = synthetic::note(&mut rng, m, Program::Csp, new_id(), Timestamp::now(), 10);
        let later = s.create(RecordBody::ContactNote(later)).unwrap();
        drop(s);
        let s = Store::open(dir.path(), key.clone()).unwrap();
        assert_eq!(s.open_report().outbox_requeued, None, "repaired once");
        drop(s);
        damage(&dir.path().join("fieldnote.db"));
        let s = Store::open(dir.path(), key).unwrap();
        assert!(s.open_report().quarantined.is_some());
        assert!(
            s.get(later).is_ok(),
            "{how}: the note written after the repair survives"
        );
        assert!(s.get(n).is_ok(), "{how}: the first note survives");
    }
}

/// After a sync that left nothing waiting, only what was written since is queued again when
/// the outbox is lost (with a day's margin for a clock set back), and an untouched store
/// reports nothing.
#[test]
fn an_intact_outbox_reports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    {
        let mut s = Store::open(dir.path(), key.clone()).unwrap();
        member_and_note(&mut s);
        let req = s.prepare_sync().unwrap().request;
        s.apply_sync(&accept_all(&req)).unwrap();
        assert_eq!(s.sync_status().unwrap().pending, 0);
    }
    let s = Store::open(dir.path(), key).unwrap();
    assert_eq!(s.open_report().outbox_requeued, None);
    assert!(s.open_report().notices().is_empty());
}

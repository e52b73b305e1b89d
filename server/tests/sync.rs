//! The sync integration suite, run against embedded SQLite and against a real PostgreSQL:
//! devices sign in, write offline, sync; caseload scoping, validation and rejection,
//! reassignment, revocation, bad input. Every device is a real encrypted store; the server
//! is real, on loopback.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, Device, TestServer, raw, raw_post, upload_one};
use fieldnote_core::model::*;
use fieldnote_core::store::RecordSyncState;
use fieldnote_core::{Attestation, AttestationKind, Signer};
use fieldnote_protocol::{self as proto, ServerRole};

struct Agency {
    server: TestServer,
    north: String,
    south: String,
}

fn agency(backend: Backend) -> Agency {
    let server = TestServer::start(backend);
    let north = server.add_team("North");
    let south = server.add_team("South");
    server.add_user("sup.north", ServerRole::Supervisor, Some(&north));
    server.add_user("w1.north", ServerRole::Worker, Some(&north));
    server.add_user("w2.north", ServerRole::Worker, Some(&north));
    server.add_user("sup.south", ServerRole::Supervisor, Some(&south));
    server.add_user("w1.south", ServerRole::Worker, Some(&south));
    server.add_user("director", ServerRole::ProgramDirector, Some(&north));
    Agency {
        server,
        north,
        south,
    }
}

/// A worker's records reach their supervisor and director, and nobody else.
fn caseload_scoping(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(1);
    let n = w1.write_note(m, "Met at the library to review the housing application.");
    let r = w1.sync();
    assert_eq!(r.progress.sent, 3);
    assert_eq!(
        w1.store.record_sync_state(n).unwrap(),
        RecordSyncState::Synced
    );

    let mut sup = a.server.device("sup.north");
    sup.sync();
    assert_eq!(sup.members(), vec![m]);
    assert_eq!(
        sup.store.get(n).unwrap().body,
        w1.store.get(n).unwrap().body
    );
    let mut dir = a.server.device("director");
    dir.sync();
    assert_eq!(dir.members(), vec![m]);

    for other in ["w2.north", "sup.south", "w1.south"] {
        let mut d = a.server.device(other);
        d.sync();
        assert!(d.members().is_empty(), "{other} received another caseload");
        assert!(d.store.search("housing", 10).unwrap().is_empty());
    }
    let _ = (a.north, a.south);
}

/// Edits flow both ways; concurrent edits merge; a second sync sends nothing new.
fn edits_flow_both_ways(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(2);
    let n = w1.write_note(m, "First visit.");
    w1.sync();
    let mut sup = a.server.device("sup.north");
    sup.sync();
    // Supervisor and worker edit different fields of the draft offline.
    sup.store
        .update(n, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.duration_minutes = 45;
            }
        })
        .unwrap();
    w1.store
        .update(n, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.narrative = "First visit; walked to the clinic.".into();
            }
        })
        .unwrap();
    w1.sync();
    sup.sync();
    w1.sync();
    let a_body = w1.store.get(n).unwrap().body;
    assert_eq!(a_body, sup.store.get(n).unwrap().body);
    let RecordBody::ContactNote(c) = a_body else {
        panic!()
    };
    assert_eq!(c.duration_minutes, 45);
    assert!(c.narrative.contains("clinic"));
    let again = w1.sync();
    assert_eq!(again.progress.sent + again.progress.received, 0);
}

/// A supervisor's edit of a note the worker finalized meanwhile is refused; the supervisor's
/// device takes the server's version and keeps its edit as a rejected draft.
fn edit_of_finalized_note_is_rejected(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(3);
    let n = w1.write_note(m, "Drafted after the court hearing.");
    w1.sync();
    let mut sup = a.server.device("sup.north");
    sup.sync();
    let staff = w1.staff_id;
    w1.store
        .finalize_note(n, Signer::staff(staff, "w1 north", Role::Worker))
        .unwrap();
    w1.sync();
    sup.store
        .update(n, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.narrative = "Changed by the supervisor.".into();
            }
        })
        .unwrap();
    let r = sup.sync();
    assert_eq!(r.progress.rejected, 1);
    let drafts = sup.store.rejected_drafts().unwrap();
    assert_eq!(drafts.len(), 1);
    assert!(
        drafts[0].reason.contains("finalized"),
        "{}",
        drafts[0].reason
    );
    assert!(drafts[0].content.contains("Changed by the supervisor."));
    let rec = sup.store.get(n).unwrap();
    assert!(rec.is_finalized());
    assert!(rec.finalized_content_intact());
    assert_eq!(rec.body, w1.store.get(n).unwrap().body);
    assert!(matches!(
        sup.store.record_sync_state(n).unwrap(),
        RecordSyncState::Rejected { .. }
    ));
}

/// A change the server already holds, sent again after the note was finalized (a phone killed
/// before it heard the answer), is a duplicate: acknowledged, never a rejected draft.
fn replayed_change_of_a_finalized_note_is_a_duplicate(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(31);
    let n = w1.write_note(m, "Saved once, sent twice.");
    let sent = w1.store.document_bytes(n).unwrap();
    w1.sync();
    w1.store
        .finalize_note(n, Signer::staff(w1.staff_id, "w1 north", Role::Worker))
        .unwrap();
    w1.sync();
    let writes = || {
        a.server
            .db
            .tx(|tx| {
                Ok(tx
                    .query(
                        "SELECT target FROM audit WHERE action = 'sync.write'",
                        fieldnote_server::params![],
                    )?
                    .into_iter()
                    .filter(|r| r[0].text().contains(&n.to_string()))
                    .count())
            })
            .unwrap()
    };
    let before = writes();
    let token = w1.access_token();
    let ack = upload_one(
        &a.server,
        &token,
        &n.to_string(),
        proto::ItemKind::Change,
        sent,
    );
    assert_eq!(ack["outcome"], "accepted", "{ack}");
    assert_eq!(
        writes(),
        before,
        "the resend wrote nothing and was not audited again"
    );
    assert!(w1.store.rejected_drafts().unwrap().is_empty());
}

/// Forged uploads that bypass the device's own checks are refused by the server: a worker
/// signing as supervisor, in someone else's name, or writing outside the caseload.
fn server_refuses_forgeries(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(4);
    let mut plan = fieldnote_core::synthetic::service_plan(m, Program::Csp, w1.staff_id);
    plan.status = PlanStatus::Completed;
    plan.completed_at = Some(Timestamp::now());
    let body = RecordBody::Plan(plan);
    let p = w1.store.create(body.clone()).unwrap();
    w1.sync();
    // The device itself refuses a supervisor signature from a worker.
    let err = w1
        .store
        .sign_plan(p, Signer::staff(w1.staff_id, "w1", Role::Supervisor))
        .unwrap_err();
    assert!(
        matches!(err, fieldnote_core::Error::SignatureRefused { .. }),
        "{err}"
    );
    // Forged directly on the wire: refused by the server.
    let token = w1.access_token();
    let forged = [
        Attestation::new(
            p,
            AttestationKind::Sign,
            Signer::staff(w1.staff_id, "w1", Role::Supervisor),
            Timestamp::now(),
            &body,
        ),
        Attestation::new(
            p,
            AttestationKind::Sign,
            Signer::staff(new_id(), "someone", Role::Worker),
            Timestamp::now(),
            &body,
        ),
        Attestation::new(
            p,
            AttestationKind::Sign,
            Signer::witnessed("member", Role::Member, new_id()),
            Timestamp::now(),
            &body,
        ),
    ];
    for (i, att) in forged.iter().enumerate() {
        let req = proto::SyncRequest {
            protocol: proto::PROTOCOL_VERSION,
            cursor: Default::default(),
            upload: vec![proto::Upload {
                entry: i as i64,
                item: proto::Item {
                    record_id: p.to_string(),
                    kind: proto::ItemKind::Attestation,
                    payload: serde_json::to_vec(att).unwrap(),
                },
            }],
        };
        let (status, resp) = raw_post(
            &a.server.url,
            "/v1/sync",
            Some(&token),
            &serde_json::to_string(&req).unwrap(),
        );
        assert_eq!(status, 200);
        assert_eq!(
            resp["acks"][0]["outcome"], "rejected",
            "forgery {i}: {resp}"
        );
    }
    // A worker of another team cannot write to this member's records.
    let mut w_south = a.server.device("w1.south");
    let note_doc = {
        let n = w1.write_note(m, "A note for the south team to steal.");
        w1.store.document_bytes(n).map(|b| (n, b)).unwrap()
    };
    let ack = upload_one(
        &a.server,
        &w_south.access_token(),
        &note_doc.0.to_string(),
        proto::ItemKind::Change,
        note_doc.1,
    );
    assert_eq!(ack["outcome"], "rejected", "{ack}");
    w_south.sync();
    assert!(w_south.members().is_empty());
}

/// A refused upload carries the server's copy of the record back only to someone who may
/// read it, and audits that read; everyone else (a worker or supervisor of another team, an
/// administrator) gets nothing of the record, and the same answer whether it exists or not.
fn refusals_reveal_nothing_outside_the_caseload(backend: Backend) {
    let a = agency(backend);
    a.server.add_user("root", ServerRole::Administrator, None);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(21);
    let n = w1.write_note(m, "Narrative only the north team may read.");
    w1.store
        .finalize_note(n, Signer::staff(w1.staff_id, "w1 north", Role::Worker))
        .unwrap();
    w1.sync();
    let note = w1.store.document_bytes(n).unwrap();
    let member = w1.store.document_bytes(m).unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    use proto::ItemKind::{Attestation as Att, Change};
    for who in ["w1.south", "sup.south", "root"] {
        let token = a.server.device(who).access_token();
        // (existing record, nonexistent record) with the same kind of payload: same answer.
        let pairs = [
            (n.to_string(), Change, note.clone()),
            (n.to_string(), Change, b"garbage".to_vec()),
            (n.to_string(), Att, b"x".to_vec()),
            (m.to_string(), Att, b"x".to_vec()),
        ];
        for (existing, kind, payload) in pairs {
            let there = upload_one(&a.server, &token, &existing, kind, payload.clone());
            let not_there = upload_one(&a.server, &token, &unknown, kind, payload);
            for ack in [&there, &not_there] {
                assert_eq!(ack["outcome"], "rejected", "{who}: {ack}");
                assert!(
                    ack.get("server_state").is_none(),
                    "{who} got the record: {ack}"
                );
                assert!(
                    ack.get("server_attestations").is_none(),
                    "{who} got signatures: {ack}"
                );
            }
            // The same words, but for the id each names.
            let words = |ack: &serde_json::Value, id: &str| {
                ack["reason"].as_str().unwrap().replace(id, "<id>")
            };
            assert_eq!(
                words(&there, &existing),
                words(&not_there, &unknown),
                "{who}: a refusal tells whether {existing} exists"
            );
        }
    }
    // The member's own document sent back under its id: refused, nothing returned (under a
    // new id it would simply be a new member of the sender's, as any upload is).
    for who in ["w1.south", "root"] {
        let token = a.server.device(who).access_token();
        let ack = upload_one(&a.server, &token, &m.to_string(), Change, member.clone());
        assert_eq!(ack["outcome"], "rejected", "{who}: {ack}");
        assert!(
            ack.get("server_state").is_none(),
            "{who} got the member: {ack}"
        );
    }
    // Nothing of the record's text travelled, and nothing was disclosed to audit.
    let disclosed = a
        .server
        .db
        .tx(|tx| {
            tx.query(
                "SELECT target FROM audit WHERE action = 'sync.refused_state'",
                fieldnote_server::params![],
            )
        })
        .unwrap();
    assert!(disclosed.is_empty());

    // Someone who may read it (the team's supervisor, editing a finalized note) gets the
    // server's copy back with the refusal, and that read is audited.
    let n2 = w1.write_note(m, "Finalized while the supervisor was offline.");
    w1.sync();
    let mut sup = a.server.device("sup.north");
    sup.sync();
    w1.store
        .finalize_note(n2, Signer::staff(w1.staff_id, "w1 north", Role::Worker))
        .unwrap();
    w1.sync();
    sup.store
        .update(n2, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.narrative = "Changed after it was finalized.".into();
            }
        })
        .unwrap();
    let edited = sup.store.document_bytes(n2).unwrap();
    let ack = upload_one(
        &a.server,
        &sup.access_token(),
        &n2.to_string(),
        Change,
        edited,
    );
    assert_eq!(ack["outcome"], "rejected", "{ack}");
    assert!(ack["server_state"].is_string(), "{ack}");
    let disclosed: Vec<String> = a
        .server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT target FROM audit WHERE action = 'sync.refused_state'",
                    fieldnote_server::params![],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect())
        })
        .unwrap();
    assert_eq!(disclosed, [n2.to_string()]);
}

/// A cursor past anything the server has given (forged, or damaged on the phone) is taken
/// as the feed's top: it is not stored, and the device hears of new work again.
fn an_impossible_cursor_is_taken_as_the_top(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(41);
    w1.sync();
    let sup = a.server.device("sup.north");
    let token = sup.access_token();
    let sync = |cursor: serde_json::Value| {
        let (status, resp) = raw_post(
            &a.server.url,
            "/v1/sync",
            Some(&token),
            &serde_json::json!({"protocol": proto::PROTOCOL_VERSION, "cursor": cursor,
                "upload": []})
            .to_string(),
        );
        assert_eq!(status, 200, "{resp}");
        resp
    };
    let first = sync(serde_json::json!({"feed": i64::MAX, "grant": i64::MAX}));
    let cursor = first["cursor"].clone();
    assert!(cursor["feed"].as_i64().unwrap() < 1_000_000, "{cursor}");
    assert!(cursor["grant"].as_i64().unwrap() < 1_000_000, "{cursor}");
    let n = w1.write_note(m, "Written after the forged cursor.");
    w1.sync();
    let next = sync(cursor);
    assert!(
        next["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["record_id"] == n.to_string().as_str()),
        "the new note reaches the device: {next}"
    );
}

/// Reassignment moves a member's records off the old worker's device and onto the new one;
/// unsent edits on the old device are kept as rejected drafts.
fn reassignment_moves_records(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let mut w2 = a.server.device("w2.north");
    let m = w1.add_member(5);
    let n = w1.write_note(m, "Before the move.");
    w1.sync();
    w2.sync();
    assert!(w2.members().is_empty());
    let sup = a.server.device("sup.north");
    let w2_user = w2.store.identity().unwrap().unwrap().user_id;
    let (status, body) = raw_post(
        &a.server.url,
        &format!("/v1/members/{m}/assign"),
        Some(&sup.access_token()),
        &serde_json::json!({ "worker_id": w2_user }).to_string(),
    );
    assert_eq!(status, 204, "{body}");
    w2.sync();
    assert_eq!(w2.members(), vec![m]);
    assert_eq!(w2.store.get(n).unwrap().body, w1.store.get(n).unwrap().body);
    // The old device edits the note before it hears of the move: refused, kept, not lost.
    w1.store
        .update(n, |b| {
            if let RecordBody::ContactNote(c) = b {
                c.narrative = "Written after the move.".into();
            }
        })
        .unwrap();
    let r = w1.sync();
    // The refusal carries nothing of a record the old worker may no longer read, so the
    // note leaves with the refusal and the member and enrollment with the purge.
    assert!(r.purged >= 2, "{r:?}");
    assert_eq!(r.progress.rejected, 1, "{r:?}");
    assert!(w1.members().is_empty());
    assert!(w1.store.get(n).is_err());
    let drafts = w1.store.rejected_drafts().unwrap();
    assert!(
        drafts
            .iter()
            .any(|d| d.content.contains("Written after the move.")),
        "{drafts:?}"
    );
    // A new device of the old worker receives nothing of the member.
    let mut w1b = a.server.device("w1.north");
    assert!(w1b.members().is_empty());
    w1b.sync();
    assert!(w1b.members().is_empty());
}

/// A revoked device is told to wipe; a disabled user's tokens stop working.
fn revocation_and_disable(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(6);
    w1.sync();
    let sup = a.server.device("sup.north");
    let device_id = w1.client.credentials().unwrap().device_id;
    let (status, _) = raw_post(
        &a.server.url,
        &format!("/v1/devices/{device_id}/revoke"),
        Some(&sup.access_token()),
        "{}",
    );
    assert_eq!(status, 204);
    w1.store
        .create(RecordBody::Member(fieldnote_core::synthetic::member(
            &mut rand::rng(),
        )))
        .unwrap();
    let r = w1.client.sync(&mut w1.store, &mut |_| {}).unwrap();
    assert!(r.wipe_required);
    let dir = w1.dir.path().to_path_buf();
    let Device { store, .. } = w1;
    store.wipe().unwrap();
    assert!(!dir.exists());
    let _ = m;
}

/// Bad input: malformed, truncated, oversized, wrong version, unknown fields' types.
fn bad_input(backend: Backend) {
    let a = agency(backend);
    let w1 = a.server.device("w1.north");
    let token = w1.access_token();
    let url = &a.server.url;
    let (s, b) = raw_post(url, "/v1/sync", Some(&token), "{not json");
    assert_eq!((s, b["code"].as_str()), (400, Some("bad_request")), "{b}");
    let (s, b) = raw_post(
        url,
        "/v1/sync",
        Some(&token),
        r#"{"protocol":1,"cursor":{"feed":0,"grant":0},"upload":[{"entry":1,"record_id":"x","kind":"change","payload":"!!"}]}"#,
    );
    assert_eq!(s, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("base64"), "{b}");
    let (s, b) = raw_post(
        url,
        "/v1/sync",
        Some(&token),
        r#"{"protocol":99,"cursor":{"feed":0,"grant":0},"upload":[]}"#,
    );
    assert_eq!(
        (s, b["code"].as_str()),
        (426, Some("upgrade_required")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("Update the app"));
    let (s, b) = raw(
        url,
        "POST",
        "/v1/sync",
        Some(&token),
        Some(b"{}".to_vec()),
        &[("fieldnote-protocol", "7")],
    );
    assert_eq!(s, 426, "{b}");
    assert_eq!(
        common::announce_body(url, "/v1/sync", &token, 10 * 1024 * 1024),
        413
    );
    // The same size sent chunked, with no length announced: 413 too, not a generic 400.
    for path in ["/v1/sync", "/v1/safety"] {
        assert_eq!(
            common::chunked_post(url, path, &token, 10 * 1024 * 1024),
            413,
            "{path}"
        );
    }
    let (s, b) = raw(
        url,
        "POST",
        "/v1/sync",
        Some(&token),
        Some(vec![0x1f, 0x8b, 8, 0, 0]),
        &[("content-encoding", "gzip")],
    );
    assert_eq!(s, 400, "truncated gzip: {b}");
    let (s, b) = raw_post(url, "/v1/sync", None, "{}");
    assert_eq!((s, b["code"].as_str()), (401, Some("unauthenticated")));
    let (s, _) = raw_post(url, "/v1/sync", Some("forged-token"), "{}");
    assert_eq!(s, 401);
    // A record that does not validate is refused with the field named.
    let mut bad = fieldnote_core::synthetic::member(&mut rand::rng());
    bad.masshealth_id = "??".into();
    let mut doc =
        fieldnote_core::document::Document::create(new_id(), b"x", &RecordBody::Member(bad))
            .unwrap();
    let req = proto::SyncRequest {
        protocol: 1,
        cursor: Default::default(),
        upload: vec![proto::Upload {
            entry: 1,
            item: proto::Item {
                record_id: doc.id().to_string(),
                kind: proto::ItemKind::Change,
                payload: doc.save(),
            },
        }],
    };
    let (_, b) = raw_post(
        url,
        "/v1/sync",
        Some(&token),
        &serde_json::to_string(&req).unwrap(),
    );
    assert_eq!(b["acks"][0]["outcome"], "rejected");
    assert!(
        b["acks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("masshealth_id"),
        "{b}"
    );
    // Nothing was stored by any of it.
    let mut w1 = w1;
    w1.sync();
    assert!(w1.members().is_empty());
}

/// Sign-in is rate limited per user name; the audit chain records and verifies.
fn login_limits_and_audit(backend: Backend) {
    let a = agency(backend);
    for _ in 0..5 {
        let (s, _) = raw_post(
            &a.server.url,
            "/v1/auth/login",
            None,
            r#"{"username":"w1.north","password":"wrong password!","device_name":"x"}"#,
        );
        assert_eq!(s, 401);
    }
    let body =
        serde_json::json!({"username":"w1.north","password":common::PASSWORD,"device_name":"x"})
            .to_string();
    let (s, _) = raw_post(&a.server.url, "/v1/auth/login", None, &body);
    assert_eq!(
        s, 429,
        "the sixth attempt is refused even with the right password"
    );
    let ver = a
        .server
        .db
        .tx(|tx| fieldnote_server::audit::verify(tx))
        .unwrap();
    assert!(ver.entries >= 5);
    assert_eq!(ver.first_broken, None);
}

/// Everything acknowledged survives a server restart; a sync resumes where it stopped.
fn survives_restart(backend: Backend) {
    let mut a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(8);
    for i in 0..20 {
        w1.write_note(m, &format!("Note {i} before the restart."));
    }
    w1.sync();
    a.server.restart();
    let mut sup = a.server.device("sup.north");
    sup.sync();
    assert_eq!(sup.store.note_facts(m).unwrap().len(), 20);
}

/// A sync's changes are counted per document (several edits of one record, one of
/// another), and a record edited across many syncs gets a snapshot that a new device loads.
fn long_histories_get_snapshots(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(9);
    let (x, y) = (
        w1.write_note(m, "Visit one."),
        w1.write_note(m, "Visit two."),
    );
    w1.sync();
    let chunks = |id: RecordId| -> (i64, bool) {
        let row = a
            .server
            .db
            .tx(|tx| {
                tx.query_one(
                    "SELECT chunks, snapshot_seq FROM documents WHERE id = $1",
                    fieldnote_server::params![id.to_string()],
                )
            })
            .unwrap();
        (
            row[0].int(),
            !matches!(row[1], fieldnote_server::db::Val::Null),
        )
    };
    let edit = |w: &mut common::Device, id: RecordId, text: &str| {
        w.store
            .update(id, |b| {
                if let RecordBody::ContactNote(n) = b {
                    n.narrative = text.to_string();
                }
            })
            .unwrap();
    };
    let (x0, y0) = (chunks(x).0, chunks(y).0);
    for i in 0..3 {
        edit(&mut w1, x, &format!("Visit one, take {i}."));
    }
    edit(&mut w1, y, "Visit two, corrected.");
    w1.sync();
    assert_eq!((chunks(x).0 - x0, chunks(y).0 - y0), (3, 1));

    for i in 0..40 {
        edit(&mut w1, x, &format!("Visit one, revision {i}."));
        w1.sync();
    }
    let (left, snapshotted) = chunks(x);
    assert!(snapshotted, "a snapshot row was written");
    assert!(left < 32, "{left} change rows since the snapshot");
    let mut sup = a.server.device("sup.north");
    sup.sync();
    match sup.store.get(x).unwrap().body {
        RecordBody::ContactNote(n) => assert_eq!(n.narrative, "Visit one, revision 39."),
        other => panic!("not a note: {other:?}"),
    }
}

/// The supervisor roll-up counts what the worker's synced records leave overdue.
fn supervisor_rollup(backend: Backend) {
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1
        .store
        .create(RecordBody::Member(fieldnote_core::synthetic::member(
            &mut rand::rng(),
        )))
        .unwrap();
    let referred = Timestamp::from_millis(Timestamp::now().millis() - 30 * 86_400_000);
    let e =
        fieldnote_core::synthetic::enrollment(m, Program::Csp, w1.staff_id, w1.team_id, referred);
    w1.store.create(RecordBody::Enrollment(e)).unwrap();
    w1.sync();
    let sup = a.server.device("sup.north");
    let (status, body) = raw(
        &a.server.url,
        "GET",
        &format!("/v1/teams/{}/rollup", a.north),
        Some(&sup.access_token()),
        None,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let worker = &body[0]["workers"][0];
    assert_eq!(worker["worker"], w1.staff_id.to_string());
    assert_eq!(worker["members"], 1);
    assert!(worker["overdue"].as_u64().unwrap() >= 1, "{body}");
    let other = a.server.device("sup.south");
    let (status, _) = raw(
        &a.server.url,
        "GET",
        &format!("/v1/teams/{}/rollup", a.north),
        Some(&other.access_token()),
        None,
        &[],
    );
    assert_eq!(status, 404);
}

/// The server holds notes and plans to the member's enrollments, as the device does
/// (finding 9 of the device drill): a new note or plan under a program the member is not
/// enrolled in, or an edit moving a note there, is refused naming `program`, whatever the
/// device checked; with the enrollment in the same upload, or under the enrolled program,
/// it is accepted.
fn a_note_under_a_program_without_enrollment_is_refused(backend: Backend) {
    use fieldnote_core::document::Document;
    let a = agency(backend);
    let mut w1 = a.server.device("w1.north");
    let m = w1.add_member(41);
    let enrolled = w1.write_note(m, "Under the program the member is in.");
    w1.sync();
    let token = w1.access_token();
    let mut rng = rand::rng();
    let send = |uploads: Vec<(RecordId, Vec<u8>)>| -> Vec<serde_json::Value> {
        let req = proto::SyncRequest {
            protocol: proto::PROTOCOL_VERSION,
            cursor: Default::default(),
            upload: uploads
                .into_iter()
                .enumerate()
                .map(|(i, (id, payload))| proto::Upload {
                    entry: i as i64 + 1,
                    item: proto::Item {
                        record_id: id.to_string(),
                        kind: proto::ItemKind::Change,
                        payload,
                    },
                })
                .collect(),
        };
        let (status, resp) = raw_post(
            &a.server.url,
            "/v1/sync",
            Some(&token),
            &serde_json::to_string(&req).unwrap(),
        );
        assert_eq!(status, 200, "{resp}");
        resp["acks"].as_array().unwrap().clone()
    };
    let new = |body: RecordBody| {
        let id = new_id();
        (id, Document::create(id, b"forger", &body).unwrap().save())
    };
    let refused_for_program = |ack: &serde_json::Value| {
        assert_eq!(ack["outcome"], "rejected", "{ack}");
        let reason = ack["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("program:") && reason.contains("not enrolled in tm"),
            "{reason}"
        );
    };

    let note = fieldnote_core::synthetic::note(
        &mut rng,
        m,
        Program::Tm,
        w1.staff_id,
        Timestamp::now(),
        20,
    );
    let plan = fieldnote_core::synthetic::service_plan(m, Program::Tm, w1.staff_id);
    let acks = send(vec![
        new(RecordBody::ContactNote(note.clone())),
        new(RecordBody::Plan(plan)),
    ]);
    refused_for_program(&acks[0]);
    refused_for_program(&acks[1]);

    // An edit moving the synced CSP note to TM.
    let mut doc = Document::load(
        enrolled,
        b"forger",
        [w1.store.document_bytes(enrolled).unwrap().as_slice()],
    )
    .unwrap();
    let RecordBody::ContactNote(mut moved) = doc.body().unwrap() else {
        panic!("a note")
    };
    moved.program = Program::Tm;
    let change = doc.update(&RecordBody::ContactNote(moved)).unwrap();
    let acks = send(vec![(enrolled, change)]);
    refused_for_program(&acks[0]);

    // With the member's TM enrollment in the same upload, the same note is accepted; so is
    // a CSP note, which needed nothing new.
    let tm = fieldnote_core::synthetic::enrollment(
        m,
        Program::Tm,
        w1.staff_id,
        w1.team_id,
        Timestamp::now(),
    );
    let csp_note = fieldnote_core::synthetic::note(
        &mut rng,
        m,
        Program::Csp,
        w1.staff_id,
        Timestamp::now(),
        20,
    );
    let acks = send(vec![
        new(RecordBody::Enrollment(tm)),
        new(RecordBody::ContactNote(note)),
        new(RecordBody::ContactNote(csp_note)),
    ]);
    for ack in &acks {
        assert_eq!(ack["outcome"], "accepted", "{ack}");
    }
}

/// Runs each scenario once on SQLite and once on PostgreSQL.
macro_rules! suite {
    ($($name:ident),+ $(,)?) => {
        #[allow(non_snake_case)]
        mod Sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Sqlite);
                }
            )+
        }
        #[allow(non_snake_case)]
        mod Postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Postgres);
                }
            )+
        }
    };
}

suite!(
    caseload_scoping,
    refusals_reveal_nothing_outside_the_caseload,
    edits_flow_both_ways,
    edit_of_finalized_note_is_rejected,
    replayed_change_of_a_finalized_note_is_a_duplicate,
    an_impossible_cursor_is_taken_as_the_top,
    server_refuses_forgeries,
    reassignment_moves_records,
    revocation_and_disable,
    bad_input,
    login_limits_and_audit,
    survives_restart,
    supervisor_rollup,
    long_histories_get_snapshots,
    a_note_under_a_program_without_enrollment_is_refused,
);

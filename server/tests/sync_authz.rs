//! The sync protocol's authorization matrix: every record kind, uploaded by every role from
//! its own team and another, as an edit, as an unreadable change and as a garbage signature
//! event. Expected outcomes are written here by hand from the access rules in the README:
//! a record is written and read by its worker, the worker's supervisor and the agency's
//! program director, never by another worker, another team's supervisor or an
//! administrator. Whoever may not read a record gets no byte of it back, no audit entry
//! claims it was disclosed to them, and their refusal reads exactly as it would for an id
//! that does not exist.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, Device, TestServer, raw_post, upload_one as upload};
use fieldnote_core::document::Document;
use fieldnote_core::model::*;
use fieldnote_core::synthetic;
use fieldnote_protocol::{self as proto, ServerRole};
use rand::SeedableRng;

/// One record of every kind, for `member` (or for the author's own staff file), written by
/// `author` on team `team`.
fn one_of_each(member: RecordId, author: StaffId, team: RecordId) -> Vec<RecordBody> {
    let now = Timestamp::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let contact = Contact {
        name: "Intake Desk".into(),
        organization: Some("Synthetic Clinic".into()),
        phone: Some("555-0101".into()),
        email: None,
    };
    let plan = synthetic::service_plan(member, Program::Csp, author);
    vec![
        RecordBody::Enrollment(synthetic::enrollment(
            member,
            Program::Tm,
            author,
            team,
            now,
        )),
        RecordBody::ContactNote(synthetic::note(
            &mut rng,
            member,
            Program::Csp,
            author,
            now,
            15,
        )),
        RecordBody::EngagementAttempt(EngagementAttempt {
            member_id: member,
            program: Program::Csp,
            by: author,
            at: now,
            channel: Channel::Phone,
            outcome: AttemptOutcome::NoAnswer,
            purpose: "first contact".into(),
            note: None,
        }),
        RecordBody::DocumentDelivery(DocumentDelivery {
            member_id: member,
            program: Program::Csp,
            document: DocumentKind::PlanCopy,
            document_record_id: None,
            recipient_kind: RecipientKind::Member,
            recipient: contact.clone(),
            channel: Channel::InPerson,
            paper: true,
            electronic: false,
            language: "English".into(),
            delivered_at: now,
            consent_id: None,
            by: author,
            recorded_at: None,
        }),
        RecordBody::NeedsAssessment(NeedsAssessment {
            member_id: member,
            program: Program::Csp,
            kind: AssessmentKind::Comprehensive,
            assessor: author,
            started_at: now,
            completed_at: None,
            domains: vec![],
            criminogenic_needs: vec![],
            summary: "Started at intake.".into(),
            significant_change: false,
        }),
        RecordBody::Plan(plan),
        RecordBody::Consent(Consent {
            member_id: member,
            program: Program::Csp,
            recipient: contact.clone(),
            scope: "treatment".into(),
            purpose: "coordination".into(),
            substance_use_part2: false,
            refused: false,
            signed_by: "member".into(),
            signed_at: now,
            expires_on: None,
            revoked_at: None,
            recorded_by: author,
        }),
        RecordBody::ServiceReferral(ServiceReferral {
            member_id: member,
            program: Program::Csp,
            service: "outpatient therapy".into(),
            provider: contact,
            reason: "asked for counseling".into(),
            alternative_for_ineligible: false,
            referred_at: now,
            scheduled_for: None,
            follow_ups: vec![],
            no_follow_up_reason: None,
            consent_id: None,
            by: author,
        }),
        RecordBody::Incident(Incident {
            member_id: Some(member),
            program: Program::Csp,
            occurred_at: now,
            location: "home visit".into(),
            category: IncidentCategory::StaffSafety,
            description: "Raised voices; visit ended early.".into(),
            actions_taken: "Left and called the supervisor.".into(),
            reported_to_plan_at: None,
            reported_to_masshealth_at: None,
            alarm_id: None,
            reporter: author,
        }),
        RecordBody::CrisisPlan(CrisisPlan {
            member_id: member,
            program: Program::Csp,
            warning_signs: vec!["not sleeping".into()],
            coping_strategies: vec!["walk".into()],
            supports: vec!["sister".into()],
            professional_contacts: vec!["988".into()],
            means_safety: "none needed".into(),
            written_at: now,
            given_to_member_at: None,
            author,
        }),
        RecordBody::DischargePlan(DischargePlan {
            member_id: member,
            program: Program::Csp,
            enrollment_id: member,
            discharge_on: Day::parse("2027-01-15").unwrap(),
            aftercare: "outpatient".into(),
            recommendations: "keep appointments".into(),
            crisis_plan_id: None,
            service_plan_id: None,
            written_at: now,
            author,
        }),
        RecordBody::Override(ObligationOverride {
            member_id: member,
            program: Program::Csp,
            rule_id: "CSP-11".into(),
            kind: OverrideKind::Waiver,
            until: None,
            by: author,
            reason: "member declined a primary care linkage".into(),
            recorded_at: now,
        }),
        RecordBody::Supervision(SupervisionRecord {
            staff_id: author,
            supervisor_id: author,
            program: Program::Csp,
            individual: true,
            held_at: now,
            duration_minutes: 60,
            topics: "caseload".into(),
        }),
        RecordBody::Consultation(ConsultationRecord {
            requested_by: author,
            program: Program::Tm,
            requested_at: now,
            consultant_kind: ConsultantKind::SeniorClinician,
            consultant: None,
            responded_at: None,
            topic: "school refusal".into(),
        }),
        RecordBody::Training(TrainingRecord {
            staff_id: author,
            program: Program::Csp,
            employment_started_on: Day::parse("2026-01-05").unwrap(),
            course: "orientation".into(),
            required_initial: true,
            completed_on: None,
        }),
    ]
}

/// The same record with one free-text field changed, so that the edit is a real change.
fn touched(body: &RecordBody) -> RecordBody {
    let mut b = body.clone();
    let mark = |s: &mut String| s.push_str(" (edited)");
    match &mut b {
        RecordBody::Member(m) => mark(&mut m.primary_language),
        RecordBody::Enrollment(e) => {
            e.referral.facility = Some("Synthetic Shelter (edited)".into())
        }
        RecordBody::ContactNote(n) => mark(&mut n.narrative),
        RecordBody::EngagementAttempt(a) => mark(&mut a.purpose),
        RecordBody::DocumentDelivery(d) => mark(&mut d.language),
        RecordBody::NeedsAssessment(a) => mark(&mut a.summary),
        RecordBody::Plan(p) => {
            let edited = format!("{} (edited)", p.goals[0].statement.as_str());
            p.goals[0].statement.set(edited);
        }
        RecordBody::Consent(c) => mark(&mut c.purpose),
        RecordBody::ServiceReferral(r) => mark(&mut r.reason),
        RecordBody::Incident(i) => mark(&mut i.actions_taken),
        RecordBody::CrisisPlan(c) => mark(&mut c.means_safety),
        RecordBody::DischargePlan(d) => mark(&mut d.aftercare),
        RecordBody::Supervision(s) => mark(&mut s.topics),
        RecordBody::Consultation(c) => mark(&mut c.topic),
        RecordBody::Training(t) => mark(&mut t.course),
        RecordBody::Override(o) => mark(&mut o.reason),
    }
    b
}

/// Whether `role`, on the owner's team or another, may read and write a record of the
/// owner's caseload or staff file (written by hand, not read from the policy module).
fn may_touch(who: &str) -> bool {
    match who {
        // The owner's supervisor and the agency's program director.
        "s.a" | "d.a" => true,
        // Another worker of the same team, another team's worker and supervisor, an
        // administrator.
        "w2.a" | "w.b" | "s.b" | "root" => false,
        other => panic!("no expectation for {other}"),
    }
}

fn disclosures(server: &TestServer) -> Vec<(String, String)> {
    server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT actor, target FROM audit WHERE action = 'sync.refused_state' ORDER BY seq",
                    fieldnote_server::params![],
                )?
                .into_iter()
                .map(|r| (r[0].text(), r[1].text()))
                .collect())
        })
        .unwrap()
}

fn matrix(backend: Backend) {
    let server = TestServer::start(backend);
    let a = server.add_team("A");
    let b = server.add_team("B");
    server.add_user("w.a", ServerRole::Worker, Some(&a));
    server.add_user("w2.a", ServerRole::Worker, Some(&a));
    server.add_user("s.a", ServerRole::Supervisor, Some(&a));
    server.add_user("d.a", ServerRole::ProgramDirector, Some(&a));
    server.add_user("w.b", ServerRole::Worker, Some(&b));
    server.add_user("s.b", ServerRole::Supervisor, Some(&b));
    let (root_id, _) = server.add_user("root", ServerRole::Administrator, None);

    // The owner writes one record of every kind and syncs them all.
    let mut owner = Device::login(&server.url, "w.a");
    let member = owner.add_member(5);
    let mut records = vec![(member, RecordKind::Member)];
    for body in one_of_each(member, owner.staff_id, owner.team_id) {
        if matches!(body, RecordBody::Override(_)) {
            continue;
        }
        let kind = body.kind();
        records.push((owner.store.create(body).unwrap(), kind));
    }
    owner.sync();
    // A waiver is granted by the owner's supervisor (a worker grants none); the owner's
    // device receives it like any record of the member.
    let grantor = server.device("s.a");
    let waiver = one_of_each(member, grantor.staff_id, owner.team_id)
        .into_iter()
        .find(|b| matches!(b, RecordBody::Override(_)))
        .unwrap();
    let waiver_id = new_id();
    let ack = upload(
        &server,
        &grantor.access_token(),
        &waiver_id.to_string(),
        proto::ItemKind::Change,
        Document::create(waiver_id, b"grantor", &waiver)
            .unwrap()
            .save(),
    );
    assert_eq!(ack["outcome"], "accepted", "{ack}");
    records.push((waiver_id, RecordKind::Override));
    let report = owner.sync();
    assert_eq!(
        report.progress.rejected,
        0,
        "{:?}",
        owner.store.rejected_drafts().unwrap()
    );
    let kinds: std::collections::HashSet<_> = records.iter().map(|(_, k)| *k).collect();
    assert_eq!(
        kinds.len(),
        RecordKind::ALL.len(),
        "every kind is in the matrix"
    );

    let actors: Vec<(&str, String, String)> = ["w2.a", "s.a", "d.a", "w.b", "s.b", "root"]
        .into_iter()
        .map(|name| {
            let d = server.device(name);
            let user = server
                .db
                .tx(|tx| {
                    Ok(tx.query_one(
                        "SELECT id FROM users WHERE username = $1",
                        fieldnote_server::params![name],
                    )?[0]
                        .text())
                })
                .unwrap();
            (name, d.access_token(), user)
        })
        .collect();
    assert!(actors.iter().any(|(_, _, id)| *id == root_id));

    use proto::ItemKind::{Attestation as Att, Change};
    let words = |ack: &serde_json::Value, id: &str| {
        ack["reason"]
            .as_str()
            .unwrap_or_default()
            .replace(id, "<id>")
    };
    let mut cells = 0;
    for (id, kind) in &records {
        let id_s = id.to_string();
        let bytes = owner.store.document_bytes(*id).unwrap();
        let body = owner.store.get(*id).unwrap().body;
        for (name, token, user) in &actors {
            let allowed = may_touch(name);
            let before = disclosures(&server);
            // An unknown id with the same kind of payload, for comparing the answers.
            let unknown = uuid::Uuid::now_v7().to_string();

            // 1. A garbage signature event: refused by everyone; the server's copy comes
            //    back (and is audited as disclosed) only to a reader.
            let there = upload(&server, token, &id_s, Att, b"x".to_vec());
            let not_there = upload(&server, token, &unknown, Att, b"x".to_vec());
            assert_eq!(there["outcome"], "rejected", "{name} {kind:?}: {there}");
            assert_eq!(not_there["outcome"], "rejected");
            assert_eq!(
                there.get("server_state").is_some(),
                allowed,
                "{name} on a {kind:?}: server state {there}"
            );
            assert!(not_there.get("server_state").is_none());
            if !allowed {
                assert!(
                    there.get("server_attestations").is_none(),
                    "{name}: {there}"
                );
                assert_eq!(
                    words(&there, &id_s),
                    words(&not_there, &unknown),
                    "{name}: a garbage signature tells whether a {kind:?} exists"
                );
            }

            // 2. An unreadable change: the same, and nothing is stored.
            let there = upload(&server, token, &id_s, Change, b"garbage".to_vec());
            let not_there = upload(&server, token, &unknown, Change, b"garbage".to_vec());
            assert_eq!(there["outcome"], "rejected", "{name} {kind:?}: {there}");
            assert_eq!(
                there.get("server_state").is_some(),
                allowed,
                "{name}: {there}"
            );
            if !allowed {
                assert_eq!(words(&there, &id_s), words(&not_there, &unknown), "{name}");
            }

            // 3. A real edit built on the record as stored: written by a reader; refused for
            //    anyone else, in the words of a record outside their caseload, and the
            //    record is unchanged.
            let mut doc = Document::load(*id, b"matrix-actor", [bytes.as_slice()]).unwrap();
            let mut edit = bytes.clone();
            edit.extend(doc.update(&touched(&body)).unwrap());
            let edit_again = edit.clone();
            let ack = upload(&server, token, &id_s, Change, edit);
            if allowed {
                assert_eq!(
                    ack["outcome"], "accepted",
                    "{name} editing a {kind:?}: {ack}"
                );
            } else {
                assert_eq!(
                    ack["outcome"], "rejected",
                    "{name} editing a {kind:?}: {ack}"
                );
                assert!(ack.get("server_state").is_none(), "{name}: {ack}");
                // The same bytes under an unknown id are judged as a new record: either the
                // sender's own new record (a member they add, their own staff file), or
                // refused in exactly the same words.
                let elsewhere = upload(&server, token, &unknown, Change, edit_again);
                if elsewhere["outcome"] == "rejected" {
                    assert_eq!(
                        words(&ack, &id_s),
                        words(&elsewhere, &unknown),
                        "{name}: an edit tells whether a {kind:?} exists"
                    );
                }
            }

            // Disclosures audited: exactly the two refusals above, to readers only.
            let after = disclosures(&server);
            let new: Vec<_> = after[before.len()..].to_vec();
            let want = if allowed { 2 } else { 0 };
            assert_eq!(new.len(), want, "{name} on a {kind:?}: {new:?}");
            assert!(
                new.iter()
                    .all(|(actor, target)| actor == user && *target == id_s)
            );
            cells += 1;
        }
    }
    assert_eq!(cells, RecordKind::ALL.len() * actors.len());

    // Refused edits changed nothing: the owner's next sync brings back exactly the
    // readers' edits, one per record per reader, and no outsider's text.
    owner.sync();
    for (id, _) in &records {
        let text = format!("{:?}", owner.store.get(*id).unwrap().body);
        let edits = text.matches("(edited)").count();
        assert!(
            edits >= 1,
            "a reader's edit of {id} reached the owner: {text}"
        );
    }
}

#[test]
fn sync_refusals_matrix_sqlite() {
    matrix(Backend::Sqlite);
}

#[test]
fn sync_refusals_matrix_postgres() {
    matrix(Backend::Postgres);
}

/// Every field of a sync request replaced by hostile values (wrong types, huge, negative,
/// control characters, ids in other shapes): a 4xx naming the field, or an acknowledgement
/// refusing the upload, never a 5xx; and nothing refused is stored.
fn hostile_sync_fields(backend: Backend) {
    use serde_json::{Value, json};
    let server = TestServer::start(backend);
    let a = server.add_team("A");
    server.add_user("w.a", ServerRole::Worker, Some(&a));
    let mut phone = server.device("w.a");
    let member = phone.add_member(3);
    phone.sync();
    let token = phone.access_token();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let note = synthetic::note(
        &mut rng,
        member,
        Program::Csp,
        phone.staff_id,
        Timestamp::now(),
        10,
    );
    let note_id = RecordId::now_v7();
    let payload = Document::create(note_id, b"hostile", &RecordBody::ContactNote(note))
        .unwrap()
        .save();
    use base64::Engine;
    let valid = || {
        json!({"protocol": proto::PROTOCOL_VERSION, "cursor": {"feed": 0, "grant": 0},
               "upload": [{"entry": 1, "item": {"record_id": note_id.to_string(),
                 "kind": "change",
                 "payload": base64::engine::general_purpose::STANDARD.encode(&payload)}}]})
    };
    let documents = || {
        server
            .db
            .tx(|tx| {
                Ok(tx.query_one(
                    "SELECT COUNT(*) FROM documents",
                    fieldnote_server::params![],
                )?[0]
                    .int())
            })
            .unwrap()
    };
    let before = documents();
    let hostile = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(i64::MAX),
        json!(1e300),
        json!(""),
        json!("x".repeat(70_000)),
        json!("\u{1b}[2J"),
        json!([]),
        json!({}),
    ];
    let paths: &[&[&str]] = &[
        &["protocol"],
        &["cursor"],
        &["cursor", "feed"],
        &["cursor", "grant"],
        &["upload"],
        &["upload", "0", "entry"],
        &["upload", "0", "item"],
        &["upload", "0", "item", "record_id"],
        &["upload", "0", "item", "kind"],
        &["upload", "0", "item", "payload"],
    ];
    let mut cases = 0;
    for path in paths {
        for value in hostile.iter().cloned().map(Some).chain([None]) {
            let mut body = valid();
            let mut at = &mut body;
            for key in &path[..path.len() - 1] {
                at = match key.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*key],
                };
            }
            let last = path[path.len() - 1];
            match &value {
                Some(v) => at[last] = v.clone(),
                None => {
                    at.as_object_mut().unwrap().remove(last);
                }
            }
            let (status, resp) = raw_post(&server.url, "/v1/sync", Some(&token), &body.to_string());
            let what = format!(
                "{} = {:?}",
                path.join("."),
                value.map(|v| v.to_string().chars().take(30).collect::<String>())
            );
            match status {
                400 | 413 | 422 | 426 => assert!(
                    resp["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{what}: {resp}"
                ),
                200 => {
                    // Accepted only where the field is harmless (a cursor the server takes
                    // as the top; no uploads); an upload it cannot take is refused.
                    if let Some(ack) = resp["acks"].get(0) {
                        assert!(
                            ack["outcome"] == "rejected"
                                || path.starts_with(&["cursor"])
                                || *path == ["upload", "0", "entry"],
                            "{what}: {ack}"
                        );
                    }
                }
                other => panic!("{what}: status {other}: {resp}"),
            }
            cases += 1;
        }
    }
    assert_eq!(cases, paths.len() * (hostile.len() + 1));
    // Only a well-formed upload of the note may have stored it (once); nothing else did.
    assert!(
        documents() - before <= 1,
        "hostile uploads stored documents"
    );
}

#[test]
fn hostile_sync_fields_sqlite() {
    hostile_sync_fields(Backend::Sqlite);
}

#[test]
fn hostile_sync_fields_postgres() {
    hostile_sync_fields(Backend::Postgres);
}

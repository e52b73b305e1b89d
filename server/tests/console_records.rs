//! The console's record work over HTTP, on SQLite and PostgreSQL, with records synced from
//! real device stores: the review queue, returning a note with a comment and approving, the
//! comment and a plan's co-signature reaching the phone, review state a worker cannot forge,
//! emergency (break-glass) access with its reason, time limit, audit and notice, exports in
//! every format with 42 CFR Part 2 records withheld or disclosed under consent and accounted,
//! the charts, and administration (teams, users, devices, escalation ladders, the audit log
//! and its hash chain).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::browser::{Browser, audited, enc, sign_in, team_with_supervisor};
use common::{Backend, Device, TestServer};
use fieldnote_core::attest::{ReviewState, SignatureState, Signer};
use fieldnote_core::model::*;
use fieldnote_core::synthetic;
use fieldnote_protocol::{self as proto, ServerRole};
use fieldnote_server::params;

/// A finalized note and a worker-signed plan for a new member on `w.<team>`'s phone, synced.
fn phone_with_work(server: &TestServer, team: &str) -> (Device, RecordId, RecordId, RecordId) {
    let mut phone = server.device(&format!("w.{team}"));
    let member = phone.add_member(11);
    let note = phone.write_note(
        member,
        "Met at the library <script>alert(1)</script> to plan.",
    );
    let staff = phone.staff_id;
    phone
        .store
        .finalize_note(note, Signer::staff(staff, "w a", Role::Worker))
        .unwrap();
    let plan = phone
        .store
        .create(RecordBody::Plan(synthetic::service_plan(
            member,
            Program::Csp,
            staff,
        )))
        .unwrap();
    phone
        .store
        .sign_plan(plan, Signer::staff(staff, "w a", Role::Worker))
        .unwrap();
    phone.sync();
    (phone, member, note, plan)
}

fn review(
    b: &mut Browser,
    record: RecordId,
    decision: &str,
    comment: &str,
) -> common::browser::Page {
    let page = b.get(&format!("/console/records/{record}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = Browser::csrf(&page);
    b.post(
        &format!("/console/records/{record}/review"),
        &format!("csrf={csrf}&decision={decision}&comment={}", enc(comment)),
    )
}

fn reviews(server: &TestServer) {
    let (_, sup_a) = team_with_supervisor(server, "a");
    let (_, sup_b) = team_with_supervisor(server, "b");
    let (mut phone, _member, note, plan) = phone_with_work(server, "a");
    let (mut a, _) = sign_in(server, &sup_a, None);

    // Both wait in the queue; the record page escapes the note's text.
    let queue = a.get("/console/review");
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(queue.body.contains(&note.to_string()) && queue.body.contains(&plan.to_string()));
    let page = a.get(&format!("/console/records/{note}"));
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert(1)"));

    // Returning needs a comment, named as the field at fault; nothing is stored without one.
    let refused = review(&mut a, note, "return", "  ");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("comment"), "{}", refused.body);
    let bad = review(&mut a, note, "sign-everything", "");
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("decision"));
    let returned = review(
        &mut a,
        note,
        "return",
        "Add the next appointment & who attends.",
    );
    assert_eq!(returned.status, 303, "{}", returned.body);
    let cosigned = review(&mut a, plan, "cosign", "");
    assert_eq!(cosigned.status, 303, "{}", cosigned.body);

    // The queue is empty again; the worker's phone has the comment and the co-signature.
    let queue = a.get("/console/review");
    assert!(!queue.body.contains(&note.to_string()) && !queue.body.contains(&plan.to_string()));
    phone.sync();
    let got = phone.store.get(note).unwrap();
    match ReviewState::of(&got.attestations, &got.body) {
        ReviewState::Returned { review } => {
            assert_eq!(
                review.comment.as_deref(),
                Some("Add the next appointment & who attends.")
            );
            assert_eq!(review.signer.name, "sup a");
        }
        other => panic!("note review on the phone: {other:?}"),
    }
    let signatures = phone.store.plan_signatures(plan).unwrap();
    let supervisor = signatures
        .roles
        .iter()
        .find(|(r, _)| *r == Role::Supervisor)
        .map(|(_, s)| s.clone())
        .unwrap();
    assert!(
        matches!(supervisor, SignatureState::Current { .. }),
        "{supervisor:?}"
    );

    // A worker's device cannot write review state: a forged approval (in the worker's own
    // role, or claiming the supervisor's) is refused by the phone's checks and the server's.
    let author = fieldnote_core::access::Author {
        staff_id: phone.staff_id,
        role: Role::Worker,
    };
    let token = phone.access_token();
    for (i, role) in [Role::Worker, Role::Supervisor].into_iter().enumerate() {
        let forged = fieldnote_core::Attestation::review(
            note,
            true,
            Signer::staff(phone.staff_id, "w a", role),
            Timestamp::now(),
            &got.body,
            None,
        );
        assert!(fieldnote_core::access::check_attestation(&author, &forged).is_err());
        let req = proto::SyncRequest {
            protocol: proto::PROTOCOL_VERSION,
            cursor: Default::default(),
            upload: vec![proto::Upload {
                entry: i as i64,
                item: proto::Item {
                    record_id: note.to_string(),
                    kind: proto::ItemKind::Attestation,
                    payload: serde_json::to_vec(&forged).unwrap(),
                },
            }],
        };
        let (status, resp) = common::raw_post(
            &server.url,
            "/v1/sync",
            Some(&token),
            &serde_json::to_string(&req).unwrap(),
        );
        assert_eq!(status, 200);
        assert_eq!(resp["acks"][0]["outcome"], "rejected", "{role:?}: {resp}");
    }
    let stored = server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT kind FROM attestations WHERE record_id = $1 AND kind = 'approve'",
                    params![note.to_string()],
                )?
                .len())
        })
        .unwrap();
    assert_eq!(stored, 0, "a worker's approval was stored");

    // Another team's supervisor can neither see nor review these records.
    let (mut b, _) = sign_in(server, &sup_b, None);
    let page = b.get(&format!("/console/records/{note}"));
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("another team"));
    let home = b.get("/console/review");
    let p = b.post(
        &format!("/console/records/{note}/review"),
        &format!("csrf={}&decision=approve&comment=", Browser::csrf(&home)),
    );
    assert_eq!(p.status, 403, "{}", p.body);
    // A form without its token is refused before anything is read.
    let p = a.post(
        &format!("/console/records/{note}/review"),
        "decision=approve&comment=",
    );
    assert_eq!(p.status, 403);
    let actions = audited(server, "record.");
    assert_eq!(actions.iter().filter(|a| *a == "record.review").count(), 2);
    assert!(actions.iter().any(|a| a == "record.view"));
}

fn break_glass(server: &TestServer) {
    let (_, sup_a) = team_with_supervisor(server, "a");
    let (_, sup_b) = team_with_supervisor(server, "b");
    let (_phone, member, note, _) = phone_with_work(server, "a");
    let (mut b, _) = sign_in(server, &sup_b, None);

    // Another team's member: the emergency form, not the record.
    let page = b.get(&format!("/console/members/{member}"));
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Why you need this record now"));
    let csrf = Browser::csrf(&page);
    let path = format!("/console/members/{member}/emergency");
    let short = b.post(&path, &format!("csrf={csrf}&reason=urgent&minutes=30"));
    assert_eq!(short.status, 422);
    assert!(short.body.contains("reason"));
    let long = b.post(
        &path,
        &format!("csrf={csrf}&reason=x+x+x+x+x+x&minutes=999"),
    );
    assert_eq!(long.status, 422);
    assert!(long.body.contains("minutes"));
    let ok = b.post(
        &path,
        &format!(
            "csrf={csrf}&reason={}&minutes=30",
            enc("Alarm from this member's worker; covering the on-call shift")
        ),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);

    // Read-only access, visibly marked, audited as emergency, announced to team a.
    let page = b.get(&format!("/console/members/{member}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Emergency access, read-only"));
    assert!(!page.body.contains("Accounting of disclosures"));
    assert_eq!(b.get(&format!("/console/records/{note}")).status, 200);
    let p = b.post(
        &format!("/console/records/{note}/review"),
        &format!("csrf={csrf}&decision=approve&comment="),
    );
    assert_eq!(p.status, 403);
    let export = b.get(&format!("/console/members/{member}/export?format=csv"));
    assert_eq!(export.status, 403);
    let (mut a, _) = sign_in(server, &sup_a, None);
    let team = a.get("/console/team");
    assert!(
        team.body.contains("used emergency access to member"),
        "{}",
        team.body
    );
    let detail = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT detail FROM audit WHERE action = 'member.break_glass'",
                params![],
            )?[0]
                .text())
        })
        .unwrap();
    assert!(detail.contains("\"minutes\":30") && detail.contains("\"from\":\"127.0.0.1\""));
    assert!(
        !detail.contains("on-call"),
        "the reason's text stays out of the audit log"
    );
    let views = server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT detail FROM audit WHERE action = 'record.view'",
                    params![],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect::<Vec<_>>())
        })
        .unwrap();
    assert!(views.iter().any(|d| d.contains("\"emergency\":true")));

    // Once it expires, the form is back.
    server
        .db
        .tx(|tx| {
            tx.exec("UPDATE break_glass SET expires_at = 0", params![])?;
            Ok(())
        })
        .unwrap();
    assert_eq!(b.get(&format!("/console/members/{member}")).status, 403);
}

fn exports(server: &TestServer) {
    let (_, sup_a) = team_with_supervisor(server, "a");
    let (mut phone, member, _note, _) = phone_with_work(server, "a");
    let staff = phone.staff_id;
    let now = Timestamp::now();
    let consent = phone
        .store
        .create(RecordBody::Consent(synthetic::part2_consent(
            member,
            Program::Csp,
            staff,
            now,
        )))
        .unwrap();
    phone
        .store
        .create(RecordBody::ServiceReferral(synthetic::sud_referral(
            member,
            Program::Csp,
            staff,
            consent,
            now,
        )))
        .unwrap();
    phone.sync();
    let (mut a, _) = sign_in(server, &sup_a, None);
    let page = a.get(&format!("/console/members/{member}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&consent.to_string()),
        "the Part 2 consent is offered"
    );
    let export = |a: &mut Browser, q: &str| a.get(&format!("/console/members/{member}/export?{q}"));

    // Without consent: substance-use records stay home, and the export says so.
    let csv = export(&mut a, "format=csv&consent=");
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(!csv.body.contains("Outpatient substance use treatment"));
    assert!(!csv.body.contains("Riverside Recovery"));
    assert!(csv.body.to_lowercase().contains("withheld"), "{}", csv.body);
    // Under the consent: disclosed with the redisclosure notice.
    for format in ["csv", "html", "fhir"] {
        let p = export(&mut a, &format!("format={format}&consent={consent}"));
        assert_eq!(p.status, 200, "{format}: {}", p.body);
        assert!(
            p.body.contains("Outpatient substance use treatment"),
            "{format}"
        );
        assert!(
            p.body.contains("42 CFR part 2"),
            "{format} carries the notice"
        );
    }
    let fhir: serde_json::Value =
        serde_json::from_str(&export(&mut a, "format=fhir").body).unwrap();
    assert_eq!(fhir["resourceType"], "Bundle");
    let pdf = a.send(
        "GET",
        &format!("/console/members/{member}/export?format=pdf"),
        None,
        &[],
    );
    assert_eq!(pdf.status, 200);
    assert!(
        pdf.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/pdf")
    );

    // A consent that is not this member's Part 2 consent is refused, naming the field.
    let other = fieldnote_core::new_id();
    let p = export(&mut a, &format!("format=csv&consent={other}"));
    assert_eq!(p.status, 422);
    assert!(p.body.contains("consent"));
    let p = export(&mut a, "format=docx");
    assert_eq!(p.status, 422);
    assert!(p.body.contains("format"));

    // Every export is accounted, with the consent when one was used.
    let page = a.get(&format!("/console/members/{member}"));
    let accounted = page.body.matches("member.export").count()
        + page
            .body
            .split("id=\"disclosures\"")
            .nth(1)
            .unwrap()
            .matches("<tr>")
            .count();
    assert!(accounted >= 6, "{}", page.body);
    let details = server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT detail FROM audit WHERE action = 'member.export' ORDER BY seq",
                    params![],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(details.len(), 6, "{details:?}");
    assert!(
        details[0].contains("\"part2_withheld\":2")
            && details[0].contains("\"part2_consent\":null")
    );
    assert!(details[1].contains(&format!("\"part2_consent\":\"{consent}\"")));
}

fn administration(server: &TestServer) {
    let (team, sup) = team_with_supervisor(server, "a");
    server.add_user("root", ServerRole::Administrator, None);
    let phone = server.device("w.a");
    let (mut admin, _) = sign_in(server, "root", None);
    let page = admin.get("/console/admin");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = Browser::csrf(&page);

    // Teams and users from forms; bad input names its field.
    assert_eq!(
        admin
            .post(
                "/console/admin/teams",
                &format!("csrf={csrf}&name=Team+east")
            )
            .status,
        303
    );
    let p = admin.post(
        "/console/admin/users",
        &format!("csrf={csrf}&username=new.worker&display_name=New+Worker&role=worker&team={team}&password=short"),
    );
    assert_eq!(p.status, 422);
    assert!(p.body.contains("password"));
    let p = admin.post(
        "/console/admin/users",
        &format!("csrf={csrf}&username=new.worker&display_name=New+Worker&role=worker&team={team}&password={}", enc("a long enough password")),
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let page = admin.get("/console/admin");
    assert!(page.body.contains("Team east") && page.body.contains("new.worker"));
    let new_id = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT id FROM users WHERE username = 'new.worker'",
                params![],
            )?[0]
                .text())
        })
        .unwrap();
    assert_eq!(
        admin
            .post(
                &format!("/console/admin/users/{new_id}/disable"),
                &format!("csrf={csrf}")
            )
            .status,
        303
    );

    // Revoking a device from the console: the phone is told to wipe at its next contact.
    let device = phone.client.credentials().unwrap().device_id;
    let p = admin.post(
        &format!("/console/admin/devices/{device}/revoke"),
        &format!("csrf={csrf}"),
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let revoked = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT revoked_at FROM devices WHERE id = $1",
                params![&device],
            )?[0]
                .opt_int())
        })
        .unwrap();
    assert!(revoked.is_some());

    // The escalation ladder: refused with the field named and the input kept; then saved.
    let ladder = format!("/console/teams/{team}/safety");
    let p = admin.post(
        &ladder,
        &format!("csrf={csrf}&grace_secs=5&fallback_secs=120&label=on-call&target=team_supervisors&users=&timeout=120"),
    );
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("grace_secs") && p.body.contains("on-call"));
    let p = admin.post(
        &ladder,
        &format!("csrf={csrf}&grace_secs=900&fallback_secs=60&label=on-call&target=team_supervisors&users=&timeout=120&label=director&target=program_directors&users=&timeout=300&label=&target=users&users=&timeout=180"),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    let saved = server
        .db
        .tx(|tx| fieldnote_server::safety::settings_for(tx, &team))
        .unwrap();
    assert_eq!(
        (saved.grace_secs, saved.fallback_secs, saved.ladder.len()),
        (900, 60, 2)
    );
    assert_eq!(saved.ladder[1].ack_timeout_secs, 300);

    // The audit log and its chain; a tampered entry shows as broken.
    let log = admin.get("/console/audit");
    assert_eq!(log.status, 200);
    assert!(log.body.contains("Hash chain verified"), "{}", log.body);
    assert!(log.body.contains("device.revoke") && log.body.contains("user.create"));
    let filtered = admin.get("/console/audit?action=user.disable&target=");
    assert!(filtered.body.contains(&new_id) && !filtered.body.contains("device.revoke"));
    server
        .db
        .tx(|tx| {
            tx.exec(
                "UPDATE audit SET target = 'someone-else' WHERE seq = 3",
                params![],
            )?;
            Ok(())
        })
        .unwrap();
    let log = admin.get("/console/audit");
    assert!(log.body.contains("broken at entry 3"), "{}", log.body);

    // Supervisors have no administration or audit pages.
    let (mut s, _) = sign_in(server, &sup, None);
    assert_eq!(s.get("/console/admin").status, 403);
    assert_eq!(s.get("/console/audit").status, 403);
    // But they may set their own team's ladder.
    assert_eq!(s.get(&ladder).status, 200);
}

fn charts(server: &TestServer) {
    let (_, sup) = team_with_supervisor(server, "a");
    let (_phone, _, _, _) = phone_with_work(server, "a");
    let (mut a, _) = sign_in(server, &sup, None);
    let page = a.get("/console/team");
    assert!(
        page.body.contains("id=\"chart-obligations\"")
            && page.body.contains("id=\"chart-contacts\"")
    );
    // The contact written this week is counted as in person in the last week's column.
    let table = page.body.split("id=\"chart-contacts\"").nth(1).unwrap();
    let last_row = table.split("<tr>").last().unwrap();
    assert!(last_row.contains("<td>1</td>"), "{last_row}");
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::TestServer::start(super::Backend::Sqlite)); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&super::TestServer::start(super::Backend::Postgres)); } )*
        }
    };
}

on_both!(reviews, break_glass, exports, administration, charts);

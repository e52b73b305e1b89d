//! Program rules evaluated from a real store: clocks, replacements, the CSP-JI case rate,
//! extensions and waivers, signatures, incidents over holidays, staff obligations, the today
//! view.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use fieldnote_core::model::*;
use fieldnote_core::rules::{self, MemberRecords, Obligation, Status, catalog, staff};
use fieldnote_core::{Signer, synthetic};

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn enroll(f: &mut Fixture, program: Program, referred: &str) -> RecordId {
    let mut member = synthetic::member(&mut rng());
    member.masshealth_id = unique_masshealth_id();
    let m = f.store.create(RecordBody::Member(member)).unwrap();
    let e = synthetic::enrollment(m, program, f.worker, f.team, t(referred));
    f.store.create(RecordBody::Enrollment(e)).unwrap();
    m
}

fn note(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    at: &str,
    modality: Modality,
    engaged: bool,
    purposes: Vec<ContactPurpose>,
) -> RecordId {
    let mut n = f.note(m, program, "Met and worked on goals.");
    n.started_at = t(at);
    n.modality = modality;
    n.member_engaged = engaged;
    n.purposes = purposes;
    if modality == Modality::Collateral {
        n.collateral = Some(Contact {
            name: "Outpatient clinician".into(),
            ..Default::default()
        });
    }
    f.store.create(RecordBody::ContactNote(n)).unwrap()
}

fn eval(f: &Fixture, m: RecordId, now: &str) -> Vec<Obligation> {
    rules::evaluate_member(&MemberRecords::load(&f.store, m).unwrap(), t(now))
}

fn find<'a>(obs: &'a [Obligation], id: &str) -> &'a Obligation {
    obs.iter().find(|o| o.rule_id == id).unwrap_or_else(|| {
        panic!(
            "{id} missing from {:?}",
            obs.iter().map(|o| &o.rule_id).collect::<Vec<_>>()
        )
    })
}

#[test]
fn every_rule_in_rules_md_is_evaluated() {
    let text = include_str!("data/RULES.md");
    let ids: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|id| id.contains('-') && id.chars().last().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect();
    let mut covered: BTreeSet<String> = catalog::RULES.iter().map(|r| r.id.to_string()).collect();
    covered.extend(staff::STAFF_RULES.iter().map(|r| r.0.to_string()));
    covered.insert("JI-8".into()); // a product feature: the distress signal, not a record clock
    assert_eq!(ids, covered);
}

#[test]
fn first_contact_clock_runs_in_hours_and_marks_late_work() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Csp, "2026-11-02T09:00:00-05:00");
    assert_eq!(
        find(&eval(&f, m, "2026-11-02T10:00:00-05:00"), "CSP-1").status,
        Status::Due
    );
    assert_eq!(
        find(&eval(&f, m, "2026-11-03T01:00:00-05:00"), "CSP-1").status,
        Status::AtRisk
    );
    assert_eq!(
        find(&eval(&f, m, "2026-11-03T09:00:01-05:00"), "CSP-1").status,
        Status::Overdue
    );
    note(
        &mut f,
        m,
        Program::Csp,
        "2026-11-03T15:00:00-05:00",
        Modality::Phone,
        true,
        vec![],
    );
    let obs = eval(&f, m, "2026-11-04T09:00:00-05:00");
    assert_eq!(find(&obs, "CSP-1").status, Status::SatisfiedLate);
    assert_eq!(
        find(&obs, "CSP-1").due,
        Some(t("2026-11-03T09:00:00-05:00"))
    );
    assert_eq!(
        find(&obs, "CSP-1").citation,
        "CSP Process Specifications, Assessment item 2"
    );
}

#[test]
fn csp_ji_rows_replace_the_csp_rows_they_name() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-11-02T09:00:00-05:00");
    let ids: BTreeSet<String> = eval(&f, m, "2026-11-03T09:00:00-05:00")
        .into_iter()
        .map(|o| o.rule_id)
        .collect();
    for replaced in ["CSP-4", "CSP-5", "CSP-8"] {
        assert!(!ids.contains(replaced), "{replaced} applies to CSP-JI");
    }
    for kept in ["CSP-1", "CSP-2", "JI-1", "JI-2", "JI-6"] {
        assert!(ids.contains(kept), "{kept} missing");
    }
}

#[test]
fn the_case_rate_counts_engaged_connections_and_case_work() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-09-01T09:00:00-04:00");
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-11-03T10:00:00-05:00",
        Modality::InPerson,
        true,
        vec![],
    );
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-11-10T10:00:00-05:00",
        Modality::Text,
        false,
        vec![],
    );
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-11-12T10:00:00-05:00",
        Modality::CaseRelatedWork,
        false,
        vec![],
    );
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-10-01T10:00:00-04:00",
        Modality::InPerson,
        true,
        vec![],
    );
    let records = MemberRecords::load(&f.store, m).unwrap();
    let rate = rules::case_rate(&records, t("2026-11-20T12:00:00-05:00"));
    assert_eq!(
        (rate.connections, rate.case_work, rate.needed),
        (1, 1, 2),
        "an unresponsive text and an old visit do not count"
    );
    assert!(!rate.met());
    assert_eq!(rate.oldest_expires, Some(t("2026-12-03T10:00:00-05:00")));
    assert_eq!(
        find(&eval(&f, m, "2026-11-20T12:00:00-05:00"), "JI-1").status,
        Status::Overdue
    );
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-11-18T10:00:00-05:00",
        Modality::Collateral,
        false,
        vec![],
    );
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-11-19T10:00:00-05:00",
        Modality::Phone,
        true,
        vec![],
    );
    let obs = eval(&f, m, "2026-11-20T12:00:00-05:00");
    assert_eq!(find(&obs, "JI-1").status, Status::Satisfied);
    assert!(
        find(&obs, "JI-1")
            .detail
            .as_deref()
            .unwrap()
            .contains("2 connection(s), 2 case-related work")
    );
}

#[test]
fn unsuccessful_engagement_extends_the_ji_assessment_and_a_waiver_records_who() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-10-01T09:00:00-04:00");
    note(
        &mut f,
        m,
        Program::CspJi,
        "2026-10-02T09:00:00-04:00",
        Modality::InPerson,
        true,
        vec![ContactPurpose::FirstAppointment],
    );
    assert_eq!(
        find(&eval(&f, m, "2026-10-20T09:00:00-04:00"), "JI-2").status,
        Status::Overdue
    );
    let attempt = EngagementAttempt {
        member_id: m,
        program: Program::CspJi,
        by: f.worker,
        at: t("2026-10-14T09:00:00-04:00"),
        channel: Channel::Phone,
        outcome: AttemptOutcome::NoAnswer,
        purpose: "complete the assessment".into(),
        note: None,
    };
    f.store
        .create(RecordBody::EngagementAttempt(attempt))
        .unwrap();
    match &find(&eval(&f, m, "2026-10-20T09:00:00-04:00"), "JI-2").status {
        Status::Extended { reason, next_check } => {
            assert!(reason.contains("1 unsuccessful engagement effort"));
            assert_eq!(*next_check, t("2026-10-21T23:59:59.999-04:00"));
        }
        other => panic!("expected extended, got {other:?}"),
    }
    // A supervisor's waiver (recorded on the supervisor's device; see
    // `overrides_come_only_from_a_grantor_for_a_rule_that_takes_them`).
    let supervisor = new_id();
    let mut records = MemberRecords::load(&f.store, m).unwrap();
    records.overrides.push(ObligationOverride {
        member_id: m,
        program: Program::CspJi,
        rule_id: "JI-6".into(),
        kind: OverrideKind::Waiver,
        until: None,
        by: supervisor,
        reason: "no in-reach provider was involved".into(),
        recorded_at: t("2026-10-03T09:00:00-04:00"),
    });
    let evaluated = rules::evaluate_member(&records, t("2026-10-20T09:00:00-04:00"));
    assert_eq!(
        find(&evaluated, "JI-6").status,
        Status::Waived {
            by: supervisor,
            reason: "no in-reach provider was involved".into()
        }
    );
}

#[test]
fn incidents_are_due_one_business_day_later_skipping_holidays() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-10-01T09:00:00-04:00");
    let incident = Incident {
        member_id: Some(m),
        program: Program::CspJi,
        occurred_at: t("2026-11-25T15:00:00-05:00"),
        location: "member's apartment".into(),
        category: IncidentCategory::StaffSafety,
        description: "threat".into(),
        actions_taken: "left".into(),
        reported_to_plan_at: None,
        reported_to_masshealth_at: None,
        alarm_id: None,
        reporter: f.worker,
    };
    let id = f.store.create(RecordBody::Incident(incident)).unwrap();
    let o = find(&eval(&f, m, "2026-11-26T12:00:00-05:00"), "JI-7").clone();
    assert_eq!(
        o.due,
        Some(t("2026-11-27T23:59:59.999-05:00")),
        "Thanksgiving is skipped"
    );
    f.store
        .update(id, |b| {
            if let RecordBody::Incident(i) = b {
                i.reported_to_plan_at = Some(t("2026-11-27T10:00:00-05:00"));
                i.reported_to_masshealth_at = Some(t("2026-11-27T11:00:00-05:00"));
            }
        })
        .unwrap();
    assert_eq!(
        find(&eval(&f, m, "2026-11-30T12:00:00-05:00"), "JI-7").status,
        Status::Satisfied
    );
}

#[test]
fn an_action_plan_counts_only_while_its_signatures_are_current() {
    let mut f = Fixture::new();
    // Signatures carry the device clock, so this scenario runs around the real today.
    let day = 86_400_000;
    let now = Timestamp::now().millis();
    let at = |ms: i64| Timestamp::from_millis(ms).to_string();
    let m = enroll(&mut f, Program::Tm, &at(now - 6 * day));
    note(
        &mut f,
        m,
        Program::Tm,
        &at(now - 5 * day),
        Modality::InPerson,
        true,
        vec![ContactPurpose::ServiceInitiation],
    );
    let later = at(now + 3_600_000);
    let plan = f
        .store
        .create(RecordBody::Plan(synthetic::service_plan(
            m,
            Program::Tm,
            f.worker,
        )))
        .unwrap();
    f.store.sign_plan(plan, f.worker_signer()).unwrap();
    // The supervisor co-signs on their own device; the signature reaches the worker's
    // device through the server, which says whose key signed it.
    let mut supervisor = Fixture::signed_in_with(
        fieldnote_protocol::ServerRole::Supervisor,
        fieldnote_core::StoreKey::generate(),
    );
    supervisor
        .store
        .merge_remote(plan, &f.store.document_bytes(plan).unwrap())
        .unwrap();
    supervisor
        .store
        .sign_plan(plan, supervisor.staff_signer(Role::Supervisor))
        .unwrap();
    deliver_attestations(&supervisor.store, &mut f.store, &[plan]);
    assert_ne!(find(&eval(&f, m, &later), "TM-3").status, Status::Satisfied);
    f.store
        .sign_plan(
            plan,
            Signer {
                staff_id: None,
                name: "Parent".into(),
                role: Role::Guardian,
                witness: Some(f.worker),
            },
        )
        .unwrap();
    assert_eq!(find(&eval(&f, m, &later), "TM-3").status, Status::Satisfied);
    f.store
        .update(plan, |b| {
            if let RecordBody::Plan(p) = b {
                p.summary.set("changed after signing")
            }
        })
        .unwrap();
    assert_eq!(find(&eval(&f, m, &later), "TM-3").status, Status::Due);
}

#[test]
fn cares_plan_copies_need_both_languages_on_paper_and_electronically() {
    let mut f = Fixture::new();
    let mut member = synthetic::member(&mut rng());
    member.primary_language = "Spanish".into();
    let m = f.store.create(RecordBody::Member(member)).unwrap();
    f.store
        .create(RecordBody::Enrollment(synthetic::enrollment(
            m,
            Program::Cares,
            f.worker,
            f.team,
            t("2026-10-01T09:00:00-04:00"),
        )))
        .unwrap();
    let deliver = |f: &mut Fixture, language: &str, paper: bool| {
        let d = DocumentDelivery {
            member_id: m,
            program: Program::Cares,
            document: DocumentKind::PlanCopy,
            document_record_id: None,
            recipient_kind: RecipientKind::Guardian,
            recipient: Contact {
                name: "Guardian".into(),
                ..Default::default()
            },
            channel: if paper { Channel::Mail } else { Channel::Email },
            paper,
            electronic: !paper,
            language: language.into(),
            delivered_at: t("2026-10-20T09:00:00-04:00"),
            consent_id: None,
            by: f.worker,
            recorded_at: None,
        };
        f.store.create(RecordBody::DocumentDelivery(d)).unwrap();
    };
    deliver(&mut f, "English", true);
    deliver(&mut f, "English", false);
    deliver(&mut f, "Spanish", true);
    assert_eq!(
        find(&eval(&f, m, "2026-10-25T09:00:00-04:00"), "CARES-2").status,
        Status::Due
    );
    deliver(&mut f, "Spanish", false);
    assert_eq!(
        find(&eval(&f, m, "2026-10-25T09:00:00-04:00"), "CARES-2").status,
        Status::Satisfied
    );
}

#[test]
fn staff_obligations_are_evaluated_per_staff_member() {
    let mut f = Fixture::new();
    let mentor = f.worker;
    f.store
        .create(RecordBody::Consultation(ConsultationRecord {
            requested_by: mentor,
            program: Program::Tm,
            requested_at: t("2026-11-23T10:00:00-05:00"),
            consultant_kind: ConsultantKind::SeniorClinician,
            consultant: Some(new_id()),
            responded_at: Some(t("2026-11-23T12:00:00-05:00")),
            topic: "risk".into(),
        }))
        .unwrap();
    f.store
        .create(RecordBody::Supervision(SupervisionRecord {
            staff_id: mentor,
            supervisor_id: new_id(),
            program: Program::Tm,
            individual: true,
            held_at: t("2026-11-24T10:00:00-05:00"),
            duration_minutes: 60,
            topics: "caseload".into(),
        }))
        .unwrap();
    let obs = staff::evaluate_staff(
        &f.store,
        mentor,
        &[Program::Tm],
        t("2026-11-25T10:00:00-05:00"),
    )
    .unwrap();
    assert_eq!(
        find(&obs, "TM-11").status,
        Status::SatisfiedLate,
        "answered after 2 hours"
    );
    assert_eq!(find(&obs, "TM-10").status, Status::Satisfied);
    let next_week = staff::evaluate_staff(
        &f.store,
        mentor,
        &[Program::Tm],
        t("2026-11-30T10:00:00-05:00"),
    )
    .unwrap();
    assert_eq!(find(&next_week, "TM-10").status, Status::Due);
}

#[test]
fn the_today_view_puts_the_most_urgent_member_first() {
    let mut f = Fixture::new();
    let calm = enroll(&mut f, Program::Csp, "2026-11-25T08:00:00-05:00");
    let late = enroll(&mut f, Program::Csp, "2026-11-20T08:00:00-05:00");
    let today = rules::today(&f.store, t("2026-11-25T09:00:00-05:00")).unwrap();
    assert_eq!(today[0].member_id, late);
    assert_eq!(today[0].open[0].status, Status::Overdue);
    assert_eq!(today[1].member_id, calm);
    assert!(today[1].open.iter().all(|o| o.status != Status::Overdue));
}

#[test]
fn initial_cares_training_is_due_three_months_after_starting_but_not_before_2024() {
    let mut f = Fixture::new();
    let coordinator = f.worker;
    for started in ["2023-05-01", "2026-06-15"] {
        f.store
            .create(RecordBody::Training(TrainingRecord {
                staff_id: coordinator,
                program: Program::Cares,
                employment_started_on: Day::parse(started).unwrap(),
                course: format!("orientation {started}"),
                required_initial: true,
                completed_on: None,
            }))
            .unwrap();
    }
    let obs = staff::evaluate_staff(
        &f.store,
        coordinator,
        &[Program::Cares],
        t("2026-11-25T10:00:00-05:00"),
    )
    .unwrap();
    let mut dues: Vec<String> = obs
        .iter()
        .filter(|o| o.rule_id == "CARES-12")
        .map(|o| o.due.unwrap().to_string())
        .collect();
    dues.sort();
    assert_eq!(dues, vec!["2024-01-01T04:59:59Z", "2026-09-16T03:59:59Z"]);
    assert!(
        obs.iter()
            .filter(|o| o.rule_id == "CARES-12")
            .all(|o| o.status == Status::Overdue)
    );
}

#[test]
fn the_supervisor_signature_is_due_at_the_earlier_of_one_week_after_completion_and_three_weeks_after_the_first_appointment()
 {
    let mut f = Fixture::new();
    let day = 86_400_000;
    let now = Timestamp::now().millis();
    let at = |ms: i64| Timestamp::from_millis(ms).to_string();
    let m = enroll(&mut f, Program::Csp, &at(now - 20 * day));
    note(
        &mut f,
        m,
        Program::Csp,
        &at(now - 19 * day),
        Modality::InPerson,
        true,
        vec![],
    );
    f.store
        .create(RecordBody::Plan(synthetic::service_plan(
            m,
            Program::Csp,
            f.worker,
        )))
        .unwrap();
    let o = find(&eval(&f, m, &at(now + 60_000)), "CSP-7").clone();
    let first_appointment = Timestamp::from_millis(now - 19 * day);
    assert_eq!(
        o.due,
        Some(rules::Clock::Days(21).deadline(first_appointment))
    );
}

#[test]
fn session_documentation_duties_are_read_from_projected_note_facts() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-10-01T09:00:00-04:00");
    let id = note(
        &mut f,
        m,
        Program::Tm,
        "2026-10-02T16:00:00-04:00",
        Modality::Telehealth,
        true,
        vec![],
    );
    let obs = eval(&f, m, "2026-10-03T09:00:00-04:00");
    assert_eq!(
        find(&obs, "TM-7").status,
        Status::Overdue,
        "a telehealth draft without its reason"
    );
    assert_eq!(find(&obs, "TM-5").status, Status::Satisfied);
    f.store
        .update(id, |b| {
            if let RecordBody::ContactNote(n) = b {
                n.telehealth_reason = Some("youth had a fever".into());
                n.member_response = None;
            }
        })
        .unwrap();
    let obs = eval(&f, m, "2026-10-03T09:00:00-04:00");
    assert_eq!(find(&obs, "TM-7").status, Status::Satisfied);
    assert_eq!(find(&obs, "TM-5").status, Status::Overdue);
    let before = f.store.documents_loaded();
    let records = MemberRecords::load(&f.store, m).unwrap();
    assert_eq!(
        f.store.documents_loaded() - before,
        0,
        "every record read from its projection; no document loaded"
    );
    assert_eq!(records.notes.len(), 1);
}

#[test]
fn the_supervisor_roll_up_counts_per_worker_and_team() {
    use fieldnote_core::rules::rollup::{MemberObligations, rollup};
    let mut f = Fixture::new();
    let now = "2026-11-25T09:00:00-05:00"; // a Wednesday
    let late = enroll(&mut f, Program::CspJi, "2026-09-01T08:00:00-04:00");
    let fresh = enroll(&mut f, Program::Csp, "2026-11-25T08:00:00-05:00");
    let other_worker = new_id();
    let members = vec![
        MemberObligations {
            member_id: late,
            worker: f.worker,
            team: f.team,
            obligations: eval(&f, late, now),
        },
        MemberObligations {
            member_id: fresh,
            worker: other_worker,
            team: f.team,
            obligations: eval(&f, fresh, now),
        },
    ];
    let mut staff = std::collections::BTreeMap::new();
    staff.insert(
        f.worker,
        staff::evaluate_staff(&f.store, f.worker, &[Program::Tm], t(now)).unwrap(),
    );
    let teams = rollup(&members, &staff, t(now));
    assert_eq!(teams.len(), 1);
    let team = &teams[0];
    assert_eq!(team.workers.len(), 2);
    let first = &team.workers[0];
    assert_eq!(
        first.worker, f.worker,
        "the worker with overdue work comes first"
    );
    assert!(first.overdue >= 3, "{first:?}");
    assert_eq!((first.case_rate_met, first.case_rate_unmet), (0, 1));
    assert_eq!(
        first
            .staff_open
            .iter()
            .map(|o| o.rule_id.as_str())
            .collect::<Vec<_>>(),
        vec!["TM-10"]
    );
    let second = &team.workers[1];
    assert_eq!(second.overdue, 0);
    assert!(
        second.due_this_week >= 2,
        "CSP-1 and CSP-2 fall due this week: {second:?}"
    );
    assert_eq!(team.overdue, first.overdue);
}

#[test]
fn ended_enrollments_keep_only_the_duties_that_still_apply() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-09-01T08:00:00-04:00");
    let enrollment = f
        .store
        .timeline(m)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "enrollment")
        .unwrap()
        .record_id;
    let ids = |f: &Fixture| -> BTreeSet<String> {
        eval(f, m, "2026-11-25T09:00:00-05:00")
            .into_iter()
            .map(|o| o.rule_id)
            .collect()
    };
    assert!(ids(&f).contains("JI-1"));
    f.store
        .update(enrollment, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Discharged;
                e.discharge = Some(Discharge {
                    discharged_on: Day::parse("2026-11-20").unwrap(),
                    last_service_on: Day::parse("2026-11-19").unwrap(),
                    planned: true,
                    reason: "goals met".into(),
                });
            }
        })
        .unwrap();
    let after = ids(&f);
    assert!(
        !after.contains("JI-1") && !after.contains("JI-3"),
        "no ongoing clocks after discharge: {after:?}"
    );
    assert!(
        after.contains("JI-10") && after.contains("CSP-10"),
        "discharge duties remain: {after:?}"
    );
    f.store
        .update(enrollment, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Ineligible;
                e.discharge = None;
                e.status_history.push(StatusChange {
                    at: t("2026-09-02T08:00:00-04:00"),
                    status: EnrollmentStatus::Ineligible,
                    reason: "not justice involved".into(),
                    by: f.worker,
                });
            }
        })
        .unwrap();
    assert_eq!(ids(&f), BTreeSet::from(["JI-9".to_string()]));
}

fn enrollment_of(f: &Fixture, m: RecordId) -> RecordId {
    f.store
        .timeline(m)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "enrollment")
        .unwrap()
        .record_id
}

fn discharge(f: &mut Fixture, m: RecordId, on: &str) {
    let e = enrollment_of(f, m);
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Discharged;
                e.discharge = Some(Discharge {
                    discharged_on: Day::parse(on).unwrap(),
                    last_service_on: Day::parse(on).unwrap(),
                    planned: true,
                    reason: "goals met".into(),
                });
            }
        })
        .unwrap();
}

fn discharge_plan(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    enrollment: RecordId,
    service_plan: Option<RecordId>,
) -> RecordId {
    f.store
        .create(RecordBody::DischargePlan(DischargePlan {
            member_id: m,
            program,
            enrollment_id: enrollment,
            discharge_on: Day::parse("2026-11-20").unwrap(),
            aftercare: "Outpatient therapy weekly".into(),
            recommendations: "Keep the Tuesday group".into(),
            crisis_plan_id: None,
            service_plan_id: service_plan,
            written_at: t("2026-11-18T09:00:00-05:00"),
            author: f.worker,
        }))
        .unwrap()
}

fn deliver(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    document: DocumentKind,
    record: Option<RecordId>,
    to: RecipientKind,
    at: &str,
) {
    f.store
        .create(RecordBody::DocumentDelivery(DocumentDelivery {
            member_id: m,
            program,
            document,
            document_record_id: record,
            recipient_kind: to,
            recipient: Contact {
                name: "Recipient".into(),
                ..Default::default()
            },
            channel: Channel::InPerson,
            paper: true,
            electronic: false,
            language: "English".into(),
            delivered_at: t(at),
            consent_id: None,
            by: f.worker,
            recorded_at: None,
        }))
        .unwrap();
}

/// TM-8: a discharge plan counts only when it is this enrollment's plan, under TM, given to
/// the youth or guardian (RULES.md TM-8; TM Discharge 4). Another program's plan, a plan
/// given to a provider only, or a delivery naming no plan leave it overdue.
#[test]
fn tm_8_counts_only_this_enrollments_discharge_plan_given_to_the_youth_or_guardian() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-09-01T09:00:00-04:00");
    let tm = enrollment_of(&f, m);
    discharge(&mut f, m, "2026-11-20");
    let status = |f: &Fixture| {
        find(&eval(f, m, "2026-12-01T09:00:00-05:00"), "TM-8")
            .status
            .clone()
    };
    assert_eq!(status(&f), Status::Overdue);
    let other_enrollment = discharge_plan(&mut f, m, Program::Tm, new_id(), None);
    let ours = discharge_plan(&mut f, m, Program::Tm, tm, None);
    let at = "2026-11-21T10:00:00-05:00";
    deliver(
        &mut f,
        m,
        Program::Csp,
        DocumentKind::DischargePlan,
        Some(ours),
        RecipientKind::Guardian,
        at,
    );
    deliver(
        &mut f,
        m,
        Program::Tm,
        DocumentKind::DischargePlan,
        Some(ours),
        RecipientKind::Provider,
        at,
    );
    deliver(
        &mut f,
        m,
        Program::Tm,
        DocumentKind::DischargePlan,
        None,
        RecipientKind::Guardian,
        at,
    );
    deliver(
        &mut f,
        m,
        Program::Tm,
        DocumentKind::DischargePlan,
        Some(other_enrollment),
        RecipientKind::Member,
        at,
    );
    assert_eq!(
        status(&f),
        Status::Overdue,
        "none of those is this enrollment's plan to the family"
    );
    deliver(
        &mut f,
        m,
        Program::Tm,
        DocumentKind::DischargePlan,
        Some(ours),
        RecipientKind::Guardian,
        at,
    );
    assert_eq!(status(&f), Status::Satisfied);
}

/// JI-10: the discharge plan is given "with the updated service plan" (CSP-JI Process g): a
/// discharge plan naming another program's plan does not count; one naming this program's
/// service plan does. CSP-10 (which CSP-JI members keep) needs it too, and a crisis plan.
#[test]
fn ji_10_needs_the_discharge_plan_given_with_this_programs_service_plan() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-09-01T09:00:00-04:00");
    let ji = enrollment_of(&f, m);
    discharge(&mut f, m, "2026-11-20");
    let csp_plan = f
        .store
        .create(RecordBody::Plan(synthetic::service_plan(
            m,
            Program::Csp,
            f.worker,
        )))
        .map_err(|e| e.to_string());
    // The member is not enrolled in CSP: the device refuses that plan outright.
    assert!(csp_plan.is_err());
    let ji_plan = f
        .store
        .create(RecordBody::Plan(synthetic::service_plan(
            m,
            Program::CspJi,
            f.worker,
        )))
        .unwrap();
    let without = discharge_plan(&mut f, m, Program::CspJi, ji, Some(new_id()));
    let at = "2026-11-20T10:00:00-05:00";
    deliver(
        &mut f,
        m,
        Program::CspJi,
        DocumentKind::DischargePlan,
        Some(without),
        RecipientKind::Member,
        at,
    );
    let now = "2026-11-25T09:00:00-05:00";
    assert_eq!(find(&eval(&f, m, now), "JI-10").status, Status::Overdue);
    let with = discharge_plan(&mut f, m, Program::CspJi, ji, Some(ji_plan));
    deliver(
        &mut f,
        m,
        Program::CspJi,
        DocumentKind::DischargePlan,
        Some(with),
        RecipientKind::Member,
        at,
    );
    assert_eq!(find(&eval(&f, m, now), "JI-10").status, Status::Satisfied);
}

/// CSP-8, JI-5 and CARES-3 come due sooner after a significant change (RULES.md: "or sooner
/// on significant change"): 30 days after the change when that is before the regular date
/// (`catalog::SIGNIFICANT_CHANGE_DAYS`); a review after the change puts the clock back.
#[test]
fn csp_8_ji_5_cares_3_come_due_30_days_after_a_significant_change() {
    for (program, rule) in [
        (Program::Csp, "CSP-8"),
        (Program::CspJi, "JI-5"),
        (Program::Cares, "CARES-3"),
    ] {
        let mut f = Fixture::new();
        let m = enroll(&mut f, program, "2026-06-01T09:00:00-04:00");
        if rule == "CARES-3" {
            f.store
                .create(RecordBody::NeedsAssessment(NeedsAssessment {
                    member_id: m,
                    program,
                    kind: AssessmentKind::Comprehensive,
                    assessor: f.worker,
                    started_at: t("2026-07-01T09:00:00-04:00"),
                    completed_at: Some(t("2026-07-01T10:00:00-04:00")),
                    domains: Vec::new(),
                    criminogenic_needs: Vec::new(),
                    summary: "Needs in housing and school".into(),
                    significant_change: false,
                }))
                .unwrap();
        } else {
            let mut plan = synthetic::service_plan(m, program, f.worker);
            plan.completed_at = Some(t("2026-07-01T10:00:00-04:00"));
            f.store.create(RecordBody::Plan(plan)).unwrap();
        }
        let now = "2026-08-20T09:00:00-04:00";
        let before = find(&eval(&f, m, now), rule).clone();
        assert!(
            !before.open() || before.status == Status::Due,
            "{rule}: {before:?}"
        );
        let regular_due = before.due.unwrap();
        let e = enrollment_of(&f, m);
        f.store
            .update(e, |b| {
                if let RecordBody::Enrollment(e) = b {
                    e.significant_changes.push(SignificantChange {
                        at: t("2026-08-01T09:00:00-04:00"),
                        description: "Lost housing".into(),
                    });
                }
            })
            .unwrap();
        let after = find(&eval(&f, m, now), rule).clone();
        assert_eq!(
            after.due,
            Some(t("2026-08-31T23:59:59.999-04:00")),
            "{rule}: due 30 days after the change"
        );
        assert!(
            after.due.unwrap() < regular_due,
            "{rule}: sooner than {regular_due:?}"
        );
        assert!(
            after.detail.unwrap().contains("significant change"),
            "{rule}"
        );
        assert_eq!(
            find(&eval(&f, m, "2026-09-02T09:00:00-04:00"), rule).status,
            Status::Overdue,
            "{rule}: missed"
        );
    }
}

/// CARES-5: a follow-up documented in the member's case notes counts (purpose "referral
/// follow-up"), as an entry on the referral does; a documented reason for no follow-up
/// shows as the answer, with the reason, instead of overdue.
#[test]
fn cares_5_a_follow_up_case_note_counts_and_a_documented_reason_shows() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Cares, "2026-09-01T09:00:00-04:00");
    let referral = |f: &mut Fixture, reason: Option<&str>| {
        f.store
            .create(RecordBody::ServiceReferral(ServiceReferral {
                member_id: m,
                program: Program::Cares,
                service: "Outpatient therapy".into(),
                provider: Contact {
                    name: "Clinic".into(),
                    ..Default::default()
                },
                reason: "Anxiety".into(),
                alternative_for_ineligible: false,
                referred_at: t("2026-09-10T09:00:00-04:00"),
                scheduled_for: Some(t("2026-09-15T09:00:00-04:00")),
                follow_ups: Vec::new(),
                no_follow_up_reason: reason.map(str::to_string),
                consent_id: None,
                by: f.worker,
            }))
            .unwrap()
    };
    referral(&mut f, None);
    let now = "2026-10-20T09:00:00-04:00";
    assert_eq!(find(&eval(&f, m, now), "CARES-5").status, Status::Overdue);
    note(
        &mut f,
        m,
        Program::Cares,
        "2026-09-25T09:00:00-04:00",
        Modality::Phone,
        true,
        vec![ContactPurpose::ReferralFollowUp],
    );
    assert_eq!(find(&eval(&f, m, now), "CARES-5").status, Status::Satisfied);

    let mut g = Fixture::new();
    let m = enroll(&mut g, Program::Cares, "2026-09-01T09:00:00-04:00");
    g.store
        .create(RecordBody::ServiceReferral(ServiceReferral {
            member_id: m,
            program: Program::Cares,
            service: "Dental".into(),
            provider: Contact {
                name: "Dentist".into(),
                ..Default::default()
            },
            reason: "Pain".into(),
            alternative_for_ineligible: false,
            referred_at: t("2026-09-10T09:00:00-04:00"),
            scheduled_for: Some(t("2026-09-15T09:00:00-04:00")),
            follow_ups: Vec::new(),
            no_follow_up_reason: Some("family moved out of state".into()),
            consent_id: None,
            by: g.worker,
        }))
        .unwrap();
    let o = find(&eval(&g, m, now), "CARES-5").clone();
    assert_eq!(o.status, Status::Satisfied);
    assert_eq!(
        o.detail.as_deref(),
        Some("no follow-up: family moved out of state")
    );
}

/// JI-4: the service plan is due "upon completion of the comprehensive needs assessment"
/// (CSP-JI Process c), not 14 days from the assessment's start.
#[test]
fn ji_4_is_due_when_the_comprehensive_assessment_is_completed() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, "2026-09-01T09:00:00-04:00");
    f.store
        .create(RecordBody::NeedsAssessment(NeedsAssessment {
            member_id: m,
            program: Program::CspJi,
            kind: AssessmentKind::Comprehensive,
            assessor: f.worker,
            started_at: t("2026-09-02T09:00:00-04:00"),
            completed_at: Some(t("2026-09-10T15:00:00-04:00")),
            domains: Vec::new(),
            criminogenic_needs: vec![CriminogenicNeed {
                factor: CriminogenicFactor::CriminalHistory,
                level: NeedLevel::Low,
                notes: "One prior".into(),
            }],
            summary: "Criminogenic needs assessed".into(),
            significant_change: false,
        }))
        .unwrap();
    let o = find(&eval(&f, m, "2026-09-12T09:00:00-04:00"), "JI-4").clone();
    assert_eq!(o.trigger, Some(t("2026-09-10T15:00:00-04:00")));
    assert_eq!(o.due, Some(t("2026-09-10T23:59:59.999-04:00")));
    assert_eq!(o.status, Status::Overdue);
}

/// TM-6 is weekly (RULES.md "Weekly = at least once in each calendar week"): a week with no
/// provider contact stays overdue after it ends, and a contact in a later week does not
/// make up for it.
#[test]
fn tm_6_a_missed_week_stays_missed() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-11-02T09:00:00-05:00");
    let e = enrollment_of(&f, m);
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Active;
                e.intake_at = Some(t("2026-11-02T09:00:00-05:00"));
            }
        })
        .unwrap();
    // Contacts in the weeks of 2 and 16 November, none in the week of 9 November.
    for at in ["2026-11-03T09:00:00-05:00", "2026-11-17T09:00:00-05:00"] {
        note(
            &mut f,
            m,
            Program::Tm,
            at,
            Modality::Collateral,
            false,
            vec![ContactPurpose::ProviderProgressUpdate],
        );
    }
    let weeks: Vec<(Option<Timestamp>, Status)> = eval(&f, m, "2026-11-18T09:00:00-05:00")
        .into_iter()
        .filter(|o| o.rule_id == "TM-6")
        .map(|o| (o.due, o.status))
        .collect();
    assert_eq!(
        weeks
            .iter()
            .filter(|(_, s)| *s == Status::Satisfied)
            .count(),
        2,
        "{weeks:?}"
    );
    assert!(
        weeks.contains(&(Some(t("2026-11-15T23:59:59.999-05:00")), Status::Overdue)),
        "the week of 9 November is still missed: {weeks:?}"
    );
}

/// Extensions and waivers (RULES.md "extended", "waived (with who and why)"): only rules
/// whose specs allow one take it (`catalog::EXTENDABLE`, `catalog::WAIVABLE`), and only a
/// signed-in supervisor or program director records one, in their own name. A worker's, a
/// stranger's or a disallowed one is refused by field; one that arrives anyway (an old
/// record) is ignored by the rules.
#[test]
fn overrides_come_only_from_a_grantor_for_a_rule_that_takes_them() {
    let waiver = |rule: &str, by: StaffId, m: RecordId, program: Program| {
        RecordBody::Override(ObligationOverride {
            member_id: m,
            program,
            rule_id: rule.into(),
            kind: OverrideKind::Waiver,
            until: None,
            by,
            reason: "member declined".into(),
            recorded_at: t("2026-10-03T09:00:00-04:00"),
        })
    };
    let mut worker = Fixture::new();
    let m = enroll(&mut worker, Program::CspJi, "2026-10-01T09:00:00-04:00");
    let refused = worker
        .store
        .create(waiver("JI-6", worker.worker, m, Program::CspJi))
        .unwrap_err();
    assert_eq!(fields(&refused), ["by"], "a worker grants nothing");

    let mut sup = Fixture::signed_in_as(fieldnote_protocol::ServerRole::Supervisor);
    let m = enroll(&mut sup, Program::CspJi, "2026-10-01T09:00:00-04:00");
    let other = sup
        .store
        .create(waiver("JI-6", new_id(), m, Program::CspJi))
        .unwrap_err();
    assert_eq!(fields(&other), ["by"], "only in the grantor's own name");
    let not_allowed = sup
        .store
        .create(waiver("JI-1", sup.worker, m, Program::CspJi))
        .unwrap_err();
    assert_eq!(fields(&not_allowed), ["rule_id"], "JI-1 takes no waiver");
    sup.store
        .create(waiver("JI-6", sup.worker, m, Program::CspJi))
        .unwrap();
    let now = "2026-10-20T09:00:00-04:00";
    assert!(matches!(
        find(&eval(&sup, m, now), "JI-6").status,
        Status::Waived { .. }
    ));

    // An extension of a rule that takes none, already in the records, changes nothing.
    let mut records = MemberRecords::load(&sup.store, m).unwrap();
    let before = find(&rules::evaluate_member(&records, t(now)), "JI-1").clone();
    records.overrides.push(ObligationOverride {
        member_id: m,
        program: Program::CspJi,
        rule_id: "JI-1".into(),
        kind: OverrideKind::Waiver,
        until: None,
        by: sup.worker,
        reason: "no".into(),
        recorded_at: t("2026-10-03T09:00:00-04:00"),
    });
    assert_eq!(
        find(&rules::evaluate_member(&records, t(now)), "JI-1").status,
        before.status
    );
}

/// One status of `rule` for member `m` at `now`.
fn status_of(f: &Fixture, m: RecordId, rule: &str, now: &str) -> Status {
    find(&eval(f, m, now), rule).status.clone()
}

/// CSP-9: discharge planning is documented from admission (Discharge item 1): open, never
/// overdue, until a note of discharge-planning activity.
#[test]
fn csp_9_discharge_planning_is_open_from_admission_until_a_note_documents_it() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Csp, "2026-09-01T09:00:00-04:00");
    assert_eq!(
        status_of(&f, m, "CSP-9", "2026-12-01T09:00:00-05:00"),
        Status::Due
    );
    note(
        &mut f,
        m,
        Program::Csp,
        "2026-09-10T09:00:00-04:00",
        Modality::InPerson,
        true,
        vec![ContactPurpose::DischargePlanning],
    );
    assert_eq!(
        status_of(&f, m, "CSP-9", "2026-12-01T09:00:00-05:00"),
        Status::Satisfied
    );
}

/// CSP-11: linkage with primary care and a yearly physical (Linkages item 7): due a year
/// from admission, satisfied by a PCC coordination note, due again a year after it; a
/// supervisor may waive it for a member who declines.
#[test]
fn csp_11_primary_care_linkage_is_yearly_and_can_be_waived() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Csp, "2025-09-01T09:00:00-04:00");
    assert_eq!(
        status_of(&f, m, "CSP-11", "2026-09-10T09:00:00-04:00"),
        Status::Overdue
    );
    note(
        &mut f,
        m,
        Program::Csp,
        "2026-09-15T09:00:00-04:00",
        Modality::Phone,
        true,
        vec![ContactPurpose::PcpCoordination],
    );
    let o = find(&eval(&f, m, "2026-10-01T09:00:00-04:00"), "CSP-11").clone();
    assert_eq!(
        o.due,
        Some(t("2027-09-15T23:59:59.999-04:00")),
        "a year after the note"
    );
    assert!(!o.open() || o.status == Status::Due);
    let mut records = MemberRecords::load(&f.store, m).unwrap();
    records.overrides.push(ObligationOverride {
        member_id: m,
        program: Program::Csp,
        rule_id: "CSP-11".into(),
        kind: OverrideKind::Waiver,
        until: None,
        by: new_id(),
        reason: "member declines a primary care linkage".into(),
        recorded_at: t("2026-10-01T09:00:00-04:00"),
    });
    assert!(matches!(
        find(
            &rules::evaluate_member(&records, t("2028-01-01T09:00:00-05:00")),
            "CSP-11"
        )
        .status,
        Status::Waived { .. }
    ));
}

/// TM-1: outreach to the family within 5 calendar days of the referral (Process 3); an
/// outreach note on day 7 is late.
#[test]
fn tm_1_outreach_within_five_days_and_late_after() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-10-01T09:00:00-04:00");
    assert_eq!(
        status_of(&f, m, "TM-1", "2026-10-07T09:00:00-04:00"),
        Status::Overdue
    );
    note(
        &mut f,
        m,
        Program::Tm,
        "2026-10-08T09:00:00-04:00",
        Modality::Phone,
        true,
        vec![ContactPurpose::InitialOutreach],
    );
    assert_eq!(
        status_of(&f, m, "TM-1", "2026-10-09T09:00:00-04:00"),
        Status::SatisfiedLate
    );
    let mut g = Fixture::new();
    let m = enroll(&mut g, Program::Tm, "2026-10-01T09:00:00-04:00");
    note(
        &mut g,
        m,
        Program::Tm,
        "2026-10-03T09:00:00-04:00",
        Modality::Phone,
        true,
        vec![ContactPurpose::InitialOutreach],
    );
    assert_eq!(
        status_of(&g, m, "TM-1", "2026-10-09T09:00:00-04:00"),
        Status::Satisfied
    );
}

/// TM-9: after an unplanned end of services, the family follow-up and the notice to other
/// providers are open until both are documented (Discharge 5); a planned discharge owes
/// neither.
#[test]
fn tm_9_an_unplanned_termination_needs_follow_up_and_notice() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-09-01T09:00:00-04:00");
    let e = enrollment_of(&f, m);
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Discharged;
                e.discharge = Some(Discharge {
                    discharged_on: Day::parse("2026-11-20").unwrap(),
                    last_service_on: Day::parse("2026-11-18").unwrap(),
                    planned: false,
                    reason: "family moved".into(),
                });
            }
        })
        .unwrap();
    let now = "2026-12-01T09:00:00-05:00";
    assert_eq!(status_of(&f, m, "TM-9", now), Status::Due);
    note(
        &mut f,
        m,
        Program::Tm,
        "2026-11-19T09:00:00-05:00",
        Modality::Phone,
        false,
        vec![ContactPurpose::UnplannedTerminationFollowUp],
    );
    assert_eq!(
        status_of(&f, m, "TM-9", now),
        Status::Due,
        "the notice is missing"
    );
    note(
        &mut f,
        m,
        Program::Tm,
        "2026-11-19T10:00:00-05:00",
        Modality::Collateral,
        false,
        vec![ContactPurpose::TerminationNotice],
    );
    assert_eq!(status_of(&f, m, "TM-9", now), Status::Satisfied);
}

/// CARES-6: the enrollment letter goes to the member or guardian within 30 days of the
/// enrollment's effective date (VIII); one sent to a provider, or under another program,
/// does not count.
#[test]
fn cares_6_the_enrollment_letter_goes_to_the_member_within_30_days() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Cares, "2026-09-01T09:00:00-04:00");
    let e = enrollment_of(&f, m);
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.effective_on = Day::parse("2026-09-05");
            }
        })
        .unwrap();
    let now = "2026-10-10T09:00:00-04:00";
    assert_eq!(status_of(&f, m, "CARES-6", now), Status::Overdue);
    let at = "2026-09-20T09:00:00-04:00";
    deliver(
        &mut f,
        m,
        Program::Cares,
        DocumentKind::EnrollmentLetter,
        None,
        RecipientKind::Provider,
        at,
    );
    assert_eq!(status_of(&f, m, "CARES-6", now), Status::Overdue);
    deliver(
        &mut f,
        m,
        Program::Cares,
        DocumentKind::EnrollmentLetter,
        None,
        RecipientKind::Guardian,
        at,
    );
    assert_eq!(status_of(&f, m, "CARES-6", now), Status::Satisfied);
}

/// CARES-9: a document shared with anyone but the member or guardian needs a release in
/// force (VIII); a CARES delivery to a provider without one is overdue at once, and another
/// program's delivery does not count against CARES.
#[test]
fn cares_9_sharing_needs_a_release_in_force() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Cares, "2026-09-01T09:00:00-04:00");
    let now = "2026-10-10T09:00:00-04:00";
    assert!(
        eval(&f, m, now).iter().all(|o| o.rule_id != "CARES-9"),
        "nothing shared yet"
    );
    deliver(
        &mut f,
        m,
        Program::Cares,
        DocumentKind::PlanCopy,
        None,
        RecipientKind::Provider,
        "2026-09-20T09:00:00-04:00",
    );
    let o = find(&eval(&f, m, now), "CARES-9").clone();
    assert_eq!(o.status, Status::Overdue);
    assert!(o.detail.unwrap().contains("no release"));
}

/// CP-2: a member may decline at any time; the status change is documented with its reason.
#[test]
fn cp_2_a_declining_member_is_recorded_with_the_reason() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::BhCp, "2026-09-01T09:00:00-04:00");
    let e = enrollment_of(&f, m);
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Declined;
                e.status_history.push(StatusChange {
                    at: t("2026-09-03T09:00:00-04:00"),
                    status: EnrollmentStatus::Declined,
                    reason: "prefers another Community Partner".into(),
                    by: f.worker,
                });
            }
        })
        .unwrap();
    assert_eq!(
        status_of(&f, m, "CP-2", "2026-09-10T09:00:00-04:00"),
        Status::Satisfied
    );
}

fn assessment(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    kind: AssessmentKind,
    started: &str,
    completed: Option<&str>,
) {
    f.store
        .create(RecordBody::NeedsAssessment(NeedsAssessment {
            member_id: m,
            program,
            kind,
            assessor: f.worker,
            started_at: t(started),
            completed_at: completed.map(t),
            domains: Vec::new(),
            criminogenic_needs: Vec::new(),
            summary: "Assessed".into(),
            significant_change: false,
        }))
        .unwrap();
}

fn completed_plan(f: &mut Fixture, m: RecordId, program: Program, kind: PlanKind, at: &str) {
    let mut plan = synthetic::service_plan(m, program, f.worker);
    plan.kind = kind;
    plan.completed_at = Some(t(at));
    f.store.create(RecordBody::Plan(plan)).unwrap();
}

/// CSP-3: the initial needs assessment begins within 48 hours of the first face-to-face
/// contact (Assessment item 3); one begun on the third day is late.
#[test]
fn csp_3_the_assessment_begins_within_48_hours_of_the_first_meeting() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Csp, "2026-10-01T09:00:00-04:00");
    note(
        &mut f,
        m,
        Program::Csp,
        "2026-10-02T09:00:00-04:00",
        Modality::InPerson,
        true,
        vec![ContactPurpose::FirstAppointment],
    );
    assert_eq!(
        status_of(&f, m, "CSP-3", "2026-10-04T10:00:00-04:00"),
        Status::Overdue
    );
    assessment(
        &mut f,
        m,
        Program::Csp,
        AssessmentKind::Initial,
        "2026-10-05T09:00:00-04:00",
        None,
    );
    assert_eq!(
        status_of(&f, m, "CSP-3", "2026-10-06T09:00:00-04:00"),
        Status::SatisfiedLate
    );
}

/// TM-2: services start within 14 days of the family's outreach, or the youth is waitlisted
/// and both the family and the referral source are told (Process 3, 4); a waitlist with only
/// the family told is not enough.
#[test]
fn tm_2_start_or_waitlist_with_both_notices() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, "2026-10-01T09:00:00-04:00");
    note(
        &mut f,
        m,
        Program::Tm,
        "2026-10-02T09:00:00-04:00",
        Modality::Phone,
        true,
        vec![ContactPurpose::InitialOutreach],
    );
    let now = "2026-10-20T09:00:00-04:00";
    assert_eq!(status_of(&f, m, "TM-2", now), Status::Overdue);
    let e = enrollment_of(&f, m);
    let waitlist = |family: bool, source: bool| Waitlist {
        since: t("2026-10-05T09:00:00-04:00"),
        reason: "no mentor free".into(),
        family_notified_at: family.then(|| t("2026-10-06T09:00:00-04:00")),
        referral_source_notified_at: source.then(|| t("2026-10-07T09:00:00-04:00")),
    };
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.waitlist = Some(waitlist(true, false));
            }
        })
        .unwrap();
    assert_eq!(
        status_of(&f, m, "TM-2", now),
        Status::Overdue,
        "one notice only"
    );
    f.store
        .update(e, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.waitlist = Some(waitlist(true, true));
            }
        })
        .unwrap();
    assert_eq!(status_of(&f, m, "TM-2", now), Status::Satisfied);
}

/// CARES-1: the comprehensive assessment and the Individual Care Plan within 60 days of
/// the referral (VI.A.1, VIII): the assessment alone is not enough; with the ICP on day 40
/// it is met.
#[test]
fn cares_1_assessment_and_care_plan_within_60_days() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Cares, "2026-09-01T09:00:00-04:00");
    assessment(
        &mut f,
        m,
        Program::Cares,
        AssessmentKind::Comprehensive,
        "2026-09-10T09:00:00-04:00",
        Some("2026-09-20T09:00:00-04:00"),
    );
    let now = "2026-11-05T09:00:00-05:00";
    assert_eq!(status_of(&f, m, "CARES-1", now), Status::Overdue);
    completed_plan(
        &mut f,
        m,
        Program::Cares,
        PlanKind::IndividualCarePlan,
        "2026-10-11T09:00:00-04:00",
    );
    assert_eq!(status_of(&f, m, "CARES-1", now), Status::Satisfied);
}

/// CARES-4: the care plan is monitored at least every 6 months (VI.D.1): due 6 months after
/// the ICP, then 6 months after each monitoring note.
#[test]
fn cares_4_the_care_plan_is_monitored_every_six_months() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Cares, "2026-01-05T09:00:00-05:00");
    completed_plan(
        &mut f,
        m,
        Program::Cares,
        PlanKind::IndividualCarePlan,
        "2026-02-01T09:00:00-05:00",
    );
    assert_eq!(
        status_of(&f, m, "CARES-4", "2026-08-15T09:00:00-04:00"),
        Status::Overdue
    );
    note(
        &mut f,
        m,
        Program::Cares,
        "2026-08-20T09:00:00-04:00",
        Modality::InPerson,
        true,
        vec![ContactPurpose::IcpMonitoring],
    );
    let o = find(&eval(&f, m, "2026-09-01T09:00:00-04:00"), "CARES-4").clone();
    assert_eq!(o.due, Some(t("2027-02-20T23:59:59.999-05:00")));
    assert!(!o.open() || o.status == Status::Due);
}

/// CARES-7: from 16 a transition-to-adulthood plan is owed (VI.C): not yet due before the
/// birthday, open after it until a plan is completed.
#[test]
fn cares_7_a_transition_plan_is_owed_from_sixteen() {
    let mut f = Fixture::new();
    let mut member = synthetic::member(&mut rng());
    member.masshealth_id = unique_masshealth_id();
    member.date_of_birth = Day::parse("2010-11-01").unwrap();
    let m = f.store.create(RecordBody::Member(member)).unwrap();
    let e = synthetic::enrollment(
        m,
        Program::Cares,
        f.worker,
        f.team,
        t("2026-09-01T09:00:00-04:00"),
    );
    f.store.create(RecordBody::Enrollment(e)).unwrap();
    assert_eq!(
        status_of(&f, m, "CARES-7", "2026-10-15T09:00:00-04:00"),
        Status::NotYetDue
    );
    assert_eq!(
        status_of(&f, m, "CARES-7", "2026-11-15T09:00:00-05:00"),
        Status::Due
    );
    completed_plan(
        &mut f,
        m,
        Program::Cares,
        PlanKind::TransitionToAdulthoodPlan,
        "2026-11-20T09:00:00-05:00",
    );
    assert_eq!(
        status_of(&f, m, "CARES-7", "2026-11-25T09:00:00-05:00"),
        Status::Satisfied
    );
}

/// A plan created for a program is the kind that program's rules read: a CARES plan is an
/// Individual Care Plan (CARES-1), a Community Partners plan needs the PCP's signature
/// (CP-1).
#[test]
fn cp_1_and_cares_1_read_the_plan_their_program_creates() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::BhCp, "2026-09-01T09:00:00-04:00");
    let plan = f
        .store
        .create_plan(
            fieldnote_core::commands::NewPlan {
                member_id: m,
                program: Program::BhCp,
                problems_and_needs: "Diabetes and depression".into(),
                strengths: "Family support".into(),
                summary: "Coordinate care".into(),
                goals: vec![fieldnote_core::commands::NewGoal {
                    statement: "Keep the A1c check".into(),
                    addresses_criminogenic: Vec::new(),
                }],
                supervision_conflict_checked: false,
                youth_signs: false,
                kind: None,
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::Plan(p) = f.store.get(plan).unwrap().body else {
        panic!("a plan")
    };
    assert_eq!(p.kind, PlanKind::PersonCenteredTreatmentPlan);
    assert_eq!(
        status_of(&f, m, "CP-1", "2026-12-01T09:00:00-05:00"),
        Status::Due
    );
    assert_eq!(
        PlanKind::service_plan_of(Program::Cares),
        PlanKind::IndividualCarePlan
    );
}

/// CSP-12: consent, or its refusal, is on file before a collateral contact (Linkages item
/// 2): a collateral contact without one is overdue at once; with a consent signed before
/// it, met.
#[test]
fn csp_12_consent_comes_before_a_collateral_contact() {
    let consent = |f: &Fixture, m: RecordId, at: &str| {
        RecordBody::Consent(Consent {
            member_id: m,
            program: Program::Csp,
            recipient: Contact {
                name: "Outpatient clinician".into(),
                ..Default::default()
            },
            scope: "progress and plan".into(),
            purpose: "care coordination".into(),
            substance_use_part2: false,
            refused: false,
            signed_by: "A. Testvale".into(),
            signed_at: t(at),
            expires_on: None,
            revoked_at: None,
            recorded_by: f.worker,
        })
    };
    let collateral = |f: &mut Fixture, m: RecordId| {
        note(
            f,
            m,
            Program::Csp,
            "2026-10-05T09:00:00-04:00",
            Modality::Collateral,
            false,
            Vec::new(),
        );
    };
    let now = "2026-10-06T09:00:00-04:00";
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Csp, "2026-10-01T09:00:00-04:00");
    collateral(&mut f, m);
    let o = find(&eval(&f, m, now), "CSP-12").clone();
    assert_eq!(o.status, Status::Overdue);
    assert!(o.detail.unwrap().contains("no consent"));

    let mut g = Fixture::new();
    let m = enroll(&mut g, Program::Csp, "2026-10-01T09:00:00-04:00");
    let body = consent(&g, m, "2026-10-02T09:00:00-04:00");
    g.store.create(body).unwrap();
    collateral(&mut g, m);
    assert_eq!(status_of(&g, m, "CSP-12", now), Status::Satisfied);
}

/// CSP-6: the service plan, signed by the worker and the enrollee, within 14 days of the
/// start of the initial assessment (Process items 5, 5d). Built through the command layer;
/// the enrollee's paper signature is dated to the visit where it was given.
#[test]
fn csp_6_the_service_plan_is_signed_by_worker_and_enrollee_within_14_days() {
    use fieldnote_core::commands::{NewGoal, NewPlan};
    let mut f = Fixture::new();
    let day = 86_400_000;
    let now = Timestamp::now().millis();
    let at = |ms: i64| Timestamp::from_millis(ms).to_string();
    let m = enroll(&mut f, Program::Csp, &at(now - 25 * day));
    assessment(
        &mut f,
        m,
        Program::Csp,
        AssessmentKind::Comprehensive,
        &at(now - 24 * day),
        Some(&at(now - 20 * day)),
    );
    assert_eq!(status_of(&f, m, "CSP-6", &at(now)), Status::Overdue);
    let plan = f
        .store
        .create_plan(
            NewPlan {
                member_id: m,
                program: Program::Csp,
                problems_and_needs: "Needs housing".into(),
                strengths: "Keeps appointments".into(),
                summary: "Housing first".into(),
                goals: vec![NewGoal {
                    statement: "Move into stable housing".into(),
                    addresses_criminogenic: Vec::new(),
                }],
                supervision_conflict_checked: false,
                youth_signs: false,
                kind: None,
            },
            f.worker,
        )
        .unwrap();
    let visit = Timestamp::from_millis(now - 5 * day);
    f.store
        .sign_plan_at(plan, f.worker_signer(), Some(visit))
        .unwrap();
    assert_eq!(
        status_of(&f, m, "CSP-6", &at(now)),
        Status::Overdue,
        "the worker's signature alone does not do"
    );
    f.store
        .sign_plan_at(
            plan,
            Signer::witnessed("The enrollee", Role::Member, f.worker),
            Some(visit),
        )
        .unwrap();
    assert_eq!(
        status_of(&f, m, "CSP-6", &at(now)),
        Status::SatisfiedLate,
        "signed 5 days ago; the 14-day window opened 24 days ago"
    );
    // On time: a second member whose plan was signed 10 days into the window.
    let on_time = enroll(&mut f, Program::Csp, &at(now - 25 * day));
    assessment(
        &mut f,
        on_time,
        Program::Csp,
        AssessmentKind::Comprehensive,
        &at(now - 20 * day),
        None,
    );
    let p = f.plan(on_time, Program::Csp);
    let signed = Some(Timestamp::from_millis(now - 10 * day));
    f.store.sign_plan_at(p, f.worker_signer(), signed).unwrap();
    f.store
        .sign_plan_at(
            p,
            Signer::witnessed("The enrollee", Role::Member, f.worker),
            signed,
        )
        .unwrap();
    assert_eq!(status_of(&f, on_time, "CSP-6", &at(now)), Status::Satisfied);
}

/// TM-4: the action plan is updated at least every 90 days, the update signed by mentor,
/// supervisor and guardian (Components 7): 90 days after the last full signature it is
/// overdue; a revision signed by all three answers it.
#[test]
fn tm_4_the_action_plan_is_revised_every_90_days() {
    let mut f = Fixture::new();
    let day = 86_400_000;
    let now = Timestamp::now().millis();
    let at = |ms: i64| Timestamp::from_millis(ms).to_string();
    let m = enroll(&mut f, Program::Tm, &at(now - 40 * day));
    let mut supervisor = Fixture::signed_in_with(
        fieldnote_protocol::ServerRole::Supervisor,
        fieldnote_core::StoreKey::generate(),
    );
    let mut sign_all = |f: &mut Fixture, signed_days_ago: i64| {
        let plan = f.plan(m, Program::Tm);
        let when = Some(Timestamp::from_millis(now - signed_days_ago * day));
        f.store.sign_plan_at(plan, f.worker_signer(), when).unwrap();
        f.store
            .sign_plan_at(
                plan,
                Signer::witnessed("Parent", Role::Guardian, f.worker),
                when,
            )
            .unwrap();
        supervisor
            .store
            .merge_remote(plan, &f.store.document_bytes(plan).unwrap())
            .unwrap();
        supervisor
            .store
            .sign_plan_at(plan, supervisor.staff_signer(Role::Supervisor), when)
            .unwrap();
        deliver_attestations(&supervisor.store, &mut f.store, &[plan]);
    };
    sign_all(&mut f, 25);
    // 65 days from now the plan signed 25 days ago is 90 days old.
    assert_ne!(
        status_of(&f, m, "TM-4", &at(now + 60 * day)),
        Status::Overdue
    );
    assert_eq!(
        status_of(&f, m, "TM-4", &at(now + 70 * day)),
        Status::Overdue
    );
    sign_all(&mut f, 1);
    assert_ne!(
        status_of(&f, m, "TM-4", &at(now + 70 * day)),
        Status::Overdue,
        "the revision restarts the 90 days"
    );
    assert_eq!(
        status_of(&f, m, "TM-4", &at(now + 95 * day)),
        Status::Overdue
    );
}

/// CARES-10: a senior medical professional answers a care coordinator's consultation
/// request within one business day (IV.A.2). Recorded through the command layer.
#[test]
fn cares_10_a_consultation_is_answered_within_one_business_day() {
    use fieldnote_core::commands::NewConsultation;
    let mut f = Fixture::new();
    let coordinator = f.worker;
    let ask = |f: &mut Fixture, when: &str| {
        f.store
            .request_consultation(
                NewConsultation {
                    program: Program::Cares,
                    requested_at: Some(t(when)),
                    consultant_kind: ConsultantKind::SeniorMedicalProfessional,
                    topic: "Medication side effects".into(),
                },
                coordinator,
            )
            .unwrap()
    };
    let status = |f: &Fixture, now: &str| {
        find(
            &staff::evaluate_staff(&f.store, coordinator, &[Program::Cares], t(now)).unwrap(),
            "CARES-10",
        )
        .status
        .clone()
    };
    // Asked on a Monday morning: due Tuesday; overdue by Wednesday if unanswered.
    let request = ask(&mut f, "2026-11-16T10:00:00-05:00");
    assert_eq!(status(&f, "2026-11-16T15:00:00-05:00"), Status::Due);
    assert_eq!(status(&f, "2026-11-18T10:00:00-05:00"), Status::Overdue);
    f.store
        .consultation_answered(request, new_id(), Some(t("2026-11-17T09:00:00-05:00")))
        .unwrap();
    assert_eq!(status(&f, "2026-11-18T10:00:00-05:00"), Status::Satisfied);
    // Answered after a day and a half: late, and kept visible.
    let mut late = Fixture::new();
    let coordinator = late.worker;
    let request = late
        .store
        .request_consultation(
            NewConsultation {
                program: Program::Cares,
                requested_at: Some(t("2026-11-16T10:00:00-05:00")),
                consultant_kind: ConsultantKind::SeniorMedicalProfessional,
                topic: "Dosage".into(),
            },
            coordinator,
        )
        .unwrap();
    late.store
        .consultation_answered(request, new_id(), Some(t("2026-11-18T09:00:00-05:00")))
        .unwrap();
    assert_eq!(
        find(
            &staff::evaluate_staff(
                &late.store,
                coordinator,
                &[Program::Cares],
                t("2026-11-19T10:00:00-05:00")
            )
            .unwrap(),
            "CARES-10"
        )
        .status,
        Status::SatisfiedLate
    );
}

//! The command layer: each request stores exactly what was entered (who and when filled in
//! by the core), and a bad request names every bad field at once and stores nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::commands::*;
use fieldnote_core::model::*;
use fieldnote_core::{Error, Store};

fn days_ago(days: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() - days * 86_400_000)
}

fn in_days(days: i64) -> Timestamp {
    days_ago(-days)
}

fn contact(name: &str) -> Contact {
    Contact {
        name: name.into(),
        organization: Some("Harborview Clinic".into()),
        phone: None,
        email: None,
    }
}

/// How many records of `kind` the member's timeline holds.
fn count(store: &Store, member: RecordId, kind: RecordKind) -> usize {
    store
        .timeline(member)
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind.as_str())
        .count()
}

fn body(store: &Store, id: RecordId) -> RecordBody {
    store.get(id).unwrap().body
}

#[test]
fn consents_and_referrals_hold_what_was_entered_and_refuse_all_bad_fields() {
    let mut f = Fixture::new();
    let m = f.member(Program::Cares);
    let signed = days_ago(3);
    let consent = f
        .store
        .record_consent(
            NewConsent {
                member_id: m,
                program: Program::Cares,
                recipient: contact("Dr. Ilse Varga"),
                scope: " Care plan and progress ".into(),
                purpose: "Coordination".into(),
                substance_use_part2: true,
                refused: false,
                signed_by: "Member".into(),
                signed_at: Some(signed),
                expires_on: Day::parse("2027-12-31"),
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::Consent(c) = body(&f.store, consent) else {
        panic!("a consent")
    };
    assert_eq!(c.scope, "Care plan and progress", "trimmed, nothing added");
    assert_eq!((c.signed_at, c.recorded_by), (signed, f.worker));
    assert!(c.substance_use_part2 && !c.refused && c.revoked_at.is_none());

    let scheduled = in_days(7);
    let referral = f
        .store
        .make_referral(
            NewReferral {
                member_id: m,
                program: Program::Cares,
                service: "Outpatient therapy".into(),
                provider: contact("Harborview intake"),
                reason: "Anxiety at school".into(),
                alternative_for_ineligible: false,
                referred_at: None,
                scheduled_for: Some(scheduled),
                consent_id: Some(consent),
            },
            f.worker,
        )
        .unwrap();
    f.store
        .follow_up_referral(
            NewFollowUp {
                referral_id: referral,
                at: None,
                outcome: "Attended intake".into(),
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::ServiceReferral(r) = body(&f.store, referral) else {
        panic!("a referral")
    };
    assert_eq!(r.scheduled_for, Some(scheduled));
    assert_eq!(r.consent_id, Some(consent));
    assert_eq!(r.follow_ups.len(), 1);
    assert_eq!(r.follow_ups[0].outcome, "Attended intake");
    assert_eq!(r.follow_ups[0].by, f.worker);

    // Every bad field at once, nothing stored.
    let before = count(&f.store, m, RecordKind::Consent);
    let err = f
        .store
        .record_consent(
            NewConsent {
                member_id: m,
                program: Program::Cares,
                recipient: contact(""),
                scope: "  ".into(),
                purpose: String::new(),
                substance_use_part2: false,
                refused: false,
                signed_by: String::new(),
                signed_at: Some(days_ago(45)),
                expires_on: None,
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["recipient.name", "scope", "signed_at", "signed_by"]);
    assert_eq!(count(&f.store, m, RecordKind::Consent), before);

    // A revoked consent cannot carry a new referral; the revocation is stored.
    f.store.revoke_consent(consent, None).unwrap();
    let err = f
        .store
        .make_referral(
            NewReferral {
                member_id: m,
                program: Program::Tm,
                service: String::new(),
                provider: contact("Elsewhere"),
                reason: "x".into(),
                alternative_for_ineligible: false,
                referred_at: Some(in_days(2)),
                scheduled_for: None,
                consent_id: Some(consent),
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["consent_id", "program", "referred_at", "service"]);
    assert_eq!(count(&f.store, m, RecordKind::ServiceReferral), 1);

    let err = f
        .store
        .follow_up_referral(
            NewFollowUp {
                referral_id: referral,
                at: Some(days_ago(400)),
                outcome: " ".into(),
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["at", "outcome"]);
    f.store
        .explain_missing_follow_up(referral, "Family moved out of state".into())
        .unwrap();
    let RecordBody::ServiceReferral(r) = body(&f.store, referral) else {
        panic!("a referral")
    };
    assert_eq!(r.follow_ups.len(), 1, "the refused follow-up left nothing");
    assert_eq!(
        r.no_follow_up_reason.as_deref(),
        Some("Family moved out of state")
    );
}

#[test]
fn incidents_attempts_and_deliveries_keep_their_times() {
    let mut f = Fixture::new();
    let m = f.member(Program::CspJi);
    let occurred = days_ago(1);
    let incident = f
        .store
        .report_incident(
            NewIncident {
                member_id: Some(m),
                program: Program::CspJi,
                occurred_at: occurred,
                location: "Shelter lobby".into(),
                category: IncidentCategory::Assault,
                description: "A fight in the lobby".into(),
                actions_taken: "Called 911".into(),
                reported_to_plan_at: None,
                reported_to_masshealth_at: None,
                alarm_id: None,
            },
            f.worker,
        )
        .unwrap();
    let reported = Timestamp::from_millis(occurred.millis() + 3_600_000);
    f.store
        .incident_reported(incident, ReportedTo::HealthPlan, Some(reported))
        .unwrap();
    let err = f
        .store
        .incident_reported(incident, ReportedTo::HealthPlan, None)
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["reported_to_plan_at"],
        "kept, not overwritten"
    );
    let err = f
        .store
        .incident_reported(incident, ReportedTo::MassHealth, Some(days_ago(2)))
        .unwrap_err();
    assert_eq!(fields(&err), ["reported_to_masshealth_at"]);
    let RecordBody::Incident(i) = body(&f.store, incident) else {
        panic!("an incident")
    };
    assert_eq!(
        (
            i.occurred_at,
            i.reported_to_plan_at,
            i.reported_to_masshealth_at
        ),
        (occurred, Some(reported), None)
    );
    assert_eq!(i.reporter, f.worker);

    let attempt = f
        .store
        .record_attempt(
            NewAttempt {
                member_id: m,
                program: Program::CspJi,
                at: Some(days_ago(2)),
                channel: Channel::Phone,
                outcome: AttemptOutcome::NoAnswer,
                purpose: "Assessment".into(),
                note: Some("  ".into()),
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::EngagementAttempt(a) = body(&f.store, attempt) else {
        panic!("an attempt")
    };
    assert_eq!(
        (a.at, a.outcome, a.note, a.by),
        (
            days_ago(2).min(a.at),
            AttemptOutcome::NoAnswer,
            None,
            f.worker
        )
    );

    // A discharge plan delivered on paper five days ago, entered now: both times kept.
    let plan = f.plan(m, Program::CspJi);
    let discharge = f
        .store
        .write_discharge_plan(
            NewDischargePlan {
                member_id: m,
                program: Program::CspJi,
                discharge_on: Day::parse("2027-01-15").unwrap(),
                aftercare: "Outpatient therapy weekly".into(),
                recommendations: String::new(),
                crisis_plan_id: None,
                service_plan_id: Some(plan),
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::DischargePlan(d) = body(&f.store, discharge) else {
        panic!("a discharge plan")
    };
    assert_eq!(d.service_plan_id, Some(plan));
    let delivered = days_ago(5);
    let delivery = f
        .store
        .record_delivery(
            NewDelivery {
                member_id: m,
                program: Program::CspJi,
                document: DocumentKind::DischargePlan,
                document_record_id: Some(discharge),
                recipient_kind: RecipientKind::Member,
                recipient: contact("The member"),
                channel: Channel::InPerson,
                paper: true,
                electronic: false,
                language: "English".into(),
                delivered_at: Some(delivered),
                consent_id: None,
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::DocumentDelivery(d) = body(&f.store, delivery) else {
        panic!("a delivery")
    };
    assert_eq!(d.delivered_at, delivered);
    let recorded = d.recorded_at.expect("the entry time is kept");
    assert!(recorded.millis() - delivered.millis() >= 5 * 86_400_000 - 60_000);

    // Bad deliveries: too far back, a record of the wrong kind, no language, neither paper
    // nor electronic. All named at once; nothing stored.
    let before = count(&f.store, m, RecordKind::DocumentDelivery);
    let err = f
        .store
        .record_delivery(
            NewDelivery {
                member_id: m,
                program: Program::CspJi,
                document: DocumentKind::DischargePlan,
                document_record_id: Some(plan),
                recipient_kind: RecipientKind::Member,
                recipient: contact("The member"),
                channel: Channel::Mail,
                paper: false,
                electronic: false,
                language: " ".into(),
                delivered_at: Some(days_ago(BACKDATE_LIMIT_DAYS + 1)),
                consent_id: None,
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(
        got,
        ["delivered_at", "document_record_id", "language", "paper"]
    );
    assert_eq!(count(&f.store, m, RecordKind::DocumentDelivery), before);

    // A service plan of another member is refused for a discharge plan.
    let other = f.member(Program::CspJi);
    let others_plan = f.plan(other, Program::CspJi);
    let err = f
        .store
        .write_discharge_plan(
            NewDischargePlan {
                member_id: m,
                program: Program::CspJi,
                discharge_on: Day::parse("2027-01-15").unwrap(),
                aftercare: " ".into(),
                recommendations: String::new(),
                crisis_plan_id: Some(plan),
                service_plan_id: Some(others_plan),
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["aftercare", "crisis_plan_id", "service_plan_id"]);
}

#[test]
fn the_tm_waitlist_and_its_notices_are_recorded_on_the_enrollment() {
    let mut f = Fixture::new();
    let m = f.member(Program::Tm);
    let enrollment = f
        .store
        .place_on_waitlist(
            NewWaitlist {
                member_id: m,
                program: Program::Tm,
                since: None,
                reason: "No mentor free until March".into(),
            },
            f.worker,
        )
        .unwrap();
    f.store
        .waitlist_notice(m, Program::Tm, WaitlistNotified::Family, None)
        .unwrap();
    let RecordBody::Enrollment(e) = body(&f.store, enrollment) else {
        panic!("an enrollment")
    };
    assert_eq!(e.status, EnrollmentStatus::Waitlisted);
    let w = e.waitlist.unwrap();
    assert_eq!(w.reason, "No mentor free until March");
    assert!(w.family_notified_at.is_some() && w.referral_source_notified_at.is_none());
    assert_eq!(e.status_history.last().unwrap().by, f.worker);

    let err = f
        .store
        .place_on_waitlist(
            NewWaitlist {
                member_id: m,
                program: Program::Tm,
                since: Some(in_days(1)),
                reason: String::new(),
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["member_id", "reason", "since"]);
    let csp = f.member(Program::Csp);
    let err = f
        .store
        .place_on_waitlist(
            NewWaitlist {
                member_id: csp,
                program: Program::Csp,
                since: None,
                reason: "x".into(),
            },
            f.worker,
        )
        .unwrap_err();
    assert_eq!(fields(&err), ["program"]);
    let err = f
        .store
        .waitlist_notice(csp, Program::Csp, WaitlistNotified::Family, None)
        .unwrap_err();
    assert_eq!(fields(&err), ["member_id"], "not on the waitlist");
}

#[test]
fn staff_records_name_staff_and_refuse_impossible_sessions() {
    let mut f = Fixture::new();
    let supervisor = new_id();
    let held = days_ago(1);
    let id = f
        .store
        .record_supervision(
            NewSupervision {
                staff_id: f.worker,
                supervisor_id: supervisor,
                program: Program::Tm,
                individual: true,
                held_at: held,
                duration_minutes: 60,
                topics: "Boundaries".into(),
            },
            f.worker,
        )
        .unwrap();
    let RecordBody::Supervision(s) = body(&f.store, id) else {
        panic!("a supervision record")
    };
    assert_eq!(
        (s.staff_id, s.supervisor_id, s.held_at, s.duration_minutes),
        (f.worker, supervisor, held, 60)
    );
    let err = f
        .store
        .record_supervision(
            NewSupervision {
                staff_id: f.worker,
                supervisor_id: f.worker,
                program: Program::Tm,
                individual: true,
                held_at: in_days(3),
                duration_minutes: 0,
                topics: String::new(),
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(
        got,
        ["duration_minutes", "held_at", "supervisor_id", "topics"]
    );

    let asked = days_ago(2);
    let consultation = f
        .store
        .request_consultation(
            NewConsultation {
                program: Program::Cares,
                requested_at: Some(asked),
                consultant_kind: ConsultantKind::SeniorMedicalProfessional,
                topic: "Medication question".into(),
            },
            f.worker,
        )
        .unwrap();
    let err = f
        .store
        .consultation_answered(consultation, supervisor, Some(days_ago(3)))
        .unwrap_err();
    assert_eq!(fields(&err), ["responded_at"]);
    f.store
        .consultation_answered(consultation, supervisor, None)
        .unwrap();
    let RecordBody::Consultation(c) = body(&f.store, consultation) else {
        panic!("a consultation")
    };
    assert_eq!((c.requested_by, c.requested_at), (f.worker, asked));
    assert_eq!(c.consultant, Some(supervisor));

    let training = f
        .store
        .record_training(NewTraining {
            staff_id: f.worker,
            program: Program::Cares,
            employment_started_on: Day::parse("2026-09-01").unwrap(),
            course: "CARES orientation".into(),
            required_initial: true,
            completed_on: Day::parse("2026-10-01"),
        })
        .unwrap();
    let RecordBody::Training(t) = body(&f.store, training) else {
        panic!("a training")
    };
    assert_eq!(t.course, "CARES orientation");
    let err = f
        .store
        .record_training(NewTraining {
            staff_id: f.worker,
            program: Program::Cares,
            employment_started_on: Day::parse("2026-09-01").unwrap(),
            course: String::new(),
            required_initial: true,
            completed_on: Some(Day(in_days(2).0.date_naive())),
        })
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["completed_on", "course"]);
}

#[test]
fn notes_keep_every_programs_fields_and_default_the_place_by_modality() {
    let mut f = Fixture::new();
    let m = f.member(Program::Tm);
    let new = NewNote {
        member_id: m,
        program: Program::Tm,
        modality: Modality::Phone,
        started_at: days_ago(1),
        duration_minutes: 20,
        narrative: "Talked about the week".into(),
        telehealth_reason: None,
        place: None,
        collateral: None,
        member_engaged: true,
        planned_activity: Some("Check-in call".into()),
        goal_targeted: Some("School attendance".into()),
        member_response: Some("Engaged".into()),
        progress: Vec::new(),
        purposes: vec![ContactPurpose::InitialOutreach],
    };
    let id = f.store.draft_note(new.clone(), f.worker).unwrap();
    let RecordBody::ContactNote(n) = body(&f.store, id) else {
        panic!("a note")
    };
    assert_eq!(n.place, PlaceOfService::Remote);
    assert_eq!(n.purposes, [ContactPurpose::InitialOutreach]);
    assert_eq!(n.planned_activity.as_deref(), Some("Check-in call"));
    assert_eq!(n.author, f.worker);

    // A redraft replaces the content and keeps the author.
    f.store
        .redraft_note(
            id,
            NewNote {
                modality: Modality::InPerson,
                place: Some(PlaceOfService::Home),
                ..new.clone()
            },
        )
        .unwrap();
    let RecordBody::ContactNote(n) = body(&f.store, id) else {
        panic!("a note")
    };
    assert_eq!(
        (n.modality, n.place, n.author),
        (Modality::InPerson, PlaceOfService::Home, f.worker)
    );

    // A collateral contact without whom, under a program the member is not in.
    let err = f
        .store
        .draft_note(
            NewNote {
                modality: Modality::Collateral,
                program: Program::Csp,
                ..new
            },
            f.worker,
        )
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["collateral", "program"]);
    assert!(matches!(err, Error::Invalid { .. }));
}

#[test]
fn a_paper_signature_carries_when_it_was_given_within_the_limit() {
    let mut f = Fixture::new();
    let m = f.member(Program::Csp);
    let plan = f.plan(m, Program::Csp);
    let given = days_ago(0).millis() - 2 * 3_600_000;
    let signer = fieldnote_core::Signer::witnessed("The member", Role::Member, f.worker);
    let att = f
        .store
        .sign_plan_at(plan, signer.clone(), Some(Timestamp::from_millis(given)))
        .unwrap();
    assert_eq!(att.signed_at.millis(), given);
    let entered = att.recorded_at.expect("the entry time is kept").millis();
    assert!(entered >= given + 2 * 3_600_000 - 1_000);
    assert!(att.verify(), "the id covers both times");
    assert!(
        fieldnote_core::access::check_attestation(
            &fieldnote_core::access::Author {
                staff_id: f.worker,
                role: Role::Worker,
            },
            &att
        )
        .is_ok()
    );

    for (at, why) in [
        (days_ago(BACKDATE_LIMIT_DAYS + 1), "too long ago"),
        (in_days(1), "in the future"),
    ] {
        let err = f
            .store
            .sign_plan_at(plan, signer.clone(), Some(at))
            .unwrap_err();
        assert_eq!(fields(&err), ["signed_at"], "{why}");
    }

    // An event whose times are further apart than the limit is refused wherever it is
    // checked (the server checks every uploaded signature the same way).
    let mut forged = att.clone();
    forged.backdate(days_ago(BACKDATE_LIMIT_DAYS + 5), Timestamp::now());
    let refused = fieldnote_core::access::check_attestation(
        &fieldnote_core::access::Author {
            staff_id: f.worker,
            role: Role::Worker,
        },
        &forged,
    )
    .unwrap_err();
    assert!(refused.starts_with("signed_at:"), "{refused}");
}

#[test]
fn a_plan_is_of_a_kind_its_program_keeps() {
    let mut f = Fixture::new();
    let cares = f.member(Program::Cares);
    let csp = f.member(Program::Csp);
    let plan = |member, program, kind| NewPlan {
        member_id: member,
        program,
        problems_and_needs: "Needs".into(),
        strengths: "Strengths".into(),
        summary: "Summary".into(),
        goals: vec![NewGoal {
            statement: "A goal".into(),
            addresses_criminogenic: Vec::new(),
        }],
        supervision_conflict_checked: false,
        youth_signs: false,
        kind,
    };
    let id = f
        .store
        .create_plan(
            plan(cares, Program::Cares, Some(PlanKind::AftercarePlan)),
            f.worker,
        )
        .unwrap();
    let RecordBody::Plan(p) = body(&f.store, id) else {
        panic!("a plan")
    };
    assert_eq!(p.kind, PlanKind::AftercarePlan);
    let id = f
        .store
        .create_plan(plan(csp, Program::Csp, None), f.worker)
        .unwrap();
    let RecordBody::Plan(p) = body(&f.store, id) else {
        panic!("a plan")
    };
    assert_eq!(p.kind, PlanKind::ServicePlan);
    let mut bad = plan(csp, Program::Csp, Some(PlanKind::AftercarePlan));
    bad.goals.clear();
    let err = f.store.create_plan(bad, f.worker).unwrap_err();
    assert_eq!(fields(&err), ["goals", "kind"]);
}

//! One scenario per rule of `RULES.md`, built through the command layer: each test is named
//! after its rule and walks the on-time and the late path (and the extension or waiver where
//! the rule takes one), asserting the exact status the rules engine reports.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Days;
use common::*;
use fieldnote_core::commands::*;
use fieldnote_core::model::*;
use fieldnote_core::rules::calendar::{end_of_day, local_day};
use fieldnote_core::rules::{self, MemberRecords, Obligation, Status, staff};
use fieldnote_core::{Signer, StoreKey, synthetic};
use fieldnote_protocol::ServerRole;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn after(at: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millis(at.millis() + ms)
}

/// Signatures and deliveries may be back-dated at most 30 days: those scenarios run around
/// the real now.
fn days_ago(days: i64) -> Timestamp {
    after(Timestamp::now(), -days * DAY)
}

fn day_of(at: Timestamp) -> Day {
    Day(local_day(at))
}

/// The last instant of a Massachusetts calendar day.
fn end_of(day: &str) -> Timestamp {
    end_of_day(Day::parse(day).unwrap().0)
}

/// The last instant of the `n`th calendar day after `at`'s day.
fn end_of_nth_day(at: Timestamp, n: u64) -> Timestamp {
    end_of_day(local_day(at) + Days::new(n))
}

fn enroll_speaking(
    f: &mut Fixture,
    program: Program,
    referred: Timestamp,
    language: &str,
) -> MemberAdded {
    let youth = matches!(program, Program::Tm | Program::Cares);
    f.store
        .add_member(
            NewMember {
                given_name: "Rosa".into(),
                family_name: "Testvale".into(),
                date_of_birth: Day::parse(if youth { "2012-05-01" } else { "1988-05-01" }).unwrap(),
                masshealth_id: unique_masshealth_id(),
                primary_language: language.into(),
                program,
                referred_at: Some(referred),
                referral_source: ReferralSource::Provider,
                referral_reason: None,
                referral_facility: None,
            },
            f.worker,
        )
        .unwrap()
}

fn enroll(f: &mut Fixture, program: Program, referred: Timestamp) -> MemberAdded {
    enroll_speaking(f, program, referred, "English")
}

/// A complete note: with the member (engaged) for the member modalities, every TM session
/// field and a telehealth reason filled in.
fn new_note(
    m: RecordId,
    program: Program,
    at: Timestamp,
    modality: Modality,
    purposes: Vec<ContactPurpose>,
) -> NewNote {
    NewNote {
        member_id: m,
        program,
        modality,
        started_at: at,
        duration_minutes: 30,
        narrative: "Met and worked on goals.".into(),
        telehealth_reason: (modality == Modality::Telehealth).then(|| "Youth home sick".into()),
        place: None,
        collateral: (modality == Modality::Collateral).then(|| Contact {
            name: "Outpatient clinician".into(),
            ..Default::default()
        }),
        member_engaged: modality.with_member(),
        planned_activity: Some("Practice the bus route".into()),
        goal_targeted: Some("Travel independently".into()),
        member_response: Some("Engaged throughout".into()),
        progress: Vec::new(),
        purposes,
    }
}

/// Drafts and finalizes a note on a worker's device.
fn note(f: &mut Fixture, new: NewNote) -> RecordId {
    let id = f.store.draft_note(new, f.worker).unwrap();
    f.store.finalize_note(id, f.worker_signer()).unwrap();
    id
}

/// A needs assessment (no command writes one); CSP-JI ones determine criminogenic needs.
fn assessment(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    kind: AssessmentKind,
    started: Timestamp,
    completed: Option<Timestamp>,
) {
    let criminogenic_needs = if program == Program::CspJi {
        vec![CriminogenicNeed {
            factor: CriminogenicFactor::CriminalHistory,
            level: NeedLevel::Low,
            notes: "One prior".into(),
        }]
    } else {
        Vec::new()
    };
    f.store
        .create(RecordBody::NeedsAssessment(NeedsAssessment {
            member_id: m,
            program,
            kind,
            assessor: f.worker,
            started_at: started,
            completed_at: completed,
            domains: Vec::new(),
            criminogenic_needs,
            summary: "Needs in housing and income".into(),
            significant_change: false,
        }))
        .unwrap();
}

/// The program's plan, completed now.
fn create_plan(f: &mut Fixture, m: RecordId, program: Program) -> RecordId {
    f.store
        .create_plan(
            NewPlan {
                member_id: m,
                program,
                problems_and_needs: "Unstable housing".into(),
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
        .unwrap()
}

/// The supervisor signs `plan` on their own device; the signature reaches the worker's
/// device through the server.
fn cosign(f: &mut Fixture, sup: &mut Fixture, plan: RecordId) {
    sup.store
        .merge_remote(plan, &f.store.document_bytes(plan).unwrap())
        .unwrap();
    sup.store
        .sign_plan(plan, sup.staff_signer(Role::Supervisor))
        .unwrap();
    deliver_attestations(&sup.store, &mut f.store, &[plan]);
}

/// Discharges the enrollment on `on` (no command does).
fn discharge(f: &mut Fixture, enrollment: RecordId, on: Day) {
    f.store
        .update(enrollment, |b| {
            if let RecordBody::Enrollment(e) = b {
                e.status = EnrollmentStatus::Discharged;
                e.discharge = Some(Discharge {
                    discharged_on: on,
                    last_service_on: on,
                    planned: true,
                    reason: "Goals met".into(),
                });
            }
        })
        .unwrap();
}

fn deliver(
    f: &mut Fixture,
    m: RecordId,
    program: Program,
    document: DocumentKind,
    record: Option<RecordId>,
    (language, paper): (&str, bool),
    at: Timestamp,
) {
    f.store
        .record_delivery(
            NewDelivery {
                member_id: m,
                program,
                document,
                document_record_id: record,
                recipient_kind: RecipientKind::Guardian,
                recipient: Contact {
                    name: "Parent".into(),
                    ..Default::default()
                },
                channel: if paper { Channel::Mail } else { Channel::Email },
                paper,
                electronic: !paper,
                language: language.into(),
                delivered_at: Some(at),
                consent_id: None,
            },
            f.worker,
        )
        .unwrap();
}

fn eval(f: &Fixture, m: RecordId, now: Timestamp) -> Vec<Obligation> {
    rules::evaluate_member(&MemberRecords::load(&f.store, m).unwrap(), now)
}

fn find(obs: &[Obligation], id: &str) -> Obligation {
    obs.iter()
        .find(|o| o.rule_id == id)
        .unwrap_or_else(|| {
            panic!(
                "{id} missing from {:?}",
                obs.iter().map(|o| &o.rule_id).collect::<Vec<_>>()
            )
        })
        .clone()
}

fn status_of(f: &Fixture, m: RecordId, rule: &str, now: Timestamp) -> Status {
    find(&eval(f, m, now), rule).status
}

/// The signed-in staff member's obligations of `rule`, oldest trigger first.
fn staff_rule(f: &Fixture, rule: &str, program: Program, now: Timestamp) -> Vec<Obligation> {
    let mut obs: Vec<Obligation> = staff::evaluate_staff(&f.store, f.worker, &[program], now)
        .unwrap()
        .into_iter()
        .filter(|o| o.rule_id == rule)
        .collect();
    obs.sort_by_key(|o| o.trigger);
    obs
}

fn supervision(f: &mut Fixture, supervisor: StaffId, program: Program, at: &str, one_on_one: bool) {
    f.store
        .record_supervision(
            NewSupervision {
                staff_id: f.worker,
                supervisor_id: supervisor,
                program,
                individual: one_on_one,
                held_at: t(at),
                duration_minutes: 60,
                topics: "Caseload and boundaries".into(),
            },
            supervisor,
        )
        .unwrap();
}

/// CSP-1: a contact with the enrollee within 24 hours of the referral (CSP Assessment item 2).
#[test]
fn csp_1_contact_within_24_hours() {
    let referred = t("2026-11-02T09:00:00-05:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Csp, referred).member_id;
    note(
        &mut f,
        new_note(
            on_time,
            Program::Csp,
            after(referred, 3 * HOUR),
            Modality::Phone,
            vec![],
        ),
    );
    assert_eq!(
        status_of(&f, on_time, "CSP-1", after(referred, 48 * HOUR)),
        Status::Satisfied
    );

    let late = enroll(&mut f, Program::Csp, referred).member_id;
    // Work on the case without the enrollee is no contact with them.
    note(
        &mut f,
        new_note(
            late,
            Program::Csp,
            after(referred, HOUR),
            Modality::CaseRelatedWork,
            vec![],
        ),
    );
    assert_eq!(
        status_of(&f, late, "CSP-1", after(referred, 25 * HOUR)),
        Status::Overdue
    );
    note(
        &mut f,
        new_note(
            late,
            Program::Csp,
            after(referred, 30 * HOUR),
            Modality::InPerson,
            vec![],
        ),
    );
    let o = find(&eval(&f, late, after(referred, 48 * HOUR)), "CSP-1");
    assert_eq!(
        (o.status, o.due),
        (Status::SatisfiedLate, Some(after(referred, 24 * HOUR)))
    );
}

/// CSP-2: the first face-to-face appointment within 48 hours of the referral, or later at the
/// enrollee's documented request (CSP Assessment item 2).
#[test]
fn csp_2_first_appointment_within_48_hours() {
    let referred = t("2026-11-02T09:00:00-05:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Csp, referred).member_id;
    note(
        &mut f,
        new_note(
            on_time,
            Program::Csp,
            after(referred, 30 * HOUR),
            Modality::InPerson,
            vec![ContactPurpose::FirstAppointment],
        ),
    );
    let o = find(&eval(&f, on_time, after(referred, 72 * HOUR)), "CSP-2");
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(after(referred, 48 * HOUR)))
    );

    let late = enroll(&mut f, Program::Csp, referred).member_id;
    // A phone call is not face-to-face.
    note(
        &mut f,
        new_note(
            late,
            Program::Csp,
            after(referred, 2 * HOUR),
            Modality::Phone,
            vec![],
        ),
    );
    assert_eq!(
        status_of(&f, late, "CSP-2", after(referred, 49 * HOUR)),
        Status::Overdue
    );
    note(
        &mut f,
        new_note(
            late,
            Program::Csp,
            after(referred, 50 * HOUR),
            Modality::InPerson,
            vec![],
        ),
    );
    assert_eq!(
        status_of(&f, late, "CSP-2", after(referred, 72 * HOUR)),
        Status::SatisfiedLate
    );

    // The enrollee asked to meet later: the supervisor extends the clock.
    let mut sup = Fixture::signed_in_as(ServerRole::Supervisor);
    let m = enroll(&mut sup, Program::Csp, referred).member_id;
    let reason = "Enrollee asked to meet after her hospital stay";
    sup.store
        .grant_override(NewOverride {
            member_id: m,
            program: Program::Csp,
            rule_id: "CSP-2".into(),
            kind: OverrideKind::Extension,
            until: Day::parse("2026-11-09"),
            reason: reason.into(),
        })
        .unwrap();
    assert_eq!(
        status_of(&sup, m, "CSP-2", t("2026-11-05T09:00:00-05:00")),
        Status::Extended {
            reason: reason.into(),
            next_check: end_of("2026-11-09")
        }
    );
    assert_eq!(
        status_of(&sup, m, "CSP-2", t("2026-11-10T09:00:00-05:00")),
        Status::Overdue
    );
    sup.store
        .draft_note(
            new_note(
                m,
                Program::Csp,
                t("2026-11-09T10:00:00-05:00"),
                Modality::InPerson,
                vec![ContactPurpose::FirstAppointment],
            ),
            sup.worker,
        )
        .unwrap();
    let o = find(&eval(&sup, m, t("2026-11-10T09:00:00-05:00")), "CSP-2");
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(end_of("2026-11-09")))
    );

    // RULES.md: satisfied by the first *face-to-face* contact; a phone call marked as the
    // first appointment is still a phone call.
    let phoned = enroll(&mut f, Program::Csp, referred).member_id;
    note(
        &mut f,
        new_note(
            phoned,
            Program::Csp,
            after(referred, 20 * HOUR),
            Modality::Phone,
            vec![ContactPurpose::FirstAppointment],
        ),
    );
    assert_eq!(
        status_of(&f, phoned, "CSP-2", after(referred, 72 * HOUR)),
        Status::Overdue,
        "a phone call is not a face-to-face first appointment"
    );
}

/// CSP-4: the comprehensive needs assessment within 2 weeks of the initial assessment (CSP
/// Assessment item 3).
#[test]
fn csp_4_comprehensive_assessment_within_2_weeks() {
    let referred = t("2026-09-01T09:00:00-04:00");
    let started = t("2026-09-03T09:00:00-04:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Csp, referred).member_id;
    assessment(
        &mut f,
        on_time,
        Program::Csp,
        AssessmentKind::Initial,
        started,
        Some(after(started, HOUR)),
    );
    assessment(
        &mut f,
        on_time,
        Program::Csp,
        AssessmentKind::Comprehensive,
        t("2026-09-08T09:00:00-04:00"),
        Some(t("2026-09-14T15:00:00-04:00")),
    );
    let o = find(&eval(&f, on_time, t("2026-09-20T09:00:00-04:00")), "CSP-4");
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(end_of("2026-09-17")))
    );

    let late = enroll(&mut f, Program::Csp, referred).member_id;
    assessment(
        &mut f,
        late,
        Program::Csp,
        AssessmentKind::Initial,
        started,
        Some(after(started, HOUR)),
    );
    assert_eq!(
        status_of(&f, late, "CSP-4", t("2026-09-18T09:00:00-04:00")),
        Status::Overdue
    );
    assessment(
        &mut f,
        late,
        Program::Csp,
        AssessmentKind::Comprehensive,
        t("2026-09-15T09:00:00-04:00"),
        Some(t("2026-09-22T15:00:00-04:00")),
    );
    assert_eq!(
        status_of(&f, late, "CSP-4", t("2026-09-25T09:00:00-04:00")),
        Status::SatisfiedLate
    );
}

/// CSP-5: the needs assessment is updated at most 3 months after the last one (CSP Assessment
/// item 3); each update starts the next quarter.
#[test]
fn csp_5_assessment_updated_quarterly() {
    let referred = t("2026-04-01T09:00:00-04:00");
    let completed = t("2026-05-10T10:00:00-04:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Csp, referred).member_id;
    assessment(
        &mut f,
        on_time,
        Program::Csp,
        AssessmentKind::Comprehensive,
        t("2026-05-01T09:00:00-04:00"),
        Some(completed),
    );
    assert_eq!(
        status_of(&f, on_time, "CSP-5", t("2026-06-15T09:00:00-04:00")),
        Status::Due
    );
    assessment(
        &mut f,
        on_time,
        Program::Csp,
        AssessmentKind::Update,
        t("2026-08-04T09:00:00-04:00"),
        Some(t("2026-08-05T10:00:00-04:00")),
    );
    let o = find(&eval(&f, on_time, t("2026-08-12T09:00:00-04:00")), "CSP-5");
    assert_eq!((o.status, o.due), (Status::Due, Some(end_of("2026-11-05"))));

    let late = enroll(&mut f, Program::Csp, referred).member_id;
    assessment(
        &mut f,
        late,
        Program::Csp,
        AssessmentKind::Comprehensive,
        t("2026-05-01T09:00:00-04:00"),
        Some(completed),
    );
    let o = find(&eval(&f, late, t("2026-08-11T09:00:00-04:00")), "CSP-5");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of("2026-08-10")))
    );
    assessment(
        &mut f,
        late,
        Program::Csp,
        AssessmentKind::Update,
        t("2026-08-20T09:00:00-04:00"),
        Some(t("2026-08-20T11:00:00-04:00")),
    );
    let o = find(&eval(&f, late, t("2026-08-25T09:00:00-04:00")), "CSP-5");
    assert_eq!((o.status, o.due), (Status::Due, Some(end_of("2026-11-20"))));
}

/// CSP-7: the supervisor signs the service plan within a week of its completion, and within 3
/// weeks of the first appointment (CSP Process item 6).
#[test]
fn csp_7_supervisor_signs_the_service_plan_within_a_week() {
    let mut f = Fixture::new();
    let mut sup = Fixture::signed_in_with(ServerRole::Supervisor, StoreKey::generate());
    let on_time = enroll(&mut f, Program::Csp, days_ago(6)).member_id;
    note(
        &mut f,
        new_note(
            on_time,
            Program::Csp,
            days_ago(5),
            Modality::InPerson,
            vec![ContactPurpose::FirstAppointment],
        ),
    );
    let plan = create_plan(&mut f, on_time, Program::Csp);
    let week_later = after(Timestamp::now(), 8 * DAY);
    assert_eq!(status_of(&f, on_time, "CSP-7", week_later), Status::Overdue);
    cosign(&mut f, &mut sup, plan);
    assert_eq!(
        status_of(&f, on_time, "CSP-7", week_later),
        Status::Satisfied
    );

    // Completed today, but the first appointment was 25 days ago: due 3 weeks after it.
    let first = days_ago(25);
    let late = enroll(&mut f, Program::Csp, days_ago(30)).member_id;
    note(
        &mut f,
        new_note(
            late,
            Program::Csp,
            first,
            Modality::InPerson,
            vec![ContactPurpose::FirstAppointment],
        ),
    );
    let plan = create_plan(&mut f, late, Program::Csp);
    let now = after(Timestamp::now(), 60_000);
    let o = find(&eval(&f, late, now), "CSP-7");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of_nth_day(first, 21)))
    );
    cosign(&mut f, &mut sup, plan);
    assert_eq!(status_of(&f, late, "CSP-7", now), Status::SatisfiedLate);
}

/// CSP-10: a crisis prevention plan and a written discharge plan given to the enrollee by
/// discharge (CSP Discharge items 4, 5).
#[test]
fn csp_10_crisis_and_discharge_plans_given_by_discharge() {
    fn crisis_plan(f: &mut Fixture, m: RecordId, given: Timestamp) {
        f.store
            .create(RecordBody::CrisisPlan(CrisisPlan {
                member_id: m,
                program: Program::Csp,
                warning_signs: vec!["Not sleeping".into()],
                coping_strategies: vec!["Call my sister".into()],
                supports: vec!["Sister".into()],
                professional_contacts: vec!["988".into()],
                means_safety: "Medications locked away".into(),
                written_at: given,
                given_to_member_at: Some(given),
                author: f.worker,
            }))
            .unwrap();
    }
    fn discharge_plan_given(f: &mut Fixture, m: RecordId, on: Day, at: Timestamp) {
        let plan = f
            .store
            .write_discharge_plan(
                NewDischargePlan {
                    member_id: m,
                    program: Program::Csp,
                    discharge_on: on,
                    aftercare: "Outpatient therapy weekly".into(),
                    recommendations: "Keep the Tuesday group".into(),
                    crisis_plan_id: None,
                    service_plan_id: None,
                },
                f.worker,
            )
            .unwrap();
        deliver(
            f,
            m,
            Program::Csp,
            DocumentKind::DischargePlan,
            Some(plan),
            ("English", true),
            at,
        );
    }
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Csp, days_ago(60));
    let given = days_ago(3);
    let discharged_on = day_of(given);
    crisis_plan(&mut f, on_time.member_id, days_ago(8));
    discharge_plan_given(&mut f, on_time.member_id, discharged_on, given);
    discharge(&mut f, on_time.enrollment_id, discharged_on);
    assert_eq!(
        status_of(&f, on_time.member_id, "CSP-10", Timestamp::now()),
        Status::Satisfied
    );

    let late = enroll(&mut f, Program::Csp, days_ago(60));
    let discharged_on = day_of(days_ago(10));
    crisis_plan(&mut f, late.member_id, days_ago(12));
    discharge(&mut f, late.enrollment_id, discharged_on);
    let o = find(&eval(&f, late.member_id, Timestamp::now()), "CSP-10");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of_day(discharged_on.0))),
        "the crisis plan alone does not do"
    );
    discharge_plan_given(&mut f, late.member_id, discharged_on, days_ago(2));
    assert_eq!(
        status_of(&f, late.member_id, "CSP-10", Timestamp::now()),
        Status::SatisfiedLate
    );
}

/// JI-1: in every rolling 30 days, at least 4 connections or case-related work, at least 1 a
/// connection with the engaged member (CSP-JI Components of Service 3).
#[test]
fn ji_1_four_contacts_every_30_days_one_with_the_member() {
    let now = t("2026-11-20T12:00:00-05:00");
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::CspJi, t("2026-09-01T09:00:00-04:00")).member_id;
    for (at, modality) in [
        ("2026-11-02T10:00:00-05:00", Modality::CaseRelatedWork),
        ("2026-11-05T10:00:00-05:00", Modality::Collateral),
        ("2026-11-09T10:00:00-05:00", Modality::CaseRelatedWork),
    ] {
        note(&mut f, new_note(m, Program::CspJi, t(at), modality, vec![]));
    }
    // A text the member never answered is no connection.
    let mut text = new_note(
        m,
        Program::CspJi,
        t("2026-11-10T10:00:00-05:00"),
        Modality::Text,
        vec![],
    );
    text.member_engaged = false;
    note(&mut f, text);
    let o = find(&eval(&f, m, now), "JI-1");
    assert_eq!(o.status, Status::Overdue);
    assert_eq!(
        o.detail.as_deref(),
        Some(
            "0 connection(s), 3 case-related work in the last 30 days; 1 more needed, at least 1 a connection with the member"
        )
    );
    note(
        &mut f,
        new_note(
            m,
            Program::CspJi,
            t("2026-11-12T10:00:00-05:00"),
            Modality::Phone,
            vec![],
        ),
    );
    let o = find(&eval(&f, m, now), "JI-1");
    assert_eq!(o.status, Status::Satisfied);
    assert_eq!(
        o.detail.as_deref(),
        Some("1 connection(s), 3 case-related work in the last 30 days")
    );
    // A month on, all of them have left the window.
    assert_eq!(
        status_of(&f, m, "JI-1", t("2026-12-20T12:00:00-05:00")),
        Status::Overdue
    );

    // A new member's first 30 days are still filling; after them the rate is owed.
    let new = enroll(&mut f, Program::CspJi, t("2026-11-10T09:00:00-05:00")).member_id;
    assert_eq!(status_of(&f, new, "JI-1", now), Status::Due);
    assert_eq!(
        status_of(&f, new, "JI-1", t("2026-12-11T09:00:00-05:00")),
        Status::Overdue
    );
}

/// JI-2: the needs assessment with criminogenic needs within 2 weeks of the initial
/// appointment, extended by timely, documented unsuccessful engagement efforts (CSP-JI
/// Process b).
#[test]
fn ji_2_assessment_within_2_weeks_unless_engagement_failed() {
    fn met(f: &mut Fixture) -> RecordId {
        let m = enroll(f, Program::CspJi, t("2026-10-01T09:00:00-04:00")).member_id;
        note(
            f,
            new_note(
                m,
                Program::CspJi,
                t("2026-10-02T09:00:00-04:00"),
                Modality::InPerson,
                vec![ContactPurpose::FirstAppointment],
            ),
        );
        m
    }
    fn attempt(f: &mut Fixture, m: RecordId, at: &str, outcome: AttemptOutcome) {
        f.store
            .record_attempt(
                NewAttempt {
                    member_id: m,
                    program: Program::CspJi,
                    at: Some(t(at)),
                    channel: Channel::Phone,
                    outcome,
                    purpose: "Complete the assessment".into(),
                    note: None,
                },
                f.worker,
            )
            .unwrap();
    }
    let mut f = Fixture::new();
    let on_time = met(&mut f);
    assessment(
        &mut f,
        on_time,
        Program::CspJi,
        AssessmentKind::Comprehensive,
        t("2026-10-05T09:00:00-04:00"),
        Some(t("2026-10-12T15:00:00-04:00")),
    );
    let o = find(&eval(&f, on_time, t("2026-10-20T09:00:00-04:00")), "JI-2");
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(end_of("2026-10-16")))
    );

    let late = met(&mut f);
    assert_eq!(
        status_of(&f, late, "JI-2", t("2026-10-17T09:00:00-04:00")),
        Status::Overdue
    );
    assessment(
        &mut f,
        late,
        Program::CspJi,
        AssessmentKind::Comprehensive,
        t("2026-10-10T09:00:00-04:00"),
        Some(t("2026-10-20T15:00:00-04:00")),
    );
    assert_eq!(
        status_of(&f, late, "JI-2", t("2026-10-21T09:00:00-04:00")),
        Status::SatisfiedLate
    );

    let unreachable = met(&mut f);
    attempt(
        &mut f,
        unreachable,
        "2026-10-13T10:00:00-04:00",
        AttemptOutcome::Reached,
    );
    assert_eq!(
        status_of(&f, unreachable, "JI-2", t("2026-10-17T09:00:00-04:00")),
        Status::Overdue,
        "reaching the member extends nothing"
    );
    attempt(
        &mut f,
        unreachable,
        "2026-10-14T10:00:00-04:00",
        AttemptOutcome::NoAnswer,
    );
    assert_eq!(
        status_of(&f, unreachable, "JI-2", t("2026-10-17T09:00:00-04:00")),
        Status::Extended {
            reason: "1 unsuccessful engagement effort(s) documented in the window".into(),
            next_check: end_of("2026-10-21"),
        }
    );
    assert_eq!(
        status_of(&f, unreachable, "JI-2", t("2026-10-22T09:00:00-04:00")),
        Status::Overdue
    );
    assessment(
        &mut f,
        unreachable,
        Program::CspJi,
        AssessmentKind::Comprehensive,
        t("2026-10-15T09:00:00-04:00"),
        Some(t("2026-10-21T10:00:00-04:00")),
    );
    assert_eq!(
        status_of(&f, unreachable, "JI-2", t("2026-10-22T09:00:00-04:00")),
        Status::Satisfied,
        "done within the extension"
    );
}

/// JI-3: the needs assessment is updated quarterly, with the same extension (CSP-JI Process
/// b); here a supervisor grants it.
#[test]
fn ji_3_assessment_updated_quarterly_or_extended() {
    let referred = t("2026-04-01T09:00:00-04:00");
    let first = t("2026-05-01T09:00:00-04:00");
    let completed = t("2026-05-10T10:00:00-04:00");
    let mut f = Fixture::signed_in_as(ServerRole::Supervisor);
    let on_time = enroll(&mut f, Program::CspJi, referred).member_id;
    assessment(
        &mut f,
        on_time,
        Program::CspJi,
        AssessmentKind::Comprehensive,
        first,
        Some(completed),
    );
    assessment(
        &mut f,
        on_time,
        Program::CspJi,
        AssessmentKind::Update,
        t("2026-08-04T09:00:00-04:00"),
        Some(t("2026-08-05T10:00:00-04:00")),
    );
    let o = find(&eval(&f, on_time, t("2026-08-12T09:00:00-04:00")), "JI-3");
    assert_eq!((o.status, o.due), (Status::Due, Some(end_of("2026-11-05"))));

    let late = enroll(&mut f, Program::CspJi, referred).member_id;
    assessment(
        &mut f,
        late,
        Program::CspJi,
        AssessmentKind::Comprehensive,
        first,
        Some(completed),
    );
    let o = find(&eval(&f, late, t("2026-08-11T09:00:00-04:00")), "JI-3");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of("2026-08-10")))
    );
    let reason = "Member in residential treatment until late August";
    f.store
        .grant_override(NewOverride {
            member_id: late,
            program: Program::CspJi,
            rule_id: "JI-3".into(),
            kind: OverrideKind::Extension,
            until: Day::parse("2026-08-31"),
            reason: reason.into(),
        })
        .unwrap();
    assert_eq!(
        status_of(&f, late, "JI-3", t("2026-08-11T09:00:00-04:00")),
        Status::Extended {
            reason: reason.into(),
            next_check: end_of("2026-08-31"),
        }
    );
    assert_eq!(
        status_of(&f, late, "JI-3", t("2026-09-01T09:00:00-04:00")),
        Status::Overdue
    );
    assessment(
        &mut f,
        late,
        Program::CspJi,
        AssessmentKind::Update,
        t("2026-08-25T09:00:00-04:00"),
        Some(t("2026-08-25T11:00:00-04:00")),
    );
    let o = find(&eval(&f, late, t("2026-09-01T09:00:00-04:00")), "JI-3");
    assert_eq!((o.status, o.due), (Status::Due, Some(end_of("2026-11-25"))));
}

/// JI-6: coordinate with the BH-JI in-reach provider after a correctional-facility referral;
/// no fixed deadline, shown until documented; waivable (CSP-JI Service Planning 3; Process h).
#[test]
fn ji_6_in_reach_coordination_after_a_correctional_referral() {
    fn from_prison(f: &mut Fixture, referred: Timestamp) -> RecordId {
        f.store
            .add_member(
                NewMember {
                    given_name: "Rosa".into(),
                    family_name: "Testvale".into(),
                    date_of_birth: Day::parse("1988-05-01").unwrap(),
                    masshealth_id: unique_masshealth_id(),
                    primary_language: "English".into(),
                    program: Program::CspJi,
                    referred_at: Some(referred),
                    referral_source: ReferralSource::CorrectionalFacility,
                    referral_reason: None,
                    referral_facility: Some("Suffolk County House of Correction".into()),
                },
                f.worker,
            )
            .unwrap()
            .member_id
    }
    let referred = t("2026-10-01T09:00:00-04:00");
    let mut f = Fixture::new();
    let m = from_prison(&mut f, referred);
    assert_eq!(
        status_of(&f, m, "JI-6", t("2027-10-01T09:00:00-04:00")),
        Status::Due,
        "open until documented, never overdue"
    );
    let mut call = new_note(
        m,
        Program::CspJi,
        t("2026-10-05T10:00:00-04:00"),
        Modality::Collateral,
        vec![ContactPurpose::InReachCoordination],
    );
    call.collateral = Some(Contact {
        name: "BH-JI in-reach clinician".into(),
        ..Default::default()
    });
    note(&mut f, call);
    assert_eq!(
        status_of(&f, m, "JI-6", t("2026-10-06T09:00:00-04:00")),
        Status::Satisfied
    );

    let elsewhere = enroll(&mut f, Program::CspJi, referred).member_id;
    assert!(
        eval(&f, elsewhere, t("2026-10-06T09:00:00-04:00"))
            .iter()
            .all(|o| o.rule_id != "JI-6"),
        "only a correctional-facility referral owes it"
    );

    let mut sup = Fixture::signed_in_as(ServerRole::Supervisor);
    let waived = from_prison(&mut sup, referred);
    let reason = "Member declined consent to contact the in-reach provider";
    sup.store
        .grant_override(NewOverride {
            member_id: waived,
            program: Program::CspJi,
            rule_id: "JI-6".into(),
            kind: OverrideKind::Waiver,
            until: None,
            reason: reason.into(),
        })
        .unwrap();
    assert_eq!(
        status_of(&sup, waived, "JI-6", Timestamp::now()),
        Status::Waived {
            by: sup.worker,
            reason: reason.into()
        }
    );
}

/// JI-7: a Reportable Adverse Incident is reported to the Plan and to MassHealth within 1
/// business day (CSP-JI Quality Management 4).
#[test]
fn ji_7_incident_reported_within_1_business_day() {
    fn incident(f: &mut Fixture, m: RecordId) -> RecordId {
        f.store
            .report_incident(
                NewIncident {
                    member_id: Some(m),
                    program: Program::CspJi,
                    // The Wednesday before Thanksgiving.
                    occurred_at: t("2026-11-25T15:00:00-05:00"),
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
            .unwrap()
    }
    let referred = t("2026-10-01T09:00:00-04:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::CspJi, referred).member_id;
    let i = incident(&mut f, on_time);
    f.store
        .incident_reported(
            i,
            ReportedTo::HealthPlan,
            Some(t("2026-11-27T10:00:00-05:00")),
        )
        .unwrap();
    f.store
        .incident_reported(
            i,
            ReportedTo::MassHealth,
            Some(t("2026-11-27T11:00:00-05:00")),
        )
        .unwrap();
    let o = find(&eval(&f, on_time, t("2026-11-30T12:00:00-05:00")), "JI-7");
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(end_of("2026-11-27"))),
        "Thanksgiving is no business day"
    );

    let late = enroll(&mut f, Program::CspJi, referred).member_id;
    let i = incident(&mut f, late);
    f.store
        .incident_reported(
            i,
            ReportedTo::HealthPlan,
            Some(t("2026-11-27T10:00:00-05:00")),
        )
        .unwrap();
    assert_eq!(
        status_of(&f, late, "JI-7", t("2026-11-28T09:00:00-05:00")),
        Status::Overdue,
        "MassHealth was not told"
    );
    f.store
        .incident_reported(
            i,
            ReportedTo::MassHealth,
            Some(t("2026-11-30T09:00:00-05:00")),
        )
        .unwrap();
    assert_eq!(
        status_of(&f, late, "JI-7", t("2026-11-30T12:00:00-05:00")),
        Status::SatisfiedLate
    );
}

/// JI-9: a member found ineligible at intake is referred to alternative services at intake
/// (CSP-JI Process a).
#[test]
fn ji_9_ineligible_member_referred_to_alternatives_at_intake() {
    fn found_ineligible(f: &mut Fixture, enrollment: RecordId, at: Timestamp) {
        let by = f.worker;
        f.store
            .update(enrollment, |b| {
                if let RecordBody::Enrollment(e) = b {
                    e.status = EnrollmentStatus::Ineligible;
                    e.status_history.push(StatusChange {
                        at,
                        status: EnrollmentStatus::Ineligible,
                        reason: "Not justice involved".into(),
                        by,
                    });
                }
            })
            .unwrap();
    }
    fn refer(f: &mut Fixture, m: RecordId, at: &str, alternative: bool) {
        f.store
            .make_referral(
                NewReferral {
                    member_id: m,
                    program: Program::CspJi,
                    service: "Adult Community Support Program".into(),
                    provider: Contact {
                        name: "Riverside CSP intake".into(),
                        ..Default::default()
                    },
                    reason: "Not eligible for CSP-JI".into(),
                    alternative_for_ineligible: alternative,
                    referred_at: Some(t(at)),
                    scheduled_for: None,
                    consent_id: None,
                },
                f.worker,
            )
            .unwrap();
    }
    let referred = t("2026-10-01T09:00:00-04:00");
    let intake = t("2026-10-02T10:00:00-04:00");
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::CspJi, referred);
    found_ineligible(&mut f, on_time.enrollment_id, intake);
    refer(&mut f, on_time.member_id, "2026-10-02T15:00:00-04:00", true);
    let o = find(
        &eval(&f, on_time.member_id, t("2026-10-05T09:00:00-04:00")),
        "JI-9",
    );
    assert_eq!(
        (o.status, o.due),
        (Status::Satisfied, Some(end_of("2026-10-02")))
    );

    let late = enroll(&mut f, Program::CspJi, referred);
    found_ineligible(&mut f, late.enrollment_id, intake);
    refer(&mut f, late.member_id, "2026-10-02T11:00:00-04:00", false);
    assert_eq!(
        status_of(&f, late.member_id, "JI-9", t("2026-10-03T09:00:00-04:00")),
        Status::Overdue,
        "an ordinary referral is no alternative"
    );
    refer(&mut f, late.member_id, "2026-10-03T10:00:00-04:00", true);
    assert_eq!(
        status_of(&f, late.member_id, "JI-9", t("2026-10-05T09:00:00-04:00")),
        Status::SatisfiedLate
    );
}

/// TM-3: the initial action plan, signed by mentor, supervisor and parent or guardian, within
/// 30 days of initiating services (TM Components 7).
#[test]
fn tm_3_action_plan_signed_within_30_days() {
    fn initiated(f: &mut Fixture, days: i64) -> RecordId {
        let m = enroll(f, Program::Tm, days_ago(days + 2)).member_id;
        note(
            f,
            new_note(
                m,
                Program::Tm,
                days_ago(days),
                Modality::InPerson,
                vec![ContactPurpose::ServiceInitiation],
            ),
        );
        m
    }
    fn sign_at_home(f: &mut Fixture, plan: RecordId) {
        f.store.sign_plan(plan, f.worker_signer()).unwrap();
        f.store
            .sign_plan(plan, Signer::witnessed("Parent", Role::Guardian, f.worker))
            .unwrap();
    }
    let mut f = Fixture::new();
    let mut sup = Fixture::signed_in_with(ServerRole::Supervisor, StoreKey::generate());
    let on_time = initiated(&mut f, 10);
    let plan = create_plan(&mut f, on_time, Program::Tm);
    sign_at_home(&mut f, plan);
    let now = after(Timestamp::now(), 60_000);
    assert_eq!(
        status_of(&f, on_time, "TM-3", now),
        Status::Due,
        "the supervisor has not signed"
    );
    cosign(&mut f, &mut sup, plan);
    assert_eq!(status_of(&f, on_time, "TM-3", now), Status::Satisfied);

    let late = initiated(&mut f, 40);
    assert_eq!(status_of(&f, late, "TM-3", now), Status::Overdue);
    let plan = create_plan(&mut f, late, Program::Tm);
    sign_at_home(&mut f, plan);
    cosign(&mut f, &mut sup, plan);
    assert_eq!(status_of(&f, late, "TM-3", now), Status::SatisfiedLate);
}

/// TM-5: every session note records the planned activity, the goal targeted and the member's
/// response, at the session (TM Components 8).
#[test]
fn tm_5_session_notes_record_activity_goal_and_response() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, t("2026-10-01T09:00:00-04:00")).member_id;
    note(
        &mut f,
        new_note(
            m,
            Program::Tm,
            t("2026-10-02T16:00:00-04:00"),
            Modality::InPerson,
            vec![],
        ),
    );
    assert_eq!(
        status_of(&f, m, "TM-5", t("2026-10-06T09:00:00-04:00")),
        Status::Satisfied
    );
    let mut missing = new_note(
        m,
        Program::Tm,
        t("2026-10-05T16:00:00-04:00"),
        Modality::Phone,
        vec![],
    );
    missing.member_response = None;
    let id = f.store.draft_note(missing.clone(), f.worker).unwrap();
    let refused = f.store.finalize_note(id, f.worker_signer()).unwrap_err();
    assert_eq!(fields(&refused), ["member_response"]);
    let o = find(&eval(&f, m, t("2026-10-06T09:00:00-04:00")), "TM-5");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of("2026-10-05")))
    );
    f.store
        .redraft_note(
            id,
            NewNote {
                member_response: Some("Quiet at first, then engaged".into()),
                ..missing
            },
        )
        .unwrap();
    f.store.finalize_note(id, f.worker_signer()).unwrap();
    assert_eq!(
        status_of(&f, m, "TM-5", t("2026-10-06T09:00:00-04:00")),
        Status::Satisfied
    );
}

/// TM-7: a telehealth session's note gives the reason for telehealth, at the session (TM
/// Components 10).
#[test]
fn tm_7_telehealth_reason_documented() {
    let mut f = Fixture::new();
    let m = enroll(&mut f, Program::Tm, t("2026-10-01T09:00:00-04:00")).member_id;
    note(
        &mut f,
        new_note(
            m,
            Program::Tm,
            t("2026-10-02T16:00:00-04:00"),
            Modality::InPerson,
            vec![],
        ),
    );
    assert!(
        eval(&f, m, t("2026-10-06T09:00:00-04:00"))
            .iter()
            .all(|o| o.rule_id != "TM-7"),
        "no telehealth session yet"
    );
    let mut video = new_note(
        m,
        Program::Tm,
        t("2026-10-05T16:00:00-04:00"),
        Modality::Telehealth,
        vec![],
    );
    video.telehealth_reason = None;
    let id = f.store.draft_note(video.clone(), f.worker).unwrap();
    let refused = f.store.finalize_note(id, f.worker_signer()).unwrap_err();
    assert_eq!(fields(&refused), ["telehealth_reason"]);
    let o = find(&eval(&f, m, t("2026-10-06T09:00:00-04:00")), "TM-7");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of("2026-10-05")))
    );
    f.store
        .redraft_note(
            id,
            NewNote {
                telehealth_reason: Some("Youth had a fever".into()),
                ..video
            },
        )
        .unwrap();
    f.store.finalize_note(id, f.worker_signer()).unwrap();
    assert_eq!(
        status_of(&f, m, "TM-7", t("2026-10-06T09:00:00-04:00")),
        Status::Satisfied
    );
}

/// TM-10: individual supervision of each mentor in every calendar week (TM Staffing 3); a
/// missed week stays missed.
#[test]
fn tm_10_weekly_individual_supervision() {
    let mut f = Fixture::new();
    let supervisor = new_id();
    supervision(
        &mut f,
        supervisor,
        Program::Tm,
        "2026-11-03T10:00:00-05:00",
        true,
    );
    // Group supervision only, in the week of 9 November.
    supervision(
        &mut f,
        supervisor,
        Program::Tm,
        "2026-11-10T10:00:00-05:00",
        false,
    );
    supervision(
        &mut f,
        supervisor,
        Program::Tm,
        "2026-11-18T10:00:00-05:00",
        true,
    );
    let weeks: Vec<(Option<Timestamp>, Status)> =
        staff_rule(&f, "TM-10", Program::Tm, t("2026-11-24T10:00:00-05:00"))
            .into_iter()
            .map(|o| (o.due, o.status))
            .collect();
    assert_eq!(
        weeks,
        vec![
            (Some(end_of("2026-11-08")), Status::Satisfied),
            (Some(end_of("2026-11-15")), Status::Overdue),
            (Some(end_of("2026-11-22")), Status::Satisfied),
            (Some(end_of("2026-11-29")), Status::Due),
        ]
    );
}

/// TM-11: a senior licensed clinician answers a consultation request within 1 hour (TM
/// Staffing 4).
#[test]
fn tm_11_consultation_answered_within_1_hour() {
    fn ask(f: &mut Fixture, at: &str) -> RecordId {
        f.store
            .request_consultation(
                NewConsultation {
                    program: Program::Tm,
                    requested_at: Some(t(at)),
                    consultant_kind: ConsultantKind::SeniorClinician,
                    topic: "Safety concern raised in session".into(),
                },
                f.worker,
            )
            .unwrap()
    }
    let mut f = Fixture::new();
    let clinician = new_id();
    let quick = ask(&mut f, "2026-11-16T10:00:00-05:00");
    f.store
        .consultation_answered(quick, clinician, Some(t("2026-11-16T10:40:00-05:00")))
        .unwrap();
    let slow = ask(&mut f, "2026-11-17T10:00:00-05:00");
    f.store
        .consultation_answered(slow, clinician, Some(t("2026-11-17T12:00:00-05:00")))
        .unwrap();
    ask(&mut f, "2026-11-18T10:00:00-05:00");
    let got: Vec<(Option<Timestamp>, Status)> =
        staff_rule(&f, "TM-11", Program::Tm, t("2026-11-18T11:01:00-05:00"))
            .into_iter()
            .map(|o| (o.due, o.status))
            .collect();
    assert_eq!(
        got,
        vec![
            (Some(t("2026-11-16T11:00:00-05:00")), Status::Satisfied),
            (Some(t("2026-11-17T11:00:00-05:00")), Status::SatisfiedLate),
            (Some(t("2026-11-18T11:00:00-05:00")), Status::Overdue),
        ]
    );
}

/// CARES-2: the ICP reaches the member or guardian on paper and electronically, in English and
/// the primary language, within 60 days of the referral (CARES VIII).
#[test]
fn cares_2_care_plan_copies_within_60_days() {
    fn copies(f: &mut Fixture, m: RecordId, plan: RecordId, which: &[(&str, bool)], at: Timestamp) {
        for (language, paper) in which {
            deliver(
                f,
                m,
                Program::Cares,
                DocumentKind::PlanCopy,
                Some(plan),
                (language, *paper),
                at,
            );
        }
    }
    let all = [
        ("English", true),
        ("English", false),
        ("Spanish", true),
        ("Spanish", false),
    ];
    let mut f = Fixture::new();
    let on_time = enroll_speaking(&mut f, Program::Cares, days_ago(20), "Spanish").member_id;
    let icp = create_plan(&mut f, on_time, Program::Cares);
    copies(&mut f, on_time, icp, &all[..3], days_ago(5));
    assert_eq!(
        status_of(&f, on_time, "CARES-2", Timestamp::now()),
        Status::Due,
        "no electronic copy in Spanish yet"
    );
    copies(&mut f, on_time, icp, &all[3..], days_ago(4));
    assert_eq!(
        status_of(&f, on_time, "CARES-2", Timestamp::now()),
        Status::Satisfied
    );

    let referred = days_ago(80);
    let late = enroll_speaking(&mut f, Program::Cares, referred, "Spanish").member_id;
    let icp = create_plan(&mut f, late, Program::Cares);
    let o = find(&eval(&f, late, Timestamp::now()), "CARES-2");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of_nth_day(referred, 60)))
    );
    copies(&mut f, late, icp, &all, days_ago(2));
    assert_eq!(
        status_of(&f, late, "CARES-2", Timestamp::now()),
        Status::SatisfiedLate
    );
}

/// CARES-8: an aftercare / transition plan before removal of assignment, and the termination
/// letter within 30 days of it (CARES IX.B, IX.C).
#[test]
fn cares_8_aftercare_plan_before_removal_and_letter_within_30_days() {
    // Written directly: the scenario needs the plan's completion at a given time, and the
    // command completes a plan when it is entered (`create_plan` with `PlanKind::AftercarePlan`).
    fn aftercare_plan(f: &mut Fixture, m: RecordId, completed: Timestamp) {
        let mut plan = synthetic::service_plan(m, Program::Cares, f.worker);
        plan.kind = PlanKind::AftercarePlan;
        plan.completed_at = Some(completed);
        f.store.create(RecordBody::Plan(plan)).unwrap();
    }
    fn letter(f: &mut Fixture, m: RecordId, at: Timestamp) {
        deliver(
            f,
            m,
            Program::Cares,
            DocumentKind::TerminationLetter,
            None,
            ("English", true),
            at,
        );
    }
    let mut f = Fixture::new();
    let on_time = enroll(&mut f, Program::Cares, days_ago(200));
    aftercare_plan(&mut f, on_time.member_id, days_ago(12));
    discharge(&mut f, on_time.enrollment_id, day_of(days_ago(10)));
    letter(&mut f, on_time.member_id, days_ago(5));
    assert_eq!(
        status_of(&f, on_time.member_id, "CARES-8", Timestamp::now()),
        Status::Satisfied
    );

    let late = enroll(&mut f, Program::Cares, days_ago(200));
    let removed = days_ago(40);
    aftercare_plan(&mut f, late.member_id, days_ago(45));
    discharge(&mut f, late.enrollment_id, day_of(removed));
    let o = find(&eval(&f, late.member_id, Timestamp::now()), "CARES-8");
    assert_eq!(
        (o.status, o.due),
        (Status::Overdue, Some(end_of_nth_day(removed, 30)))
    );
    letter(&mut f, late.member_id, days_ago(2));
    assert_eq!(
        status_of(&f, late.member_id, "CARES-8", Timestamp::now()),
        Status::SatisfiedLate
    );

    // RULES.md: the aftercare plan is due *before removal*. Removed 10 days ago with none, the
    // obligation is overdue now, whatever the letter's 30 days.
    let no_plan = enroll(&mut f, Program::Cares, days_ago(200));
    discharge(&mut f, no_plan.enrollment_id, day_of(days_ago(10)));
    letter(&mut f, no_plan.member_id, days_ago(5));
    let o = find(&eval(&f, no_plan.member_id, Timestamp::now()), "CARES-8");
    assert_eq!(
        o.status,
        Status::Overdue,
        "no aftercare plan before removal ({:?})",
        o.detail
    );
}

/// CARES-11: individual supervision of each care coordinator in every calendar week, from the
/// start of employment (CARES IV.B.2.b.5).
#[test]
fn cares_11_weekly_individual_supervision() {
    let mut f = Fixture::new();
    let supervisor = new_id();
    let worker = f.worker;
    f.store
        .record_training(NewTraining {
            staff_id: worker,
            program: Program::Cares,
            employment_started_on: Day::parse("2026-11-02").unwrap(),
            course: "CARES orientation".into(),
            required_initial: true,
            completed_on: None,
        })
        .unwrap();
    supervision(
        &mut f,
        supervisor,
        Program::Cares,
        "2026-11-04T10:00:00-05:00",
        true,
    );
    let now = t("2026-11-17T10:00:00-05:00");
    let weeks = |f: &Fixture| -> Vec<(Option<Timestamp>, Status)> {
        staff_rule(f, "CARES-11", Program::Cares, now)
            .into_iter()
            .map(|o| (o.due, o.status))
            .collect()
    };
    assert_eq!(
        weeks(&f),
        vec![
            (Some(end_of("2026-11-08")), Status::Satisfied),
            (Some(end_of("2026-11-15")), Status::Overdue),
            (Some(end_of("2026-11-22")), Status::Due),
        ]
    );
    supervision(
        &mut f,
        supervisor,
        Program::Cares,
        "2026-11-17T09:00:00-05:00",
        true,
    );
    assert_eq!(
        weeks(&f),
        vec![
            (Some(end_of("2026-11-08")), Status::Satisfied),
            (Some(end_of("2026-11-15")), Status::Overdue),
            (Some(end_of("2026-11-22")), Status::Satisfied),
        ],
        "a later session does not make up a missed week"
    );
}

/// CARES-12: the required initial training within 3 months of starting employment, and not
/// before 31 December 2023 (CARES V.A, V.B).
#[test]
fn cares_12_initial_training_within_3_months() {
    let mut f = Fixture::new();
    let worker = f.worker;
    for (started, completed, required) in [
        ("2023-06-01", Some("2023-12-20"), true),
        ("2026-03-02", Some("2026-05-20"), true),
        ("2026-04-01", Some("2026-07-15"), true),
        ("2026-05-04", None, true),
        ("2026-05-04", None, false),
    ] {
        f.store
            .record_training(NewTraining {
                staff_id: worker,
                program: Program::Cares,
                employment_started_on: Day::parse(started).unwrap(),
                course: format!("CARES core curriculum ({started})"),
                required_initial: required,
                completed_on: completed.and_then(Day::parse),
            })
            .unwrap();
    }
    let got: Vec<(Option<Timestamp>, Status)> = staff_rule(
        &f,
        "CARES-12",
        Program::Cares,
        t("2026-08-10T09:00:00-04:00"),
    )
    .into_iter()
    .map(|o| (o.due, o.status))
    .collect();
    assert_eq!(
        got,
        vec![
            (Some(end_of("2023-12-31")), Status::Satisfied),
            (Some(end_of("2026-06-02")), Status::Satisfied),
            (Some(end_of("2026-07-01")), Status::SatisfiedLate),
            (Some(end_of("2026-08-04")), Status::Overdue),
        ]
    );
}

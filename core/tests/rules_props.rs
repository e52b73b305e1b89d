//! Properties of the rules engine over random histories: evaluation is deterministic and
//! independent of the order records arrive in, and recording a contact as it happens never
//! makes anything more overdue. (A contact back-dated before the first one may rightly do
//! so: it starts the clocks that run from the first contact, CSP-3's for one.)
#![allow(clippy::unwrap_used)]

use fieldnote_core::model::*;
use fieldnote_core::rules::Status;
use fieldnote_core::rules::{MemberRecords, Obligation, evaluate_member};
use fieldnote_core::store::Record;
use fieldnote_core::{Attestation, AttestationKind, Signer};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
/// The evaluation instant: 2026-11-16T15:00:00Z.
const NOW: i64 = 1_763_305_200_000;

fn at(days_ago: i64, hour: i64) -> Timestamp {
    Timestamp::from_millis(NOW - days_ago * DAY + hour * 3_600_000 - 15 * 3_600_000)
}

fn record(body: RecordBody) -> Record {
    Record {
        id: new_id(),
        body,
        attestations: Vec::new(),
    }
}

/// A note, finalized by its author.
fn note(member: RecordId, program: Program, worker: StaffId, n: &NoteSpec) -> Record {
    let body = RecordBody::ContactNote(ContactNote {
        member_id: member,
        program,
        author: worker,
        started_at: at(n.days_ago, n.hour),
        duration_minutes: 30,
        modality: n.modality,
        telehealth_reason: (n.modality == Modality::Telehealth).then(|| "Member asked".into()),
        place: PlaceOfService::Community,
        collateral: (n.modality == Modality::Collateral).then(|| Contact {
            name: "A provider".into(),
            ..Default::default()
        }),
        member_engaged: n.engaged,
        planned_activity: Some("Check-in".into()),
        goal_targeted: Some("Housing".into()),
        member_response: Some("Engaged".into()),
        narrative: "Met and talked.".into(),
        progress: Vec::new(),
        purposes: n.purposes.clone(),
        addendum_to: None,
    });
    let id = new_id();
    let finalize = Attestation::new(
        id,
        AttestationKind::Finalize,
        Signer::staff(worker, "Worker", Role::Worker),
        at(n.days_ago, n.hour),
        &body,
    );
    Record {
        id,
        body,
        attestations: vec![finalize],
    }
}

#[derive(Clone, Debug)]
struct NoteSpec {
    days_ago: i64,
    hour: i64,
    modality: Modality,
    engaged: bool,
    purposes: Vec<ContactPurpose>,
}

#[derive(Clone, Debug)]
struct History {
    program: Program,
    referred_days_ago: i64,
    notes: Vec<NoteSpec>,
    attempts: Vec<(i64, AttemptOutcome)>,
    referrals: Vec<(i64, Option<i64>, Option<i64>)>,
    incidents: Vec<(i64, Option<i64>)>,
    changes: Vec<i64>,
}

fn programs() -> impl Strategy<Value = Program> {
    prop::sample::select(vec![
        Program::Csp,
        Program::CspJi,
        Program::Tm,
        Program::Cares,
        Program::BhCp,
        Program::LtssCp,
    ])
}

fn note_spec(max_days: i64) -> impl Strategy<Value = NoteSpec> {
    (
        0..max_days,
        8i64..20,
        prop::sample::select(vec![
            Modality::InPerson,
            Modality::Phone,
            Modality::Telehealth,
            Modality::Text,
            Modality::Collateral,
            Modality::CaseRelatedWork,
        ]),
        any::<bool>(),
        prop::collection::vec(
            prop::sample::select(vec![
                ContactPurpose::InitialOutreach,
                ContactPurpose::FirstAppointment,
                ContactPurpose::ServiceInitiation,
                ContactPurpose::DischargePlanning,
                ContactPurpose::PcpCoordination,
                ContactPurpose::ProviderProgressUpdate,
                ContactPurpose::IcpMonitoring,
                ContactPurpose::ReferralFollowUp,
            ]),
            0..2,
        ),
    )
        .prop_map(|(days_ago, hour, modality, engaged, purposes)| NoteSpec {
            days_ago,
            hour,
            modality,
            engaged,
            purposes,
        })
}

fn history() -> impl Strategy<Value = History> {
    (programs(), 1i64..400).prop_flat_map(|(program, referred)| {
        (
            Just(program),
            Just(referred),
            prop::collection::vec(note_spec(referred), 0..12),
            prop::collection::vec(
                (
                    0..referred,
                    prop::sample::select(vec![
                        AttemptOutcome::Reached,
                        AttemptOutcome::NoAnswer,
                        AttemptOutcome::LeftMessage,
                    ]),
                ),
                0..3,
            ),
            prop::collection::vec(
                (
                    0..referred,
                    prop::option::of(0i64..20),
                    prop::option::of(0i64..40),
                ),
                0..3,
            ),
            prop::collection::vec((0..referred, prop::option::of(0i64..5)), 0..2),
            prop::collection::vec(0..referred, 0..2),
        )
            .prop_map(
                |(program, referred_days_ago, notes, attempts, referrals, incidents, changes)| {
                    History {
                        program,
                        referred_days_ago,
                        notes,
                        attempts,
                        referrals,
                        incidents,
                        changes,
                    }
                },
            )
    })
}

/// The history's records, in the order given.
fn records(h: &History, member: RecordId, worker: StaffId) -> Vec<Record> {
    let mut out = vec![Record {
        id: member,
        body: RecordBody::Member(Member {
            given_name: "Test".into(),
            family_name: "Member".into(),
            preferred_name: None,
            date_of_birth: Day::parse(match h.program {
                Program::Tm | Program::Cares => "2012-05-01",
                _ => "1985-05-01",
            })
            .unwrap(),
            primary_language: "English".into(),
            masshealth_id: "100200300400".into(),
            pcp: None,
            guardian: None,
            phone: None,
            location: None,
        }),
        attestations: Vec::new(),
    }];
    let referred = at(h.referred_days_ago, 9);
    out.push(record(RecordBody::Enrollment(Enrollment {
        member_id: member,
        program: h.program,
        referral: Referral {
            received_at: referred,
            source: ReferralSource::Provider,
            referrer: None,
            facility: None,
            reason: None,
        },
        intake_at: None,
        effective_on: None,
        later_first_appointment_requested: None,
        supervision: None,
        assigned_worker: worker,
        team_id: new_id(),
        status: EnrollmentStatus::Active,
        status_history: Vec::new(),
        waitlist: None,
        significant_changes: h
            .changes
            .iter()
            .map(|d| SignificantChange {
                at: at(*d, 10),
                description: "Lost housing".into(),
            })
            .collect(),
        discharge: None,
    })));
    for n in &h.notes {
        out.push(note(member, h.program, worker, n));
    }
    for (d, outcome) in &h.attempts {
        out.push(record(RecordBody::EngagementAttempt(EngagementAttempt {
            member_id: member,
            program: h.program,
            by: worker,
            at: at(*d, 11),
            channel: Channel::Phone,
            outcome: *outcome,
            purpose: "Outreach".into(),
            note: None,
        })));
    }
    for (d, scheduled, followed) in &h.referrals {
        let referred_at = at(*d, 12);
        out.push(record(RecordBody::ServiceReferral(ServiceReferral {
            member_id: member,
            program: h.program,
            service: "Therapy".into(),
            provider: Contact {
                name: "Clinic".into(),
                ..Default::default()
            },
            reason: "Needs".into(),
            alternative_for_ineligible: false,
            referred_at,
            scheduled_for: scheduled
                .map(|s| Timestamp::from_millis(referred_at.millis() + s * DAY)),
            follow_ups: followed
                .iter()
                .map(|f| FollowUp {
                    at: Timestamp::from_millis(referred_at.millis() + f * DAY),
                    outcome: "Attended".into(),
                    by: worker,
                })
                .collect(),
            no_follow_up_reason: None,
            consent_id: None,
            by: worker,
        })));
    }
    for (d, reported) in &h.incidents {
        let occurred = at(*d, 13);
        let report = reported.map(|r| Timestamp::from_millis(occurred.millis() + r * DAY));
        out.push(record(RecordBody::Incident(Incident {
            member_id: Some(member),
            program: h.program,
            occurred_at: occurred,
            location: "Home".into(),
            category: IncidentCategory::Other,
            description: "Fell".into(),
            actions_taken: String::new(),
            reported_to_plan_at: report,
            reported_to_masshealth_at: report,
            alarm_id: None,
            reporter: worker,
        })));
    }
    out
}

fn evaluate(member: RecordId, records: Vec<Record>) -> Vec<Obligation> {
    evaluate_member(
        &MemberRecords::from_records(member, records),
        Timestamp::from_millis(NOW),
    )
}

/// A comparable form: rule, trigger, due and status.
fn key(o: &[Obligation]) -> Vec<String> {
    let mut k: Vec<String> = o
        .iter()
        .map(|o| format!("{} {:?} {:?} {:?}", o.rule_id, o.trigger, o.due, o.status))
        .collect();
    k.sort();
    k
}

fn overdue(o: &[Obligation]) -> usize {
    o.iter().filter(|o| o.status == Status::Overdue).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_is_deterministic_and_independent_of_record_order(
        h in history(),
        seed in any::<u64>(),
    ) {
        let (member, worker) = (new_id(), new_id());
        let recs = records(&h, member, worker);
        let first = evaluate(member, recs.clone());
        prop_assert_eq!(key(&first), key(&evaluate(member, recs.clone())));
        // The same records in another order.
        let mut shuffled = recs;
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(key(&first), key(&evaluate(member, shuffled)));
    }

    #[test]
    fn a_contact_recorded_as_it_happens_never_makes_anything_more_overdue(
        h in history(),
        extra in note_spec(1),
    ) {
        let (member, worker) = (new_id(), new_id());
        let recs = records(&h, member, worker);
        let before = evaluate(member, recs.clone());
        // A finalized, engaged, face-to-face contact an hour ago with every session field:
        // it satisfies obligations, and any clock it starts has not run out.
        let contact = NoteSpec {
            modality: Modality::InPerson,
            engaged: true,
            days_ago: 0,
            hour: 14,
            ..extra
        };
        let mut with = recs;
        with.push(note(member, h.program, worker, &contact));
        let after = evaluate(member, with);
        prop_assert!(
            overdue(&after) <= overdue(&before),
            "overdue went from {} to {}:\nbefore {:#?}\nafter {:#?}",
            overdue(&before), overdue(&after), key(&before), key(&after)
        );
    }
}

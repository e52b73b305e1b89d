//! Synthetic records for demos, tests and benchmarks. Every name is drawn from invented word
//! lists; no real person's data appears anywhere in the project.

use chrono::{Duration, NaiveDate};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::model::*;

const GIVEN: &[&str] = &[
    "Arlo", "Brisa", "Caspian", "Delphine", "Ezra", "Fenna", "Galen", "Hollis", "Isolde", "Jory",
    "Kestrel", "Lumen", "Marlo", "Nerys", "Orrin", "Posy", "Quill", "Rowan", "Sable", "Tamsin",
];
const FAMILY: &[&str] = &[
    "Ambervale",
    "Brightwater",
    "Copperfield",
    "Dunmore",
    "Elderbrook",
    "Fernhollow",
    "Glimmerton",
    "Hartwell",
    "Ironwood",
    "Juniperhill",
    "Kingsleigh",
    "Larkspur",
    "Mossgrove",
    "Northcott",
    "Oakhaven",
    "Pinecrest",
    "Quarrytown",
    "Ravensworth",
    "Stillwater",
    "Thornbury",
];
const LANGUAGES: &[&str] = &[
    "English",
    "Spanish",
    "Portuguese",
    "Haitian Creole",
    "Vietnamese",
];
const ACTIVITIES: &[&str] = &[
    "reviewed the housing application and gathered documents",
    "practiced a phone call to schedule a primary care visit",
    "walked to the pharmacy to pick up medication",
    "discussed the probation check-in and transportation",
    "worked on a weekly budget using the benefits letter",
    "completed the food pantry intake together",
    "rehearsed coping skills for the court date",
    "called the outpatient clinic to reschedule therapy",
    "explored job listings at the career center",
    "talked through the crisis prevention plan and supports",
    "filled out the fuel assistance form at the library",
    "met the new landlord and looked at the lease together",
    "practiced the bus route to the dialysis appointment",
    "sorted mail and flagged letters that need answers",
    "called the recovery coach to set up a meeting",
    "looked for a dentist who takes MassHealth",
    "picked up a winter coat at the clothing drive",
    "prepared questions for the psychiatrist visit",
    "went over the school meeting notes with the family",
    "reviewed the sleep log and the morning routine",
];
const OBSERVATIONS: &[&str] = &[
    "The apartment was clean and the heat was working",
    "It was raining so we met in the car",
    "Spoke about the upcoming holiday and family plans",
    "Noted a new bruise and asked about it; explanation was consistent",
    "Phone is out of minutes again",
    "Mood appeared brighter than last week",
    "Reported sleeping four hours a night",
    "Neighbor was present for part of the visit",
    "Plans to attend the peer group on Thursday",
    "No safety concerns were identified today",
    "Asked for help reading a letter from the court",
    "Cat is doing well and is a source of comfort",
];
const RESPONSES: &[&str] = &[
    "engaged and asked follow-up questions",
    "was tired but stayed for the whole visit",
    "expressed worry about the landlord and agreed to next steps",
    "was upbeat and proud of progress",
    "was guarded at first, then shared more",
];

/// A synthetic member.
pub fn member(rng: &mut impl Rng) -> Member {
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default()
        + Duration::days(rng.random_range(0..18_000));
    Member {
        given_name: pick(rng, GIVEN).into(),
        family_name: pick(rng, FAMILY).into(),
        preferred_name: None,
        date_of_birth: Day(birth),
        primary_language: pick(rng, LANGUAGES).into(),
        masshealth_id: format!(
            "{:012}",
            rng.random_range(100_000_000_000u64..999_999_999_999)
        ),
        pcp: Some(Contact {
            name: format!("Dr. {}", pick(rng, FAMILY)),
            organization: Some("Harborview Community Health".into()),
            phone: Some("555-0100".into()),
            email: None,
        }),
        guardian: None,
        phone: Some(format!("555-01{:02}", rng.random_range(0..100))),
        location: Some("Shelter on Elm Street".into()),
    }
}

/// A synthetic active enrollment of `member_id` in `program`.
pub fn enrollment(
    member_id: RecordId,
    program: Program,
    worker: StaffId,
    team: RecordId,
    referred: Timestamp,
) -> Enrollment {
    Enrollment {
        member_id,
        program,
        referral: Referral {
            received_at: referred,
            source: if program == Program::CspJi {
                ReferralSource::CorrectionalFacility
            } else {
                ReferralSource::HealthPlan
            },
            referrer: None,
            facility: (program == Program::CspJi).then(|| "County House of Correction".into()),
            reason: Some("Support with housing and treatment engagement".into()),
        },
        intake_at: Some(referred),
        effective_on: None,
        later_first_appointment_requested: None,
        supervision: None,
        assigned_worker: worker,
        team_id: team,
        status: EnrollmentStatus::Active,
        status_history: Vec::new(),
        waitlist: None,
        significant_changes: Vec::new(),
        discharge: None,
    }
}

/// A synthetic in-person contact note of about `words` words, ready to finalize.
pub fn note(
    rng: &mut impl Rng,
    member_id: RecordId,
    program: Program,
    author: StaffId,
    started_at: Timestamp,
    words: usize,
) -> ContactNote {
    let mut narrative = String::new();
    narrative.push_str("Met with the member and ");
    narrative.push_str(pick(rng, ACTIVITIES));
    narrative.push_str(". Member ");
    narrative.push_str(pick(rng, RESPONSES));
    narrative.push_str(". ");
    while narrative.split_whitespace().count() < words {
        if rng.random_bool(0.25) {
            narrative.push_str("We also ");
            narrative.push_str(pick(rng, ACTIVITIES));
        } else {
            narrative.push_str(pick(rng, OBSERVATIONS));
        }
        narrative.push_str(". ");
    }
    ContactNote {
        member_id,
        program,
        author,
        started_at,
        duration_minutes: rng.random_range(15..90),
        modality: Modality::InPerson,
        telehealth_reason: None,
        place: PlaceOfService::Community,
        collateral: None,
        member_engaged: true,
        planned_activity: Some(pick(rng, ACTIVITIES).into()),
        goal_targeted: Some("Stable housing".into()),
        member_response: Some(pick(rng, RESPONSES).into()),
        narrative,
        progress: Vec::new(),
        purposes: Vec::new(),
        addendum_to: None,
    }
}

/// A synthetic completed service plan with two goals.
pub fn service_plan(member_id: RecordId, program: Program, author: StaffId) -> Plan {
    let goal = |statement: &str, task: &str| Goal {
        id: new_id(),
        statement: statement.into(),
        addresses_criminogenic: Vec::new(),
        objectives: vec![Objective {
            id: new_id(),
            description: "Attend scheduled appointments".into(),
            measure: "4 of 4 appointments kept each month".into(),
            target_on: None,
        }],
        interventions: vec![Intervention {
            id: new_id(),
            description: "Coordinate transportation".into(),
            responsible: Some(author),
            frequency: Some("weekly".into()),
        }],
        tasks: vec![Task {
            id: new_id(),
            description: task.into(),
            timeframe: "within 30 days".into(),
            due_on: None,
            modality: Some("in person".into()),
            location: Some("community".into()),
            responsible: "member and worker".into(),
            done: false,
        }],
    };
    Plan {
        member_id,
        program,
        kind: PlanKind::service_plan_of(program),
        status: PlanStatus::Completed,
        revision_of: None,
        completed_at: Some(Timestamp::now()),
        last_reviewed_on: None,
        next_review_on: None,
        problems_and_needs: "Housing instability; missed medical appointments".into(),
        strengths: "Motivated, connected to a faith community".into(),
        summary: "Focus on housing and primary care linkage".into(),
        goals: vec![
            goal(
                "Move into stable housing",
                "Submit two housing applications",
            ),
            goal("See a primary care provider", "Schedule an annual physical"),
        ],
        supervision_conflict_checked: program == Program::CspJi,
        youth_signs: false,
        author,
    }
}

fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or("")
}

/// A synthetic 42 CFR Part 2 consent, signed at `at`, to share substance-use treatment
/// information with an invented outpatient program for care coordination.
pub fn part2_consent(
    member_id: RecordId,
    program: Program,
    recorded_by: StaffId,
    at: Timestamp,
) -> Consent {
    Consent {
        member_id,
        program,
        recipient: Contact {
            name: "Riverside Recovery Outpatient".into(),
            organization: Some("Riverside Recovery".into()),
            phone: Some("555-0142".into()),
            email: None,
        },
        scope: "Substance use treatment referrals, attendance and progress".into(),
        purpose: "Care coordination".into(),
        substance_use_part2: true,
        refused: false,
        signed_by: "the member".into(),
        signed_at: at,
        expires_on: None,
        revoked_at: None,
        recorded_by,
    }
}

/// A synthetic referral to substance-use treatment made under `consent_id`.
pub fn sud_referral(
    member_id: RecordId,
    program: Program,
    by: StaffId,
    consent_id: RecordId,
    at: Timestamp,
) -> ServiceReferral {
    ServiceReferral {
        member_id,
        program,
        service: "Outpatient substance use treatment".into(),
        provider: Contact {
            name: "Riverside Recovery Outpatient".into(),
            organization: Some("Riverside Recovery".into()),
            phone: Some("555-0142".into()),
            email: None,
        },
        reason: "Member asked for help staying in recovery".into(),
        alternative_for_ineligible: false,
        referred_at: at,
        scheduled_for: None,
        follow_ups: Vec::new(),
        no_follow_up_reason: None,
        consent_id: Some(consent_id),
        by,
    }
}

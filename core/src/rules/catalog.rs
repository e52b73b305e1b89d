//! Every obligation of `RULES.md`, one entry per rule: its id, programs, words, citation, and a
//! small function that finds the rule's trigger and what satisfied it in a member's records.
//! Read each entry beside its row in `RULES.md`.
//!
//! Program precedence is encoded in `programs`: the CSP rows that CSP-JI replaces (CSP-4,
//! CSP-5, CSP-8) list CSP alone.

use super::calendar::{end_of_day, local_day, start_of_day};
use super::clock::Clock;
use super::records::MemberRecords;
use crate::model::*;
use crate::store::NoteFacts;

/// What one rule found for one enrollment: when its clock started and what satisfied it.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// When the clock started; `None`: the trigger has not happened.
    pub trigger: Option<Timestamp>,
    /// When the obligation was met; `None`: not yet.
    pub satisfied_at: Option<Timestamp>,
    /// The clock; `None`: open until documented, never overdue.
    pub clock: Option<Clock>,
    /// A word for the worker (what is missing, a documented delay).
    pub detail: Option<String>,
    /// An extension the records themselves document (reason, last day).
    pub extension: Option<(String, Timestamp)>,
    /// For rules that are not one clock (the rolling case rate): the status, decided by the
    /// rule itself.
    pub decided: Option<super::clock::Status>,
}

/// What a rule reads.
pub struct Ctx<'a> {
    /// The member's records.
    pub records: &'a MemberRecords,
    /// The enrollment's id.
    pub enrollment_id: RecordId,
    /// The enrollment being evaluated.
    pub enrollment: &'a Enrollment,
    /// Now.
    pub now: Timestamp,
}

/// One rule of `RULES.md`.
pub struct Rule {
    /// The id in `RULES.md`.
    pub id: &'static str,
    /// Programs whose members it applies to.
    pub programs: &'static [Program],
    /// The obligation, in the table's words.
    pub obligation: &'static str,
    /// What satisfies it.
    pub satisfied_by: &'static str,
    /// The specification section it comes from.
    pub citation: &'static str,
    /// Finds the rule's windows for one enrollment.
    pub eval: fn(&Ctx<'_>) -> Vec<Window>,
}

const CSP: &[Program] = &[Program::Csp, Program::CspJi];
const CSP_ONLY: &[Program] = &[Program::Csp];
const JI: &[Program] = &[Program::CspJi];
const TM: &[Program] = &[Program::Tm];
const CARES: &[Program] = &[Program::Cares];
const CP: &[Program] = &[Program::BhCp, Program::LtssCp];

fn window(
    trigger: Option<Timestamp>,
    satisfied_at: Option<Timestamp>,
    clock: Clock,
) -> Vec<Window> {
    vec![Window {
        trigger,
        satisfied_at,
        clock: Some(clock),
        ..Window::default()
    }]
}

fn open_ended(trigger: Option<Timestamp>, satisfied_at: Option<Timestamp>) -> Vec<Window> {
    vec![Window {
        trigger,
        satisfied_at,
        clock: None,
        ..Window::default()
    }]
}

fn referral(c: &Ctx<'_>) -> Timestamp {
    c.enrollment.referral.received_at
}

fn admission(c: &Ctx<'_>) -> Timestamp {
    c.enrollment
        .intake_at
        .unwrap_or(c.enrollment.referral.received_at)
}

/// The start of the discharge day (a `Days(0)` clock from it ends at that day's midnight).
fn discharged(c: &Ctx<'_>) -> Option<Timestamp> {
    c.enrollment
        .discharge
        .as_ref()
        .map(|d| start_of_day(d.discharged_on.0))
}

/// The start of the first note after `from` matching `pred`.
fn first_note(
    c: &Ctx<'_>,
    from: Timestamp,
    pred: impl Fn(&NoteFacts) -> bool,
) -> Option<Timestamp> {
    c.records
        .notes_of(c.enrollment.program)
        .filter(|n| n.started_at >= start_of_day(local_day(from)) && pred(n))
        .map(|n| n.started_at)
        .next()
}

fn has(n: &NoteFacts, p: ContactPurpose) -> bool {
    n.purposes.contains(&p)
}

/// The first face-to-face contact since the referral: an in-person note (a call or text
/// marked as the first appointment is not one).
fn face_to_face(c: &Ctx<'_>) -> Option<Timestamp> {
    first_note(c, referral(c), |n| n.modality == Modality::InPerson)
}

fn assessments<'a>(c: &'a Ctx<'_>) -> impl Iterator<Item = &'a NeedsAssessment> {
    let program = c.enrollment.program;
    c.records
        .assessments
        .iter()
        .filter(move |a| a.program == program)
}

fn first_assessment_start(c: &Ctx<'_>) -> Option<Timestamp> {
    assessments(c).map(|a| a.started_at).min()
}

fn comprehensive_done(c: &Ctx<'_>, need_criminogenic: bool) -> Option<Timestamp> {
    assessments(c)
        .filter(|a| a.kind == AssessmentKind::Comprehensive)
        .filter(|a| !need_criminogenic || !a.criminogenic_needs.is_empty())
        .filter_map(|a| a.completed_at)
        .min()
}

/// One window per Monday-to-Sunday week from `start`'s week to `now`'s (the first from
/// `start` itself), each met by the first of `done` inside that week. A contact in a later
/// week does not make up for a missed one.
pub(crate) fn weekly(start: Timestamp, now: Timestamp, done: &[Timestamp]) -> Vec<Window> {
    super::calendar::week_starts(start, now)
        .into_iter()
        .map(|monday| {
            let end = Clock::Weekly.deadline(monday);
            Window {
                trigger: Some(monday.max(start)),
                satisfied_at: done
                    .iter()
                    .filter(|t| **t >= monday && **t <= end)
                    .min()
                    .copied(),
                clock: Some(Clock::Weekly),
                ..Window::default()
            }
        })
        .collect()
}

/// A recurring obligation: the window runs from the latest satisfying record (or `start`).
fn recurring(latest: Option<Timestamp>, start: Option<Timestamp>, clock: Clock) -> Vec<Window> {
    window(latest.or(start), None, clock)
}

fn last_completed_assessment(c: &Ctx<'_>) -> Option<Timestamp> {
    assessments(c).filter_map(|a| a.completed_at).max()
}

fn plans<'a>(
    c: &'a Ctx<'_>,
    kinds: &'a [PlanKind],
) -> impl Iterator<Item = &'a (RecordId, Plan, Vec<crate::attest::Attestation>)> {
    let program = c.enrollment.program;
    c.records.plans.iter().filter(move |(_, p, _)| {
        p.program == program && kinds.contains(&p.kind) && p.status != PlanStatus::Draft
    })
}

fn signed_plan(c: &Ctx<'_>, kinds: &[PlanKind], roles: &[Role]) -> Option<Timestamp> {
    plans(c, kinds)
        .filter_map(|(_, p, atts)| {
            let mut roles = roles.to_vec();
            if p.youth_signs && p.kind == PlanKind::IndividualActionPlan {
                roles.push(Role::Youth);
            }
            MemberRecords::fully_signed_at(p, atts, &roles)
        })
        .min()
}

fn last_review(c: &Ctx<'_>, kinds: &[PlanKind]) -> Option<Timestamp> {
    plans(c, kinds)
        .filter_map(|(_, p, _)| {
            let reviewed = p.last_reviewed_on.map(|d| end_of_day(d.0));
            reviewed.max(p.completed_at)
        })
        .max()
}

/// The member, or the parent or guardian: who the specs name as receiving a plan or letter.
const TO_MEMBER_OR_GUARDIAN: &[RecipientKind] = &[RecipientKind::Member, RecipientKind::Guardian];

/// The first delivery, from `from`'s day on, of a `kind` document under this enrollment's
/// program to one of `to`. A discharge plan counts only when the delivery names a discharge
/// plan written for this enrollment (and `plan_ok` accepts it).
fn delivered(
    c: &Ctx<'_>,
    kind: DocumentKind,
    from: Timestamp,
    to: &[RecipientKind],
    plan_ok: impl Fn(&DischargePlan) -> bool,
) -> Option<Timestamp> {
    c.records
        .deliveries
        .iter()
        .filter(|d| d.document == kind && d.program == c.enrollment.program)
        .filter(|d| to.contains(&d.recipient_kind))
        .filter(|d| d.delivered_at >= start_of_day(local_day(from)))
        .filter(|d| {
            kind != DocumentKind::DischargePlan
                || d.document_record_id
                    .and_then(|id| discharge_plan(c, id))
                    .is_some_and(&plan_ok)
        })
        .map(|d| d.delivered_at)
        .min()
}

/// A discharge plan written for this enrollment, under its program.
fn discharge_plan<'a>(c: &'a Ctx<'_>, id: RecordId) -> Option<&'a DischargePlan> {
    c.records
        .discharge_plans
        .iter()
        .find(|(pid, p)| {
            *pid == id && p.enrollment_id == c.enrollment_id && p.program == c.enrollment.program
        })
        .map(|(_, p)| p)
}

/// Any discharge plan of this enrollment.
fn any_plan(_: &DischargePlan) -> bool {
    true
}

/// Days after a significant change by which a plan review or reassessment falls due, when
/// that is sooner than the regular date. RULES.md says "sooner on significant change" with
/// no clock; the product reads it as 30 days, the clock of a first action plan.
pub const SIGNIFICANT_CHANGE_DAYS: u32 = 30;

/// A recurring review (`regular` from `latest`) brought forward by a significant change
/// recorded on the enrollment since `latest`: due [`SIGNIFICANT_CHANGE_DAYS`] after the
/// first such change, when that comes before the regular date. Before any review exists the
/// first plan's own rule applies, and a change moves nothing.
fn sooner_on_change(c: &Ctx<'_>, latest: Option<Timestamp>, regular: Clock) -> Vec<Window> {
    let Some(last) = latest else {
        return recurring(None, None, regular);
    };
    let change = c
        .enrollment
        .significant_changes
        .iter()
        .map(|s| s.at)
        .filter(|at| *at > last)
        .min();
    let sooner = Clock::Days(SIGNIFICANT_CHANGE_DAYS);
    match change {
        Some(at) if sooner.deadline(at) < regular.deadline(last) => {
            let mut w = window(Some(at), None, sooner);
            w[0].detail = Some(format!(
                "significant change recorded on {}: due sooner",
                local_day(at)
            ));
            w
        }
        _ => recurring(Some(last), None, regular),
    }
}

fn consent_in_force(c: &Ctx<'_>, at: Timestamp) -> bool {
    c.records
        .consents
        .iter()
        .any(|(_, k)| k.in_force(at) || (k.refused && k.signed_at <= at))
}

/// JI-2 / JI-3: documented, timely, unsuccessful engagement efforts extend the clock to a
/// week after the latest such effort.
fn engagement_extension(
    c: &Ctx<'_>,
    trigger: Option<Timestamp>,
    clock: Clock,
) -> Option<(String, Timestamp)> {
    let trigger = trigger?;
    let deadline = clock.deadline(trigger);
    let efforts: Vec<Timestamp> = c
        .records
        .attempts
        .iter()
        .filter(|a| a.program == c.enrollment.program && a.outcome.unsuccessful())
        .filter(|a| a.at >= trigger && a.at <= deadline)
        .map(|a| a.at)
        .collect();
    let last = efforts.iter().max()?;
    Some((
        format!(
            "{} unsuccessful engagement effort(s) documented in the window",
            efforts.len()
        ),
        end_of_day(local_day(*last) + chrono::Days::new(7)),
    ))
}

/// Every rule of `RULES.md` but JI-8, which is a product feature (the safety module) rather
/// than a clock on a member's record.
pub static RULES: &[Rule] = &[
    Rule {
        id: "CSP-1",
        programs: CSP,
        obligation: "contact the enrollee",
        satisfied_by: "a contact note with the enrollee",
        citation: "CSP Process Specifications, Assessment item 2",
        eval: |c| {
            window(
                Some(referral(c)),
                first_note(c, referral(c), |n| n.modality.with_member()),
                Clock::Hours(24),
            )
        },
    },
    Rule {
        id: "CSP-2",
        programs: CSP,
        obligation: "first appointment",
        satisfied_by: "first face-to-face contact",
        citation: "CSP Process Specifications, Assessment item 2",
        eval: |c| {
            let mut w = window(Some(referral(c)), face_to_face(c), Clock::Hours(48));
            if let Some(d) = &c.enrollment.later_first_appointment_requested {
                w[0].extension = Some((
                    format!("enrollee asked for a later appointment: {}", d.reason),
                    d.requested_for,
                ));
            }
            w
        },
    },
    Rule {
        id: "CSP-3",
        programs: CSP,
        obligation: "begin initial needs assessment",
        satisfied_by: "needs assessment started",
        citation: "CSP Process Specifications, Assessment item 3",
        eval: |c| window(face_to_face(c), first_assessment_start(c), Clock::Hours(48)),
    },
    Rule {
        id: "CSP-4",
        programs: CSP_ONLY,
        obligation: "complete comprehensive needs assessment",
        satisfied_by: "needs assessment completed",
        citation: "CSP Process Specifications, Assessment item 3",
        eval: |c| {
            window(
                first_assessment_start(c),
                comprehensive_done(c, false),
                Clock::Days(14),
            )
        },
    },
    Rule {
        id: "CSP-5",
        programs: CSP_ONLY,
        obligation: "update needs assessment",
        satisfied_by: "needs assessment update",
        citation: "CSP Process Specifications, Assessment item 3",
        eval: |c| recurring(last_completed_assessment(c), None, Clock::Months(3)),
    },
    Rule {
        id: "CSP-6",
        programs: CSP,
        obligation: "service plan, signed by worker and enrollee",
        satisfied_by: "service plan with both signatures",
        citation: "CSP Process Specifications, items 5, 5d",
        eval: |c| {
            window(
                first_assessment_start(c),
                signed_plan(c, &[PlanKind::ServicePlan], &[Role::Worker, Role::Member]),
                Clock::Days(14),
            )
        },
    },
    Rule {
        id: "CSP-7",
        programs: CSP,
        obligation: "supervisor reviews and signs service plan",
        satisfied_by: "supervisor signature",
        citation: "CSP Process Specifications, item 6",
        eval: |c| {
            // Within one week of the plan's completion, "i.e., within three weeks of the first
            // appointment": whichever comes first.
            let signed = signed_plan(c, &[PlanKind::ServicePlan], &[Role::Supervisor]);
            let completed = plans(c, &[PlanKind::ServicePlan])
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            match (completed, face_to_face(c)) {
                (Some(done), Some(first))
                    if Clock::Days(21).deadline(first) < Clock::Days(7).deadline(done) =>
                {
                    window(Some(first), signed, Clock::Days(21))
                }
                (completed, _) => window(completed, signed, Clock::Days(7)),
            }
        },
    },
    Rule {
        id: "CSP-8",
        programs: CSP_ONLY,
        obligation: "update service plan",
        satisfied_by: "service plan revision",
        citation: "CSP Process Specifications, item 7",
        eval: |c| {
            sooner_on_change(
                c,
                last_review(c, &[PlanKind::ServicePlan]),
                Clock::Months(3),
            )
        },
    },
    Rule {
        id: "CSP-9",
        programs: CSP,
        obligation: "discharge planning from admission",
        satisfied_by: "discharge-planning activity in progress notes",
        citation: "CSP Discharge item 1",
        eval: |c| {
            open_ended(
                Some(admission(c)),
                first_note(c, admission(c), |n| {
                    has(n, ContactPurpose::DischargePlanning)
                }),
            )
        },
    },
    Rule {
        id: "CSP-10",
        programs: CSP,
        obligation: "crisis prevention plan before discharge; written discharge plan at discharge",
        satisfied_by: "plans given to the enrollee, copy in record",
        citation: "CSP Discharge items 4, 5",
        eval: |c| {
            let Some(at) = discharged(c) else {
                return window(None, None, Clock::Days(0));
            };
            let crisis = c
                .records
                .crisis_plans
                .iter()
                .filter(|p| p.program == c.enrollment.program)
                .filter_map(|p| p.given_to_member_at)
                .filter(|t| *t >= start_of_day(local_day(admission(c))))
                .min();
            let plan = delivered(
                c,
                DocumentKind::DischargePlan,
                admission(c),
                TO_MEMBER_OR_GUARDIAN,
                any_plan,
            );
            let done = match (crisis, plan) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            window(Some(at), done, Clock::Days(0))
        },
    },
    Rule {
        id: "CSP-11",
        programs: CSP,
        obligation: "linked with a PCC and at least an annual physical",
        satisfied_by: "documented coordination or physical",
        citation: "CSP Linkages item 7",
        eval: |c| {
            let last = c
                .records
                .notes_of(c.enrollment.program)
                .filter(|n| {
                    has(n, ContactPurpose::AnnualPhysicalDocumented)
                        || has(n, ContactPurpose::PcpCoordination)
                })
                .map(|n| n.started_at)
                .max();
            let mut w = recurring(last, Some(admission(c)), Clock::Months(12));
            if c.records
                .member
                .as_ref()
                .is_some_and(|(_, m)| m.pcp.is_none())
            {
                w[0].detail = Some("no PCC on record".into());
            }
            w
        },
    },
    Rule {
        id: "CSP-12",
        programs: CSP,
        obligation: "consent or its refusal documented before collateral contact",
        satisfied_by: "consent record",
        citation: "CSP Linkages item 2",
        eval: consent_before_collateral,
    },
    Rule {
        id: "JI-1",
        programs: JI,
        obligation: "at least 4 connections or case-related work, at least 1 a connection, every 30 days",
        satisfied_by: "contact notes",
        citation: "CSP-JI Components of Service 3",
        eval: |c| {
            // Rolling: met or not as of today. Within the first 30 days of enrollment the
            // window is still filling (due 30 days after admission); after that an unmet
            // window is overdue now. When met, the due date is when the oldest counted
            // contact leaves the window.
            let rate = super::case_rate::case_rate(c.records, c.now);
            let enrolled = admission(c);
            let full = Clock::Days(30).deadline(enrolled) <= c.now;
            let decided = match (rate.met(), full) {
                (true, _) => super::clock::Status::Satisfied,
                (false, true) => super::clock::Status::Overdue,
                (false, false) => {
                    super::clock::status(Clock::Days(30), Some(enrolled), None, c.now)
                }
            };
            let trigger = if full {
                Timestamp::from_millis(c.now.millis() - 30 * 86_400_000)
            } else {
                enrolled
            };
            vec![Window {
                trigger: Some(trigger),
                clock: Some(Clock::Days(30)),
                detail: Some(rate.describe()),
                decided: Some(decided),
                satisfied_at: rate.met().then_some(c.now),
                extension: rate
                    .oldest_expires
                    .filter(|_| rate.met())
                    .map(|e| (String::new(), e)),
            }]
        },
    },
    Rule {
        id: "JI-2",
        programs: JI,
        obligation: "needs assessment including criminogenic needs",
        satisfied_by: "needs assessment with criminogenic needs",
        citation: "CSP-JI Process b",
        eval: |c| {
            let trigger = face_to_face(c);
            let mut w = window(trigger, comprehensive_done(c, true), Clock::Days(14));
            w[0].extension = engagement_extension(c, trigger, Clock::Days(14));
            w
        },
    },
    Rule {
        id: "JI-3",
        programs: JI,
        obligation: "update needs assessment",
        satisfied_by: "assessment update",
        citation: "CSP-JI Process b",
        eval: |c| {
            let trigger = last_completed_assessment(c);
            let mut w = recurring(trigger, None, Clock::Months(3));
            w[0].extension = engagement_extension(c, trigger, Clock::Months(3));
            w
        },
    },
    Rule {
        id: "JI-4",
        programs: JI,
        obligation: "service plan items i-vii, goals addressing criminogenic needs, no conflict with probation/parole plan",
        satisfied_by: "service plan",
        citation: "CSP-JI Process c, h; Service Planning 4, 5",
        eval: |c| {
            let ok = plans(c, &[PlanKind::ServicePlan])
                .filter(|(_, p, _)| {
                    !p.problems_and_needs.as_str().trim().is_empty()
                        && !p.strengths.as_str().trim().is_empty()
                        && p.goals.iter().any(|g| !g.addresses_criminogenic.is_empty())
                        && (c.enrollment.supervision.is_none() || p.supervision_conflict_checked)
                })
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            // "Upon completion of the comprehensive needs assessment" (Process c): due by
            // the end of the day the assessment, with its criminogenic needs, is completed.
            window(comprehensive_done(c, true), ok, Clock::Days(0))
        },
    },
    Rule {
        id: "JI-5",
        programs: JI,
        obligation: "review and revise service plan",
        satisfied_by: "revision",
        citation: "CSP-JI Process c",
        eval: |c| {
            sooner_on_change(
                c,
                last_review(c, &[PlanKind::ServicePlan]),
                Clock::Months(12),
            )
        },
    },
    Rule {
        id: "JI-6",
        programs: JI,
        obligation: "coordinate with the BH-JI in-reach provider (with consent)",
        satisfied_by: "coordination note",
        citation: "CSP-JI Service Planning 3; Process h",
        eval: |c| {
            if c.enrollment.referral.source != ReferralSource::CorrectionalFacility {
                return Vec::new();
            }
            open_ended(
                Some(referral(c)),
                first_note(c, referral(c), |n| {
                    has(n, ContactPurpose::InReachCoordination)
                }),
            )
        },
    },
    Rule {
        id: "JI-7",
        programs: JI,
        obligation: "report a Reportable Adverse Incident to the Plan and MassHealth",
        satisfied_by: "incident report",
        citation: "CSP-JI Quality Management 4",
        eval: |c| {
            c.records
                .incidents
                .iter()
                .filter(|(_, i)| i.program == c.enrollment.program)
                .map(|(_, i)| {
                    let done = match (i.reported_to_plan_at, i.reported_to_masshealth_at) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    Window {
                        trigger: Some(i.occurred_at),
                        satisfied_at: done,
                        clock: Some(Clock::BusinessDays(1)),
                        ..Window::default()
                    }
                })
                .collect()
        },
    },
    Rule {
        id: "JI-9",
        programs: JI,
        obligation: "referrals to alternative services when ineligible",
        satisfied_by: "referral record",
        citation: "CSP-JI Process a",
        eval: |c| {
            if c.enrollment.status != EnrollmentStatus::Ineligible {
                return Vec::new();
            }
            let at = c
                .enrollment
                .status_history
                .iter()
                .filter(|s| s.status == EnrollmentStatus::Ineligible)
                .map(|s| s.at)
                .max()
                .unwrap_or(referral(c));
            let done = c
                .records
                .referrals
                .iter()
                .filter(|r| r.alternative_for_ineligible)
                .map(|r| r.referred_at)
                .min();
            window(Some(at), done, Clock::Days(0))
        },
    },
    Rule {
        id: "JI-10",
        programs: JI,
        obligation: "written discharge plan with the updated service plan; forwarded with consent",
        satisfied_by: "discharge plan delivery records",
        citation: "CSP-JI Process g",
        eval: |c| {
            let Some(at) = discharged(c) else {
                return window(None, None, Clock::Days(0));
            };
            // Given "with the updated service plan": the discharge plan names a service plan
            // of this program.
            let with_service_plan = |p: &DischargePlan| {
                p.service_plan_id.is_some_and(|id| {
                    c.records.plans.iter().any(|(pid, plan, _)| {
                        *pid == id
                            && plan.kind == PlanKind::ServicePlan
                            && plan.program == c.enrollment.program
                    })
                })
            };
            let done = delivered(
                c,
                DocumentKind::DischargePlan,
                admission(c),
                TO_MEMBER_OR_GUARDIAN,
                with_service_plan,
            );
            window(Some(at), done, Clock::Days(0))
        },
    },
    Rule {
        id: "TM-1",
        programs: TM,
        obligation: "outreach to parent/caregiver offering a face-to-face initiation appointment",
        satisfied_by: "outreach contact",
        citation: "TM Process 3",
        eval: |c| window(Some(referral(c)), tm_outreach(c), Clock::Days(5)),
    },
    Rule {
        id: "TM-2",
        programs: TM,
        obligation: "initiate services, or waitlist and notify family and referral source",
        satisfied_by: "first session, or waitlist entry plus both contacts",
        citation: "TM Process 3, 4",
        eval: |c| {
            let started = tm_initiated(c);
            let waitlisted = c.enrollment.waitlist.as_ref().and_then(|w| {
                match (w.family_notified_at, w.referral_source_notified_at) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                }
            });
            let done = match (started, waitlisted) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            window(tm_outreach(c), done, Clock::Days(14))
        },
    },
    Rule {
        id: "TM-3",
        programs: TM,
        obligation: "initial individual action plan signed by mentor, supervisor, parent/guardian (and youth when appropriate)",
        satisfied_by: "signed action plan",
        citation: "TM Components 7",
        eval: |c| {
            window(
                tm_initiated(c),
                signed_plan(
                    c,
                    &[PlanKind::IndividualActionPlan],
                    &[Role::Worker, Role::Supervisor, Role::Guardian],
                ),
                Clock::Days(30),
            )
        },
    },
    Rule {
        id: "TM-4",
        programs: TM,
        obligation: "update action plan",
        satisfied_by: "signed revision",
        citation: "TM Components 7",
        eval: |c| {
            let latest = plans(c, &[PlanKind::IndividualActionPlan])
                .filter_map(|(_, p, a)| {
                    MemberRecords::fully_signed_at(
                        p,
                        a,
                        &[Role::Worker, Role::Supervisor, Role::Guardian],
                    )
                })
                .max();
            recurring(latest, None, Clock::Days(90))
        },
    },
    Rule {
        id: "TM-5",
        programs: TM,
        obligation: "each session records planned activity, goal targeted, member response",
        satisfied_by: "session note with all three",
        citation: "TM Components 8",
        eval: |c| {
            note_fields(
                c,
                |n| n.modality.with_member(),
                |n| n.session_fields_complete,
            )
        },
    },
    Rule {
        id: "TM-6",
        programs: TM,
        obligation: "weekly contact with the youth's ICC / IHT / outpatient provider (or supervisor update)",
        satisfied_by: "collateral contact note or supervisor update",
        citation: "TM Process 5, 6",
        eval: |c| {
            if c.enrollment.status != EnrollmentStatus::Active {
                return Vec::new();
            }
            // Every week since admission keeps its own window, so a missed week stays
            // visible as missed after it ends.
            let done: Vec<Timestamp> = c
                .records
                .notes_of(c.enrollment.program)
                .filter(|n| {
                    has(n, ContactPurpose::ProviderProgressUpdate)
                        || has(n, ContactPurpose::SupervisorUpdate)
                })
                .map(|n| n.started_at)
                .collect();
            weekly(admission(c), c.now, &done)
        },
    },
    Rule {
        id: "TM-7",
        programs: TM,
        obligation: "telehealth reason documented",
        satisfied_by: "reason on the note",
        citation: "TM Components 10",
        eval: |c| {
            note_fields(
                c,
                |n| n.modality == Modality::Telehealth,
                |n| n.telehealth_reason_given,
            )
        },
    },
    Rule {
        id: "TM-8",
        programs: TM,
        obligation: "discharge plan to youth/guardian and providers (with consent)",
        satisfied_by: "discharge plan delivered",
        citation: "TM Discharge 4",
        eval: |c| {
            let last = c
                .enrollment
                .discharge
                .as_ref()
                .map(|d| start_of_day(d.last_service_on.0));
            window(
                last,
                last.and_then(|l| {
                    delivered(
                        c,
                        DocumentKind::DischargePlan,
                        l,
                        TO_MEMBER_OR_GUARDIAN,
                        any_plan,
                    )
                }),
                Clock::BusinessDays(5),
            )
        },
    },
    Rule {
        id: "TM-9",
        programs: TM,
        obligation: "unplanned termination: contact the family, inform other providers, document",
        satisfied_by: "contact attempts and notices",
        citation: "TM Discharge 5",
        eval: |c| {
            let Some(d) = c.enrollment.discharge.as_ref().filter(|d| !d.planned) else {
                return Vec::new();
            };
            let from = start_of_day(d.last_service_on.0);
            let family = first_note(c, from, |n| {
                has(n, ContactPurpose::UnplannedTerminationFollowUp)
            });
            let notice = first_note(c, from, |n| has(n, ContactPurpose::TerminationNotice));
            open_ended(Some(from), family.zip(notice).map(|(a, b)| a.max(b)))
        },
    },
    Rule {
        id: "CARES-1",
        programs: CARES,
        obligation: "comprehensive assessment and Individual Care Plan",
        satisfied_by: "assessment and ICP",
        citation: "CARES VI.A.1, VIII",
        eval: |c| {
            let icp = plans(c, &[PlanKind::IndividualCarePlan])
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            let done = comprehensive_done(c, false).zip(icp).map(|(a, b)| a.max(b));
            window(Some(admission(c).min(referral(c))), done, Clock::Days(60))
        },
    },
    Rule {
        id: "CARES-2",
        programs: CARES,
        obligation: "ICP copy to member and guardian, paper and electronic, English and primary language",
        satisfied_by: "delivery record",
        citation: "CARES VIII",
        eval: |c| window(Some(referral(c)), icp_copies(c), Clock::Days(60)),
    },
    Rule {
        id: "CARES-3",
        programs: CARES,
        obligation: "reassessment yearly and on significant change",
        satisfied_by: "reassessment",
        citation: "CARES VI.A.1.b",
        eval: |c| sooner_on_change(c, last_completed_assessment(c), Clock::Months(12)),
    },
    Rule {
        id: "CARES-4",
        programs: CARES,
        obligation: "monitoring and follow-up of the ICP",
        satisfied_by: "monitoring note",
        citation: "CARES VI.D.1",
        eval: |c| {
            let icp = plans(c, &[PlanKind::IndividualCarePlan])
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            let last = c
                .records
                .notes_of(c.enrollment.program)
                .filter(|n| has(n, ContactPurpose::IcpMonitoring))
                .map(|n| n.started_at)
                .max();
            recurring(last, icp, Clock::Months(6))
        },
    },
    Rule {
        id: "CARES-5",
        programs: CARES,
        obligation: "follow up after a referral",
        satisfied_by: "follow-up note",
        citation: "CARES VI.D.2",
        eval: |c| {
            c.records
                .referrals
                .iter()
                .filter(|r| r.program == c.enrollment.program)
                .filter_map(|r| {
                    let scheduled = r.scheduled_for?;
                    // An entry on the referral, or a case note of the follow-up ("documented
                    // in the member's case notes") from the scheduled day on.
                    let on_referral = r.follow_ups.iter().map(|f| f.at).min();
                    let in_notes =
                        first_note(c, scheduled, |n| has(n, ContactPurpose::ReferralFollowUp));
                    let done = match (on_referral, in_notes) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    // "Reason documented otherwise": the reason answers the duty, and shows.
                    let reason = r.no_follow_up_reason.as_ref().filter(|_| done.is_none());
                    Some(Window {
                        trigger: Some(scheduled),
                        satisfied_at: done,
                        clock: Some(Clock::Days(30)),
                        detail: reason.map(|why| format!("no follow-up: {why}")),
                        decided: reason.map(|_| super::clock::Status::Satisfied),
                        ..Window::default()
                    })
                })
                .collect()
        },
    },
    Rule {
        id: "CARES-6",
        programs: CARES,
        obligation: "enrollment letter",
        satisfied_by: "letter record",
        citation: "CARES VIII",
        eval: |c| {
            let from = c.enrollment.effective_on.map(|d| start_of_day(d.0));
            window(
                from,
                from.and_then(|f| {
                    delivered(
                        c,
                        DocumentKind::EnrollmentLetter,
                        f,
                        TO_MEMBER_OR_GUARDIAN,
                        any_plan,
                    )
                }),
                Clock::Days(30),
            )
        },
    },
    Rule {
        id: "CARES-7",
        programs: CARES,
        obligation: "transition-to-adulthood plan from 16",
        satisfied_by: "transition plan",
        citation: "CARES VI.C",
        eval: |c| {
            let sixteen = c.records.member.as_ref().and_then(|(_, m)| {
                m.date_of_birth
                    .0
                    .checked_add_months(chrono::Months::new(16 * 12))
            });
            let trigger = sixteen.map(start_of_day).filter(|t| *t <= c.now);
            open_ended(
                trigger,
                plans(c, &[PlanKind::TransitionToAdulthoodPlan])
                    .filter_map(|(_, p, _)| p.completed_at)
                    .min(),
            )
        },
    },
    Rule {
        id: "CARES-8",
        programs: CARES,
        obligation: "aftercare plan before removal of assignment; termination letter within 30 days",
        satisfied_by: "plan and letter",
        citation: "CARES IX.B, IX.C",
        eval: |c| {
            let Some(from) = discharged(c) else {
                return window(None, None, Clock::Days(30));
            };
            // Two duties: the aftercare plan by removal (one finished later is late, and
            // shows), and the termination letter within 30 days.
            let plan = plans(c, &[PlanKind::AftercarePlan])
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            let letter = delivered(
                c,
                DocumentKind::TerminationLetter,
                from,
                TO_MEMBER_OR_GUARDIAN,
                any_plan,
            );
            let mut w = window(Some(from), plan, Clock::Days(0));
            w[0].detail = Some(if plan.is_some() {
                "aftercare plan".into()
            } else {
                "no aftercare plan completed before removal".into()
            });
            let mut l = window(Some(from), letter, Clock::Days(30));
            l[0].detail = Some("termination letter".into());
            w.extend(l);
            w
        },
    },
    Rule {
        id: "CARES-9",
        programs: CARES,
        obligation: "signed release-of-information forms before sharing",
        satisfied_by: "consent record",
        citation: "CARES VIII",
        eval: |c| {
            let shared: Vec<&DocumentDelivery> = c
                .records
                .deliveries
                .iter()
                .filter(|d| d.program == c.enrollment.program)
                .filter(|d| {
                    !matches!(
                        d.recipient_kind,
                        RecipientKind::Member | RecipientKind::Guardian
                    )
                })
                .collect();
            let Some(first) = shared.iter().map(|d| d.delivered_at).min() else {
                return Vec::new();
            };
            let bad = shared.iter().find(|d| !consent_in_force(c, d.delivered_at));
            let mut w = open_ended(Some(first), bad.is_none().then_some(first));
            if let Some(d) = bad {
                w[0].clock = Some(Clock::Hours(0));
                w[0].trigger = Some(d.delivered_at);
                w[0].detail = Some("a document was shared with no release in force".into())
            }
            w
        },
    },
    Rule {
        id: "CP-1",
        programs: CP,
        obligation: "care plan approved and signed by the PCP or designee",
        satisfied_by: "PCP signature",
        citation: "CP Supports Provided by Community Partners",
        eval: |c| {
            let kinds = [
                PlanKind::PersonCenteredTreatmentPlan,
                PlanKind::LtssCarePlan,
            ];
            let drafted = plans(c, &kinds)
                .filter_map(|(_, p, _)| p.completed_at)
                .min();
            open_ended(drafted, signed_plan(c, &kinds, &[Role::Pcp]))
        },
    },
    Rule {
        id: "CP-2",
        programs: CP,
        obligation: "members may decline or ask for a different CP at any time",
        satisfied_by: "status change with reason",
        citation: "CP Information about Member Assignment",
        eval: |c| {
            c.enrollment
                .status_history
                .iter()
                .filter(|s| s.status == EnrollmentStatus::Declined)
                .map(|s| Window {
                    trigger: Some(s.at),
                    satisfied_at: (!s.reason.trim().is_empty()).then_some(s.at),
                    clock: None,
                    ..Window::default()
                })
                .collect()
        },
    },
];

/// CARES-2: the ICP reached the member or guardian on paper and electronically, in English
/// and in the member's primary language; the time the last required copy arrived.
fn icp_copies(c: &Ctx<'_>) -> Option<Timestamp> {
    let language = c
        .records
        .member
        .as_ref()
        .map(|(_, m)| m.primary_language.clone())
        .unwrap_or_default();
    let mut languages = vec!["English".to_string()];
    if !language.trim().is_empty() && !language.eq_ignore_ascii_case("english") {
        languages.push(language);
    }
    let copies = c.records.deliveries.iter().filter(|d| {
        d.document == DocumentKind::PlanCopy
            && matches!(
                d.recipient_kind,
                RecipientKind::Member | RecipientKind::Guardian
            )
    });
    let first = |lang: &str, paper: bool| {
        copies
            .clone()
            .filter(|d| {
                d.language.eq_ignore_ascii_case(lang) && if paper { d.paper } else { d.electronic }
            })
            .map(|d| d.delivered_at)
            .min()
    };
    languages
        .iter()
        .map(|lang| Some(first(lang, true)?.max(first(lang, false)?)))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

fn tm_outreach(c: &Ctx<'_>) -> Option<Timestamp> {
    let note = first_note(c, referral(c), |n| has(n, ContactPurpose::InitialOutreach));
    let attempt = c
        .records
        .attempts
        .iter()
        .filter(|a| a.program == Program::Tm && a.at >= referral(c))
        .map(|a| a.at)
        .min();
    match (note, attempt) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn tm_initiated(c: &Ctx<'_>) -> Option<Timestamp> {
    first_note(c, referral(c), |n| {
        has(n, ContactPurpose::ServiceInitiation)
            || (n.modality == Modality::InPerson && n.member_engaged)
    })
}

fn consent_before_collateral(c: &Ctx<'_>) -> Vec<Window> {
    let collateral: Vec<&NoteFacts> = c
        .records
        .notes_of(c.enrollment.program)
        .filter(|n| n.modality == Modality::Collateral)
        .collect();
    let Some(first) = collateral.first() else {
        return Vec::new();
    };
    match collateral
        .iter()
        .find(|n| !consent_in_force(c, n.started_at))
    {
        None => open_ended(Some(first.started_at), Some(first.started_at)),
        Some(n) => vec![Window {
            trigger: Some(n.started_at),
            satisfied_at: None,
            clock: Some(Clock::Hours(0)),
            detail: Some("a collateral contact happened with no consent or refusal on file".into()),
            ..Window::default()
        }],
    }
}

/// Per-note documentation duties: the oldest note of the kind missing the fields is overdue.
fn note_fields(
    c: &Ctx<'_>,
    applies: fn(&NoteFacts) -> bool,
    complete: fn(&NoteFacts) -> bool,
) -> Vec<Window> {
    let notes: Vec<&NoteFacts> = c
        .records
        .notes_of(c.enrollment.program)
        .filter(|n| applies(n))
        .collect();
    let Some(first) = notes.first() else {
        return Vec::new();
    };
    match notes.iter().find(|n| !complete(n)) {
        None => open_ended(Some(first.started_at), Some(first.started_at)),
        Some(n) => vec![Window {
            trigger: Some(n.started_at),
            clock: Some(Clock::Days(0)),
            detail: Some("a session note is missing required fields".into()),
            ..Window::default()
        }],
    }
}

/// Rules whose clocks keep running while services go on; they stop at discharge.
const ONGOING: &[&str] = &[
    "CSP-5", "CSP-8", "CSP-11", "JI-1", "JI-3", "JI-5", "TM-4", "TM-6", "CARES-3", "CARES-4",
];

/// Rules whose specifications allow the deadline to move for a documented reason: CSP-2
/// ("or later at the enrollee's documented request"), JI-2 and JI-3 ("extensible when
/// timely, unsuccessful engagement efforts are documented").
pub const EXTENDABLE: &[&str] = &["CSP-2", "JI-2", "JI-3"];

/// Rules a supervisor may waive for a member whose situation they do not fit: duties that
/// rest on the member's consent or choice (CSP-11 linkage to primary care, JI-6
/// coordination with the in-reach provider "with consent") and CARES-5, which the spec
/// answers with "reason documented otherwise".
pub const WAIVABLE: &[&str] = &["CSP-11", "JI-6", "CARES-5"];

/// Whether `rule_id` takes an override of `kind` at all (see [`EXTENDABLE`] and
/// [`WAIVABLE`]); the rules engine ignores any other, and devices and the server refuse to
/// record one.
pub fn allows_override(rule_id: &str, kind: OverrideKind) -> bool {
    match kind {
        OverrideKind::Extension => EXTENDABLE.contains(&rule_id),
        OverrideKind::Waiver => WAIVABLE.contains(&rule_id),
    }
}

/// Rules that still apply to a referral that ended without services (declined, ineligible).
const WITHOUT_SERVICES: &[&str] = &["JI-9", "CP-2"];

/// Whether `rule` applies to `enrollment`: its program is one of the rule's, a referral that
/// ended without services (declined, found ineligible) keeps only the rules about that, and
/// a discharged enrollment keeps its discharge duties but not the clocks of ongoing service.
pub fn applies(rule: &Rule, enrollment: &Enrollment) -> bool {
    if !rule.programs.contains(&enrollment.program) {
        return false;
    }
    match enrollment.status {
        EnrollmentStatus::Declined | EnrollmentStatus::Ineligible => {
            WITHOUT_SERVICES.contains(&rule.id)
        }
        EnrollmentStatus::Discharged => !ONGOING.contains(&rule.id),
        _ => true,
    }
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

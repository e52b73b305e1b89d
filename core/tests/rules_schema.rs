//! Every rule in RULES.md has the data it needs in the record model. Each rule names the
//! fields (by their serialized path, `kind.field.sub`, `[]` for list items) and the
//! vocabulary values it reads; the test checks each exists in a fully populated record.
#![allow(clippy::unwrap_used)]

use fieldnote_core::model::*;
use fieldnote_core::{Attestation, AttestationKind, Signer, synthetic};
use rand::SeedableRng;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Rules that are features of the product rather than data on a record.
const FEATURES: &[(&str, &str)] = &[(
    "JI-8",
    "safety protocol: the distress signal and visit sessions (safety module)",
)];

const NEEDS: &[(&str, &[&str])] = &[
    (
        "CSP-1",
        &[
            "enrollment.referral.received_at",
            "contact_note.started_at",
            "contact_note.modality",
            "contact_note.member_id",
        ],
    ),
    (
        "CSP-2",
        &[
            "enrollment.referral.received_at",
            "enrollment.later_first_appointment_requested.requested_for",
            "contact_note.modality",
            "contact_note.purposes=first_appointment",
        ],
    ),
    (
        "CSP-3",
        &[
            "contact_note.purposes=first_appointment",
            "needs_assessment.kind=initial",
            "needs_assessment.started_at",
        ],
    ),
    (
        "CSP-4",
        &[
            "needs_assessment.kind=comprehensive",
            "needs_assessment.started_at",
            "needs_assessment.completed_at",
        ],
    ),
    (
        "CSP-5",
        &[
            "needs_assessment.kind=update",
            "needs_assessment.completed_at",
        ],
    ),
    (
        "CSP-6",
        &[
            "needs_assessment.completed_at",
            "plan.kind=service_plan",
            "plan.completed_at",
            "attestation.signer.role=worker",
            "attestation.signer.role=member",
            "attestation.content_hash",
        ],
    ),
    (
        "CSP-7",
        &[
            "plan.completed_at",
            "attestation.signer.role=supervisor",
            "attestation.signed_at",
        ],
    ),
    (
        "CSP-8",
        &[
            "plan.last_reviewed_on",
            "plan.revision_of",
            "enrollment.significant_changes[].at",
        ],
    ),
    (
        "CSP-9",
        &[
            "enrollment.intake_at",
            "contact_note.purposes=discharge_planning",
        ],
    ),
    (
        "CSP-10",
        &[
            "enrollment.discharge.discharged_on",
            "crisis_plan.given_to_member_at",
            "discharge_plan.discharge_on",
            "document_delivery.document=discharge_plan",
            "document_delivery.document=crisis_plan",
            "document_delivery.delivered_at",
        ],
    ),
    (
        "CSP-11",
        &[
            "member.pcp.name",
            "contact_note.purposes=pcp_coordination",
            "contact_note.purposes=annual_physical_documented",
            "enrollment.effective_on",
        ],
    ),
    (
        "CSP-12",
        &[
            "contact_note.modality=collateral",
            "contact_note.collateral.name",
            "consent.refused",
            "consent.signed_at",
            "consent.recipient.name",
        ],
    ),
    (
        "JI-1",
        &[
            "contact_note.modality",
            "contact_note.member_engaged",
            "contact_note.started_at",
            "contact_note.modality=case_related_work",
        ],
    ),
    (
        "JI-2",
        &[
            "needs_assessment.criminogenic_needs[].factor",
            "needs_assessment.completed_at",
            "engagement_attempt.outcome",
            "engagement_attempt.at",
            "engagement_attempt.purpose",
        ],
    ),
    (
        "JI-3",
        &[
            "needs_assessment.kind=update",
            "needs_assessment.completed_at",
            "engagement_attempt.outcome",
        ],
    ),
    (
        "JI-4",
        &[
            "plan.problems_and_needs",
            "plan.strengths",
            "plan.goals[].objectives[].measure",
            "plan.goals[].interventions[].responsible",
            "plan.goals[].addresses_criminogenic",
            "plan.last_reviewed_on",
            "plan.supervision_conflict_checked",
            "enrollment.supervision.plan_conditions",
            "attestation.signer.role",
        ],
    ),
    (
        "JI-5",
        &[
            "plan.last_reviewed_on",
            "plan.revision_of",
            "enrollment.significant_changes[].at",
        ],
    ),
    (
        "JI-6",
        &[
            "enrollment.referral.source=correctional_facility",
            "enrollment.referral.facility",
            "contact_note.purposes=in_reach_coordination",
            "consent.scope",
        ],
    ),
    (
        "JI-7",
        &[
            "incident.occurred_at",
            "incident.reported_to_plan_at",
            "incident.reported_to_masshealth_at",
        ],
    ),
    (
        "JI-9",
        &[
            "enrollment.status=ineligible",
            "service_referral.alternative_for_ineligible",
        ],
    ),
    (
        "JI-10",
        &[
            "discharge_plan.service_plan_id",
            "document_delivery.recipient_kind=community_supervision",
            "document_delivery.consent_id",
            "enrollment.discharge.discharged_on",
        ],
    ),
    (
        "TM-1",
        &[
            "enrollment.referral.received_at",
            "contact_note.purposes=initial_outreach",
            "engagement_attempt.at",
        ],
    ),
    (
        "TM-2",
        &[
            "contact_note.purposes=service_initiation",
            "contact_note.purposes=waitlist_notice",
            "enrollment.waitlist.since",
            "enrollment.waitlist.family_notified_at",
            "enrollment.waitlist.referral_source_notified_at",
        ],
    ),
    (
        "TM-3",
        &[
            "plan.kind=individual_action_plan",
            "plan.goals[].tasks[].timeframe",
            "plan.goals[].tasks[].modality",
            "plan.goals[].tasks[].location",
            "plan.youth_signs",
            "attestation.signer.role=guardian",
            "attestation.signer.role=youth",
        ],
    ),
    ("TM-4", &["plan.revision_of", "plan.completed_at"]),
    (
        "TM-5",
        &[
            "contact_note.planned_activity",
            "contact_note.goal_targeted",
            "contact_note.member_response",
        ],
    ),
    (
        "TM-6",
        &[
            "contact_note.modality=collateral",
            "contact_note.purposes=provider_progress_update",
            "contact_note.purposes=supervisor_update",
            "contact_note.started_at",
        ],
    ),
    (
        "TM-7",
        &[
            "contact_note.modality=telehealth",
            "contact_note.telehealth_reason",
        ],
    ),
    (
        "TM-8",
        &[
            "enrollment.discharge.last_service_on",
            "document_delivery.document=discharge_plan",
            "document_delivery.delivered_at",
            "document_delivery.recipient_kind=provider",
        ],
    ),
    (
        "TM-9",
        &[
            "enrollment.discharge.planned",
            "contact_note.purposes=unplanned_termination_follow_up",
            "contact_note.purposes=termination_notice",
            "engagement_attempt.outcome",
        ],
    ),
    (
        "TM-10",
        &[
            "supervision.staff_id",
            "supervision.held_at",
            "supervision.individual",
        ],
    ),
    (
        "TM-11",
        &[
            "consultation.requested_at",
            "consultation.responded_at",
            "consultation.consultant_kind=senior_clinician",
        ],
    ),
    (
        "CARES-1",
        &[
            "enrollment.intake_at",
            "enrollment.referral.received_at",
            "enrollment.referral.source=mass_health",
            "needs_assessment.completed_at",
            "plan.kind=individual_care_plan",
        ],
    ),
    (
        "CARES-2",
        &[
            "document_delivery.paper",
            "document_delivery.electronic",
            "document_delivery.language",
            "member.primary_language",
            "document_delivery.recipient_kind=guardian",
            "document_delivery.document=plan_copy",
        ],
    ),
    (
        "CARES-3",
        &[
            "needs_assessment.kind=reassessment",
            "needs_assessment.kind=abbreviated",
            "needs_assessment.significant_change",
        ],
    ),
    (
        "CARES-4",
        &[
            "contact_note.purposes=icp_monitoring",
            "contact_note.started_at",
        ],
    ),
    (
        "CARES-5",
        &[
            "service_referral.scheduled_for",
            "service_referral.follow_ups[].at",
            "service_referral.no_follow_up_reason",
        ],
    ),
    (
        "CARES-6",
        &[
            "enrollment.effective_on",
            "document_delivery.document=enrollment_letter",
        ],
    ),
    (
        "CARES-7",
        &[
            "member.date_of_birth",
            "plan.kind=transition_to_adulthood_plan",
        ],
    ),
    (
        "CARES-8",
        &[
            "enrollment.discharge.discharged_on",
            "plan.kind=aftercare_plan",
            "document_delivery.document=termination_letter",
        ],
    ),
    (
        "CARES-9",
        &[
            "consent.signed_at",
            "consent.scope",
            "consent.expires_on",
            "consent.revoked_at",
            "document_delivery.consent_id",
        ],
    ),
    (
        "CARES-10",
        &[
            "consultation.consultant_kind=senior_medical_professional",
            "consultation.requested_at",
            "consultation.responded_at",
        ],
    ),
    (
        "CARES-11",
        &["supervision.held_at", "supervision.individual"],
    ),
    (
        "CARES-12",
        &[
            "training.employment_started_on",
            "training.completed_on",
            "training.required_initial",
        ],
    ),
    (
        "CP-1",
        &[
            "plan.kind=person_centered_treatment_plan",
            "plan.kind=ltss_care_plan",
            "attestation.signer.role=pcp",
        ],
    ),
    (
        "CP-2",
        &[
            "enrollment.status=declined",
            "enrollment.status_history[].reason",
            "enrollment.status_history[].at",
        ],
    ),
];

fn rule_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|id| id.contains('-') && id.chars().last().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

fn ts() -> Timestamp {
    Timestamp::parse("2026-03-02T15:00:00Z").unwrap()
}

fn contact() -> Contact {
    Contact {
        name: "Case Manager".into(),
        organization: Some("Clinic".into()),
        phone: Some("555-0101".into()),
        email: Some("cm@example.org".into()),
    }
}

/// One fully populated example of every record kind, as serialized JSON bodies.
fn examples() -> Vec<(&'static str, Value)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let id = new_id();
    let mut member = synthetic::member(&mut rng);
    member.guardian = Some(Guardian {
        contact: contact(),
        relationship: "mother".into(),
        legal_authority: true,
    });
    let mut enrollment = synthetic::enrollment(id, Program::CspJi, id, id, ts());
    enrollment.effective_on = Day::parse("2026-03-03");
    enrollment.later_first_appointment_requested = Some(RequestedDelay {
        requested_at: ts(),
        requested_for: ts(),
        reason: "work".into(),
    });
    enrollment.supervision = Some(CommunitySupervision {
        kind: SupervisionKind::Probation,
        officer: Some(contact()),
        plan_conditions: "curfew".into(),
        ends_on: Day::parse("2027-01-01"),
    });
    enrollment.status_history = vec![StatusChange {
        at: ts(),
        status: EnrollmentStatus::Declined,
        reason: "asked for another CP".into(),
        by: id,
    }];
    enrollment.waitlist = Some(Waitlist {
        since: ts(),
        reason: "no mentor".into(),
        family_notified_at: Some(ts()),
        referral_source_notified_at: Some(ts()),
    });
    enrollment.significant_changes = vec![SignificantChange {
        at: ts(),
        description: "housing loss".into(),
    }];
    enrollment.discharge = Some(Discharge {
        discharged_on: Day::parse("2026-09-01").unwrap(),
        last_service_on: Day::parse("2026-08-28").unwrap(),
        planned: false,
        reason: "moved".into(),
    });
    let mut note = synthetic::note(&mut rng, id, Program::Tm, id, ts(), 10);
    note.telehealth_reason = Some("member ill".into());
    note.collateral = Some(contact());
    note.addendum_to = Some(id);
    note.progress = vec![GoalProgress {
        plan_id: id,
        goal_id: id,
        rating: ProgressRating::Progressing,
        comment: "ok".into(),
    }];
    let attempt = EngagementAttempt {
        member_id: id,
        program: Program::CspJi,
        by: id,
        at: ts(),
        channel: Channel::Phone,
        outcome: AttemptOutcome::NoAnswer,
        purpose: "assessment".into(),
        note: Some("left voicemail".into()),
    };
    let delivery = DocumentDelivery {
        member_id: id,
        program: Program::Cares,
        document: DocumentKind::PlanCopy,
        document_record_id: Some(id),
        recipient_kind: RecipientKind::Guardian,
        recipient: contact(),
        channel: Channel::Mail,
        paper: true,
        electronic: true,
        language: "Spanish".into(),
        delivered_at: ts(),
        consent_id: Some(id),
        by: id,
        recorded_at: None,
    };
    let assessment = NeedsAssessment {
        member_id: id,
        program: Program::CspJi,
        kind: AssessmentKind::Comprehensive,
        assessor: id,
        started_at: ts(),
        completed_at: Some(ts()),
        domains: vec![DomainNeed {
            domain: "housing".into(),
            needs: "n".into(),
            strengths: "s".into(),
            barriers: "b".into(),
        }],
        criminogenic_needs: vec![CriminogenicNeed {
            factor: CriminogenicFactor::AntisocialPeers,
            level: NeedLevel::Moderate,
            notes: "n".into(),
        }],
        summary: "s".into(),
        significant_change: false,
    };
    let mut plan = synthetic::service_plan(id, Program::CspJi, id);
    plan.revision_of = Some(id);
    plan.last_reviewed_on = Day::parse("2026-03-01");
    plan.next_review_on = Day::parse("2026-06-01");
    plan.goals[0].addresses_criminogenic = vec![CriminogenicFactor::AntisocialPeers];
    plan.goals[0].tasks[0].due_on = Day::parse("2026-04-01");
    plan.goals[0].objectives[0].target_on = Day::parse("2026-05-01");
    let consent = Consent {
        member_id: id,
        program: Program::Csp,
        recipient: contact(),
        scope: "treatment".into(),
        purpose: "coordination".into(),
        substance_use_part2: true,
        refused: false,
        signed_by: "member".into(),
        signed_at: ts(),
        expires_on: Day::parse("2027-03-01"),
        revoked_at: Some(ts()),
        recorded_by: id,
    };
    let referral = ServiceReferral {
        member_id: id,
        program: Program::Cares,
        service: "therapy".into(),
        provider: contact(),
        reason: "r".into(),
        alternative_for_ineligible: true,
        referred_at: ts(),
        scheduled_for: Some(ts()),
        follow_ups: vec![FollowUp {
            at: ts(),
            outcome: "attended".into(),
            by: id,
        }],
        no_follow_up_reason: Some("member moved".into()),
        consent_id: Some(id),
        by: id,
    };
    let incident = Incident {
        member_id: Some(id),
        program: Program::CspJi,
        occurred_at: ts(),
        location: "home".into(),
        category: IncidentCategory::StaffSafety,
        description: "d".into(),
        actions_taken: "a".into(),
        reported_to_plan_at: Some(ts()),
        reported_to_masshealth_at: Some(ts()),
        alarm_id: Some(id),
        reporter: id,
    };
    let crisis = CrisisPlan {
        member_id: id,
        program: Program::Csp,
        warning_signs: vec!["w".into()],
        coping_strategies: vec!["c".into()],
        supports: vec!["s".into()],
        professional_contacts: vec!["988".into()],
        means_safety: "m".into(),
        written_at: ts(),
        given_to_member_at: Some(ts()),
        author: id,
    };
    let discharge = DischargePlan {
        member_id: id,
        program: Program::CspJi,
        enrollment_id: id,
        discharge_on: Day::parse("2026-09-01").unwrap(),
        aftercare: "a".into(),
        recommendations: "r".into(),
        crisis_plan_id: Some(id),
        service_plan_id: Some(id),
        written_at: ts(),
        author: id,
    };
    let supervision = SupervisionRecord {
        staff_id: id,
        supervisor_id: id,
        program: Program::Tm,
        individual: true,
        held_at: ts(),
        duration_minutes: 60,
        topics: "t".into(),
    };
    let consultation = ConsultationRecord {
        requested_by: id,
        program: Program::Tm,
        requested_at: ts(),
        consultant_kind: ConsultantKind::SeniorClinician,
        consultant: Some(id),
        responded_at: Some(ts()),
        topic: "t".into(),
    };
    let training = TrainingRecord {
        staff_id: id,
        program: Program::Cares,
        employment_started_on: Day::parse("2026-01-05").unwrap(),
        course: "orientation".into(),
        required_initial: true,
        completed_on: Day::parse("2026-02-01"),
    };
    let bodies = vec![
        RecordBody::Member(member),
        RecordBody::Enrollment(enrollment),
        RecordBody::ContactNote(note),
        RecordBody::EngagementAttempt(attempt),
        RecordBody::DocumentDelivery(delivery),
        RecordBody::NeedsAssessment(assessment),
        RecordBody::Plan(plan.clone()),
        RecordBody::Consent(consent),
        RecordBody::ServiceReferral(referral),
        RecordBody::Incident(incident),
        RecordBody::CrisisPlan(crisis),
        RecordBody::DischargePlan(discharge),
        RecordBody::Supervision(supervision),
        RecordBody::Consultation(consultation),
        RecordBody::Training(training),
    ];
    let mut out: Vec<(&'static str, Value)> = bodies
        .into_iter()
        .map(|b| {
            let v = serde_json::to_value(&b).unwrap();
            (b.kind().as_str(), v["body"].clone())
        })
        .collect();
    let signer = Signer {
        staff_id: Some(id),
        name: "n".into(),
        role: Role::Worker,
        witness: Some(id),
    };
    let att = Attestation::new(
        id,
        AttestationKind::Sign,
        signer,
        ts(),
        &RecordBody::Plan(plan),
    );
    out.push(("attestation", serde_json::to_value(att).unwrap()));
    out
}

/// Checks one need: the path exists in the example (every option populated), and a
/// `=value` names a value the field's type accepts.
fn check(examples: &[(&str, Value)], need: &str) -> Result<(), String> {
    let (path, value) = match need.split_once('=') {
        Some((p, v)) => (p, Some(v)),
        None => (need, None),
    };
    let mut parts = path.split('.');
    let kind = parts.next().unwrap();
    let mut at: &Value = &examples
        .iter()
        .find(|(k, _)| *k == kind)
        .ok_or(format!("no record kind {kind}"))?
        .1;
    let mut parent = at;
    let mut last = "";
    for part in parts {
        let (name, item) = match part.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (part, false),
        };
        parent = at;
        last = name;
        at = at.get(name).ok_or(format!("{path}: no field {name}"))?;
        if at.is_null() {
            return Err(format!("{path}: example leaves {name} empty"));
        }
        if item {
            at = at.get(0).ok_or(format!("{path}: {name} has no items"))?;
        }
    }
    if let Some(v) = value {
        // Put the value in place of the example's and parse the whole record back.
        let mut replaced = parent.clone();
        replaced[last] = if at.is_array() { json!([v]) } else { json!(v) };
        let accepted = match kind {
            "attestation" => {
                let mut a = examples
                    .iter()
                    .find(|(k, _)| *k == "attestation")
                    .unwrap()
                    .1
                    .clone();
                a["signer"] = replaced;
                serde_json::from_value::<Attestation>(a).is_ok()
            }
            _ if path.matches('.').count() == 1 => {
                serde_json::from_value::<RecordBody>(json!({"kind": kind, "body": replaced}))
                    .is_ok()
            }
            _ => {
                let mut body = examples.iter().find(|(k, _)| *k == kind).unwrap().1.clone();
                let first = path.split('.').nth(1).unwrap();
                body[first] = replaced;
                serde_json::from_value::<RecordBody>(json!({"kind": kind, "body": body})).is_ok()
            }
        };
        if !accepted {
            return Err(format!("{path} does not accept {v:?}"));
        }
    }
    Ok(())
}

#[test]
fn every_rule_in_rules_md_has_the_data_it_needs() {
    let rules = rule_ids(include_str!("data/RULES.md"));
    assert_eq!(rules.len(), 47, "RULES.md rows parsed");
    let covered: BTreeSet<String> = NEEDS
        .iter()
        .map(|(id, _)| id.to_string())
        .chain(FEATURES.iter().map(|(id, _)| id.to_string()))
        .collect();
    assert_eq!(
        rules, covered,
        "each rule is listed once, in NEEDS or FEATURES"
    );
    let examples = examples();
    let mut problems = Vec::new();
    for (rule, needs) in NEEDS {
        for need in *needs {
            if let Err(e) = check(&examples, need) {
                problems.push(format!("{rule}: {e}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_checker_rejects_fields_and_values_the_model_lacks() {
    let examples = examples();
    assert!(check(&examples, "contact_note.no_such_field").is_err());
    assert!(check(&examples, "contact_note.modality=carrier_pigeon").is_err());
    assert!(check(&examples, "plan.goals[].tasks[].nope").is_err());
    assert!(check(&examples, "attestation.signer.role=mayor").is_err());
    assert!(check(&examples, "contact_note.modality=text").is_ok());
}

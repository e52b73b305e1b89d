//! Everything the rules read about one member, gathered from the store once per evaluation.

use crate::attest::{Attestation, SignatureState};
use crate::error::Result;
use crate::model::*;
use crate::store::{NoteFacts, Store};

/// One member's records, grouped by kind, each with its id (and, for notes and plans, its
/// attestations).
#[derive(Clone, Debug, Default)]
pub struct MemberRecords {
    /// The member.
    pub member: Option<(RecordId, Member)>,
    /// Enrollments.
    pub enrollments: Vec<(RecordId, Enrollment)>,
    /// Contact notes, as projected facts (no note document is loaded).
    pub notes: Vec<NoteFacts>,
    /// Engagement attempts.
    pub attempts: Vec<EngagementAttempt>,
    /// Document deliveries.
    pub deliveries: Vec<DocumentDelivery>,
    /// Needs assessments.
    pub assessments: Vec<NeedsAssessment>,
    /// Plans with their attestations.
    pub plans: Vec<(RecordId, Plan, Vec<Attestation>)>,
    /// Consents.
    pub consents: Vec<(RecordId, Consent)>,
    /// Service referrals.
    pub referrals: Vec<ServiceReferral>,
    /// Incidents.
    pub incidents: Vec<(RecordId, Incident)>,
    /// Crisis prevention plans.
    pub crisis_plans: Vec<CrisisPlan>,
    /// Discharge plans.
    pub discharge_plans: Vec<(RecordId, DischargePlan)>,
    /// Extensions and waivers.
    pub overrides: Vec<ObligationOverride>,
}

impl MemberRecords {
    /// Loads every record of `member_id` from the store.
    pub fn load(store: &Store, member_id: RecordId) -> Result<MemberRecords> {
        // Everything from projections: record contents and note facts; no document is
        // loaded.
        let records = store.member_records_but_notes(member_id)?;
        if !records.iter().any(|r| r.id == member_id) {
            return Err(crate::Error::NotFound {
                kind: "member",
                id: member_id,
            });
        }
        let mut out = MemberRecords::from_records(member_id, records);
        out.notes = store.note_facts(member_id)?;
        Ok(out)
    }

    /// Builds a member's records from whole records (a host that holds documents rather
    /// than a device store: the server). Notes become their facts as the projection would
    /// make them.
    pub fn from_records(
        member_id: RecordId,
        records: impl IntoIterator<Item = crate::store::Record>,
    ) -> MemberRecords {
        let mut out = MemberRecords::default();
        for r in records {
            let finalized = r.is_finalized();
            match r.body {
                RecordBody::Member(m) if r.id == member_id => out.member = Some((r.id, m)),
                RecordBody::ContactNote(n) => out.notes.push(NoteFacts {
                    id: r.id,
                    member_id: n.member_id,
                    program: n.program,
                    started_at: n.started_at,
                    modality: n.modality,
                    member_engaged: n.member_engaged,
                    session_fields_complete: n.session_fields_complete(),
                    telehealth_reason_given: n.telehealth_reason_given(),
                    purposes: n.purposes,
                    addendum_to: n.addendum_to,
                    finalized,
                }),
                RecordBody::Enrollment(e) => out.enrollments.push((r.id, e)),
                RecordBody::EngagementAttempt(a) => out.attempts.push(a),
                RecordBody::DocumentDelivery(d) => out.deliveries.push(d),
                RecordBody::NeedsAssessment(a) => out.assessments.push(a),
                RecordBody::Plan(p) => out.plans.push((r.id, p, r.attestations)),
                RecordBody::Consent(c) => out.consents.push((r.id, c)),
                RecordBody::ServiceReferral(s) => out.referrals.push(s),
                RecordBody::Incident(i) => out.incidents.push((r.id, i)),
                RecordBody::CrisisPlan(c) => out.crisis_plans.push(c),
                RecordBody::DischargePlan(d) => out.discharge_plans.push((r.id, d)),
                RecordBody::Override(o) => out.overrides.push(o),
                _ => {}
            }
        }
        out.notes.sort_by_key(|n| (n.started_at, n.id));
        out
    }

    /// Notes of one program (addenda excluded), oldest first.
    pub(crate) fn notes_of(&self, program: Program) -> impl Iterator<Item = &NoteFacts> {
        self.notes
            .iter()
            .filter(move |n| n.program == program && n.addendum_to.is_none())
    }

    /// The time the last of `roles` signed `plan`, if every one of them has a current
    /// signature.
    pub(crate) fn fully_signed_at(
        plan: &Plan,
        atts: &[Attestation],
        roles: &[Role],
    ) -> Option<Timestamp> {
        let body = RecordBody::Plan(plan.clone());
        roles
            .iter()
            .map(|role| SignatureState::of(atts, *role, &body).current_since())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }
}

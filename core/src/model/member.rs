//! Members (enrollees, youth) and their program enrollments: who is served, by whom, since
//! when, and under what supervision.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Contact, Day, Program, RecordId, StaffId, Timestamp};

/// A person served by one or more programs. CSP calls them enrollees, TM youth, CSP-JI and
/// CARES members; the product calls them members throughout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Member {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The name the member asks to be called, if different.
    pub preferred_name: Option<String>,
    /// Date of birth; youth programs (TM, CARES) and CARES-7 (transition at 16) depend on it.
    pub date_of_birth: Day,
    /// Primary language; CARES-2 requires the ICP in English and this language.
    pub primary_language: String,
    /// MassHealth member ID (12 characters).
    pub masshealth_id: String,
    /// Primary care provider or clinician (PCC); CSP-11 and CP-1 need it.
    pub pcp: Option<Contact>,
    /// Parent, guardian or caregiver, for youth and members under guardianship.
    pub guardian: Option<Guardian>,
    /// Member's own phone.
    pub phone: Option<String>,
    /// Where the member can be found (an address, a shelter, "Route 9 encampment").
    pub location: Option<String>,
}

impl Member {
    /// The name to show in lists: preferred name if given, then family name.
    pub fn display_name(&self) -> String {
        let first = self.preferred_name.as_deref().unwrap_or(&self.given_name);
        format!("{first} {}", self.family_name)
    }
}

/// A parent, legal guardian or caregiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Guardian {
    /// Name and reachability.
    pub contact: Contact,
    /// Relationship to the member ("mother", "DCF foster parent", "legal guardian").
    pub relationship: String,
    /// Whether this person holds legal authority to consent for the member.
    pub legal_authority: bool,
}

/// Where a referral came from. Correctional facility referrals trigger CSP-JI coordination
/// with the BH-JI in-reach provider (JI-6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ReferralSource {
    /// The member (or, for youth, their family) referred themself.
    SelfReferral,
    /// Family or natural supports.
    Family,
    /// A health plan, ACO or MCO.
    HealthPlan,
    /// A behavioral-health or medical provider.
    Provider,
    /// A correctional facility (house of correction, state prison), usually via BH-JI in-reach.
    CorrectionalFacility,
    /// A probation officer or the court.
    Probation,
    /// The parole board or a parole officer.
    Parole,
    /// A school.
    School,
    /// A state agency (DCF, DMH, DYS).
    StateAgency,
    /// Identified by MassHealth (CARES "identification").
    MassHealth,
    /// Anything else.
    Other,
}

/// The referral that opened an enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Referral {
    /// When the program received the referral: starts CSP-1 (24 h), CSP-2 (48 h), TM-1 (5 days),
    /// CARES-1 and CARES-2 (60 days).
    pub received_at: Timestamp,
    /// Kind of source.
    pub source: ReferralSource,
    /// Who referred, and how to reach them (TM-2 requires contacting the referral source).
    pub referrer: Option<Contact>,
    /// Facility name for correctional facility referrals.
    pub facility: Option<String>,
    /// Reason for referral, as the referrer gave it.
    pub reason: Option<String>,
}

/// Probation or parole supervision: the CSP-JI service plan must not conflict with it (JI-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct CommunitySupervision {
    /// Probation or parole.
    pub kind: SupervisionKind,
    /// The supervising officer.
    pub officer: Option<Contact>,
    /// The conditions of the supervision plan that the service plan must respect.
    pub plan_conditions: String,
    /// When supervision ends, if known.
    pub ends_on: Option<Day>,
}

/// Kind of community supervision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionKind {
    /// Court probation.
    Probation,
    /// Parole after release.
    Parole,
}

/// Where an enrollment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Referred; not yet engaged.
    Referred,
    /// Services could not start in time; the member waits (TM-2).
    Waitlisted,
    /// Receiving services.
    Active,
    /// Found ineligible at intake; alternatives referred (JI-9).
    Ineligible,
    /// The member declined or asked for a different provider (CP-2).
    Declined,
    /// Discharged.
    Discharged,
}

/// A member's enrollment in one program, with the facts the program's clocks start from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Enrollment {
    /// The member enrolled.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The referral that opened it.
    pub referral: Referral,
    /// Intake date (CARES-1 counts from the earlier of intake and referral).
    pub intake_at: Option<Timestamp>,
    /// When the enrollment took effect (CARES-6 enrollment letter within 30 days).
    pub effective_on: Option<Day>,
    /// The enrollee asked for a first appointment later than 48 hours (CSP-2).
    pub later_first_appointment_requested: Option<RequestedDelay>,
    /// Probation or parole supervision, for CSP-JI.
    pub supervision: Option<CommunitySupervision>,
    /// The worker assigned.
    pub assigned_worker: StaffId,
    /// The team the enrollment belongs to (sync scope).
    pub team_id: RecordId,
    /// Current status.
    pub status: EnrollmentStatus,
    /// History of status changes, each with its reason (CP-2 requires the reason).
    pub status_history: Vec<StatusChange>,
    /// Waitlist details when services cannot start within 14 days (TM-2).
    pub waitlist: Option<Waitlist>,
    /// Significant changes in the member's needs, which pull plan reviews forward.
    pub significant_changes: Vec<SignificantChange>,
    /// Discharge, once it happens.
    pub discharge: Option<Discharge>,
}

/// A documented request by the member for a later first appointment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct RequestedDelay {
    /// When the request was made.
    pub requested_at: Timestamp,
    /// The date and time the member asked for.
    pub requested_for: Timestamp,
    /// What the member said.
    pub reason: String,
}

/// A change of enrollment status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct StatusChange {
    /// When.
    pub at: Timestamp,
    /// The new status.
    pub status: EnrollmentStatus,
    /// Why (required).
    pub reason: String,
    /// Who recorded it.
    pub by: StaffId,
}

/// A TM waitlist entry, and the notices the spec requires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Waitlist {
    /// When the youth was placed on the waitlist.
    pub since: Timestamp,
    /// Why services could not start within 14 days.
    pub reason: String,
    /// When the family was told.
    pub family_notified_at: Option<Timestamp>,
    /// When the referral source was told.
    pub referral_source_notified_at: Option<Timestamp>,
}

/// A significant change in the member's needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct SignificantChange {
    /// When it was recognized.
    pub at: Timestamp,
    /// What changed.
    pub description: String,
}

/// The end of an enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Discharge {
    /// Date of discharge (CSP-10, JI-10).
    pub discharged_on: Day,
    /// Last date of service (TM-8 counts 5 business days from it).
    pub last_service_on: Day,
    /// Planned, or an unplanned termination (TM-9).
    pub planned: bool,
    /// Why services ended.
    pub reason: String,
}

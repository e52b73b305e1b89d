//! Reportable adverse incidents, crisis prevention / safety plans, and discharge plans.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Day, Program, RecordId, StaffId, Timestamp};

/// The category of a Reportable Adverse Incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum IncidentCategory {
    /// Death of a member.
    Death,
    /// Serious injury.
    SeriousInjury,
    /// Suicide attempt.
    SuicideAttempt,
    /// Assault by or on a member.
    Assault,
    /// Allegation of abuse or neglect.
    AbuseAllegation,
    /// Missing member.
    MissingPerson,
    /// A threat to staff safety.
    StaffSafety,
    /// Medication error.
    MedicationError,
    /// Other incident the plan requires to be reported.
    Other,
}

/// A Reportable Adverse Incident (JI-7: reported within 1 business day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Incident {
    /// The member involved, if any.
    pub member_id: Option<RecordId>,
    /// The program.
    pub program: Program,
    /// When the incident occurred (starts the clock).
    pub occurred_at: Timestamp,
    /// Where.
    pub location: String,
    /// Category.
    pub category: IncidentCategory,
    /// What happened.
    pub description: String,
    /// Actions taken.
    pub actions_taken: String,
    /// When it was reported to the health plan.
    pub reported_to_plan_at: Option<Timestamp>,
    /// When it was reported to MassHealth.
    pub reported_to_masshealth_at: Option<Timestamp>,
    /// A distress alarm that led to this report, if any.
    pub alarm_id: Option<RecordId>,
    /// Who reports.
    pub reporter: StaffId,
}

/// A crisis prevention / safety plan (CSP-10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct CrisisPlan {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Warning signs the member recognizes.
    pub warning_signs: Vec<String>,
    /// What the member can do alone.
    pub coping_strategies: Vec<String>,
    /// People and places that help.
    pub supports: Vec<String>,
    /// Professionals and crisis lines (988, the local emergency services program).
    pub professional_contacts: Vec<String>,
    /// Making the environment safe.
    pub means_safety: String,
    /// When it was written.
    pub written_at: Timestamp,
    /// When it was given to the member.
    pub given_to_member_at: Option<Timestamp>,
    /// Who wrote it.
    pub author: StaffId,
}

/// A written discharge plan (CSP-10, JI-10, TM-8, CARES-8 aftercare).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DischargePlan {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The enrollment being closed.
    pub enrollment_id: RecordId,
    /// Planned discharge date.
    pub discharge_on: Day,
    /// Services and supports after discharge.
    pub aftercare: String,
    /// Recommendations.
    pub recommendations: String,
    /// The crisis prevention plan that goes with it.
    pub crisis_plan_id: Option<RecordId>,
    /// The updated service plan given with it (JI-10).
    pub service_plan_id: Option<RecordId>,
    /// When it was written.
    pub written_at: Timestamp,
    /// Who wrote it.
    pub author: StaffId,
}

//! Records of the staff obligations the specs set: weekly supervision (TM-10, CARES-11),
//! consultation on request (TM-11, CARES-10), and initial training (CARES-12).

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Day, Program, StaffId, Timestamp};

/// A supervision session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct SupervisionRecord {
    /// The supervisee.
    pub staff_id: StaffId,
    /// The supervisor.
    pub supervisor_id: StaffId,
    /// The program.
    pub program: Program,
    /// Individual (the specs require individual supervision) or group.
    pub individual: bool,
    /// When it took place.
    pub held_at: Timestamp,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// Topics, without member details.
    pub topics: String,
}

/// Who a consultation was asked of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ConsultantKind {
    /// A senior licensed clinician (TM-11: within 1 hour).
    SeniorClinician,
    /// A senior medical professional (CARES-10: within 1 business day).
    SeniorMedicalProfessional,
}

/// A consultation request and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ConsultationRecord {
    /// Who asked.
    pub requested_by: StaffId,
    /// The program.
    pub program: Program,
    /// When (starts the clock).
    pub requested_at: Timestamp,
    /// Whom it was asked of.
    pub consultant_kind: ConsultantKind,
    /// Who answered.
    pub consultant: Option<StaffId>,
    /// When the answer came.
    pub responded_at: Option<Timestamp>,
    /// Topic, without member details.
    pub topic: String,
}

/// A completed training.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct TrainingRecord {
    /// The trainee.
    pub staff_id: StaffId,
    /// The program.
    pub program: Program,
    /// The trainee's employment start (CARES-12: 3 months).
    pub employment_started_on: Day,
    /// Course name.
    pub course: String,
    /// Part of the required initial training.
    pub required_initial: bool,
    /// Completion date; `None` while enrolled.
    pub completed_on: Option<Day>,
}

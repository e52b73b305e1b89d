//! Plans: CSP and CSP-JI service plans, TM individual action plans, CARES Individual Care
//! Plans, Community Partners care plans, and transition / aftercare plans. Worker and
//! supervisor edit them together, so goals are keyed lists and goal text is co-edited text.
//! Signatures are not stored here: they are attestation events bound to the plan's content.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{CoText, CriminogenicFactor, Day, Program, RecordId, Role, StaffId, Timestamp};

/// Which kind of plan, in each program's own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// CSP / CSP-JI service plan (CSP-6, CSP-7, JI-4).
    ServicePlan,
    /// TM individual action plan (TM-3, TM-4).
    IndividualActionPlan,
    /// CARES Individual Care Plan (CARES-1).
    IndividualCarePlan,
    /// BH CP person-centered treatment plan (CP-1).
    PersonCenteredTreatmentPlan,
    /// LTSS CP care plan (CP-1).
    LtssCarePlan,
    /// CARES transition-to-adulthood plan, from age 16 (CARES-7).
    TransitionToAdulthoodPlan,
    /// CARES aftercare / transition plan before removal of assignment (CARES-8).
    AftercarePlan,
}

impl PlanKind {
    /// The plan a program calls its service plan: a service plan in CSP and CSP-JI, an
    /// individual action plan in TM, an Individual Care Plan in CARES (CARES-1 reads it), a
    /// person-centered treatment plan or LTSS care plan in the Community Partners programs
    /// (CP-1 reads them).
    pub fn service_plan_of(program: Program) -> PlanKind {
        match program {
            Program::Csp | Program::CspJi => PlanKind::ServicePlan,
            Program::Tm => PlanKind::IndividualActionPlan,
            Program::Cares => PlanKind::IndividualCarePlan,
            Program::BhCp => PlanKind::PersonCenteredTreatmentPlan,
            Program::LtssCp => PlanKind::LtssCarePlan,
        }
    }

    /// The roles whose signatures the plan needs before it is in force, per the specs.
    /// `Youth` is asked for "when appropriate" and so is optional (see [`Plan::youth_signs`]).
    pub fn required_signers(self, program: Program) -> Vec<Role> {
        match (self, program) {
            (PlanKind::ServicePlan, _) => vec![Role::Worker, Role::Member, Role::Supervisor],
            (PlanKind::IndividualActionPlan, _) => {
                vec![Role::Worker, Role::Supervisor, Role::Guardian]
            }
            (PlanKind::PersonCenteredTreatmentPlan | PlanKind::LtssCarePlan, _) => {
                vec![Role::Worker, Role::Member, Role::Pcp]
            }
            (
                PlanKind::IndividualCarePlan
                | PlanKind::TransitionToAdulthoodPlan
                | PlanKind::AftercarePlan,
                _,
            ) => vec![Role::Worker, Role::Guardian, Role::Supervisor],
        }
    }
}

/// Where a plan is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Being written.
    Draft,
    /// Content complete; collecting signatures.
    Completed,
    /// Replaced by a later revision.
    Superseded,
}

/// A plan with goals, objectives, interventions and tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Plan {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The kind of plan.
    pub kind: PlanKind,
    /// Status.
    pub status: PlanStatus,
    /// The plan this one revises (CSP-8, JI-5, TM-4 updates), if any.
    pub revision_of: Option<RecordId>,
    /// When the content was completed (starts CSP-7's week for the supervisor).
    pub completed_at: Option<Timestamp>,
    /// The date the plan was last reviewed or revised (JI-4 item vi).
    pub last_reviewed_on: Option<Day>,
    /// The next scheduled review.
    pub next_review_on: Option<Day>,
    /// Identified problems and needs relevant to services (item i).
    pub problems_and_needs: CoText,
    /// The member's strengths (item ii).
    pub strengths: CoText,
    /// A summary both worker and supervisor may edit.
    pub summary: CoText,
    /// Goals, in order, keyed by id so concurrent edits of different goals merge.
    pub goals: Vec<Goal>,
    /// The probation / parole conditions were checked and the plan does not conflict (JI-4).
    pub supervision_conflict_checked: bool,
    /// Whether the youth signs too (TM-3 "when appropriate").
    pub youth_signs: bool,
    /// Staff responsible for the plan overall.
    pub author: StaffId,
}

/// A goal with measurable objectives, interventions and tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Goal {
    /// Stable id.
    #[key]
    pub id: RecordId,
    /// The goal in the member's words; co-edited.
    pub statement: CoText,
    /// Criminogenic needs the goal addresses (JI-4, CSP-JI Service Planning 5).
    pub addresses_criminogenic: Vec<CriminogenicFactor>,
    /// Measurable objectives.
    pub objectives: Vec<Objective>,
    /// Interventions, services and benefits the provider performs or coordinates (item iv).
    pub interventions: Vec<Intervention>,
    /// Tasks with timeframes, modality, location and responsible staff (TM-3).
    pub tasks: Vec<Task>,
}

/// A measurable objective.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Objective {
    /// Stable id.
    #[key]
    pub id: RecordId,
    /// What will be different.
    pub description: CoText,
    /// How it is measured.
    pub measure: String,
    /// Target date.
    pub target_on: Option<Day>,
}

/// An intervention or strategy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Intervention {
    /// Stable id.
    #[key]
    pub id: RecordId,
    /// What is done.
    pub description: String,
    /// Who does it (staff responsibilities, item v).
    pub responsible: Option<StaffId>,
    /// How often.
    pub frequency: Option<String>,
}

/// A task with a timeframe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Task {
    /// Stable id.
    #[key]
    pub id: RecordId,
    /// What is to be done.
    pub description: String,
    /// Timeframe, in words ("by end of March", "weekly for 6 weeks").
    pub timeframe: String,
    /// Due date, when there is one.
    pub due_on: Option<Day>,
    /// Modality (in person, telehealth...).
    pub modality: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Responsible staff or person ("member", "mentor", a staff id).
    pub responsible: String,
    /// Done.
    pub done: bool,
}

//! Needs assessments, including the criminogenic needs CSP-JI requires.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Program, RecordId, StaffId, Timestamp};

/// Which assessment in the sequence this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentKind {
    /// The initial needs assessment (CSP-3: begun within 48 hours of first face-to-face).
    Initial,
    /// The comprehensive needs assessment (CSP-4, JI-2, CARES-1).
    Comprehensive,
    /// A periodic update (CSP-5, JI-3).
    Update,
    /// A CARES reassessment (CARES-3).
    Reassessment,
    /// An abbreviated CARES reassessment when nothing changed.
    Abbreviated,
}

/// The criminogenic need factors a CSP-JI assessment determines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum CriminogenicFactor {
    /// History of antisocial behavior.
    CriminalHistory,
    /// Antisocial attitudes, values and beliefs.
    AntisocialAttitudes,
    /// Antisocial peers and associates.
    AntisocialPeers,
    /// Antisocial personality pattern.
    AntisocialPersonality,
    /// Family and marital circumstances.
    FamilyMarital,
    /// Education and employment.
    EducationEmployment,
    /// Leisure and recreation.
    LeisureRecreation,
    /// Substance use.
    SubstanceUse,
}

/// A level of need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum NeedLevel {
    /// Not a need.
    None,
    /// Low.
    Low,
    /// Moderate.
    Moderate,
    /// High.
    High,
}

/// One criminogenic need determination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct CriminogenicNeed {
    /// The factor.
    #[key]
    pub factor: CriminogenicFactor,
    /// The level.
    pub level: NeedLevel,
    /// The evidence.
    pub notes: String,
}

/// One life domain assessed (housing, health, income, legal, social...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DomainNeed {
    /// Domain name.
    #[key]
    pub domain: String,
    /// Identified problems and needs.
    pub needs: String,
    /// The member's strengths in this domain.
    pub strengths: String,
    /// Barriers to treatment and community involvement.
    pub barriers: String,
}

/// A needs assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct NeedsAssessment {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Which assessment.
    pub kind: AssessmentKind,
    /// The assessor.
    pub assessor: StaffId,
    /// When it was begun (CSP-3).
    pub started_at: Timestamp,
    /// When it was completed; `None` while in progress.
    pub completed_at: Option<Timestamp>,
    /// Domains assessed.
    pub domains: Vec<DomainNeed>,
    /// Criminogenic needs (required for CSP-JI: JI-2).
    pub criminogenic_needs: Vec<CriminogenicNeed>,
    /// Summary of findings.
    pub summary: String,
    /// Whether a significant change prompted this assessment (CARES-3).
    pub significant_change: bool,
}

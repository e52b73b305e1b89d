//! Extensions and waivers of program obligations, each recorded with who and why: documented
//! unsuccessful engagement extends CSP-JI assessment clocks; a supervisor may waive an
//! obligation that does not fit a member's situation.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Day, Program, RecordId, StaffId, Timestamp};

/// Extension or waiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum OverrideKind {
    /// The deadline moves to `until`.
    Extension,
    /// The obligation does not have to be met for this member.
    Waiver,
}

/// An extension or waiver of one rule for one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ObligationOverride {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The rule id from `RULES.md` (`JI-2`, `TM-2`...).
    pub rule_id: String,
    /// Extension or waiver.
    pub kind: OverrideKind,
    /// For an extension: the new last day.
    pub until: Option<Day>,
    /// Who decided.
    pub by: StaffId,
    /// Why.
    pub reason: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

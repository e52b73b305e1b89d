//! Identifiers and vocabulary shared across record kinds: programs, staff roles, people
//! outside the agency.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identifies any record (member, note, plan...). Version 7 UUIDs, so ids sort by creation.
pub type RecordId = Uuid;
/// Identifies a staff member (worker, supervisor, director). Issued by the agency's server.
pub type StaffId = Uuid;

/// Creates a new, time-ordered record id.
pub fn new_id() -> RecordId {
    Uuid::now_v7()
}

/// The MassHealth programs the product serves, each with its own performance specification.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Reconcile,
    Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// Community Support Program (adult mobile outreach and service coordination).
    Csp,
    /// CSP for Individuals with Justice Involvement; takes precedence over CSP where they differ.
    CspJi,
    /// Therapeutic Mentoring for youth under 21.
    Tm,
    /// MassHealth CARES Kids targeted case management, under 21.
    Cares,
    /// Behavioral Health Community Partner.
    BhCp,
    /// Long-Term Services and Supports Community Partner.
    LtssCp,
}

impl Program {
    /// Every program, in a stable order.
    pub const ALL: [Program; 6] = [
        Program::Csp,
        Program::CspJi,
        Program::Tm,
        Program::Cares,
        Program::BhCp,
        Program::LtssCp,
    ];

    /// The short code used in the projections, the CLI and exports (`csp`, `csp_ji`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Program::Csp => "csp",
            Program::CspJi => "csp_ji",
            Program::Tm => "tm",
            Program::Cares => "cares",
            Program::BhCp => "bh_cp",
            Program::LtssCp => "ltss_cp",
        }
    }

    /// Parses a code produced by [`Program::code`] (case-insensitive, `-` accepted for `_`).
    pub fn from_code(code: &str) -> Option<Program> {
        let code = code.to_ascii_lowercase().replace('-', "_");
        Program::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// The role in which someone signs, reviews or is responsible for a record.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Reconcile,
    Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The field worker: CSP staff, Therapeutic Mentor, care coordinator.
    Worker,
    /// The licensed supervisor of the worker.
    Supervisor,
    /// A program director.
    ProgramDirector,
    /// The member (enrollee) themself.
    Member,
    /// A parent, guardian or caregiver of a youth member.
    Guardian,
    /// The youth, signing alongside a guardian "when appropriate" (TM).
    Youth,
    /// The member's primary care provider or designee (Community Partners plans).
    Pcp,
    /// A witness to a signature collected on the worker's device.
    Witness,
}

impl Role {
    /// Whether this role signs as a person present with the worker, on the worker's device
    /// (such signatures carry the worker as witness).
    pub fn is_witnessed(self) -> bool {
        matches!(
            self,
            Role::Member | Role::Guardian | Role::Youth | Role::Pcp
        )
    }
}

/// Someone outside the agency: a PCP, a guardian, a probation officer, a provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Contact {
    /// Full name as the member gives it.
    pub name: String,
    /// Organisation or practice, if any.
    pub organization: Option<String>,
    /// Phone number as written.
    pub phone: Option<String>,
    /// Email or other electronic address.
    pub email: Option<String>,
}

/// How a message, letter or document travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Handed over or spoken in person.
    InPerson,
    /// Telephone call.
    Phone,
    /// Text message.
    Text,
    /// Postal mail.
    Mail,
    /// Email.
    Email,
    /// Fax.
    Fax,
    /// A secure portal or electronic health record exchange.
    Portal,
    /// Video telehealth.
    Video,
}

//! The plain values that cross the boundary: inputs the shells fill in and views they show.
//! Times are milliseconds since the Unix epoch (UTC); ids are the core's UUIDs as strings;
//! closed value sets (programs, modalities, roles, statuses) are enums (`crate::values`).

use fieldnote_core::model::{
    Contact, ContactPurpose, EnrollmentStatus, Modality, PlaceOfService, PlanKind, Program,
    RecordKind, ReferralSource, Role,
};
use fieldnote_core::rules::{Obligation, Status, TodayEntry};
use fieldnote_core::store::{CaseloadEntry, SearchHit, TimelineEntry};
use fieldnote_core::{RecordId, Timestamp};
use serde::de::DeserializeOwned;

use crate::error::{FieldnoteError, Outcome};

/// A new member and their enrollment in one program.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewMember {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// MassHealth ID.
    pub masshealth_id: String,
    /// Preferred language.
    pub primary_language: String,
    /// The program they are referred to.
    pub program: Program,
    /// When the referral arrived (ms); now when absent. Deadlines count from it.
    pub referred_at_ms: Option<i64>,
    /// Who referred.
    pub referral_source: ReferralSource,
    /// Why the member was referred, in the referrer's words.
    pub referral_reason: Option<String>,
    /// The correctional facility, for a referral from one (required then).
    #[uniffi(default = None)]
    pub referral_facility: Option<String>,
}

/// A new service plan (an individual action plan in TM), completed and ready to sign.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewPlan {
    /// The member.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// Problems and needs, in the member's and worker's words.
    pub problems_and_needs: String,
    /// The member's strengths.
    pub strengths: String,
    /// A summary of the plan.
    pub summary: String,
    /// One statement per goal (objectives and tasks are added by editing the record).
    pub goals: Vec<String>,
    /// CSP-JI: the plan was checked against the probation or parole plan (JI-4). Never
    /// assumed: false unless the worker says so.
    #[uniffi(default = false)]
    pub supervision_conflict_checked: bool,
    /// TM: the youth signs the action plan too.
    #[uniffi(default = false)]
    pub youth_signs: bool,
    /// Which plan; the program's service plan when absent (CARES also keeps a
    /// transition-to-adulthood plan and an aftercare plan).
    #[uniffi(default = None)]
    pub kind: Option<PlanKind>,
}

/// What a contact was for, as the program rules read it (the core's `ContactPurpose`).
#[uniffi::remote(Enum)]
pub enum ContactPurpose {
    /// First outreach to the member or family (TM-1).
    InitialOutreach,
    /// The first appointment (CSP-2).
    FirstAppointment,
    /// Services initiated (TM-2).
    ServiceInitiation,
    /// Discharge planning (CSP-9).
    DischargePlanning,
    /// Coordination with the primary care clinician (CSP-11).
    PcpCoordination,
    /// An annual physical documented (CSP-11).
    AnnualPhysicalDocumented,
    /// Coordination with the BH-JI in-reach provider (JI-6).
    InReachCoordination,
    /// Progress update with the youth's ICC, IHT or outpatient provider (TM-6).
    ProviderProgressUpdate,
    /// Update to the supervisor when no other provider is open (TM-6).
    SupervisorUpdate,
    /// Family and referral source told of a waitlist (TM-2).
    WaitlistNotice,
    /// Monitoring of the individual care plan (CARES-4).
    IcpMonitoring,
    /// Follow-up after a referral (CARES-5).
    ReferralFollowUp,
    /// Follow-up after an unplanned termination (TM-9).
    UnplannedTerminationFollowUp,
    /// Notice of termination (TM-9).
    TerminationNotice,
}

/// A contact note as the worker writes it.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewNote {
    /// The member.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// How the contact happened.
    pub modality: Modality,
    /// When the contact started (ms).
    pub started_at_ms: i64,
    /// Minutes.
    pub duration_minutes: u32,
    /// The narrative.
    pub narrative: String,
    /// Why telehealth was used, when it was.
    pub telehealth_reason: Option<String>,
    /// Whether the member was engaged.
    pub member_engaged: bool,
    /// What the contact was for (the rules count notes by purpose); none for ordinary
    /// service.
    #[uniffi(default = [])]
    pub purposes: Vec<ContactPurpose>,
    /// Where; by modality when absent (remote for a call, video or text; the community
    /// otherwise).
    #[uniffi(default = None)]
    pub place: Option<PlaceOfService>,
    /// For a collateral contact: with whom (required for one).
    #[uniffi(default = None)]
    pub collateral: Option<Contact>,
    /// TM-5: the planned activity.
    #[uniffi(default = None)]
    pub planned_activity: Option<String>,
    /// TM-5: the goal targeted.
    #[uniffi(default = None)]
    pub goal_targeted: Option<String>,
    /// TM-5: the member's response.
    #[uniffi(default = None)]
    pub member_response: Option<String>,
}

/// One enrollment of a member, as the caseload shows it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct EnrollmentView {
    /// The program.
    pub program: Program,
    /// Where it stands.
    pub status: EnrollmentStatus,
}

/// One member of the caseload.
#[derive(Clone, Debug, uniffi::Record)]
pub struct CaseloadItem {
    /// The member.
    pub member_id: String,
    /// Name to show.
    pub display_name: String,
    /// Date of birth.
    pub date_of_birth: String,
    /// Each enrollment with its status.
    pub enrollments: Vec<EnrollmentView>,
    /// The last contact (ms).
    pub last_contact_ms: Option<i64>,
}

/// One entry on a member's timeline.
#[derive(Clone, Debug, uniffi::Record)]
pub struct TimelineItem {
    /// The record.
    pub record_id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// When (ms).
    pub at_ms: i64,
    /// One-line title.
    pub title: String,
    /// For notes: finalized.
    pub finalized: bool,
}

/// A contact note read back.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NoteView {
    /// The note.
    pub id: String,
    /// The member.
    pub member_id: String,
    /// How the contact happened.
    pub modality: Modality,
    /// When the contact started (ms).
    pub started_at_ms: i64,
    /// The narrative.
    pub narrative: String,
    /// Finalized (read-only; corrections are addenda).
    pub finalized: bool,
    /// For an addendum: the note it corrects.
    pub addendum_to: Option<String>,
    /// Whether the server has it.
    pub sync_state: NoteSyncState,
    /// The supervisor's review.
    pub review: ReviewStatus,
    /// Who reviewed it last.
    pub reviewed_by: Option<String>,
    /// The reviewer's comment (always present when returned).
    pub review_comment: Option<String>,
}

/// One open obligation.
#[derive(Clone, Debug, uniffi::Record)]
pub struct ObligationItem {
    /// The rule (`CSP-1`...).
    pub rule_id: String,
    /// The program.
    pub program: Program,
    /// What is owed.
    pub obligation: String,
    /// Where it stands.
    pub status: ObligationStatus,
    /// More for the worker (what is missing, a documented reason).
    pub detail: Option<String>,
    /// The deadline (ms), when it has one.
    pub due_ms: Option<i64>,
    /// Where the rule comes from.
    pub citation: String,
}

/// A member on the today view, most urgent first.
#[derive(Clone, Debug, uniffi::Record)]
pub struct TodayItem {
    /// The member.
    pub member_id: String,
    /// Name to show.
    pub display_name: String,
    /// Open obligations, most urgent first.
    pub open: Vec<ObligationItem>,
}

/// A note found by search.
#[derive(Clone, Debug, uniffi::Record)]
pub struct SearchItem {
    /// The note.
    pub note_id: String,
    /// Its member.
    pub member_id: String,
    /// When the contact started (ms).
    pub started_at_ms: i64,
    /// The passage, matches in `[` `]`.
    pub snippet: String,
}

/// A plan's signature in one role.
#[derive(Clone, Debug, uniffi::Record)]
pub struct PlanSignature {
    /// The role.
    pub role: Role,
    /// Whether it is signed, and still covers the plan.
    pub state: SignatureStatus,
    /// Who signed, when signed.
    pub signed_by: Option<String>,
}

/// The device's sync state, for a status line.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatusView {
    /// Changes waiting to be sent.
    pub pending: u64,
    /// Changes the server refused (kept as drafts to fix).
    pub rejected: u64,
    /// The last completed sync (ms).
    pub last_synced_ms: Option<i64>,
    /// Safety items (alarms, visit events) not yet delivered.
    pub safety_pending: u64,
    /// A sync is running now.
    pub syncing: bool,
}

/// Progress of a running sync, after each round.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgressView {
    /// Rounds done.
    pub rounds: u64,
    /// Changes the server accepted so far.
    pub sent: u64,
    /// Changes refused so far.
    pub rejected: u64,
    /// Changes received so far.
    pub received: u64,
    /// Changes still waiting.
    pub pending: u64,
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// The totals.
    pub progress: SyncProgressView,
    /// Records removed because members left the caseload.
    pub purged: u64,
    /// Safety items delivered first.
    pub safety_sent: u64,
    /// Signatures received that were not signed by a key the server registered to their
    /// signer: not stored. The shell tells the person (a co-signature they expected may be
    /// missing) and the supervisor should be told.
    pub refused_signatures: u64,
}

/// What unlocking the store found damaged and repaired; the shell shows each message to the
/// person (nothing here is silent: a repair the person is not told of is a lost note).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Repairs {
    /// Where a damaged records database was moved (it was rebuilt).
    pub records_moved_to: Option<String>,
    /// Where a damaged outbox was moved.
    pub outbox_moved_to: Option<String>,
    /// How many records were queued again for the server after the outbox was lost.
    pub records_requeued: Option<u64>,
    /// Where a damaged safety database was moved.
    pub safety_moved_to: Option<String>,
    /// One sentence per repair, for the person.
    pub messages: Vec<String>,
}

/// What the device keeps to reconnect (the shell stores it in the platform keystore).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DeviceCredentials {
    /// The server's base URL.
    pub server_url: String,
    /// The device id.
    pub device_id: String,
    /// The device secret.
    pub device_secret: String,
}

/// Who is signed in on this device.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WorkerIdentity {
    /// Staff id that records carry.
    pub staff_id: String,
    /// Name used in signatures.
    pub display_name: String,
    /// The role they signed in with.
    pub role: StaffRole,
    /// Team.
    pub team_id: String,
}

/// Parses a record id named `field`.
pub(crate) fn record_id(field: &str, s: &str) -> Outcome<RecordId> {
    RecordId::parse_str(s.trim())
        .map_err(|_| FieldnoteError::invalid(field, "is not a record id (a UUID)"))
}

/// A stored vocabulary word as its value, when it is one.
fn parse_word<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// A time in ms as a core timestamp, refusing values outside years 1970–9999.
pub(crate) fn timestamp(field: &str, ms: i64) -> Outcome<Timestamp> {
    if !(0..=253_402_300_799_999).contains(&ms) {
        return Err(FieldnoteError::invalid(
            field,
            "must be milliseconds since 1970 and before year 10000",
        ));
    }
    Ok(Timestamp::from_millis(ms))
}

/// Whether the server has a note.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum NoteSyncState {
    /// Waiting to be sent.
    Pending,
    /// The server has it as it is.
    Synced,
    /// The server refused it; it is kept as a draft to fix.
    Rejected {
        /// The server's reason.
        reason: String,
    },
}

/// A supervisor's review of a note or plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ReviewStatus {
    /// Not reviewed yet.
    Unreviewed,
    /// Approved as it is.
    Approved,
    /// Returned to the author (see the comment).
    Returned,
    /// Approved, but the content changed since.
    Changed,
}

/// A plan signature's state in one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SignatureStatus {
    /// Nobody has signed in this role.
    Missing,
    /// Signed, and the plan has not changed since.
    Current,
    /// Signed, but the plan changed since: it needs signing again.
    Stale,
}

/// Where an obligation stands, in the vocabulary of `RULES.md`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ObligationStatus {
    /// The trigger has not happened.
    NotYetDue,
    /// The window is open.
    Due,
    /// The window is open with little time left.
    AtRisk,
    /// The deadline passed and it is unmet.
    Overdue,
    /// Done by the deadline.
    Satisfied,
    /// Done after the deadline.
    SatisfiedLate,
    /// An allowed extension is documented.
    Extended {
        /// The documented reason.
        reason: String,
        /// When to look again (ms).
        next_check_ms: i64,
    },
    /// Waived, with who and why.
    Waived {
        /// The staff id of who waived it.
        by: String,
        /// Why.
        reason: String,
    },
    /// It does not apply to this member.
    NotApplicable,
}

impl From<Status> for ObligationStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::NotYetDue => ObligationStatus::NotYetDue,
            Status::Due => ObligationStatus::Due,
            Status::AtRisk => ObligationStatus::AtRisk,
            Status::Overdue => ObligationStatus::Overdue,
            Status::Satisfied => ObligationStatus::Satisfied,
            Status::SatisfiedLate => ObligationStatus::SatisfiedLate,
            Status::Extended { reason, next_check } => ObligationStatus::Extended {
                reason,
                next_check_ms: next_check.millis(),
            },
            Status::Waived { by, reason } => ObligationStatus::Waived {
                by: by.to_string(),
                reason,
            },
            Status::NotApplicable => ObligationStatus::NotApplicable,
        }
    }
}

/// The role a user signs in with on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum StaffRole {
    /// A field worker.
    Worker,
    /// A supervisor.
    Supervisor,
    /// A program director.
    ProgramDirector,
    /// An administrator (manages users and devices; reads no member records).
    Administrator,
}

impl From<fieldnote_protocol::ServerRole> for StaffRole {
    fn from(r: fieldnote_protocol::ServerRole) -> Self {
        use fieldnote_protocol::ServerRole as R;
        match r {
            R::Worker => StaffRole::Worker,
            R::Supervisor => StaffRole::Supervisor,
            R::ProgramDirector => StaffRole::ProgramDirector,
            R::Administrator => StaffRole::Administrator,
        }
    }
}

impl From<CaseloadEntry> for CaseloadItem {
    fn from(c: CaseloadEntry) -> Self {
        CaseloadItem {
            member_id: c.member_id.to_string(),
            display_name: c.display_name,
            date_of_birth: c.date_of_birth,
            enrollments: c
                .enrollments
                .into_iter()
                .filter_map(|(p, s)| {
                    Some(EnrollmentView {
                        program: parse_word(&p)?,
                        status: parse_word(&s)?,
                    })
                })
                .collect(),
            last_contact_ms: c.last_contact_at.map(|t| t.millis()),
        }
    }
}

impl From<TimelineEntry> for TimelineItem {
    fn from(t: TimelineEntry) -> Self {
        TimelineItem {
            record_id: t.record_id.to_string(),
            kind: RecordKind::parse(&t.kind).unwrap_or(RecordKind::Member),
            at_ms: t.at.millis(),
            title: t.title,
            finalized: t.finalized,
        }
    }
}

impl From<SearchHit> for SearchItem {
    fn from(h: SearchHit) -> Self {
        SearchItem {
            note_id: h.note_id.to_string(),
            member_id: h.member_id.to_string(),
            started_at_ms: h.started_at.millis(),
            snippet: h.snippet,
        }
    }
}

impl From<Obligation> for ObligationItem {
    fn from(o: Obligation) -> Self {
        ObligationItem {
            rule_id: o.rule_id,
            program: o.program,
            obligation: o.obligation,
            status: o.status.into(),
            detail: o.detail,
            due_ms: o.due.map(|t| t.millis()),
            citation: o.citation,
        }
    }
}

impl From<TodayEntry> for TodayItem {
    fn from(t: TodayEntry) -> Self {
        TodayItem {
            member_id: t.member_id.to_string(),
            display_name: t.display_name,
            open: t.open.into_iter().map(Into::into).collect(),
        }
    }
}

//! Contacts with and about a member: contact notes, engagement attempts (including the
//! unsuccessful ones that extend CSP-JI clocks), and deliveries of letters and documents.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Channel, Contact, Program, RecordId, StaffId, Timestamp};

/// How a contact happened. Connections (JI-1) are the first four with the member engaged and
/// responsive; collateral contacts and case-related work count as case-related work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Face to face.
    InPerson,
    /// Telephone.
    Phone,
    /// Video telehealth; requires a [`ContactNote::telehealth_reason`] (TM-7).
    Telehealth,
    /// Text messages.
    Text,
    /// A contact with someone other than the member about the member (a provider, family,
    /// probation). Needs a consent on file first (CSP-12, CARES-9).
    Collateral,
    /// Case-related work without the member present (calls to providers, finding materials).
    CaseRelatedWork,
}

impl Modality {
    /// Every modality.
    pub const ALL: [Modality; 6] = [
        Modality::InPerson,
        Modality::Phone,
        Modality::Telehealth,
        Modality::Text,
        Modality::Collateral,
        Modality::CaseRelatedWork,
    ];

    /// The stored word (`in_person`...).
    pub fn word(self) -> &'static str {
        match self {
            Modality::InPerson => "in_person",
            Modality::Phone => "phone",
            Modality::Telehealth => "telehealth",
            Modality::Text => "text",
            Modality::Collateral => "collateral",
            Modality::CaseRelatedWork => "case_related_work",
        }
    }

    /// The modality of a stored word.
    pub fn from_word(word: &str) -> Option<Modality> {
        Modality::ALL.into_iter().find(|m| m.word() == word)
    }

    /// Whether the member takes part in this kind of contact.
    pub fn with_member(self) -> bool {
        matches!(
            self,
            Modality::InPerson | Modality::Phone | Modality::Telehealth | Modality::Text
        )
    }
}

/// Where the service was delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum PlaceOfService {
    /// The member's home.
    Home,
    /// A shelter.
    Shelter,
    /// The street or an encampment.
    Street,
    /// A community setting (library, coffee shop, park).
    Community,
    /// A court.
    Court,
    /// A correctional facility (pre-release in-reach).
    CorrectionalFacility,
    /// A school.
    School,
    /// A hospital or emergency department.
    Hospital,
    /// The program's office.
    Office,
    /// Remote: telehealth, phone or text.
    Remote,
    /// Anywhere else.
    Other,
}

/// What a contact was for, beyond ordinary service. Rules look for these purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ContactPurpose {
    /// Outreach offering a face-to-face initiation appointment (TM-1).
    InitialOutreach,
    /// The first face-to-face appointment (CSP-2).
    FirstAppointment,
    /// The first TM session, initiating services (TM-2).
    ServiceInitiation,
    /// Discharge planning (CSP-9).
    DischargePlanning,
    /// Coordination with the PCC / PCP (CSP-11).
    PcpCoordination,
    /// An annual physical was documented (CSP-11).
    AnnualPhysicalDocumented,
    /// Coordination with the BH-JI in-reach provider (JI-6).
    InReachCoordination,
    /// Contact with the youth's ICC / IHT / outpatient provider about progress (TM-6).
    ProviderProgressUpdate,
    /// Update to the supervisor when no other provider is open (TM-6).
    SupervisorUpdate,
    /// Telling family and referral source about a waitlist (TM-2).
    WaitlistNotice,
    /// Monitoring and follow-up of the CARES ICP (CARES-4).
    IcpMonitoring,
    /// Follow-up after a referral (CARES-5).
    ReferralFollowUp,
    /// Effort to reach the family after an unplanned termination (TM-9).
    UnplannedTerminationFollowUp,
    /// Informing other behavioral-health providers of a termination (TM-9).
    TerminationNotice,
}

/// Progress toward one plan goal, recorded on a contact note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct GoalProgress {
    /// The plan.
    pub plan_id: RecordId,
    /// The goal within the plan.
    #[key]
    pub goal_id: RecordId,
    /// How far along, as the worker judges it.
    pub rating: ProgressRating,
    /// A sentence of evidence.
    pub comment: String,
}

/// A coarse progress scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ProgressRating {
    /// Moving away from the goal.
    Regressed,
    /// No change.
    NoChange,
    /// Some progress.
    Progressing,
    /// Goal met.
    Achieved,
}

/// A contact note: the documentation of one contact or piece of case-related work. It is
/// written by one worker, finalized by signing, and corrected afterwards only by addenda.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ContactNote {
    /// The member the note is about.
    pub member_id: RecordId,
    /// The program the contact was delivered under.
    pub program: Program,
    /// The writer.
    pub author: StaffId,
    /// When the contact started.
    pub started_at: Timestamp,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// How it happened.
    pub modality: Modality,
    /// Why telehealth was used (required for telehealth: TM-7).
    pub telehealth_reason: Option<String>,
    /// Where.
    pub place: PlaceOfService,
    /// For collateral contacts: with whom.
    pub collateral: Option<Contact>,
    /// Whether the member was engaged and responsive (JI-1 counts a connection only then).
    pub member_engaged: bool,
    /// Planned activity (TM-5).
    pub planned_activity: Option<String>,
    /// Goal targeted (TM-5): a goal id or words.
    pub goal_targeted: Option<String>,
    /// The member's response (TM-5).
    pub member_response: Option<String>,
    /// The narrative, written by one person: a plain string, not a per-character CRDT.
    pub narrative: String,
    /// Progress toward plan goals.
    pub progress: Vec<GoalProgress>,
    /// Special purposes of the contact that program rules look for.
    pub purposes: Vec<ContactPurpose>,
    /// For an addendum: the finalized note it corrects or adds to.
    pub addendum_to: Option<RecordId>,
}

/// One attempt to engage a member, successful or not. Documented timely, unsuccessful efforts
/// extend CSP-JI assessment clocks (JI-2, JI-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct EngagementAttempt {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Who tried.
    pub by: StaffId,
    /// When.
    pub at: Timestamp,
    /// By what means.
    pub channel: Channel,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// What the attempt was for (first contact, assessment, assessment update...).
    pub purpose: String,
    /// Details.
    pub note: Option<String>,
}

/// The result of an engagement attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The member was reached and engaged.
    Reached,
    /// No answer.
    NoAnswer,
    /// A message was left.
    LeftMessage,
    /// The number or address was wrong.
    WrongContactInfo,
    /// The member was not at the place.
    NotFound,
    /// The member declined.
    Declined,
}

impl AttemptOutcome {
    /// Whether the attempt failed to engage the member.
    pub fn unsuccessful(self) -> bool {
        !matches!(self, AttemptOutcome::Reached)
    }
}

/// What document was delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// CARES enrollment letter (CARES-6).
    EnrollmentLetter,
    /// CARES termination letter (CARES-8).
    TerminationLetter,
    /// A copy of a plan (ICP: CARES-2; service plan with discharge: JI-10).
    PlanCopy,
    /// A discharge plan (CSP-10, JI-10, TM-8).
    DischargePlan,
    /// A crisis prevention / safety plan (CSP-10).
    CrisisPlan,
    /// Anything else.
    Other,
}

/// Who received a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// The member.
    Member,
    /// The parent or guardian.
    Guardian,
    /// Another provider (PCP, ICC, IHT, outpatient).
    Provider,
    /// Probation or parole.
    CommunitySupervision,
    /// The referral source.
    ReferralSource,
    /// The health plan or MassHealth.
    Payer,
}

/// A letter or document given or sent: what, to whom, how, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DocumentDelivery {
    /// The member the document concerns.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// What was delivered.
    pub document: DocumentKind,
    /// The record delivered, when it is one (a plan, a discharge plan).
    pub document_record_id: Option<RecordId>,
    /// Kind of recipient.
    pub recipient_kind: RecipientKind,
    /// The recipient.
    pub recipient: Contact,
    /// How it travelled.
    pub channel: Channel,
    /// Paper, electronic, or both (CARES-2 needs both).
    pub paper: bool,
    /// Sent electronically.
    pub electronic: bool,
    /// Language of the copy (CARES-2: English and primary language).
    pub language: String,
    /// When it was delivered.
    pub delivered_at: Timestamp,
    /// The consent that allowed sharing it, for anyone but the member or guardian.
    pub consent_id: Option<RecordId>,
    /// Who delivered it.
    pub by: StaffId,
    /// When the delivery was entered on the device, when that was recorded: a delivery
    /// entered after the fact keeps both times (see [`crate::commands::BACKDATE_LIMIT_DAYS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modality_words_are_their_serde_names() {
        for m in Modality::ALL {
            let json = serde_json::to_string(&m).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", m.word()));
            assert_eq!(Modality::from_word(m.word()), Some(m));
        }
    }
}

//! The core's closed value sets, declared for uniffi so that they cross the boundary as
//! Kotlin and Swift enums rather than words: each mirrors the core type variant for variant
//! (`#[uniffi::remote]`), so the compiler refuses a mismatch.

pub use fieldnote_core::commands::{ReportedTo, WaitlistNotified};
pub use fieldnote_core::model::{
    AttemptOutcome, Channel, ConsultantKind, Contact, CriminogenicFactor, DocumentKind,
    EnrollmentStatus, IncidentCategory, Modality, OverrideKind, PlaceOfService, PlanKind, Program,
    ProgressRating, RecipientKind, RecordKind, ReferralSource, Role,
};
pub use fieldnote_protocol::safety::AlarmKind;

/// A MassHealth program a member is enrolled in.
#[uniffi::remote(Enum)]
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

/// How a contact happened. Connections (JI-1) are the first four with the member engaged and
/// responsive; collateral contacts and case-related work count as case-related work.
#[uniffi::remote(Enum)]
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

/// Where the service was delivered.
#[uniffi::remote(Enum)]
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

/// The role someone signs or works in.
#[uniffi::remote(Enum)]
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

/// Where a referral came from. Correctional facility referrals trigger CSP-JI coordination
/// with the BH-JI in-reach provider (JI-6).
#[uniffi::remote(Enum)]
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

/// Where an enrollment stands.
#[uniffi::remote(Enum)]
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

/// How a message, letter or document travels.
#[uniffi::remote(Enum)]
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

/// The result of an engagement attempt.
#[uniffi::remote(Enum)]
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

/// What document was delivered.
#[uniffi::remote(Enum)]
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
#[uniffi::remote(Enum)]
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

/// The category of a Reportable Adverse Incident.
#[uniffi::remote(Enum)]
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

/// Who a consultation was asked of.
#[uniffi::remote(Enum)]
pub enum ConsultantKind {
    /// A senior licensed clinician (TM-11: within 1 hour).
    SeniorClinician,
    /// A senior medical professional (CARES-10: within 1 business day).
    SeniorMedicalProfessional,
}

/// The criminogenic need factors a CSP-JI assessment determines.
#[uniffi::remote(Enum)]
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

/// A coarse progress scale.
#[uniffi::remote(Enum)]
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

/// Extension or waiver.
#[uniffi::remote(Enum)]
pub enum OverrideKind {
    /// The deadline moves to `until`.
    Extension,
    /// The obligation does not have to be met for this member.
    Waiver,
}

/// The kind of a record, as stored in projections (`member`, `contact_note`...).
#[uniffi::remote(Enum)]
pub enum RecordKind {
    /// A member record.
    Member,
    /// An enrollment record.
    Enrollment,
    /// A contact note record.
    ContactNote,
    /// An engagement attempt record.
    EngagementAttempt,
    /// A document delivery record.
    DocumentDelivery,
    /// A needs assessment record.
    NeedsAssessment,
    /// A plan record.
    Plan,
    /// A consent record.
    Consent,
    /// A service referral record.
    ServiceReferral,
    /// An incident record.
    Incident,
    /// A crisis plan record.
    CrisisPlan,
    /// A discharge plan record.
    DischargePlan,
    /// A supervision record.
    Supervision,
    /// A consultation record.
    Consultation,
    /// A training record.
    Training,
    /// An override record.
    Override,
}

/// Whom an incident was reported to.
#[uniffi::remote(Enum)]
pub enum ReportedTo {
    /// The member's health plan.
    HealthPlan,
    /// MassHealth.
    MassHealth,
}

/// Who was told of a waitlist (TM-2 requires both).
#[uniffi::remote(Enum)]
pub enum WaitlistNotified {
    /// The youth's family.
    Family,
    /// The referral source.
    ReferralSource,
}

/// Someone outside the agency: a PCP, a guardian, a probation officer, a provider.
#[uniffi::remote(Record)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Organisation or practice, if any.
    pub organization: Option<String>,
    /// Phone number as written.
    pub phone: Option<String>,
    /// Email or other electronic address.
    pub email: Option<String>,
}

/// What kind of distress an alarm is.
#[uniffi::remote(Enum)]
pub enum AlarmKind {
    /// The panic button.
    Panic,
    /// A panic with no visible or audible feedback on the phone.
    Discreet,
    /// The duress PIN: looks like cancelling a session, raises an alarm.
    Duress,
    /// Raised by the server when a session passes its end and grace period unchecked.
    MissedCheckIn,
}

/// Which kind of plan, in each program's own words.
#[uniffi::remote(Enum)]
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

// The cases of each FFI enum the forms offer, with the words shown for them, in the order
// the pickers list them: uniffi's Swift enums are not CaseIterable, so the lists are written
// out here (a case added in Rust must be added here to be offered). Apple platforms only.
#if canImport(SwiftUI)
import FieldnoteFFI

let programChoices: [Choice<Program>] = [
    Choice(.csp, "CSP"), Choice(.cspJi, "CSP-JI"), Choice(.tm, "TM"), Choice(.cares, "CARES"),
    Choice(.bhCp, "BH-CP"), Choice(.ltssCp, "LTSS-CP"),
]
let modalityChoices: [Choice<Modality>] = [
    Choice(.inPerson, "In person"), Choice(.phone, "Phone"), Choice(.telehealth, "Video telehealth"),
    Choice(.text, "Text messages"), Choice(.collateral, "Collateral contact"),
    Choice(.caseRelatedWork, "Case-related work"),
]
let placeChoices: [Choice<PlaceOfService>] = [
    Choice(.home, "Home"), Choice(.shelter, "Shelter"), Choice(.street, "Street"),
    Choice(.community, "Community"), Choice(.court, "Court"),
    Choice(.correctionalFacility, "Correctional facility"), Choice(.school, "School"),
    Choice(.hospital, "Hospital"), Choice(.office, "Office"), Choice(.remote, "Remote"), Choice(.other, "Other"),
]
let purposeChoices: [Choice<ContactPurpose>] = [
    Choice(.initialOutreach, "Initial outreach"), Choice(.firstAppointment, "First appointment"),
    Choice(.serviceInitiation, "Services initiated"), Choice(.dischargePlanning, "Discharge planning"),
    Choice(.pcpCoordination, "PCP coordination"), Choice(.annualPhysicalDocumented, "Annual physical documented"),
    Choice(.inReachCoordination, "In-reach coordination"), Choice(.providerProgressUpdate, "Provider progress update"),
    Choice(.supervisorUpdate, "Supervisor update"), Choice(.waitlistNotice, "Waitlist notice"),
    Choice(.icpMonitoring, "ICP monitoring"), Choice(.referralFollowUp, "Referral follow-up"),
    Choice(.unplannedTerminationFollowUp, "Follow-up after unplanned termination"),
    Choice(.terminationNotice, "Termination notice"),
]
/// The roles a worker's device collects signatures in (supervisors sign in the console).
let signingRoleChoices: [Choice<Role>] = [
    Choice(.worker, "Me (worker)"), Choice(.member, "Member"), Choice(.guardian, "Guardian"), Choice(.youth, "Youth"),
]
let referralSourceChoices: [Choice<ReferralSource>] = [
    Choice(.selfReferral, "Self"), Choice(.family, "Family"), Choice(.healthPlan, "Health plan"),
    Choice(.provider, "Provider"), Choice(.correctionalFacility, "Correctional facility"),
    Choice(.probation, "Probation or court"), Choice(.parole, "Parole"), Choice(.school, "School"),
    Choice(.stateAgency, "State agency"), Choice(.massHealth, "MassHealth"), Choice(.other, "Other"),
]
let channelChoices: [Choice<Channel>] = [
    Choice(.inPerson, "In person"), Choice(.phone, "Phone"), Choice(.text, "Text"), Choice(.mail, "Mail"),
    Choice(.email, "Email"), Choice(.fax, "Fax"), Choice(.portal, "Portal"), Choice(.video, "Video"),
]
let attemptOutcomeChoices: [Choice<AttemptOutcome>] = [
    Choice(.reached, "Reached"), Choice(.noAnswer, "No answer"), Choice(.leftMessage, "Left a message"),
    Choice(.wrongContactInfo, "Wrong contact information"), Choice(.notFound, "Not found"),
    Choice(.declined, "Declined"),
]
let documentChoices: [Choice<DocumentKind>] = [
    Choice(.enrollmentLetter, "Enrollment letter"), Choice(.terminationLetter, "Termination letter"),
    Choice(.planCopy, "Copy of a plan"), Choice(.dischargePlan, "Discharge plan"),
    Choice(.crisisPlan, "Crisis plan"), Choice(.other, "Other"),
]
let recipientKindChoices: [Choice<RecipientKind>] = [
    Choice(.member, "Member"), Choice(.guardian, "Guardian"), Choice(.provider, "Provider"),
    Choice(.communitySupervision, "Probation or parole"), Choice(.referralSource, "Referral source"),
    Choice(.payer, "Health plan or MassHealth"),
]
let incidentCategoryChoices: [Choice<IncidentCategory>] = [
    Choice(.death, "Death"), Choice(.seriousInjury, "Serious injury"), Choice(.suicideAttempt, "Suicide attempt"),
    Choice(.assault, "Assault"), Choice(.abuseAllegation, "Allegation of abuse or neglect"),
    Choice(.missingPerson, "Missing person"), Choice(.staffSafety, "Staff safety"),
    Choice(.medicationError, "Medication error"), Choice(.other, "Other"),
]
let reportedToChoices: [Choice<ReportedTo>] = [Choice(.healthPlan, "Health plan"), Choice(.massHealth, "MassHealth")]
let waitlistNotifiedChoices: [Choice<WaitlistNotified>] = [
    Choice(.family, "Family"), Choice(.referralSource, "Referral source"),
]
let consultantKindChoices: [Choice<ConsultantKind>] = [
    Choice(.seniorClinician, "Senior licensed clinician"),
    Choice(.seniorMedicalProfessional, "Senior medical professional"),
]
#endif

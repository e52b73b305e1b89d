// The menus that open the record forms: the forms about one member (a contact note first),
// and those naming no member (a new member, the staff records). Apple platforms only.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// The forms about one member (a contact note first), as a list to choose from.
public struct MemberRecordMenu: View {
    let context: FormContext

    /// The menu for `context`'s member.
    public init(context: FormContext) { self.context = context }

    public var body: some View {
        List {
            Section("Contacts") {
                if let memberId = context.memberId {
                    NavigationLink("Contact note") {
                        NoteEntryScreen(fieldnote: context.fieldnote, memberId: memberId, program: context.program,
                                        onWrite: context.onWrite)
                    }
                }
                NavigationLink("Engagement attempt") { AttemptForm(context: context) }
                NavigationLink("Document delivered") { DeliveryForm(context: context) }
            }
            Section("Plan") {
                NavigationLink("Service plan") { PlanForm(context: context) }
                NavigationLink("Sign a plan") { PlanSignatureForm(context: context) }
                NavigationLink("Significant change") { SignificantChangeForm(context: context) }
                NavigationLink("Discharge plan") { DischargePlanForm(context: context) }
            }
            Section("Consents and referrals") {
                NavigationLink("Consent or release") { ConsentForm(context: context) }
                NavigationLink("Consent revoked") { RevokeConsentForm(context: context) }
                NavigationLink("Referral") { ReferralForm(context: context) }
                NavigationLink("Referral follow-up") { FollowUpForm(context: context) }
                NavigationLink("No follow-up: why") { NoFollowUpForm(context: context) }
            }
            Section("Incidents and waitlist") {
                NavigationLink("Incident") { IncidentForm(context: context) }
                NavigationLink("Incident reported") { IncidentReportedForm(context: context) }
                NavigationLink("Waitlist (TM)") { WaitlistForm(context: context) }
                NavigationLink("Waitlist notice (TM)") { WaitlistNoticeForm(context: context) }
            }
            Section("Supervisor") {
                NavigationLink("Waive a requirement") { OverrideForm(context: context, grantsExtension: false) }
                NavigationLink("Extend a deadline") { OverrideForm(context: context, grantsExtension: true) }
            }
        }
        .navigationTitle("Record")
    }
}

/// The forms naming no member: a new member, and the staff records.
public struct StaffRecordMenu: View {
    let context: FormContext

    /// The menu over `context`'s store.
    public init(context: FormContext) { self.context = context }

    public var body: some View {
        List {
            NavigationLink("New member") { MemberForm(context: context) }
            NavigationLink("Supervision session") { SupervisionForm(context: context) }
            NavigationLink("Consultation request") { ConsultationForm(context: context) }
            NavigationLink("Consultation answered") { ConsultationAnsweredForm(context: context) }
            NavigationLink("Training") { TrainingForm(context: context) }
        }
        .navigationTitle("Records")
    }
}
#endif

// SwiftUI forms of events in a member's care that carry their own deadlines: an incident and
// when it was reported, the TM waitlist and who was told of it, and the discharge plan. Each
// builds the typed FFI record from its inputs and saves it through the store (Forms.swift).
// Apple platforms only.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// A Reportable Adverse Incident.
public struct IncidentForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var occurredAt = Date()
    @State private var location = ""
    @State private var category: IncidentCategory = .other
    @State private var details = ""
    @State private var actions = ""
    @State private var toPlanAt: Date?
    @State private var toMassHealthAt: Date?
    @State private var alarmId = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "occurred_at_ms", "location", "category", "description",
                         "actions_taken", "reported_to_plan_at_ms", "reported_to_masshealth_at_ms", "alarm_id"]

    /// The form, about `context`'s member when there is one.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Incident", context: context, fields: Self.fields, problems: $problems, build: build) {
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems,
                          prompt: "Blank when no member was involved")
                ProgramPicker(program: $program, problems: problems)
                TimeInput(label: "When it happened", date: $occurredAt, field: "occurred_at_ms", problems: problems)
                TextInput(label: "Where", text: $location, field: "location", problems: problems)
                ChoicePicker(label: "Category", selection: $category, choices: incidentCategoryChoices,
                             field: "category", problems: problems)
                TextInput(label: "What happened", text: $details, field: "description", problems: problems,
                          multiline: true)
                TextInput(label: "Actions taken", text: $actions, field: "actions_taken", problems: problems,
                          multiline: true)
            }
            Section("Reported") {
                OptionalTimeInput(label: "Reported to the health plan", date: $toPlanAt,
                                  field: "reported_to_plan_at_ms", problems: problems)
                OptionalTimeInput(label: "Reported to MassHealth", date: $toMassHealthAt,
                                  field: "reported_to_masshealth_at_ms", problems: problems)
                TextInput(label: "The alarm that led to it (id)", text: $alarmId, field: "alarm_id", problems: problems,
                          prompt: "Blank when none")
            }
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let incident = NewIncident(memberId: blankToNil(memberId), program: program, occurredAtMs: ms(occurredAt),
                                   location: trimmed(location), category: category, description: trimmed(details),
                                   actionsTaken: trimmed(actions), reportedToPlanAtMs: ms(toPlanAt),
                                   reportedToMasshealthAtMs: ms(toMassHealthAt), alarmId: blankToNil(alarmId))
        return { _ = try $0.reportIncident(incident: incident) }
    }
}

/// When an incident was reported to the health plan or MassHealth.
public struct IncidentReportedForm: View {
    let context: FormContext
    @State private var incidentId: String
    @State private var to: ReportedTo = .healthPlan
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["incident_id", "to", "at_ms"]

    /// The form; `incidentId` prefills the incident.
    public init(context: FormContext, incidentId: String = "") {
        self.context = context
        _incidentId = State(initialValue: incidentId)
    }

    public var body: some View {
        RecordForm(title: "Incident reported", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Incident id", text: $incidentId, field: "incident_id", problems: problems)
            ChoicePicker(label: "Reported to", selection: $to, choices: reportedToChoices, field: "to", problems: problems)
            OptionalTimeInput(label: "Reported earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(incidentId), to = self.to, at = ms(self.at)
        return { try $0.incidentReported(incidentId: id, to: to, atMs: at) }
    }
}

/// A youth placed on the TM waitlist.
public struct WaitlistForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var reason = ""
    @State private var since: Date?
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "reason", "since_ms"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Waitlist", context: context, fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            TextInput(label: "Why services cannot start yet", text: $reason, field: "reason", problems: problems,
                      multiline: true)
            OptionalTimeInput(label: "Waiting since earlier", date: $since, field: "since_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let member = trimmed(memberId), reason = trimmed(self.reason), since = ms(self.since)
        return { _ = try $0.placeOnWaitlist(memberId: member, program: program, reason: reason, sinceMs: since) }
    }
}

/// That the family or the referral source was told of the waitlist.
public struct WaitlistNoticeForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var who: WaitlistNotified = .family
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "who", "at_ms"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Waitlist notice", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            ChoicePicker(label: "Told", selection: $who, choices: waitlistNotifiedChoices, field: "who",
                         problems: problems)
            OptionalTimeInput(label: "Told earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let member = trimmed(memberId), who = self.who, at = ms(self.at)
        return { try $0.waitlistNotice(memberId: member, program: program, who: who, atMs: at) }
    }
}

/// A written discharge plan.
public struct DischargePlanForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var dischargeOn = ""
    @State private var aftercare = ""
    @State private var recommendations = ""
    @State private var crisisPlanId = ""
    @State private var servicePlanId = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "discharge_on", "aftercare", "recommendations", "crisis_plan_id",
                         "service_plan_id"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Discharge plan", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            TextInput(label: "Planned discharge date", text: $dischargeOn, field: "discharge_on", problems: problems,
                      prompt: "YYYY-MM-DD")
            TextInput(label: "Services and supports after discharge", text: $aftercare, field: "aftercare",
                      problems: problems, multiline: true)
            TextInput(label: "Recommendations", text: $recommendations, field: "recommendations", problems: problems,
                      multiline: true)
            TextInput(label: "Crisis plan (id)", text: $crisisPlanId, field: "crisis_plan_id", problems: problems,
                      prompt: "Blank when none")
            TextInput(label: "Updated service plan given with it (id)", text: $servicePlanId, field: "service_plan_id",
                      problems: problems, prompt: "Blank when none")
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let plan = NewDischargePlan(memberId: trimmed(memberId), program: program, dischargeOn: trimmed(dischargeOn),
                                    aftercare: trimmed(aftercare), recommendations: trimmed(recommendations),
                                    crisisPlanId: blankToNil(crisisPlanId), servicePlanId: blankToNil(servicePlanId))
        return { _ = try $0.writeDischargePlan(plan: plan) }
    }
}
#endif

// SwiftUI forms about a member's enrollment and plan: a new member with their enrollment, a
// service plan and its signatures, a significant change, and a supervisor's waiver or
// extension. Each builds the typed FFI record from its inputs and saves it through the store
// (Forms.swift); the core checks everything. Apple platforms only.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// A new member and their enrollment in one program.
public struct MemberForm: View {
    let context: FormContext
    @State private var givenName = ""
    @State private var familyName = ""
    @State private var dateOfBirth = ""
    @State private var masshealthId = ""
    @State private var language = ""
    @State private var program: Program?
    @State private var referredAt: Date?
    @State private var source: ReferralSource = .healthPlan
    @State private var reason = ""
    @State private var problems = Problems()

    static let fields = ["given_name", "family_name", "date_of_birth", "masshealth_id", "primary_language",
                         "program", "referred_at_ms", "referral_source", "referral_reason"]

    /// The form; the program comes from `context` when it has one.
    public init(context: FormContext) {
        self.context = context
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "New member", context: context, fields: Self.fields, problems: $problems, build: build) {
            Section("Member") {
                TextInput(label: "Given name", text: $givenName, field: "given_name", problems: problems)
                TextInput(label: "Family name", text: $familyName, field: "family_name", problems: problems)
                TextInput(label: "Date of birth", text: $dateOfBirth, field: "date_of_birth", problems: problems,
                          prompt: "YYYY-MM-DD")
                TextInput(label: "MassHealth ID", text: $masshealthId, field: "masshealth_id", problems: problems)
                TextInput(label: "Preferred language", text: $language, field: "primary_language", problems: problems)
            }
            Section("Enrollment") {
                ProgramPicker(program: $program, problems: problems)
                OptionalTimeInput(label: "Referral received earlier", date: $referredAt, field: "referred_at_ms",
                                  problems: problems)
                ChoicePicker(label: "Referred by", selection: $source, choices: referralSourceChoices,
                             field: "referral_source", problems: problems)
                TextInput(label: "Reason for the referral", text: $reason, field: "referral_reason", problems: problems,
                          multiline: true)
            }
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let member = NewMember(givenName: trimmed(givenName), familyName: trimmed(familyName),
                               dateOfBirth: trimmed(dateOfBirth), masshealthId: trimmed(masshealthId),
                               primaryLanguage: trimmed(language), program: program,
                               referredAtMs: ms(referredAt), referralSource: source,
                               referralReason: blankToNil(reason))
        return { _ = try $0.addMember(member: member) }
    }
}

/// A service plan (an individual action plan in TM), completed and ready to sign.
public struct PlanForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var problemsAndNeeds = ""
    @State private var strengths = ""
    @State private var summary = ""
    @State private var goals = ""
    @State private var conflictChecked = false
    @State private var youthSigns = false
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "problems_and_needs", "strengths", "summary", "goals",
                         "supervision_conflict_checked", "youth_signs"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Service plan", context: context, fields: Self.fields, problems: $problems, build: build) {
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
                ProgramPicker(program: $program, problems: problems)
            }
            Section("Plan") {
                TextInput(label: "Problems and needs", text: $problemsAndNeeds, field: "problems_and_needs",
                          problems: problems, multiline: true)
                TextInput(label: "Strengths", text: $strengths, field: "strengths", problems: problems, multiline: true)
                TextInput(label: "Summary", text: $summary, field: "summary", problems: problems, multiline: true)
                TextInput(label: "Goals, one per line", text: $goals, field: "goals", problems: problems, multiline: true)
                CheckInput(label: "Checked against the probation or parole plan (CSP-JI)", isOn: $conflictChecked,
                           field: "supervision_conflict_checked", problems: problems)
                CheckInput(label: "The youth signs the action plan too (TM)", isOn: $youthSigns,
                           field: "youth_signs", problems: problems)
            }
        }
    }

    private func build() throws -> StoreCall {
        let goalList = goals.split(whereSeparator: \.isNewline).compactMap { blankToNil(String($0)) }
        let program = try chosen(self.program)
        let plan = NewPlan(memberId: trimmed(memberId), program: program,
                           problemsAndNeeds: trimmed(problemsAndNeeds), strengths: trimmed(strengths),
                           summary: trimmed(summary), goals: goalList,
                           supervisionConflictChecked: conflictChecked, youthSigns: youthSigns)
        return { _ = try $0.createServicePlan(plan: plan) }
    }
}

/// A signature on a plan: the worker's own, or the member's, guardian's or youth's witnessed
/// by the worker, possibly given earlier on paper.
public struct PlanSignatureForm: View {
    let context: FormContext
    @State private var planId: String
    @State private var role: Role = .worker
    @State private var signerName = ""
    @State private var signedAt: Date?
    @State private var problems = Problems()

    static let fields = ["id", "role", "signer_name", "signed_at_ms"]

    /// The form; `planId` prefills the plan.
    public init(context: FormContext, planId: String = "") {
        self.context = context
        _planId = State(initialValue: planId)
    }

    public var body: some View {
        RecordForm(title: "Sign a plan", context: context, fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Plan id", text: $planId, field: "id", problems: problems)
            ChoicePicker(label: "Signing as", selection: $role, choices: signingRoleChoices, field: "role",
                         problems: problems)
            TextInput(label: "Name of the person signing", text: $signerName, field: "signer_name",
                      problems: problems, prompt: "Not needed for your own signature")
            OptionalTimeInput(label: "Signed earlier on paper", date: $signedAt, field: "signed_at_ms",
                              problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(planId), role = self.role, name = trimmed(signerName), at = ms(signedAt)
        return { try $0.signPlan(id: id, role: role, signerName: name, signedAtMs: at) }
    }
}

/// A significant change in a member's needs, which brings the plan review forward.
public struct SignificantChangeForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var changeDescription = ""
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "description", "at_ms"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Significant change", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            TextInput(label: "What changed", text: $changeDescription, field: "description", problems: problems,
                      multiline: true)
            OptionalTimeInput(label: "It happened earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let member = trimmed(memberId), text = trimmed(changeDescription), at = ms(self.at)
        return { _ = try $0.recordSignificantChange(memberId: member, program: program, description: text, atMs: at) }
    }
}

/// A waiver of a rule for a member, or an extension of its deadline, in the signed-in
/// supervisor's or director's name.
public struct OverrideForm: View {
    let context: FormContext
    let grantsExtension: Bool
    @State private var memberId: String
    @State private var program: Program?
    @State private var ruleId = ""
    @State private var until = ""
    @State private var reason = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "rule_id", "until", "reason"]

    /// A waiver form, or an extension form when `grantsExtension`.
    public init(context: FormContext, grantsExtension: Bool) {
        self.context = context
        self.grantsExtension = grantsExtension
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: grantsExtension ? "Extend a deadline" : "Waive a requirement", context: context,
                   fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            TextInput(label: "Rule", text: $ruleId, field: "rule_id", problems: problems, prompt: "For example CSP-2")
            if grantsExtension {
                TextInput(label: "New deadline", text: $until, field: "until", problems: problems, prompt: "YYYY-MM-DD")
            }
            TextInput(label: "Reason", text: $reason, field: "reason", problems: problems, multiline: true)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let member = trimmed(memberId), rule = trimmed(ruleId)
        let why = trimmed(reason), until = trimmed(self.until)
        if grantsExtension {
            return { _ = try $0.grantExtension(memberId: member, program: program, ruleId: rule, until: until, reason: why) }
        }
        return { _ = try $0.grantWaiver(memberId: member, program: program, ruleId: rule, reason: why) }
    }
}
#endif

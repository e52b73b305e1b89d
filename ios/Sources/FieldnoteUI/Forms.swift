// Building blocks of the SwiftUI record forms (MemberForms.swift, CaseForms.swift,
// EventForms.swift, StaffForms.swift and the note screen in Screens.swift): inputs that show,
// under themselves, the problem the core named for their field (FieldnoteError.Invalid
// carries one per field), pickers over the explicit case lists of Choices.swift (uniffi's
// Swift enums are not CaseIterable), and the frame that saves through the store off the main
// actor. No rule is checked here. SwiftUI exists only on Apple platforms, so on Linux this
// compiles to nothing.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// What every record form needs: the store, the member and program it is about when known
/// (they prefill the form), and what to do after a write (tell the sync schedule).
public struct FormContext {
    /// The worker's store.
    public let fieldnote: Fieldnote
    /// The member the form is about, if known.
    public let memberId: String?
    /// The program, if known; without it the worker chooses.
    public let program: Program?
    /// Called after each saved write (for example `SyncScheduleMachine.onWrite(nowMs:)`).
    public let onWrite: () -> Void

    /// A context for forms over `fieldnote`.
    public init(fieldnote: Fieldnote, memberId: String? = nil, program: Program? = nil,
                onWrite: @escaping () -> Void = {}) {
        self.fieldnote = fieldnote
        self.memberId = memberId
        self.program = program
        self.onWrite = onWrite
    }
}

/// One entry of a picker: a value and the words shown for it.
struct Choice<Value: Hashable>: Hashable {
    let value: Value
    let label: String
    init(_ value: Value, _ label: String) {
        self.value = value
        self.label = label
    }
}

/// The same entries with a first one, `none`, standing for "not chosen" (nil).
func optionalChoices<T: Hashable>(_ choices: [Choice<T>], none: String) -> [Choice<T?>] {
    [Choice<T?>(nil, none)] + choices.map { Choice<T?>(Optional($0.value), $0.label) }
}

/// Trimmed text, or nil when blank.
func blankToNil(_ s: String) -> String? {
    let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
    return t.isEmpty ? nil : t
}

/// Trimmed text.
func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

/// Milliseconds since 1970.
func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

/// Milliseconds since 1970, or nil.
func ms(_ date: Date?) -> Int64? { date.map { ms($0) } }

/// The program, or the refusal the core would give when none is chosen.
func chosen(_ program: Program?) throws -> Program {
    guard let program else {
        throw FieldnoteError.Invalid(reason: "program: choose the program",
                                     problems: [FieldProblem(field: "program", reason: "choose the program")])
    }
    return program
}

/// The fields of a contact named `field`: the contact itself and each part.
func contactFields(_ field: String) -> [String] {
    [field] + ["name", "organization", "phone", "email"].map { "\(field).\($0)" }
}

/// The problems of the last save: each reason under the field it names, the rest on top.
struct Problems {
    private var byField: [String: String] = [:]
    /// What no field claims, or a refusal that names no field (locked, offline...).
    private(set) var summary: String?

    /// No problems.
    init() {}

    /// The problems of `error`, placed among `fields` (the form's field names).
    init(_ error: Error, fields: [String]) {
        guard let e = error as? FieldnoteError, case let .Invalid(_, problems) = e else {
            summary = String(describing: error)
            return
        }
        var rest: [String] = []
        for p in problems {
            if let f = Problems.field(for: p.field, among: fields) {
                byField[f] = byField[f].map { "\($0)\n\(p.reason)" } ?? p.reason
            } else {
                rest.append("\(p.field): \(p.reason)")
            }
        }
        summary = rest.isEmpty ? "Please correct the fields marked below." : rest.joined(separator: "\n")
    }

    /// The reasons given for `field`, if any.
    subscript(field: String) -> String? { byField[field] }

    /// The form field a problem's field names. The core may name a part (`goals[2].statement`,
    /// `recipient.name`) or a time without its unit (`started_at` for `started_at_ms`), so the
    /// name is tried as given, then with `_ms`, then shortened part by part.
    static func field(for name: String, among fields: [String]) -> String? {
        var key = name.replacingOccurrences(of: #"\[\d+\]"#, with: "", options: .regularExpression)
        while true {
            let bare = key.hasSuffix("_ms") ? String(key.dropLast(3)) : key
            for candidate in [key, key + "_ms", bare] where fields.contains(candidate) {
                return candidate
            }
            guard let dot = key.lastIndex(of: ".") else { return nil }
            key = String(key[..<dot])
        }
    }
}

/// A store call built from a form's values, run off the main actor.
typealias StoreCall = @Sendable (FieldnoteStore) throws -> Void

/// Runs a blocking FFI call off the main actor.
func offMainActor<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached(priority: .userInitiated) { try body() }.value
}

/// Runs `call` on the store off the main actor; returns the error, if any.
func run(_ store: FieldnoteStore, _ call: @escaping StoreCall) async -> Error? {
    do {
        try await offMainActor { try call(store) }
        return nil
    } catch {
        return error
    }
}

/// A problem's reason, in red under its field.
struct ProblemText: View {
    let reason: String?
    var body: some View {
        if let reason {
            Text(reason).font(.footnote).foregroundStyle(.red)
        }
    }
}

/// A labelled text input.
struct TextInput: View {
    let label: String
    @Binding var text: String
    let field: String
    let problems: Problems
    var prompt: String?
    var multiline = false

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(label).font(.caption).foregroundStyle(.secondary)
            if multiline {
                TextField(label, text: $text, prompt: prompt.map { Text($0) }, axis: .vertical).lineLimit(3...12)
            } else {
                TextField(label, text: $text, prompt: prompt.map { Text($0) })
            }
            ProblemText(reason: problems[field])
        }
    }
}

/// A picker over explicit choices.
struct ChoicePicker<Value: Hashable>: View {
    let label: String
    @Binding var selection: Value
    let choices: [Choice<Value>]
    let field: String
    let problems: Problems

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Picker(label, selection: $selection) {
                ForEach(choices, id: \.self) { c in Text(c.label).tag(c.value) }
            }
            ProblemText(reason: problems[field])
        }
    }
}

/// The program; "Choose the program" until one is chosen (the form's context may give it).
struct ProgramPicker: View {
    @Binding var program: Program?
    let problems: Problems

    var body: some View {
        ChoicePicker(label: "Program", selection: $program,
                     choices: optionalChoices(programChoices, none: "Choose the program"),
                     field: "program", problems: problems)
    }
}

/// Any number of choices, as toggles.
struct MultiChoice<Value: Hashable>: View {
    let label: String
    @Binding var selection: Set<Value>
    let choices: [Choice<Value>]
    let field: String
    let problems: Problems

    var body: some View {
        Section(label) {
            ForEach(choices, id: \.self) { c in
                Toggle(c.label, isOn: Binding(
                    get: { selection.contains(c.value) },
                    set: { on in if on { selection.insert(c.value) } else { selection.remove(c.value) } }
                ))
            }
            ProblemText(reason: problems[field])
        }
    }
}

/// A toggle.
struct CheckInput: View {
    let label: String
    @Binding var isOn: Bool
    let field: String
    let problems: Problems

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Toggle(label, isOn: $isOn)
            ProblemText(reason: problems[field])
        }
    }
}

/// A date and time that must be given.
struct TimeInput: View {
    let label: String
    @Binding var date: Date
    let field: String
    let problems: Problems

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            DatePicker(label, selection: $date)
            ProblemText(reason: problems[field])
        }
    }
}

/// A date and time that may be left out (the store then takes "now"): a toggle, then a picker.
struct OptionalTimeInput: View {
    let label: String
    @Binding var date: Date?
    let field: String
    let problems: Problems

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Toggle(label, isOn: Binding(get: { date != nil }, set: { date = $0 ? (date ?? Date()) : nil }))
            if date != nil {
                DatePicker(label, selection: Binding(get: { date ?? Date() }, set: { date = $0 }))
                    .labelsHidden()
            }
            ProblemText(reason: problems[field])
        }
    }
}

/// A whole number of minutes.
struct MinutesInput: View {
    let label: String
    @Binding var minutes: Int
    let field: String
    let problems: Problems

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Stepper("\(label): \(minutes)", value: $minutes, in: 1...1440, step: 5)
            ProblemText(reason: problems[field])
        }
    }
}

extension View {
    /// The phone keyboard on iOS (macOS has none).
    func phoneKeyboard() -> some View {
        #if os(iOS)
        return keyboardType(.phonePad)
        #else
        return self
        #endif
    }

    /// The email keyboard, without capitals, on iOS.
    func emailKeyboard() -> some View {
        #if os(iOS)
        return keyboardType(.emailAddress).textInputAutocapitalization(.never)
        #else
        return self
        #endif
    }
}

/// Someone outside the agency, as typed.
struct ContactDraft {
    var name = ""
    var organization = ""
    var phone = ""
    var email = ""

    /// The contact; blank parts are left out.
    var contact: Contact {
        Contact(name: trimmed(name), organization: blankToNil(organization), phone: blankToNil(phone),
                email: blankToNil(email))
    }

    /// The contact, or nil when every part is blank.
    var orNil: Contact? {
        [name, organization, phone, email].allSatisfy { blankToNil($0) == nil } ? nil : contact
    }
}

/// A contact's inputs as a section; its parts are the fields `field.name`, `field.phone`...
struct ContactInput: View {
    let title: String
    @Binding var contact: ContactDraft
    let field: String
    let problems: Problems

    var body: some View {
        Section(title) {
            ProblemText(reason: problems[field])
            TextInput(label: "Name", text: $contact.name, field: "\(field).name", problems: problems)
            TextInput(label: "Organization", text: $contact.organization, field: "\(field).organization", problems: problems)
            TextInput(label: "Phone", text: $contact.phone, field: "\(field).phone", problems: problems)
                .phoneKeyboard()
            TextInput(label: "Email", text: $contact.email, field: "\(field).email", problems: problems)
                .emailKeyboard()
        }
    }
}

/// The frame of a record form: the problems no field claims on top, the inputs, and a save
/// button. `build` reads the inputs into a store call (throwing what it cannot read); the
/// call runs off the main actor; on success `onWrite` runs and the form closes, otherwise
/// each problem shows under its field.
struct RecordForm<Fields: View>: View {
    let title: String
    let context: FormContext
    /// The form's field names, for placing problems.
    let fields: [String]
    @Binding var problems: Problems
    let build: () throws -> StoreCall
    let content: () -> Fields
    @Environment(\.dismiss) private var dismiss
    @State private var saving = false

    init(title: String, context: FormContext, fields: [String], problems: Binding<Problems>,
         build: @escaping () throws -> StoreCall, @ViewBuilder content: @escaping () -> Fields) {
        self.title = title
        self.context = context
        self.fields = fields
        self._problems = problems
        self.build = build
        self.content = content
    }

    var body: some View {
        Form {
            if let summary = problems.summary {
                Section { Text(summary).foregroundStyle(.red) }
            }
            content()
            Section {
                Button { Task { await save() } } label: { Text(saving ? "Saving…" : "Save") }
                    .disabled(saving)
            }
        }
        .navigationTitle(title)
    }

    @MainActor private func save() async {
        let call: StoreCall
        do {
            call = try build()
        } catch {
            problems = Problems(error, fields: fields)
            return
        }
        saving = true
        let failure = await run(context.fieldnote.store, call)
        saving = false
        if let failure {
            problems = Problems(failure, fields: fields)
        } else {
            problems = Problems()
            context.onWrite()
            dismiss()
        }
    }
}
#endif

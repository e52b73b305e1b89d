// SwiftUI screens of the iOS app: today view, note entry, visit session, distress button
// (the record forms are in Forms.swift and its neighbours). They hold no logic of their own
// (that is in Fieldnote and the Rust core). SwiftUI exists only on Apple platforms, so on
// Linux this file compiles to nothing.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// Members with overdue, at-risk and due obligations first.
public struct TodayScreen: View {
    let fieldnote: Fieldnote
    @State private var items: [TodayItem] = []
    @State private var failure: String?

    /// The today view of `fieldnote`.
    public init(fieldnote: Fieldnote) { self.fieldnote = fieldnote }

    public var body: some View {
        List(items, id: \.memberId) { item in
            VStack(alignment: .leading) {
                Text(item.displayName).font(.headline)
                ForEach(item.open, id: \.ruleId) { o in
                    Text("\(statusWords(o.status)): \(o.obligation)")
                        .foregroundStyle(isOverdue(o.status) ? .red : .primary)
                        .accessibilityLabel("\(o.obligation), \(statusWords(o.status))")
                }
            }
        }
        .overlay { if let failure { Text(failure).foregroundStyle(.red) } }
        .task {
            do { items = try await fieldnote.today() } catch { failure = "\(error)" }
        }
        .navigationTitle("Today")
    }
}

/// An obligation's status in the words of RULES.md.
func statusWords(_ status: ObligationStatus) -> String {
    switch status {
    case .notYetDue: return "not yet due"
    case .due: return "due"
    case .atRisk: return "at risk"
    case .overdue: return "overdue"
    case .satisfied: return "done"
    case .satisfiedLate: return "done late"
    case let .extended(reason, _): return "extended (\(reason))"
    case let .waived(_, reason): return "waived (\(reason))"
    case .notApplicable: return "not applicable"
    }
}

/// Whether an obligation is past its deadline and unmet.
func isOverdue(_ status: ObligationStatus) -> Bool {
    if case .overdue = status { return true }
    return false
}

/// Writing a contact note, with every field the programs' rules read (modality, place,
/// purposes, the collateral contact, TM-5's activity, goal and response). The draft is saved
/// by "Save draft" and when the screen goes away; "Finalize" signs it.
public struct NoteEntryScreen: View {
    let fieldnote: Fieldnote
    let onWrite: () -> Void
    @State private var memberId: String
    @State private var program: Program?
    @State private var modality: Modality = .inPerson
    @State private var place: PlaceOfService?
    @State private var startedAt = Date()
    @State private var minutes = 30
    @State private var narrative = ""
    @State private var engaged = true
    @State private var telehealthReason = ""
    @State private var purposes: Set<ContactPurpose> = []
    @State private var collateral = ContactDraft()
    @State private var plannedActivity = ""
    @State private var goalTargeted = ""
    @State private var memberResponse = ""
    @State private var savedId: String?
    @State private var saving = false
    @State private var finalized = false
    @State private var problems = Problems()
    @Environment(\.dismiss) private var dismiss

    static let fields = ["member_id", "program", "modality", "place", "started_at_ms", "duration_minutes",
                         "narrative", "member_engaged", "telehealth_reason", "purposes", "planned_activity",
                         "goal_targeted", "member_response"] + contactFields("collateral")

    /// A new note for `memberId` in `program` (the worker chooses when it is nil); `onWrite`
    /// is called after each save (to tell the sync schedule).
    public init(fieldnote: Fieldnote, memberId: String, program: Program?, onWrite: @escaping () -> Void = {}) {
        self.fieldnote = fieldnote
        self.onWrite = onWrite
        _memberId = State(initialValue: memberId)
        _program = State(initialValue: program)
    }

    public var body: some View {
        Form {
            if let summary = problems.summary {
                Section { Text(summary).foregroundStyle(.red) }
            }
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
                ProgramPicker(program: $program, problems: problems)
                ChoicePicker(label: "How", selection: $modality, choices: modalityChoices, field: "modality",
                             problems: problems)
                ChoicePicker(label: "Where", selection: $place,
                             choices: optionalChoices(placeChoices, none: "By how it happened"),
                             field: "place", problems: problems)
                TimeInput(label: "Started", date: $startedAt, field: "started_at_ms", problems: problems)
                MinutesInput(label: "Minutes", minutes: $minutes, field: "duration_minutes", problems: problems)
                TextInput(label: "Why telehealth (video contacts)", text: $telehealthReason, field: "telehealth_reason",
                          problems: problems)
            }
            Section("What happened") {
                TextInput(label: "Narrative", text: $narrative, field: "narrative", problems: problems, multiline: true)
                CheckInput(label: "The member was engaged and responsive", isOn: $engaged, field: "member_engaged",
                           problems: problems)
            }
            MultiChoice(label: "What the contact was for", selection: $purposes, choices: purposeChoices,
                        field: "purposes", problems: problems)
            ContactInput(title: "Collateral contact: with whom", contact: $collateral, field: "collateral",
                         problems: problems)
            Section("Therapeutic Mentoring (TM-5)") {
                TextInput(label: "Planned activity", text: $plannedActivity, field: "planned_activity", problems: problems)
                TextInput(label: "Goal targeted", text: $goalTargeted, field: "goal_targeted", problems: problems)
                TextInput(label: "The youth's response", text: $memberResponse, field: "member_response",
                          problems: problems, multiline: true)
            }
            Section {
                Button("Save draft") { Task { await save(finalize: false) } }.disabled(saving || finalized)
                Button("Finalize") { Task { await save(finalize: true) } }.disabled(saving || finalized)
            }
        }
        .navigationTitle("Contact note")
        .onDisappear {
            if !finalized && (savedId != nil || !trimmed(narrative).isEmpty) {
                Task { await save(finalize: false) }
            }
        }
    }

    private func makeNote() throws -> NewNote {
        let program = try chosen(self.program)
        return NewNote(memberId: trimmed(memberId), program: program, modality: modality, startedAtMs: ms(startedAt),
                       durationMinutes: UInt32(clamping: minutes), narrative: trimmed(narrative),
                       telehealthReason: blankToNil(telehealthReason), memberEngaged: engaged,
                       purposes: purposeChoices.map(\.value).filter { purposes.contains($0) },
                       place: place, collateral: collateral.orNil, plannedActivity: blankToNil(plannedActivity),
                       goalTargeted: blankToNil(goalTargeted), memberResponse: blankToNil(memberResponse))
    }

    /// Saves the draft (a new one the first time), then finalizes it when asked.
    @MainActor private func save(finalize: Bool) async {
        guard !saving, !finalized else { return }
        saving = true
        defer { saving = false }
        let store = fieldnote.store
        do {
            let note = try makeNote()
            let id: String
            if let draft = savedId {
                try await offMainActor { try store.editNote(id: draft, note: note) }
                id = draft
            } else {
                id = try await offMainActor { try store.draftNote(note: note) }
                savedId = id
            }
            onWrite()
            if finalize {
                _ = try await offMainActor { try store.finalizeNote(id: id) }
                finalized = true
                onWrite()
                dismiss()
            }
            problems = Problems()
        } catch {
            problems = Problems(error, fields: Self.fields)
        }
    }
}

/// The distress button: one tap raises a panic and follows it to "help is coming".
public struct DistressButton: View {
    let controller: DistressController
    @State private var state: DistressState?

    /// A button over `controller`.
    public init(controller: DistressController) { self.controller = controller }

    public var body: some View {
        VStack {
            Button(role: .destructive) {
                Task {
                    guard let id = try? await controller.panic() else { return }
                    do { for try await s in controller.follow(alarmId: id) { state = s } } catch {}
                }
            } label: {
                Text("Emergency").font(.largeTitle.bold()).frame(maxWidth: .infinity, minHeight: 120)
            }
            .buttonStyle(.borderedProminent)
            .accessibilityHint("Alerts your supervisor with your location")
            if let state { Text(describe(state)).font(.title3) }
        }
    }

    private func describe(_ s: DistressState) -> String {
        switch s {
        case .saved: return "Alarm saved, sending…"
        case .sent: return "Alarm sent; paging your supervisor"
        case .acknowledged(_, let by): return "Help is coming (\(by))"
        case .fellBack: return "No answer: calling the on-call line"
        }
    }
}

/// A visit in progress: check in, extend, end with a PIN.
public struct VisitScreen: View {
    let fieldnote: Fieldnote
    let controller: DistressController
    @State private var pin = ""
    @State private var visit: VisitView?

    /// The visit screen.
    public init(fieldnote: Fieldnote, controller: DistressController) {
        self.fieldnote = fieldnote
        self.controller = controller
    }

    public var body: some View {
        Form {
            if let visit {
                Text("At \(visit.place)")
                Button("Check in") { try? fieldnote.store.checkIn(location: nil) }
                Button("Extend 30 minutes") { try? fieldnote.store.extendVisit(untilMs: visit.expectedEndMs + 1_800_000) }
                SecureField("PIN to end the visit", text: $pin).keyboardType(.numberPad)
                Button("End visit") { Task { try? await controller.endVisit(pin: pin); self.visit = nil } }
            } else {
                Text("No visit in progress")
            }
        }
        .task { visit = try? fieldnote.store.activeVisit() }
    }
}
#endif

// SwiftUI screens of the iOS app: today view, note entry, visit session, distress button.
// They hold no logic of their own (that is in Fieldnote and the Rust core). SwiftUI exists
// only on Apple platforms, so on Linux this file compiles to nothing.
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
                    Text("\(o.status): \(o.obligation)")
                        .foregroundStyle(o.status == "overdue" ? .red : .primary)
                        .accessibilityLabel("\(o.obligation), \(o.status)")
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

/// Writing a contact note; the draft is saved on every change of screen.
public struct NoteEntryScreen: View {
    let fieldnote: Fieldnote
    let memberId: String
    let program: String
    @State private var narrative = ""
    @State private var modality = "in_person"
    @State private var minutes = 30
    @State private var savedId: String?
    @State private var failure: String?

    /// A new note for `memberId`.
    public init(fieldnote: Fieldnote, memberId: String, program: String) {
        self.fieldnote = fieldnote
        self.memberId = memberId
        self.program = program
    }

    public var body: some View {
        Form {
            Picker("Contact", selection: $modality) {
                ForEach(["in_person", "phone", "telehealth", "text", "collateral"], id: \.self) { Text($0) }
            }
            Stepper("Minutes: \(minutes)", value: $minutes, in: 1...600)
            TextEditor(text: $narrative).frame(minHeight: 200).accessibilityLabel("Narrative")
            if let failure { Text(failure).foregroundStyle(.red) }
            Button("Save draft") { Task { await save(finalize: false) } }
            Button("Finalize") { Task { await save(finalize: true) } }
        }
        .navigationTitle("Contact note")
    }

    private func save(finalize: Bool) async {
        let note = NewNote(memberId: memberId, program: program, modality: modality,
                           startedAtMs: SystemClock().nowMs(), durationMinutes: UInt32(minutes),
                           narrative: narrative, telehealthReason: nil, memberEngaged: true)
        do {
            let id = try await fieldnote.draftNote(note)
            savedId = id
            if finalize { _ = try await fieldnote.finalizeNote(id: id) }
            failure = nil
        } catch {
            failure = "\(error)"
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

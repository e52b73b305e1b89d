// SwiftUI forms of the staff records, which name no member: supervision sessions,
// consultation requests and their answers, and trainings. Each builds the typed FFI record
// from its inputs and saves it through the store (Forms.swift). Apple platforms only.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// A supervision session.
public struct SupervisionForm: View {
    let context: FormContext
    @State private var staffId: String
    @State private var supervisorId = ""
    @State private var program: Program?
    @State private var individual = true
    @State private var heldAt = Date()
    @State private var minutes = 60
    @State private var topics = ""
    @State private var problems = Problems()

    static let fields = ["staff_id", "supervisor_id", "program", "individual", "held_at_ms", "duration_minutes",
                         "topics"]

    /// The form; `staffId` prefills the supervisee (usually the signed-in worker).
    public init(context: FormContext, staffId: String = "") {
        self.context = context
        _staffId = State(initialValue: staffId)
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Supervision session", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Supervisee (staff id)", text: $staffId, field: "staff_id", problems: problems)
            TextInput(label: "Supervisor (staff id)", text: $supervisorId, field: "supervisor_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            CheckInput(label: "Individual (not group)", isOn: $individual, field: "individual", problems: problems)
            TimeInput(label: "Held", date: $heldAt, field: "held_at_ms", problems: problems)
            MinutesInput(label: "Minutes", minutes: $minutes, field: "duration_minutes", problems: problems)
            TextInput(label: "Topics (no member details)", text: $topics, field: "topics", problems: problems,
                      multiline: true)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let session = NewSupervision(staffId: trimmed(staffId), supervisorId: trimmed(supervisorId), program: program,
                                     individual: individual, heldAtMs: ms(heldAt),
                                     durationMinutes: UInt32(clamping: minutes), topics: trimmed(topics))
        return { _ = try $0.recordSupervision(session: session) }
    }
}

/// A consultation request by the signed-in worker.
public struct ConsultationForm: View {
    let context: FormContext
    @State private var program: Program?
    @State private var requestedAt: Date?
    @State private var consultant: ConsultantKind = .seniorClinician
    @State private var topic = ""
    @State private var problems = Problems()

    static let fields = ["program", "requested_at_ms", "consultant_kind", "topic"]

    /// The form.
    public init(context: FormContext) {
        self.context = context
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Consultation request", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            ProgramPicker(program: $program, problems: problems)
            OptionalTimeInput(label: "Asked earlier", date: $requestedAt, field: "requested_at_ms", problems: problems)
            ChoicePicker(label: "Asked of", selection: $consultant, choices: consultantKindChoices,
                         field: "consultant_kind", problems: problems)
            TextInput(label: "Topic (no member details)", text: $topic, field: "topic", problems: problems,
                      multiline: true)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let request = NewConsultation(program: program, requestedAtMs: ms(requestedAt), consultantKind: consultant,
                                      topic: trimmed(topic))
        return { _ = try $0.requestConsultation(request: request) }
    }
}

/// Who answered a consultation, and when.
public struct ConsultationAnsweredForm: View {
    let context: FormContext
    @State private var consultationId: String
    @State private var consultantId = ""
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["consultation_id", "consultant_id", "at_ms"]

    /// The form; `consultationId` prefills the consultation.
    public init(context: FormContext, consultationId: String = "") {
        self.context = context
        _consultationId = State(initialValue: consultationId)
    }

    public var body: some View {
        RecordForm(title: "Consultation answered", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Consultation id", text: $consultationId, field: "consultation_id", problems: problems)
            TextInput(label: "Who answered (staff id)", text: $consultantId, field: "consultant_id", problems: problems)
            OptionalTimeInput(label: "Answered earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(consultationId), consultant = trimmed(consultantId), at = ms(self.at)
        return { try $0.consultationAnswered(consultationId: id, consultantId: consultant, atMs: at) }
    }
}

/// A training.
public struct TrainingForm: View {
    let context: FormContext
    @State private var staffId: String
    @State private var program: Program?
    @State private var employmentStartedOn = ""
    @State private var course = ""
    @State private var requiredInitial = false
    @State private var completedOn = ""
    @State private var problems = Problems()

    static let fields = ["staff_id", "program", "employment_started_on", "course", "required_initial", "completed_on"]

    /// The form; `staffId` prefills the trainee.
    public init(context: FormContext, staffId: String = "") {
        self.context = context
        _staffId = State(initialValue: staffId)
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Training", context: context, fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Trainee (staff id)", text: $staffId, field: "staff_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            TextInput(label: "First day of employment", text: $employmentStartedOn, field: "employment_started_on",
                      problems: problems, prompt: "YYYY-MM-DD")
            TextInput(label: "Course", text: $course, field: "course", problems: problems)
            CheckInput(label: "Part of the required initial training", isOn: $requiredInitial,
                       field: "required_initial", problems: problems)
            TextInput(label: "Completed on", text: $completedOn, field: "completed_on", problems: problems,
                      prompt: "YYYY-MM-DD; blank while enrolled")
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let training = NewTraining(staffId: trimmed(staffId), program: program,
                                   employmentStartedOn: trimmed(employmentStartedOn), course: trimmed(course),
                                   requiredInitial: requiredInitial, completedOn: blankToNil(completedOn))
        return { _ = try $0.recordTraining(training: training) }
    }
}
#endif

// The staff records, which name no member: supervision sessions, consultation requests and
// their answers, and trainings. Each builds the typed FFI record from its inputs and saves it
// through the store; staff ids are the ones the agency issued (prefilled from the intent).
package org.fieldnote.app

import org.fieldnote.ffi.ConsultantKind
import org.fieldnote.ffi.NewConsultation
import org.fieldnote.ffi.NewSupervision
import org.fieldnote.ffi.NewTraining

/** The supervision, consultation and training forms. */
val staffForms: List<FormKind> = listOf(
    FormKind("supervision", "Supervision session", aboutMember = false) { supervision() },
    FormKind("consultation", "Consultation request", aboutMember = false) { consultation() },
    FormKind("consultation_answered", "Consultation answered", aboutMember = false) { consultationAnswered() },
    FormKind("training", "Training", aboutMember = false) { training() },
)

private fun Form.supervision() {
    val staff = text("staff_id", "Supervisee (staff id)")
    val supervisor = text("supervisor_id", "Supervisor (staff id)")
    val program = programChoice()
    val individual = check("individual", "Individual (not group) supervision", initial = true)
    val heldAt = time("held_at_ms", "Held at", hint = "YYYY-MM-DD HH:MM")
    val minutes = whole("duration_minutes", "Minutes", 60u)
    val topics = text("topics", "Topics (no member details)", lines = 3)
    submit("Save session") {
        val s = NewSupervision(
            staffId = staff.value,
            supervisorId = supervisor.value,
            program = program.value(),
            individual = individual.isChecked,
            heldAtMs = heldAt.value(),
            durationMinutes = minutes.value(),
            topics = topics.value,
        )
        StoreCall { it.recordSupervision(s) }
    }
}

private fun Form.consultation() {
    val program = programChoice()
    val requestedAt = time("requested_at_ms", "Asked at")
    val consultant = choice("consultant_kind", "Asked of", ConsultantKind.entries)
    val topic = text("topic", "Topic (no member details)", lines = 3)
    submit("Save request") {
        val c = NewConsultation(
            program = program.value(),
            requestedAtMs = requestedAt.orNull(),
            consultantKind = consultant.value(),
            topic = topic.value,
        )
        StoreCall { it.requestConsultation(c) }
    }
}

private fun Form.consultationAnswered() {
    val consultation = text("consultation_id", "Consultation id")
    val consultant = text("consultant_id", "Who answered (staff id)")
    val at = time("at_ms", "Answered at")
    submit("Save answer") {
        val id = consultation.value
        val who = consultant.value
        val ms = at.orNull()
        StoreCall { it.consultationAnswered(id, who, ms) }
    }
}

private fun Form.training() {
    val staff = text("staff_id", "Trainee (staff id)")
    val program = programChoice()
    val started = day("employment_started_on", "First day of employment")
    val course = text("course", "Course")
    val initial = check("required_initial", "Part of the required initial training")
    val completed = day("completed_on", "Completed on", hint = "YYYY-MM-DD; blank while enrolled")
    submit("Save training") {
        val t = NewTraining(
            staffId = staff.value,
            program = program.value(),
            employmentStartedOn = started.value,
            course = course.value,
            requiredInitial = initial.isChecked,
            completedOn = completed.optional,
        )
        StoreCall { it.recordTraining(t) }
    }
}

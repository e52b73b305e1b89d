// The forms of events in a member's care that carry their own deadlines: an incident and
// when it was reported, the TM waitlist and who was told of it, and the discharge plan. Each
// builds the typed FFI record from its inputs and saves it through the store.
package org.fieldnote.app

import org.fieldnote.ffi.IncidentCategory
import org.fieldnote.ffi.NewDischargePlan
import org.fieldnote.ffi.NewIncident
import org.fieldnote.ffi.ReportedTo
import org.fieldnote.ffi.WaitlistNotified

/** The incident, waitlist and discharge forms. */
val eventForms: List<FormKind> = listOf(
    FormKind("incident", "Incident", aboutMember = true) { incident() },
    FormKind("incident_reported", "Incident reported", aboutMember = true) { incidentReported() },
    FormKind("waitlist", "Waitlist (TM)", aboutMember = true) { waitlist() },
    FormKind("waitlist_notice", "Waitlist notice (TM)", aboutMember = true) { waitlistNotice() },
    FormKind("discharge_plan", "Discharge plan", aboutMember = true) { dischargePlan() },
)

private fun Form.incident() {
    val member = text("member_id", "Member id", hint = "Blank when no member was involved")
    val program = programChoice()
    val occurredAt = time("occurred_at_ms", "When it happened", hint = "YYYY-MM-DD HH:MM")
    val location = text("location", "Where")
    val category = choice("category", "Category", IncidentCategory.entries)
    val description = text("description", "What happened", lines = 5)
    val actions = text("actions_taken", "Actions taken", lines = 3)
    val toPlan = time("reported_to_plan_at_ms", "Reported to the health plan at", hint = "YYYY-MM-DD HH:MM; blank when not yet")
    val toMassHealth = time("reported_to_masshealth_at_ms", "Reported to MassHealth at", hint = "YYYY-MM-DD HH:MM; blank when not yet")
    val alarm = text("alarm_id", "The alarm that led to it (id)", hint = "Blank when none")
    submit("Save incident") {
        val i = NewIncident(
            memberId = member.optional,
            program = program.value(),
            occurredAtMs = occurredAt.value(),
            location = location.value,
            category = category.value(),
            description = description.value,
            actionsTaken = actions.value,
            reportedToPlanAtMs = toPlan.orNull(),
            reportedToMasshealthAtMs = toMassHealth.orNull(),
            alarmId = alarm.optional,
        )
        StoreCall { it.reportIncident(i) }
    }
}

private fun Form.incidentReported() {
    val incident = text("incident_id", "Incident id")
    val to = choice("to", "Reported to", ReportedTo.entries)
    val at = time("at_ms", "Reported at")
    submit("Save report") {
        val id = incident.value
        val who = to.value()
        val ms = at.orNull()
        StoreCall { it.incidentReported(id, who, ms) }
    }
}

private fun Form.waitlist() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val reason = text("reason", "Why services cannot start yet", lines = 3)
    val since = time("since_ms", "Waiting since")
    submit("Place on waitlist") {
        val id = member.value
        val p = program.value()
        val r = reason.value
        val ms = since.orNull()
        StoreCall { it.placeOnWaitlist(id, p, r, ms) }
    }
}

private fun Form.waitlistNotice() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val who = choice("who", "Told", WaitlistNotified.entries)
    val at = time("at_ms", "When")
    submit("Save notice") {
        val id = member.value
        val p = program.value()
        val w = who.value()
        val ms = at.orNull()
        StoreCall { it.waitlistNotice(id, p, w, ms) }
    }
}

private fun Form.dischargePlan() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val dischargeOn = day("discharge_on", "Planned discharge date")
    val aftercare = text("aftercare", "Services and supports after discharge", lines = 4)
    val recommendations = text("recommendations", "Recommendations", lines = 3)
    val crisisPlan = text("crisis_plan_id", "Crisis plan (id)", hint = "Blank when none")
    val servicePlan = text("service_plan_id", "Updated service plan given with it (id)", hint = "Blank when none")
    submit("Save discharge plan") {
        val d = NewDischargePlan(
            memberId = member.value,
            program = program.value(),
            dischargeOn = dischargeOn.value,
            aftercare = aftercare.value,
            recommendations = recommendations.value,
            crisisPlanId = crisisPlan.optional,
            servicePlanId = servicePlan.optional,
        )
        StoreCall { it.writeDischargePlan(d) }
    }
}
